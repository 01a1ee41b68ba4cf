"""What recording a contribution costs the database: the fund lock and the audit chain's head are each read
once per transaction (an operation and the postings it makes both ask for the lock; a contribution writes two
audit events), and every statement is compiled once per process (the kept balances' and the pools' upserts
included), so that recording the 1,000th contribution costs what the 2nd did.

The chain stays whole when a savepoint that wrote events is rolled back between two events of one transaction."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import event
from sqlalchemy.engine.interfaces import CacheStats

from fund import audit
from fund.accounting import rates
from fund.db import db
from tests.donors import factories as f


def _statements(fn) -> tuple[list[str], list[bool]]:
    """The statements run by ``fn()`` and, for each, whether its compiled form came from the cache."""
    seen: list[str] = []
    cached: list[bool] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if statement.split(None, 1)[0].upper() in ("BEGIN", "SAVEPOINT", "RELEASE", "ROLLBACK", "COMMIT"):
            return
        seen.append(" ".join(statement.split()))
        cached.append(context is not None and context.cache_hit == CacheStats.CACHE_HIT)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        fn()
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    return seen, cached


def _contribution(donor, n: int) -> None:
    from donors import operations

    operations.record_contribution(donor, {"amount": Decimal("25.00"), "currency": "EUR", "pledge_id": None,
                                           "received_on": dt.date.today(), "bank_reference": f"COST-{n}"})
    db.session.commit()


def test_a_contribution_reads_the_lock_and_the_chain_head_once_and_compiles_nothing(app):
    with app.test_request_context():
        f.currencies()
        rates.set_rate("EUR", dt.date.today().replace(day=1), Decimal("0.92"))
        donor = f.donor("Costly donor")
        db.session.commit()
        _contribution(donor, 1)  # every statement compiled once
        statements, cached = _statements(lambda: _contribution(donor, 2))
        lock_reads = [s for s in statements if s.startswith("SELECT ledger_lock.id FROM ledger_lock")]
        head_reads = [s for s in statements if s.startswith("SELECT audit_head.")]
        assert len(lock_reads) == 1, lock_reads
        assert len(head_reads) == 1, head_reads
        assert len([s for s in statements if s.startswith("INSERT INTO audit_event")]) == 2
        compiled = [s for s, hit in zip(statements, cached, strict=True) if not hit]
        assert not compiled, compiled
        assert audit.verify().ok


def test_the_chain_stays_whole_when_a_savepoint_with_events_is_rolled_back(app):
    with app.test_request_context():
        donor = f.donor("Chained donor")
        audit.record("test.first", donor, summary="first")
        savepoint = db.session.begin_nested()
        audit.record("test.undone", donor, summary="undone")
        savepoint.rollback()
        audit.record("test.second", donor, summary="second")
        db.session.commit()
        assert audit.verify().ok
        # And in the next transaction, after a rolled-back one.
        audit.record("test.rolled_back", donor, summary="rolled back")
        db.session.rollback()
        audit.record("test.third", donor, summary="third")
        db.session.commit()
        assert audit.verify().ok
