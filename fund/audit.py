"""The tamper-evident audit trail.

Every state change writes one :class:`AuditEvent` in the same transaction as the change. Events form a hash
chain: ``hash = SHA-256(previous hash + canonical JSON of the event)``. Writers serialise on the single row of
:class:`AuditHead` (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite transactions are ``BEGIN IMMEDIATE``), so
concurrent requests cannot fork the chain. The code has no update or delete path for events, and on PostgreSQL
a trigger rejects UPDATE and DELETE on the table.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any

from flask import g, has_request_context, request
from sqlalchemy import DDL, ForeignKey, Integer, String, Text, event, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import JSON

from fund.db import UTCDateTime, db, utcnow

GENESIS_HASH = "0" * 64


class AuditEvent(db.Model):
    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), index=True)
    actor: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(100), index=True)
    entity_type: Mapped[str] = mapped_column(String(100), index=True)
    entity_id: Mapped[str | None] = mapped_column(String(100), index=True)
    summary: Mapped[str] = mapped_column(Text)
    changes: Mapped[dict | None] = mapped_column(JSON)
    request_id: Mapped[str | None] = mapped_column(String(64))
    ip_address: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)

    def canonical(self) -> str:
        return canonical_json(
            {
                "id": self.id,
                "occurred_at": self.occurred_at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
                "actor_id": self.actor_id,
                "actor": self.actor,
                "action": self.action,
                "entity_type": self.entity_type,
                "entity_id": self.entity_id,
                "summary": self.summary,
                "changes": self.changes,
                "request_id": self.request_id,
                "ip_address": self.ip_address,
            }
        )

    def compute_hash(self) -> str:
        return hashlib.sha256((self.prev_hash + self.canonical()).encode()).hexdigest()


class AuditHead(db.Model):
    """The single row naming the last event of the chain; writers lock it."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_id: Mapped[int] = mapped_column(Integer, default=0)
    last_hash: Mapped[str] = mapped_column(String(64), default=GENESIS_HASH)


APPEND_ONLY_FUNCTION = """
CREATE OR REPLACE FUNCTION fund_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP;
END;
$$ LANGUAGE plpgsql
"""


def append_only_trigger_sql(table: str) -> str:
    return (
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION fund_append_only()"
    )


def make_append_only(table) -> None:
    """Install the PostgreSQL append-only trigger whenever ``table`` is created with create_all."""
    event.listen(table, "after_create", DDL(APPEND_ONLY_FUNCTION).execute_if(dialect="postgresql"))
    event.listen(table, "after_create", DDL(append_only_trigger_sql(table.name)).execute_if(dialect="postgresql"))


make_append_only(AuditEvent.__table__)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, float):
        # Floats do not belong in the audit trail; keep an exact text form.
        return repr(value)
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)


def canonical_json(data: Any) -> str:
    return json.dumps(_jsonable(data), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def request_id() -> str | None:
    if not has_request_context():
        return None
    if "request_id" not in g:
        supplied = request.headers.get("X-Request-ID", "")
        ok = supplied and len(supplied) <= 64 and all(c.isalnum() or c in "-_." for c in supplied)
        g.request_id = supplied if ok else uuid.uuid4().hex
    return g.request_id


def _current_actor():
    if not has_request_context():
        return None
    from flask_login import current_user

    user = current_user._get_current_object() if current_user else None
    if user is not None and getattr(user, "is_authenticated", False):
        return user
    return None


def _locked_head() -> AuditHead:
    """The chain head, locked for the rest of the transaction (created on first use, race-free)."""
    lock = select(AuditHead).where(AuditHead.id == 1).with_for_update()
    head = db.session.execute(lock).scalar_one_or_none()
    if head is None:
        dialect = db.session.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        db.session.execute(
            insert(AuditHead).values(id=1, last_id=0, last_hash=GENESIS_HASH).on_conflict_do_nothing()
        )
        head = db.session.execute(lock).scalar_one()
    return head


def record(
    action: str,
    entity: Any = None,
    *,
    summary: str,
    changes: dict | None = None,
    entity_type: str | None = None,
    entity_id: Any = None,
    actor: Any = None,
) -> AuditEvent:
    """Append an event to the chain in the current transaction (flushes; never commits)."""
    if entity is not None:
        entity_type = entity_type or entity.__tablename__
        if entity_id is None:
            db.session.flush()
            entity_id = getattr(entity, "id", None)
    if entity_type is None:
        raise ValueError("an audit event needs an entity type")
    actor = actor if actor is not None else _current_actor()
    head = _locked_head()
    ip = None
    if has_request_context():
        ip = request.remote_addr
    ev = AuditEvent(
        id=head.last_id + 1,
        occurred_at=utcnow(),
        actor_id=getattr(actor, "id", None),
        actor=getattr(actor, "email", None) or "system",
        action=action,
        entity_type=entity_type,
        entity_id=None if entity_id is None else str(entity_id),
        summary=summary,
        changes=_jsonable(changes) if changes else None,
        request_id=request_id(),
        ip_address=ip,
        prev_hash=head.last_hash,
    )
    ev.hash = ev.compute_hash()
    db.session.add(ev)
    head.last_id = ev.id
    head.last_hash = ev.hash
    db.session.flush()
    return ev


def populate(obj: Any, data: dict) -> dict:
    """Set attributes from ``data`` and return ``{field: [old, new]}`` for those that changed."""
    changes = {}
    for key, new in data.items():
        old = getattr(obj, key)
        if old != new:
            setattr(obj, key, new)
            changes[key] = [old, new]
    return changes


@dataclass
class VerifyResult:
    ok: bool
    events: int
    first_bad_event: int | None = None
    reason: str | None = None


def verify(batch: int = 2000) -> VerifyResult:
    """Walk the chain from the first event and recompute every hash.

    Detects an edited event (its hash no longer matches), a deleted or inserted event (ids not consecutive or
    the link to the previous hash broken), reordered events, and a truncated tail (the head names more).
    """
    expected_id = 1
    prev_hash = GENESIS_HASH
    count = 0
    last_id = 0
    last_seen: int | None = None
    while True:
        query = select(AuditEvent).order_by(AuditEvent.id).limit(batch)
        if last_seen is not None:
            query = query.where(AuditEvent.id > last_seen)
        rows = db.session.execute(query).scalars().all()
        if not rows:
            break
        for ev in rows:
            last_seen = ev.id
            if ev.id < expected_id:
                return VerifyResult(False, count, ev.id, "event out of sequence")
            if ev.id != expected_id:
                return VerifyResult(False, count, expected_id, f"event {expected_id} is missing")
            if ev.prev_hash != prev_hash:
                return VerifyResult(False, count, ev.id, "link to the previous event is broken")
            if ev.compute_hash() != ev.hash:
                return VerifyResult(False, count, ev.id, "content does not match its hash")
            prev_hash = ev.hash
            expected_id += 1
            last_id = ev.id
            count += 1
        for ev in rows:
            db.session.expunge(ev)
    head = db.session.get(AuditHead, 1)
    if head is not None and (head.last_id != last_id or head.last_hash != prev_hash):
        if head.last_id > last_id:
            return VerifyResult(False, count, last_id + 1, f"event {last_id + 1} is missing")
        return VerifyResult(False, count, last_id, "chain head does not match the last event")
    if head is None and count:
        return VerifyResult(False, count, 1, "chain head is missing")
    return VerifyResult(True, count)


def filtered_events(filters: dict):
    """A select of events matching the browse/export filters, newest first."""
    query = select(AuditEvent)
    if filters.get("entity_type"):
        query = query.where(AuditEvent.entity_type == filters["entity_type"])
    if filters.get("entity_id"):
        query = query.where(AuditEvent.entity_id == str(filters["entity_id"]))
    if filters.get("actor"):
        query = query.where(AuditEvent.actor.ilike(f"%{filters['actor']}%"))
    if filters.get("action"):
        query = query.where(AuditEvent.action.startswith(filters["action"]))
    if filters.get("date_from"):
        start = dt.datetime.combine(filters["date_from"], dt.time.min, tzinfo=dt.UTC)
        query = query.where(AuditEvent.occurred_at >= start)
    if filters.get("date_to"):
        end = dt.datetime.combine(filters["date_to"] + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC)
        query = query.where(AuditEvent.occurred_at < end)
    return query.order_by(AuditEvent.id.desc())
