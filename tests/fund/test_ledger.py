"""The fund's ledger: balanced entries in every currency and in USD, exact amounts, append-only storage,
reversal once, the fund position from a constant number of queries, and the functions grants will call
(commit under a lock, disburse with cumulative PSC, refund in any currency, release)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from fund.accounting import figures, ledger, rates
from fund.accounting.ledger import CASH, JournalEntry, Line, Posting, UnbalancedEntry
from fund.db import db
from fund.errors import Conflict, FundError
from tests.live import concurrently

TODAY = dt.datetime.now(dt.UTC).date()
D = Decimal

pytestmark = pytest.mark.usefixtures("currencies")


def receive(amount: str, currency: str = "USD", donor_id: int = 1, day: dt.date = TODAY) -> JournalEntry:
    return ledger.post_contribution_received(donor_id=donor_id, amount=D(amount), currency=currency, value_date=day)


def position():
    return figures.fund_position()


def assert_identities(p) -> None:
    assert p.cash == p.received - p.disbursed - p.psc + p.refunded
    assert p.available == p.cash - p.committed - p.operating_reserve
    assert ledger.unbalanced_entries() == []


def test_an_entry_must_balance_in_each_currency_and_in_usd(ctx):
    db.session.commit()
    with pytest.raises(UnbalancedEntry):
        ledger.post_entry(ledger.CONTRIBUTION, [Line(CASH, "EUR", D("10.00"), D("11.00")),
                                                Line(ledger.REVENUE, "EUR", D("-10.00"), D("-10.99"))])
    db.session.commit()
    with pytest.raises(UnbalancedEntry):
        ledger.post_entry(ledger.CONTRIBUTION, [Line(CASH, "EUR", D("10.00"), D("11.00")),
                                                Line(ledger.REVENUE, "USD", D("-11.00"), D("-11.00"))])
    db.session.commit()
    with pytest.raises(UnbalancedEntry):  # more decimals than the currency has is never silently rounded
        ledger.post_entry(ledger.CONTRIBUTION, [Line(CASH, "JPY", D("10.5"), D("0.07")),
                                                Line(ledger.REVENUE, "JPY", D("-10.5"), D("-0.07"))])
    assert db.session.scalar(select(func.count()).select_from(JournalEntry)) == 0


def test_amounts_are_exact_in_their_own_minor_units(ctx):
    rates.set_rate("KWD", TODAY, D("0.3075"))
    rates.set_rate("JPY", TODAY, D("151.2"))
    kwd = receive("123456789.123", "KWD")
    jpy = receive("98765432109", "JPY")
    db.session.commit()
    rows = {p.currency: p for p in db.session.execute(select(Posting).where(Posting.account == CASH)).scalars()}
    assert rows["KWD"].amount_minor == 123456789123 and rows["KWD"].amount == D("123456789.123")
    assert rows["JPY"].amount_minor == 98765432109 and rows["JPY"].amount == D("98765432109")
    # USD at the month's rate, ROUND_HALF_UP to the cent, once
    assert rows["KWD"].usd == (D("123456789.123") / D("0.3075")).quantize(D("0.01"), rounding="ROUND_HALF_UP")
    assert rows["JPY"].usd == D("653210529.82")
    assert kwd.postings[0].exchange_rate_id == rates.current_rate("KWD", TODAY).id
    assert jpy.postings[0].exchange_rate_id == rates.current_rate("JPY", TODAY).id


def test_half_a_cent_rounds_up_once(ctx):
    rates.set_rate("EUR", TODAY, D("2"))
    entry = receive("0.01", "EUR")  # 0.005 USD
    assert [p.usd for p in entry.postings] == [D("0.01"), D("-0.01")]


def test_a_reversal_negates_every_posting_and_happens_once(ctx):
    rates.set_rate("EUR", TODAY, D("0.9"))
    original = receive("900.00", "EUR")
    reversal = ledger.reverse_entry(original, reason="recorded twice")
    db.session.commit()
    assert reversal.reversal_of_id == original.id and reversal.kind == original.kind
    assert [(p.account, p.currency, p.amount, p.usd, p.exchange_rate_id) for p in reversal.postings] == [
        (p.account, p.currency, -p.amount, -p.usd, p.exchange_rate_id) for p in original.postings]
    db.session.refresh(original)
    assert original.reversed_by.id == reversal.id
    db.session.commit()
    with pytest.raises(Conflict, match="already been reversed"):
        ledger.reverse_entry(original.id, reason="again")
    db.session.rollback()
    db.session.commit()
    with pytest.raises(Conflict, match="itself a reversal"):
        ledger.reverse_entry(reversal.id, reason="undo the undo")
    db.session.rollback()
    db.session.commit()
    with pytest.raises(FundError) as info:
        ledger.reverse_entry(original.id, reason="  ")
    assert "reason" in info.value.fields
    db.session.rollback()
    assert position().cash == D("0.00")


def test_the_database_refuses_a_second_reversal(ctx):
    original = receive("10.00")
    ledger.reverse_entry(original, reason="first")
    db.session.commit()
    db.session.add(JournalEntry(kind=original.kind, value_date=TODAY, description="sneaky",
                                reversal_of_id=original.id))
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_ledger_tables_are_append_only_on_postgresql(app, owner_engine):
    with app.app_context():
        rates.set_rate("EUR", TODAY, D("0.9"))
        entry = receive("10.00", "EUR")
        db.session.commit()
        entry_id = entry.id
        if db.engine.dialect.name != "postgresql":
            pytest.skip("the append-only trigger is PostgreSQL's")
        for sql in (f"UPDATE ledger_posting SET usd_cents = 1 WHERE entry_id = {entry_id}",
                    f"DELETE FROM ledger_posting WHERE entry_id = {entry_id}",
                    f"UPDATE journal_entry SET description = 'x' WHERE id = {entry_id}",
                    "UPDATE exchange_rate SET units_per_usd = '2'"):
            # Even the owner (the application's role may not even try: tests/fund/test_db_roles.py).
            with pytest.raises(DBAPIError, match="append-only"), owner_engine.begin() as conn:
                conn.execute(text(sql))


def test_fund_position_takes_one_query_whatever_the_number_of_postings(ctx):
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        if not statement.startswith("BEGIN"):  # SQLite's BEGIN IMMEDIATE is not a query
            statements.append(statement)

    def measure() -> int:
        db.session.commit()
        statements.clear()
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            result = figures.fund_position()
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        assert_identities(result)
        return len(statements)

    receive("1.00")
    few = measure()
    for i in range(150):
        receive(f"{i + 1}.00", donor_id=i)
    many = measure()
    assert few == many == 1
    assert figures.fund_position().received == D(sum(range(1, 151)) + 1).quantize(D("0.01"))


def test_commitments_reserve_their_psc_and_refuse_more_than_available(ctx):
    receive("100000.00")
    entry = ledger.commit_grant(7, D("80000.00"), description="Grant 7")
    p = position()
    assert p.committed == D("90400.00")  # 80,000 + 13 % PSC it will attract
    assert p.available == D("9600.00")
    assert {(x.account, x.usd) for x in entry.postings} >= {("grants_payable", D("-80000.00")),
                                                            ("psc_reserve", D("-10400.00"))}
    db.session.commit()
    with pytest.raises(Conflict) as info:
        ledger.commit_grant(8, D("9000.00"))  # 9,000 + 1,170 > 9,600
    assert info.value.status == 409 and "amount_usd" in info.value.fields
    db.session.rollback()
    ledger.commit_grant(8, D("8495.57"))  # + 1,104.42 = 9,599.99
    assert position().available == D("0.01")
    assert_identities(position())


def test_disbursements_charge_psc_cumulatively_so_rounding_never_drifts(ctx):
    receive("1000.00")
    ledger.commit_grant(1, D("100.00"))
    charges = [ledger.pay_disbursement(1, D(a)).psc_usd for a in ("33.33", "33.33", "33.33", "0.01")]
    assert charges == [D("4.33"), D("4.34"), D("4.33"), D("0.00")]  # per-payment rounding would give 12.99
    f = figures.grant_figures(1)
    assert (f.paid, f.psc, f.remaining, f.psc_reserved, f.expenditure) == (
        D("100.00"), D("13.00"), D("0.00"), D("0.00"), D("100.00"))
    p = position()
    assert (p.disbursed, p.psc, p.cash, p.committed, p.available) == (
        D("100.00"), D("13.00"), D("887.00"), D("0.00"), D("887.00"))
    assert_identities(p)


def test_psc_rate_and_operating_reserve_come_from_the_configuration(app, ctx):
    old = app.config["PSC_RATE"], app.config["OPERATING_RESERVE_USD"]
    app.config["PSC_RATE"], app.config["OPERATING_RESERVE_USD"] = "0.07", "500"
    try:
        receive("2000.00")
        ledger.commit_grant(1, D("1000.00"))
        assert position().available == D("2000.00") - D("1070.00") - D("500.00")
        assert ledger.pay_disbursement(1, D("1000.00")).psc_usd == D("70.00")
    finally:
        app.config["PSC_RATE"], app.config["OPERATING_RESERVE_USD"] = old


def test_a_disbursement_is_limited_by_the_commitment_and_by_cash(ctx):
    contribution = receive("1000.00")
    ledger.commit_grant(1, D("800.00"))
    db.session.commit()
    with pytest.raises(Conflict, match="outstanding commitment"):
        ledger.pay_disbursement(1, D("800.01"))
    db.session.rollback()
    db.session.commit()
    with pytest.raises(Conflict):
        ledger.pay_disbursement(2, D("1.00"))  # nothing committed to grant 2
    db.session.rollback()
    ledger.reverse_entry(contribution, reason="the transfer bounced")
    db.session.commit()
    with pytest.raises(Conflict, match="Cash"):
        ledger.pay_disbursement(1, D("100.00"))
    db.session.rollback()


def test_a_refund_in_another_currency_reduces_expenditure_and_psc(ctx):
    rates.set_rate("EUR", TODAY, D("0.8"))
    receive("10000.00")
    ledger.commit_grant(3, D("5000.00"))
    ledger.pay_disbursement(3, D("5000.00"))
    result = ledger.record_grant_refund(3, D("400.00"), "EUR")  # USD 500
    assert result.usd == D("500.00") and result.psc_usd == D("-65.00")
    f = figures.grant_figures(3)
    assert (f.paid, f.refunded, f.expenditure, f.psc) == (D("5000.00"), D("500.00"), D("4500.00"), D("585.00"))
    p = position()
    assert p.refunded == D("500.00") and p.psc == D("585.00") and p.cash == D("10000.00") - D("4500.00") - D("585.00")
    assert_identities(p)
    refund_cash = [x for x in result.entry.postings if x.account == CASH]
    assert refund_cash[0].currency == "EUR" and refund_cash[0].amount == D("400.00")
    db.session.commit()
    with pytest.raises(Conflict, match="exceeds what grant 3 has spent"):
        ledger.record_grant_refund(3, D("4500.01"), "USD")
    db.session.rollback()
    db.session.commit()
    with pytest.raises(FundError) as info:
        ledger.record_grant_refund(3, D("10.00"), "GBP")  # no GBP rate this month
    assert info.value.status == 422 and "GBP" in info.value.message
    db.session.rollback()


def test_releasing_a_commitment_returns_it_and_its_psc_to_available(ctx):
    receive("1000.00")
    ledger.commit_grant(4, D("500.00"))
    ledger.pay_disbursement(4, D("200.00"))
    assert position().available == D("1000.00") - D("565.00")
    db.session.commit()
    with pytest.raises(Conflict):
        ledger.release_commitment(4, D("300.01"))
    db.session.rollback()
    ledger.release_commitment(4)
    f = figures.grant_figures(4)
    assert (f.committed, f.paid, f.remaining, f.psc_reserved) == (D("200.00"), D("200.00"), D("0.00"), D("0.00"))
    assert position().available == D("1000.00") - D("226.00")
    assert_identities(position())


def test_reversing_a_disbursement_recomputes_psc_and_psc_alone_cannot_be_reversed(ctx):
    receive("1000.00")
    ledger.commit_grant(5, D("100.00"))
    paid = ledger.pay_disbursement(5, D("100.00"))
    db.session.commit()
    with pytest.raises(Conflict, match="Programme support costs"):
        ledger.reverse_entry(paid.psc_entry, reason="no")
    db.session.rollback()
    ledger.reverse_entry(paid.entry.id, reason="paid to the wrong account")
    f = figures.grant_figures(5)
    assert (f.paid, f.expenditure, f.psc, f.remaining, f.psc_reserved) == (
        D("0.00"), D("0.00"), D("0.00"), D("100.00"), D("13.00"))
    assert position().cash == D("1000.00")
    assert_identities(position())


def test_a_commitment_with_payments_cannot_be_reversed(ctx):
    receive("1000.00")
    commitment = ledger.commit_grant(6, D("100.00"))
    ledger.pay_disbursement(6, D("50.00"))
    db.session.commit()
    with pytest.raises(Conflict, match="negative commitment"):
        ledger.reverse_entry(commitment, reason="wrong grant")
    db.session.rollback()


def test_amounts_for_grants_are_checked(ctx):
    receive("100.00")
    for bad in ("0", "-1.00", "1.001", "abc"):
        with pytest.raises(FundError) as info:
            ledger.commit_grant(1, bad)
        assert info.value.status == 422 and "amount_usd" in info.value.fields
        db.session.rollback()
    db.session.commit()
    with pytest.raises(FundError):
        ledger.commit_grant(1, 1.5)  # floats are refused
    db.session.rollback()


def test_concurrent_commitments_never_together_exceed_available(app):
    with app.app_context():
        receive("113000.00")  # room for exactly 10 commitments of 10,000 (+ 1,300 PSC each)
        db.session.commit()

    def commit(i: int) -> bool:
        with app.app_context():
            try:
                ledger.commit_grant(100 + i, D("10000.00"))
                db.session.commit()
                return True
            except Conflict:
                db.session.rollback()
                return False
            finally:
                db.session.remove()

    results = concurrently(25, commit)
    assert not [r for r in results if isinstance(r, BaseException)], results
    assert sum(results) == 10
    with app.app_context():
        p = figures.fund_position()
        assert p.committed == D("113000.00") and p.available == D("0.00")
