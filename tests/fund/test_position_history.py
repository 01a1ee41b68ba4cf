"""The finance dashboard's position over time (figures.position_history) read from the month balances: each
month's end is what the postings value-dated up to it say, whatever the months of the entries (back-dated, before
the chart, in the future, months without movement); the month balances agree with the postings, after posting
and after the migration that back-filled them; the chart's reads do not grow with the ledger."""

from __future__ import annotations

import datetime as dt
import os
from contextlib import contextmanager
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, event, select

from fund import create_app
from fund.accounting import balances, figures, ledger, models, rates
from fund.accounting.ledger import JournalEntry, Line, Posting
from fund.db import db
from tests.live import rounds
from tests.perf.test_query_counts import TRANSACTION_CONTROL

D = Decimal
#: The accounts the chart reads, and the others an entry may move them against.
READ = [models.CASH, models.GRANTS_PAYABLE, models.PSC_RESERVE]
OTHERS = [a for a in models.ACCOUNTS if a not in READ]
REFERENCE_DAY = dt.date(2026, 11, 30)


def _post(value_date: dt.date, account: str, other: str, cents: int, currency: str = "USD", kind: str = "") -> None:
    """One entry moving ``cents`` US cents (and as many minor units of ``currency``) from ``other`` to
    ``account``."""
    amount, usd = D(cents).scaleb(-2), D(cents).scaleb(-2)
    ledger.post_entry(kind or models.CONTRIBUTION, [Line(account, currency, amount, usd),
                                                    Line(other, currency, -amount, -usd)], value_date=value_date)


def _month_ends(months: int, today: dt.date) -> list[dt.date]:
    first = dt.date(today.year, today.month, 1)
    starts = [first]
    for _i in range(months - 1):
        starts.insert(0, (starts[0] - dt.timedelta(days=1)).replace(day=1))
    return starts


def _from_the_postings(months: int, today: dt.date) -> list[tuple[dt.date, Decimal, Decimal, Decimal]]:
    """The chart worked out the long way: for each month, every posting value-dated up to its last day."""
    rows = db.session.execute(select(JournalEntry.value_date, Posting.account, Posting.usd_cents)
                              .join(JournalEntry, JournalEntry.id == Posting.entry_id)).all()
    reserve = figures.operating_reserve()
    result = []
    for first in _month_ends(months, today):
        last = (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
        cash = sum(c for day, a, c in rows if day <= last and a == models.CASH)
        committed = -sum(c for day, a, c in rows if day <= last and a in (models.GRANTS_PAYABLE, models.PSC_RESERVE))
        c, k = D(cash).scaleb(-2).quantize(D("0.01")), D(committed).scaleb(-2).quantize(D("0.01"))
        result.append((first, c, k, c - k - reserve))
    return result


entries = st.lists(st.tuples(
    st.integers(-40, 6),  # months from the reference month
    st.integers(1, 31),  # day (cut to the month's length)
    st.sampled_from(READ), st.sampled_from(OTHERS + READ),
    st.integers(-10**9, 10**9).filter(bool),
    st.sampled_from(["USD", "EUR"]), st.sampled_from(sorted(models.KINDS)),
), max_size=25)


def _day(months_from_reference: int, day: int) -> dt.date:
    index = REFERENCE_DAY.year * 12 + REFERENCE_DAY.month - 1 + months_from_reference
    first = dt.date(index // 12, index % 12 + 1, 1)
    length = ((first + dt.timedelta(days=32)).replace(day=1) - first).days
    return first.replace(day=min(day, length))


def test_each_months_end_is_what_the_postings_up_to_it_say(app):
    @given(entries=entries, months=st.integers(0, 30), today_shift=st.integers(-8, 8),
           today_day=st.integers(1, 31))
    @settings(max_examples=int(os.environ.get("MONEY_EXAMPLES", rounds(30, 12))), deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    def check(entries, months, today_shift, today_day):
        # The examples add to one ledger (the comparison holds for any ledger): no emptying of tables between them.
        with app.test_request_context():
            rates.seed_currencies()
            for shift, day, account, other, cents, currency, kind in entries:
                if other == account:
                    other = models.COMMITMENTS
                _post(_day(shift, day), account, other, cents, currency, kind)
            db.session.commit()
            today = _day(today_shift, today_day)
            assert figures.position_history(months, today) == _from_the_postings(max(months, 1), today)
            assert balances.differences() == []
            db.session.remove()

    check()


def test_back_dated_future_and_quiet_months(app):
    """Cash before the chart, a commitment back-dated into it, a month without movement, a payment value-dated
    next month (not in the chart, nor in this month's position) and the operating reserve."""
    app.config["OPERATING_RESERVE_USD"] = "1000"
    try:
        with app.test_request_context():
            rates.seed_currencies()
            today = dt.date(2026, 11, 14)
            _post(dt.date(2025, 1, 5), models.CASH, models.REVENUE, 50_000_00)
            _post(dt.date(2026, 9, 30), models.COMMITMENTS, models.GRANTS_PAYABLE, 10_000_00, kind=models.COMMITMENT)
            _post(dt.date(2026, 9, 30), models.COMMITMENTS, models.PSC_RESERVE, 1_300_00, kind=models.COMMITMENT)
            _post(dt.date(2026, 11, 2), models.CASH, models.REVENUE, 2_000_00)
            _post(dt.date(2026, 12, 1), models.GRANTS_PAYABLE, models.CASH, 4_000_00, kind=models.DISBURSEMENT)
            _post(dt.date(2027, 3, 1), models.CASH, models.REVENUE, 9_000_00)
            db.session.commit()
            history = figures.position_history(4, today)
            assert history == [
                (dt.date(2026, 8, 1), D("50000.00"), D("0.00"), D("49000.00")),
                (dt.date(2026, 9, 1), D("50000.00"), D("11300.00"), D("37700.00")),
                (dt.date(2026, 10, 1), D("50000.00"), D("11300.00"), D("37700.00")),
                (dt.date(2026, 11, 1), D("52000.00"), D("11300.00"), D("39700.00")),
            ]
            assert history == _from_the_postings(4, today)
            assert figures.position_history(1, dt.date(2026, 12, 31))[-1][1:3] == (D("48000.00"), D("7300.00"))
    finally:
        app.config["OPERATING_RESERVE_USD"] = "0"


@contextmanager
def _statements(app):
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if statement.split(None, 1)[0].upper() not in TRANSACTION_CONTROL:
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def _ledger(first: dt.date, months: int, per_month: int) -> None:
    day = first
    for _m in range(months):
        for i in range(per_month):
            _post(day.replace(day=1 + i % 28), models.CASH, models.REVENUE, 100_00 + i)
            _post(day.replace(day=1 + i % 28), models.COMMITMENTS, models.GRANTS_PAYABLE, 10_00 + i,
                  kind=models.COMMITMENT)
        day = (day + dt.timedelta(days=32)).replace(day=1)
    db.session.commit()


def test_the_charts_reads_do_not_grow_with_the_ledger(app):
    """Two years of entries, then three times as many in the same months and two more years before them:
    the same one statement, the same rows, none read from the postings."""
    today = dt.date(2026, 11, 14)
    with app.test_request_context():
        rates.seed_currencies()
        _ledger(dt.date(2024, 12, 1), 24, 2)
        with _statements(app) as small:
            history = figures.position_history(24, today)
        rows = len(balances.usd_totals_and_months(READ, dt.date(2024, 12, 1)))

        _ledger(dt.date(2022, 12, 1), 48, 4)
        with _statements(app) as large:
            larger = figures.position_history(24, today)
        assert len(large) == len(small) == 1, large
        assert not [s for s in large if "ledger_posting" in s], large
        assert len(balances.usd_totals_and_months(READ, dt.date(2024, 12, 1))) == rows == 2 + 24 * 2
        assert larger == _from_the_postings(24, today) and larger != history


def test_the_migration_back_fills_the_month_balances(app, fresh_database):
    """A ledger written before the month balances existed (their rows taken away) has them after the upgrade;
    the downgrade takes them away again."""
    from flask_migrate import downgrade, upgrade

    keep = ("TESTING", "STORAGE_DIR", "SERVER_NAME", "MAIL_SERVER", "AUDIT_HMAC_KEY", "AUDIT_SIGNING_KEY_FILE",
            "AUDIT_CHECKPOINT_DIR")
    other = create_app({**{k: app.config[k] for k in keep}, "SQLALCHEMY_DATABASE_URI": fresh_database,
                        "DATABASE_OWNER_URL": None})
    with other.test_request_context():
        directory = other.extensions["migrate"].directory
        upgrade(directory=directory, revision="0014_merge")
        rates.seed_currencies()
        _post(dt.date(2025, 1, 31), models.CASH, models.REVENUE, 123_45, "EUR")
        _post(dt.date(2025, 1, 1), models.CASH, models.REVENUE, 1_00)
        _post(dt.date(2026, 2, 28), models.COMMITMENTS, models.GRANTS_PAYABLE, 77_00, kind=models.COMMITMENT)
        _post(dt.date(2027, 12, 31), models.GRANTS_PAYABLE, models.CASH, 7_00, kind=models.DISBURSEMENT)
        db.session.execute(delete(balances.LedgerBalance).where(balances.LedgerBalance.scope == balances.MONTH))
        db.session.commit()
        missing = balances.differences()
        assert {(d.scope, d.ref_id) for d in missing} == {
            ("month", 202501), ("month", 202602), ("month", 202712)}
        db.session.remove()

        upgrade(directory=directory, revision="0015_month_balances")
        db.session.remove()
        assert balances.differences() == []
        months = db.session.execute(select(balances.LedgerBalance.ref_id, balances.LedgerBalance.currency,
                                           balances.LedgerBalance.usd_cents)
                                    .where(balances.LedgerBalance.scope == balances.MONTH,
                                           balances.LedgerBalance.account == models.CASH)
                                    .order_by(balances.LedgerBalance.ref_id,
                                              balances.LedgerBalance.currency)).all()
        assert [tuple(r) for r in months] == [(202501, "EUR", 123_45), (202501, "USD", 1_00), (202712, "USD", -7_00)]
        db.session.remove()

        downgrade(directory=directory, revision="0014_merge")
        db.session.remove()
        assert {(d.scope, d.ref_id) for d in balances.differences()} == {
            ("month", 202501), ("month", 202602), ("month", 202712)}
        db.session.remove()
        db.engine.dispose()
