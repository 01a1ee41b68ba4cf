"""Money rules decided once and tested on their edge: the rate of a month is that month's (never the month
before), and the one rounding rule, ROUND_HALF_UP to the cent, on the exact half cent of a conversion and of
programme support costs (a tie a random test would rarely meet)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from donors import operations
from fund.accounting import figures, ledger, rates
from fund.accounting.ledger import Posting
from fund.db import db

D = Decimal
MARCH, APRIL = dt.date(2026, 3, 1), dt.date(2026, 4, 15)


@pytest.fixture(autouse=True)
def currencies(ctx):
    rates.seed_currencies()
    db.session.commit()


def test_a_month_without_a_rate_never_borrows_the_previous_months(ctx):
    rates.set_rate("EUR", MARCH, D("0.92"))
    rates.set_rate("EUR", dt.date(2026, 5, 1), D("0.95"))
    db.session.commit()
    assert rates.rate_for("EUR", dt.date(2026, 3, 31)).units_per_usd == D("0.92")
    with pytest.raises(rates.MissingRate) as info:
        rates.rate_for("EUR", APRIL, fields=("received_on",))
    assert info.value.status == 422 and "2026-04" in info.value.message and list(info.value.fields) == ["received_on"]
    # Nor does a posting: nothing is written for April.
    donor = operations.create_donor({"name": "Donor", "type": "other"})
    db.session.commit()
    with pytest.raises(rates.MissingRate):
        operations.record_contribution(donor, {"amount": D("100.00"), "currency": "EUR", "pledge_id": None,
                                               "received_on": APRIL, "bank_reference": "APR-1"})
    db.session.rollback()
    assert db.session.execute(select(func.count()).select_from(Posting)).scalar_one() == 0


def test_a_conversion_on_the_half_cent_rounds_half_up(ctx):
    # JPY 1 and JPY 5 at 200 per USD are USD 0.005 and 0.025: half up gives 0.01 and 0.03 (half-even: 0.00, 0.02).
    assert rates.to_usd(D("1"), D("200")) == D("0.01")
    assert rates.to_usd(D("5"), D("200")) == D("0.03")
    assert rates.to_usd(D("3"), D("200")) == D("0.02")
    assert rates.to_usd(D("-5"), D("200")) == D("-0.03")  # a reversal mirrors it exactly
    rates.set_rate("JPY", APRIL, D("200"))
    entry = ledger.post_contribution_received(donor_id=1, amount=D("5"), currency="JPY", value_date=APRIL)
    db.session.commit()
    cash = next(p for p in entry.postings if p.account == ledger.CASH)
    assert (cash.amount_minor, cash.usd_cents) == (5, 3)


def test_programme_support_costs_on_the_half_cent_round_half_up(ctx):
    ledger.post_contribution_received(donor_id=1, amount=D("1000.00"), currency="USD", value_date=APRIL)
    ledger.commit_grant(7, D("100.00"), value_date=APRIL)
    # 13 % of 12.50 is 1.625: 1.63 (half-even would give 1.62).
    paid = ledger.pay_disbursement(7, D("12.50"), value_date=APRIL)
    assert paid.psc_usd == D("1.63") and figures.grant_figures(7).psc == D("1.63")
    # Cumulative: 13 % of 25.00 is 3.25, so the second payment is charged 1.62, never 1.63 again.
    paid = ledger.pay_disbursement(7, D("12.50"), value_date=APRIL)
    assert paid.psc_usd == D("1.62") and figures.grant_figures(7).psc == D("3.25")
    # A refund of 12.50 brings PSC back to 13 % of 12.50, 1.63.
    refund = ledger.record_grant_refund(7, D("12.50"), value_date=APRIL)
    assert refund.psc_usd == D("-1.62") and figures.grant_figures(7).psc == D("1.63")
    # 13 % of 0.50 is 0.065: 0.07.
    ledger.commit_grant(8, D("1.00"), value_date=APRIL)
    assert ledger.pay_disbursement(8, D("0.50"), value_date=APRIL).psc_usd == D("0.07")
    db.session.commit()
