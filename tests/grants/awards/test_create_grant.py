"""create_grant, as the Board's approval calls it: number, budget, tranches, report schedule, commitment."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from fund.accounting import figures, ledger
from fund.db import db
from fund.errors import Conflict
from grants.awards import operations as ops
from grants.awards.models import Disbursement, Grant, GrantNumberCounter, GrantReport, Tranche
from tests.grants.awards import factories as af
from tests.live import concurrently


@settings(max_examples=300, deadline=None)
@given(cents=st.integers(min_value=1, max_value=10**12),
       weights=st.lists(st.integers(min_value=1, max_value=10_000), min_size=1, max_size=8))
def test_largest_remainder_parts_sum_exactly_and_stay_within_a_cent(cents, weights):
    total = Decimal(cents) / 100
    parts = ops.split_largest_remainder(total, [Decimal(w) for w in weights])
    assert sum(parts) == total
    assert all(p == p.quantize(Decimal("0.01")) for p in parts)
    for part, w in zip(parts, weights, strict=True):
        assert abs(part - total * w / sum(weights)) < Decimal("0.01")


def test_seventy_thirty_by_largest_remainder():
    assert ops.split_largest_remainder(Decimal("50000.01"), [Decimal(70), Decimal(30)]) == [
        Decimal("35000.01"), Decimal("15000.00")]
    assert ops.split_largest_remainder(Decimal("100.00"), [Decimal(1)] * 3) == [
        Decimal("33.34"), Decimal("33.33"), Decimal("33.33")]


def test_the_grant_takes_its_terms_from_the_application(rctx):
    grant = af.make_grant("40000.01")
    application = grant.application
    assert grant.status == "pending_signature"
    assert grant.number == f"VTF/{af.utcnow().year}/001"
    assert grant.organisation_id == application.organisation_id and grant.title == application.project_title
    assert (grant.start_date, grant.end_date) == (dt.date(2027, 9, 1), dt.date(2029, 2, 28))  # 18 months
    # The Board approved 40,000.01 of 38,500.00: the approved budget is the requested one scaled to the award.
    assert [(b.category, b.amount) for b in grant.budget_lines] == [
        ("personnel", Decimal("22441.57")), ("shelter", Decimal("14961.04")), ("indirect", Decimal("2597.40"))]
    assert grant.budget_total == grant.amount
    assert [line.total for line in application.budget_lines] == [
        Decimal("21600.00"), Decimal("14400.00"), Decimal("2500.00")]
    assert [(t.number, t.amount, t.condition) for t in grant.tranches] == [
        (1, Decimal("28000.01"), "signature"), (2, Decimal("12000.00"), "interim_report")]
    assert sum(t.amount for t in grant.tranches) == grant.amount
    interim, final = grant.report("interim"), grant.report("final")
    mid = grant.start_date + (grant.end_date - grant.start_date) / 2
    assert (interim.period_start, interim.due_on) == (grant.start_date, mid)
    assert (final.period_end, final.due_on) == (grant.end_date, grant.end_date + dt.timedelta(days=60))
    assert {d.status for d in grant.disbursements} == {"scheduled"}
    f = figures.grant_figures(grant.id)
    assert (f.committed, f.remaining, f.paid) == (Decimal("40000.01"), Decimal("40000.01"), Decimal("0.00"))
    # A second grant of the year takes the next number.
    assert af.make_grant(cash=None).number == f"VTF/{af.utcnow().year}/002"


def test_a_custom_schedule_still_sums_to_the_award(rctx):
    schedule = [(Decimal(40), "signature"), (Decimal(40), "interim_report"), (Decimal(20), "final_report")]
    grant = af.make_grant("33333.33", schedule=schedule)
    assert [t.amount for t in grant.tranches] == [Decimal("13333.33"), Decimal("13333.33"), Decimal("6666.67")]


def _nothing_written() -> dict:
    return {
        "grants": db.session.execute(select(func.count()).select_from(Grant)).scalar_one(),
        "tranches": db.session.execute(select(func.count()).select_from(Tranche)).scalar_one(),
        "reports": db.session.execute(select(func.count()).select_from(GrantReport)).scalar_one(),
        "disbursements": db.session.execute(select(func.count()).select_from(Disbursement)).scalar_one(),
        "counter": db.session.execute(select(func.coalesce(func.max(GrantNumberCounter.last), 0))).scalar_one(),
        "entries": db.session.execute(select(func.count()).select_from(ledger.JournalEntry)).scalar_one(),
    }


def test_a_grant_the_fund_cannot_afford_is_refused_and_nothing_is_written(rctx):
    af.fund_cash("10000.00")
    application = af.recommended_application()
    before = _nothing_written()
    with pytest.raises(Conflict) as refused:
        ops.create_grant(application, Decimal("38500.00"), actor=af.gf.manager())
    assert refused.value.status == 409
    assert "available balance" in refused.value.message
    assert _nothing_written() == before
    # The caller's transaction goes on: the Board can still put the application on the reserve list.
    assert application.status == "recommended"
    db.session.commit()
    assert _nothing_written() == before


def test_only_an_approvable_application_and_only_once(rctx):
    af.fund_cash()
    application = af.recommended_application()
    fm = af.gf.manager()
    ops.create_grant(application, Decimal("20000.00"), actor=fm)
    with pytest.raises(Conflict):
        ops.create_grant(application, Decimal("20000.00"), actor=fm)
    draft = af.gf.make_application(af.staff("applicant"), af.gf.make_call(title_en="Another call"))
    with pytest.raises(Conflict):
        ops.create_grant(draft, Decimal("20000.00"), actor=fm)


def test_grant_numbers_taken_concurrently_stay_distinct(app, build):
    ids = []
    for _ in range(6):
        ids.append(build(lambda: af.recommended_application()))
    build(lambda: af.fund_cash("1000000.00"))

    def approve(i: int) -> str:
        with app.test_request_context():
            from grants.models import Application

            grant = ops.create_grant(db.session.get(Application, ids[i]), Decimal("20000.00"),
                                     actor=af.gf.manager())
            db.session.commit()
            number = grant.number
            db.session.remove()
            return number

    numbers = concurrently(len(ids), approve)
    assert not [n for n in numbers if isinstance(n, BaseException)], numbers
    year = af.utcnow().year
    assert sorted(numbers) == [f"VTF/{year}/{n:03d}" for n in range(1, 7)]
