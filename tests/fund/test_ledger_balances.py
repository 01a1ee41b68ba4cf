"""The kept ledger balances (fund.accounting.balances): after any sequence of money movements, refusals and reversals
they equal the postings; the figures read them and never the postings; `flask ledger check` finds a balance that
disagrees and exits non-zero."""

from __future__ import annotations

import os
from decimal import Decimal

from hypothesis import HealthCheck, settings
from hypothesis.stateful import invariant, run_state_machine_as_test
from sqlalchemy import event, text

from donors import operations
from fund.accounting import balances, figures, ledger, rates
from fund.db import db, utcnow
from tests.fund.test_ledger_properties import Money
from tests.live import rounds

D = Decimal
TODAY = utcnow().date()


class MoneyWithBalances(Money):
    @invariant()
    def kept_balances_equal_the_postings(self):
        assert balances.differences() == []


def test_kept_balances_always_equal_the_postings(app):
    MoneyWithBalances.app = app
    run_state_machine_as_test(MoneyWithBalances, settings=settings(
        max_examples=int(os.environ.get("MONEY_EXAMPLES", rounds(25, 10))), stateful_step_count=30, deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]))


def _movements():
    """Money in three currencies, a pledge part paid, a grant committed and paid, a refund reversed."""
    rates.seed_currencies()
    rates.set_rate("EUR", TODAY, D("0.9"))
    rates.set_rate("JPY", TODAY, D("150"))
    donor = operations.create_donor({"name": "Donor", "type": "other"})
    pledge = operations.create_pledge(donor, {"amount": D("1000.00"), "currency": "EUR", "pledged_on": TODAY,
                                              "status": "confirmed", "instalments": [], "earmark": None})
    operations.record_contribution(donor, {"amount": D("400.00"), "currency": "EUR", "pledge_id": pledge.id,
                                           "received_on": TODAY, "bank_reference": "B1"})
    operations.record_contribution(donor, {"amount": D("3000000"), "currency": "JPY", "pledge_id": None,
                                           "received_on": TODAY, "bank_reference": "B2"})
    ledger.commit_grant(7, D("5000.00"))
    ledger.pay_disbursement(7, D("2000.00"))
    refund = ledger.record_grant_refund(7, D("100.00"), "EUR")
    ledger.reverse_entry(refund.entry.id, reason="bounced")
    db.session.commit()
    return donor, pledge


def test_figures_read_the_kept_balances_not_the_postings(app):
    with app.test_request_context():
        donor, pledge = _movements()
        seen: list[str] = []

        def record(conn, cursor, statement, parameters, context, executemany):
            seen.append(statement)

        event.listen(db.engine, "before_cursor_execute", record)
        try:
            position = figures.fund_position()
            cash = figures.cash_by_currency()
            grant = figures.grant_figures(7)
            donor_figures = figures.donors_figures([donor.id])[donor.id]
            pledge_figures = figures.pledges_figures([(pledge.id, "EUR")])[pledge.id]
        finally:
            event.remove(db.engine, "before_cursor_execute", record)
        assert seen and not [s for s in seen if "ledger_posting" in s], seen
        # ... and what they read is what the postings say.
        assert position.received == D("20444.44")  # 400 EUR at 0.9 + 3,000,000 JPY at 150
        assert [c for c, _a, _u in cash] == ["EUR", "JPY", "USD"]
        assert dict((c, a) for c, a, _u in cash)["EUR"] == D("400.00")
        assert grant.committed == D("5000.00") and grant.paid == D("2000.00") and grant.refunded == D("0.00")
        assert grant.expenditure == D("2000.00") and grant.psc == D("260.00") and grant.remaining == D("3000.00")
        assert donor_figures.received == D("20444.44") and donor_figures.outstanding == D("666.67")
        assert pledge_figures.received == D("400.00") and pledge_figures.receivable == D("600.00")
        assert balances.differences() == []


def test_ledger_check_finds_a_balance_that_disagrees(app):
    with app.test_request_context():
        _movements()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["ledger", "check"])
    assert result.exit_code == 0, result.output
    assert "balances agree with the postings" in result.output

    with app.app_context():
        db.session.execute(text("UPDATE ledger_balance SET usd_cents = usd_cents + 1 "
                                "WHERE scope = 'grant' AND account = 'grant_expense' AND kind = 'grant_refund' "
                                "AND currency = 'EUR'"))
        db.session.commit()
    result = runner.invoke(args=["ledger", "check"])
    assert result.exit_code == 1
    assert "grant 7 grant_expense grant_refund EUR" in result.output
    assert "1 of" in result.output and "disagree" in result.output

    with app.app_context():  # a balance row missing altogether is found too
        db.session.execute(text("DELETE FROM ledger_balance WHERE scope = 'fund' AND account = 'cash' "
                                "AND currency = 'JPY'"))
        db.session.commit()
    result = runner.invoke(args=["ledger", "check"])
    assert result.exit_code == 1 and "fund cash contribution JPY" in result.output


def test_balances_are_kept_in_the_posting_transaction(app):
    """A refused movement rolls its balances back with its postings."""
    with app.test_request_context():
        _movements()
        before = figures.fund_position()
        ledger.commit_grant(8, D("10.00"))
        db.session.rollback()
        assert figures.fund_position() == before
        assert balances.differences() == []

