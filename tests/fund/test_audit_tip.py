"""The chain's tip kept in the session between the events of one transaction: it follows savepoints (released or
rolled back), the head row names the last event after every event, and reading the chain in the middle of a
transaction sees the events already written. A contribution's statements stay within their budget."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import event, select

from fund import audit
from fund.accounting import rates
from fund.audit import AuditEvent, AuditHead
from fund.db import db
from tests.donors import factories as f


def _head() -> tuple[int, str]:
    row = db.session.execute(select(AuditHead.last_id, AuditHead.last_hash).where(AuditHead.id == 1)).one()
    return row.last_id, row.last_hash


def _last_event() -> tuple[int, str]:
    row = db.session.execute(select(AuditEvent.id, AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)).one()
    return row.id, row.hash


def test_the_chain_continues_after_a_released_savepoint(app):
    with app.app_context():
        audit.record("test.before", entity_type="thing", entity_id=1, summary="before")
        with db.session.begin_nested():
            audit.record("test.inside", entity_type="thing", entity_id=2, summary="inside")
        audit.record("test.after", entity_type="thing", entity_id=3, summary="after")
        db.session.commit()
        ids = db.session.execute(select(AuditEvent.id).order_by(AuditEvent.id)).scalars().all()
        assert ids == [1, 2, 3]
        assert audit.verify().ok


def test_the_head_names_the_last_event_within_the_transaction(app):
    with app.app_context():
        for i in range(3):
            ev = audit.record("test.event", entity_type="thing", entity_id=i, summary=f"event {i}")
            assert _head() == _last_event() == (ev.id, ev.hash)
        assert audit.verify().ok  # before the commit: the chain and its head as the transaction sees them
        savepoint = db.session.begin_nested()
        audit.record("test.undone", entity_type="thing", entity_id=9, summary="undone")
        savepoint.rollback()
        assert _head() == _last_event() == (3, ev.hash)
        audit.record("test.event", entity_type="thing", entity_id=4, summary="event 4")
        assert audit.verify().ok
        db.session.commit()
        assert audit.verify().ok and audit.verify().events == 4


def test_a_returned_event_carries_its_link(app):
    with app.app_context():
        first = audit.record("test.first", entity_type="thing", entity_id=1, summary="first")
        second = audit.record("test.second", entity_type="thing", entity_id=2, summary="second",
                              changes={"amount": [None, Decimal("1.50")]})
        db.session.commit()
        assert (first.id, second.id) == (1, 2)
        assert second.prev_hash == first.hash and second.hash == second.compute_hash()
        stored = db.session.get(AuditEvent, 2)
        assert (stored.hash, stored.mac, stored.changes) == (second.hash, second.mac, {"amount": [None, "1.50"]})


def test_a_contribution_stays_within_its_statement_budget(app):
    """The donor (expired by the previous commit), the fund lock, the bank reference, the rate, the entry and its
    postings (one statement on PostgreSQL, one per posting on SQLite: counted once), the kept balances, the chain
    head's lock, two events (each: event, personal part, head), the attribution row and its pool, the contribution:
    17 statements."""
    from donors import operations

    def contribute(donor, n):
        operations.record_contribution(donor, {"amount": Decimal("25.00"), "currency": "EUR", "pledge_id": None,
                                               "received_on": dt.date.today(), "bank_reference": f"BUDGET-{n}"})
        db.session.commit()

    with app.test_request_context():
        f.currencies()
        rates.set_rate("EUR", dt.date.today().replace(day=1), Decimal("0.92"))
        donor = f.donor("Budgeted donor")
        db.session.commit()
        contribute(donor, 1)
        seen = []

        def count(conn, cursor, statement, parameters, context, executemany):
            if statement.split(None, 1)[0].upper() not in ("BEGIN", "SAVEPOINT", "RELEASE", "ROLLBACK", "COMMIT"):
                seen.append(statement)

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            contribute(donor, 2)
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        postings = [s for s in seen if s.startswith("INSERT INTO ledger_posting")]
        assert len(seen) - len(postings) + 1 <= 17, "\n".join(" ".join(s.split())[:90] for s in seen)
        assert audit.verify().ok
