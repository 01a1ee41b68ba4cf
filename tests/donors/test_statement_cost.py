"""What a donor's statement costs grows with that donor's own movements, not with the fund: the same number of SQL
statements however many other donors gave and grants were paid, no statement that reads the ledger's postings or
the attribution beyond the donor's own rows and its grants', and the fund's figures beside the donor's read from
the kept month balances, for the whole months of the period."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text

from donors.models import Donor
from donors.statement_figures import fund_context
from fund.accounting import ledger
from fund.accounting.ledger import JournalEntry, Posting
from fund.db import db
from tests.donors import factories as f
from tests.perf import world as w
from tests.perf.test_query_counts import counting


def statement_sql(app, client, donor_id: int, date_from: dt.date, date_to: dt.date) -> tuple[list[str], dict]:
    """The statements of one JSON statement request (after an unmeasured one) and its body."""
    url = f"/api/v1/donors/{donor_id}/statement?format=json&from={date_from}&to={date_to}"
    client.get(url)
    with counting(app) as statements:
        resp = client.get(url)
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    return list(statements), resp.get_json()


def fund_wide(statement: str) -> bool:
    """A read of postings or attribution rows not limited to one donor or to given grants."""
    text = " ".join(statement.split())
    reads_postings = "FROM ledger_posting" in text
    reads_attribution = "FROM ledger_attribution " in text or text.endswith("FROM ledger_attribution")
    if not (reads_postings or reads_attribution):
        return False
    own = ("ledger_posting.donor_id =", "ledger_posting.grant_id IN", "ledger_attribution.donor_id =")
    return not any(mark in text for mark in own)


def test_a_statement_costs_the_same_whatever_the_other_donors_did(app, make_user, api_as):
    world = w.start(app, make_user)
    for _ in range(2):  # the first donor's money pays the second grant
        w.grow(app, world)
    client = api_as(world.users["finance_officer"])
    today = f.today()
    date_from = today - dt.timedelta(days=365)
    small, small_body = statement_sql(app, client, world.ids["donor"], date_from, today)
    for _ in range(2):  # other donors give, other grants are paid, and the first donor moves too
        w.grow(app, world)
    large, large_body = statement_sql(app, client, world.ids["donor"], date_from, today)
    assert len(large) == len(small), "\n".join(large)
    assert small_body["use_of_funds"]["grants"], "the donor's money paid grants at both sizes"
    assert len(large_body["use_of_funds"]["grants"]) > len(small_body["use_of_funds"]["grants"])
    assert [s for s in large if fund_wide(s)] == []
    # The fund's figures grew, and the statement shows them.
    assert Decimal(large_body["fund"]["received"]) > Decimal(small_body["fund"]["received"])
    assert len(large_body["payments"]) > len(small_body["payments"])


def independent_sum(account: str, first: dt.date | None, last: dt.date, kind: str | None = None) -> Decimal:
    query = select(func.coalesce(func.sum(Posting.usd_cents), 0)).join(JournalEntry).where(
        Posting.account == account, JournalEntry.value_date <= last)
    if first is not None:
        query = query.where(JournalEntry.value_date >= first)
    if kind is not None:
        query = query.where(JournalEntry.kind == kind)
    return Decimal(db.session.execute(query).scalar_one()).scaleb(-2)


def test_the_fund_figures_are_those_of_the_whole_months_of_the_period(app):
    with app.test_request_context():
        f.currencies()
        donor, other = f.donor("Norway"), f.donor("Sweden")
        for day, amount in ((dt.date(2026, 1, 31), "100.00"), (dt.date(2026, 2, 1), "1000.00"),
                            (dt.date(2026, 2, 14), "20.00"), (dt.date(2026, 2, 28), "3.00"),
                            (dt.date(2026, 3, 1), "40000.00")):
            f.contribution(other, amount, "USD", received_on=day, reference=f"S-{day}")
        f.contribution(donor, "500.00", "USD", received_on=dt.date(2026, 2, 10), reference="N-1")
        db.session.commit()
        # A period inside February: the fund's figures are those of February, 1 to 28.
        context = fund_context(dt.date(2026, 2, 10), dt.date(2026, 2, 20))
        assert (context.date_from, context.date_to) == (dt.date(2026, 2, 1), dt.date(2026, 2, 28))
        assert context.received == Decimal("1523.00")
        assert context.received == independent_sum(ledger.CASH, dt.date(2026, 2, 1), dt.date(2026, 2, 28),
                                                    ledger.CONTRIBUTION)
        assert context.cash_at_end == Decimal("1623.00") == independent_sum(ledger.CASH, None, dt.date(2026, 2, 28))
        # Across months: January 31 to March 1 gives the three months.
        context = fund_context(dt.date(2026, 1, 31), dt.date(2026, 3, 1))
        assert context.received == Decimal("41623.00") == independent_sum(
            ledger.CASH, dt.date(2026, 1, 1), dt.date(2026, 3, 31), ledger.CONTRIBUTION)
        assert (context.disbursed, context.psc) == (Decimal("0.00"), Decimal("0.00"))
        # Before the fund's first movement: nothing.
        context = fund_context(dt.date(2025, 6, 1), dt.date(2025, 12, 31))
        assert (context.received, context.cash_at_end) == (Decimal("0.00"), Decimal("0.00"))
        donor_id = donor.id
    with app.test_request_context():
        from donors import statements as st

        statement = st.build_statement(db.session.get(Donor, donor_id), dt.date(2026, 2, 10), dt.date(2026, 2, 20))
        data = st.as_json(statement)
        assert data["fund"]["date_from"] == "2026-02-01" and data["fund"]["date_to"] == "2026-02-28"
        assert data["fund"]["received"] == "1523.00"


def test_a_small_donor_s_statement_is_planned_for_that_donor(app):
    """The driver prepares a statement run often, and PostgreSQL may then keep one generic plan for every donor:
    one made for the average donor, which reads the whole ledger when one donor has thousands of movements and
    another a few. The statement's reads are planned for the donor they are given, however often they run."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("plans are PostgreSQL's")
    from donors import statements as st

    with app.test_request_context():
        f.currencies()
        large, small = f.donor("Norway"), f.donor("Sweden")
        for i in range(60):
            f.contribution(large, "100.00", "USD", received_on=f.today() - dt.timedelta(days=i), reference=f"L-{i}")
        f.contribution(small, "10.00", "USD", received_on=f.today(), reference="S-1")
        db.session.commit()
        small_id = small.id
        db.session.execute(text("ANALYZE"))
        db.session.commit()
        db.engine.dispose()  # one connection for the whole loop: prepared statements and their plans are its own
        plans: dict[str, tuple[int, int]] = {}
        for _ in range(15):
            st.build_statement(db.session.get(Donor, small_id), f.today() - dt.timedelta(days=365), f.today())
            plans.update({row.statement: (row.generic_plans, row.custom_plans) for row in db.session.execute(text(
                "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements "
                "WHERE statement LIKE '%FROM ledger_posting%' AND statement NOT LIKE '%pg_prepared_statements%'"))})
            db.session.commit()
    assert plans, "the statement's reads of the ledger were prepared"
    assert all(custom >= 10 for _generic, custom in plans.values()), plans
    assert [s for s, (generic, _custom) in plans.items() if generic] == []
