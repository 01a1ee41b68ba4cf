"""The tamper-evident audit trail, anchored outside the database, with erasable personal data.

Every state change writes one :class:`AuditEvent` in the same transaction as the change.

The chain. Events form a hash chain: ``hash = SHA-256(previous hash + canonical JSON of the event's core)``,
and each link also carries ``mac = HMAC-SHA-256(AUDIT_HMAC_KEY, hash)``. The key lives in the application's
environment (or a file), never in the database: someone with database access alone can edit, delete or
re-chain events, but cannot compute the codes of the links they forge, so ``verify`` names the first forged
event. Writers serialise on the single row of :class:`AuditHead` (``SELECT ... FOR UPDATE`` on PostgreSQL;
SQLite transactions are ``BEGIN IMMEDIATE``), so concurrent requests cannot fork the chain.

What the key cannot show is a removed tail: delete the last events, rewind the head, and the shorter chain is
still valid. Signed checkpoints of the head, written outside the database (:mod:`fund.checkpoints`), close
that gap; ``verify`` checks the chain against every checkpoint it is given.

Personal data. The core of an event holds no personal data: who (the actor's user id), when, action, entity,
request id, the subjects (``[["user", 7], ["organisation", 3]]``: the people and organisations the event is
about) and ``personal_digest``, a salted SHA-256 commitment to the personal part: the actor's e-mail, the
summary, the changes and the IP address, which live in :class:`AuditPersonal`, one row per event.
:func:`erase_subject` replaces the personal part of every event about a subject with a tombstone that names
the erasure event; the digest stays in the core, so the chain still verifies, and an edit anywhere else (or
of a tombstone) still fails. The salt makes the digest of erased data unguessable.

Append-only. The code has no update or delete path for events; on PostgreSQL a trigger rejects UPDATE and
DELETE on ``audit_event`` and ``audit_subject`` and the application's database role is granted neither
(:mod:`fund.dbroles`). Only the personal part may change, and only to a tombstone.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from flask import current_app, g, has_request_context, request
from sqlalchemy import DDL, ForeignKey, Index, Integer, String, Text, event, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.types import JSON

from fund.db import UTCDateTime, db, utcnow

GENESIS_HASH = "0" * 64
#: What an erased actor, summary or free text reads.
ERASED = "[erased]"
#: The kinds of subject whose personal data can be erased.
SUBJECT_KINDS = ("user", "organisation")
ERASE_ACTION = "audit.erase"


class AuditEvent(db.Model):
    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), index=True)
    action: Mapped[str] = mapped_column(String(100), index=True)
    entity_type: Mapped[str] = mapped_column(String(100), index=True)
    entity_id: Mapped[str | None] = mapped_column(String(100), index=True)
    request_id: Mapped[str | None] = mapped_column(String(128))
    subjects: Mapped[list] = mapped_column(JSON)
    personal_digest: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    mac: Mapped[str] = mapped_column(String(64))

    personal: Mapped[AuditPersonal | None] = relationship(lazy="joined", uselist=False, back_populates="event")

    # The personal part, read through the event (an erased or missing part reads as the tombstone).
    @property
    def actor(self) -> str:
        return self.personal.actor if self.personal else ERASED

    @property
    def summary(self) -> str:
        return self.personal.summary if self.personal else ERASED

    @property
    def changes(self) -> dict | None:
        return self.personal.changes if self.personal else None

    @property
    def ip_address(self) -> str | None:
        return self.personal.ip_address if self.personal else None

    @property
    def erased(self) -> bool:
        return self.personal is None or self.personal.erased_by is not None

    def core(self) -> dict:
        return core_content(
            id=self.id, occurred_at=self.occurred_at, actor_id=self.actor_id, action=self.action,
            entity_type=self.entity_type, entity_id=self.entity_id, request_id=self.request_id,
            subjects=self.subjects, personal_digest=self.personal_digest,
        )

    def compute_hash(self) -> str:
        return link_hash(self.prev_hash, self.core())


class AuditPersonal(db.Model):
    """The personal part of one event; replaced by a tombstone when its subject is erased."""

    __tablename__ = "audit_personal"

    event_id: Mapped[int] = mapped_column(ForeignKey("audit_event.id"), primary_key=True, autoincrement=False)
    salt: Mapped[str | None] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(255))
    summary: Mapped[str] = mapped_column(Text)
    changes: Mapped[dict | None] = mapped_column(JSON)
    ip_address: Mapped[str | None] = mapped_column(String(64))
    #: The id of the erasure event that replaced this part with the tombstone.
    erased_by: Mapped[int | None] = mapped_column(Integer)

    event: Mapped[AuditEvent] = relationship(back_populates="personal")

    def content(self) -> dict:
        return personal_content(self.actor, self.summary, self.changes, self.ip_address)

    def is_tombstone(self) -> bool:
        return (self.salt is None and self.actor == ERASED and self.summary == ERASED and self.changes is None
                and self.ip_address is None)


class AuditSubject(db.Model):
    """Which events are about which subject: the index :func:`erase_subject` looks up (append-only)."""

    __tablename__ = "audit_subject"
    __table_args__ = (Index("ix_audit_subject_kind_subject_id", "kind", "subject_id"),)

    event_id: Mapped[int] = mapped_column(ForeignKey("audit_event.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    subject_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)


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
make_append_only(AuditSubject.__table__)


# Canonical content and the link codes --------------------------------------------------------------------------


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


def personal_content(actor: str, summary: str, changes: dict | None, ip_address: str | None) -> dict:
    return {"actor": actor, "summary": summary, "changes": changes, "ip_address": ip_address}


def personal_digest(salt: str, content: dict) -> str:
    """The salted commitment to an event's personal part that the chain hashes instead of the data."""
    return hashlib.sha256((salt + canonical_json(content)).encode()).hexdigest()


def core_content(*, id: int, occurred_at: dt.datetime, actor_id: int | None, action: str, entity_type: str,
                 entity_id: str | None, request_id: str | None, subjects: list, personal_digest: str) -> dict:
    return {
        "id": id,
        "occurred_at": occurred_at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        "actor_id": actor_id,
        "action": action,
        "entity_type": entity_type,
        "entity_id": entity_id,
        "request_id": request_id,
        "subjects": subjects,
        "personal": personal_digest,
    }


def link_hash(prev_hash: str, core: dict) -> str:
    return hashlib.sha256((prev_hash + canonical_json(core)).encode()).hexdigest()


def link_mac(key: bytes, link: str) -> str:
    return hmac.new(key, link.encode(), hashlib.sha256).hexdigest()


def hmac_key() -> bytes:
    """The chain's key (config ``AUDIT_HMAC_KEY``); the database never holds it."""
    key = current_app.config.get("AUDIT_HMAC_KEY")
    if not key:
        raise RuntimeError("AUDIT_HMAC_KEY is not configured")
    return key.encode() if isinstance(key, str) else bytes(key)


# Writing -------------------------------------------------------------------------------------------------------


def request_id() -> str | None:
    if not has_request_context():
        return None
    if "request_id" not in g:
        supplied = request.headers.get("X-Request-ID", "")
        ok = supplied and len(supplied) <= 128 and all(c.isalnum() or c in "-_.:" for c in supplied)
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


def _locked_head() -> list:
    """The chain's tip, ``[last_id, last_hash]``, with the head row locked for the rest of the transaction (created
    on first use, race-free). Read once per transaction: the next events continue from the tip kept in the session,
    as long as the (sub)transaction that last moved it is open; after a savepoint ends (rolled back, or released)
    the tip is read again, under the lock still held."""
    held = db.session.info.get("audit_head")
    if held is not None and held[0].is_active:
        return held[1]
    tip = _lock_head()
    _keep_tip(tip)
    return tip


def _keep_tip(tip: list) -> None:
    session = db.session()
    session.info["audit_head"] = (session.get_nested_transaction() or session.get_transaction(), tip)


#: The chain is written with Core statements compiled once: the unit of work cost more than the statements.
_EVENT = AuditEvent.__table__
_PERSONAL = AuditPersonal.__table__
_SUBJECT = AuditSubject.__table__
_HEAD = AuditHead.__table__
_LOCK_HEAD = select(_HEAD.c.last_id, _HEAD.c.last_hash).where(_HEAD.c.id == 1).with_for_update()
_MOVE_HEAD = _HEAD.update().where(_HEAD.c.id == 1)


def _lock_head() -> list:
    row = db.session.execute(_LOCK_HEAD).first()
    if row is None:
        dialect = db.session.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        db.session.execute(
            insert(AuditHead).values(id=1, last_id=0, last_hash=GENESIS_HASH).on_conflict_do_nothing()
        )
        row = db.session.execute(_LOCK_HEAD).one()
    return [row.last_id, row.last_hash]


def _as_id(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit() and len(value) < 19:
        return int(value)
    return None


def event_subjects(actor_id: int | None, entity_type: str, entity_id: Any, entity: Any = None,
                   extra: Iterable[tuple[str, int]] = ()) -> list[list]:
    """The people and organisations an event is about: its actor, a user or organisation it concerns, the
    owner (``user_id``) and organisation (``organisation_id``) of the record it concerns, and ``extra``."""
    found: set[tuple[str, int]] = set()
    if actor_id is not None:
        found.add(("user", actor_id))
    if entity_type in SUBJECT_KINDS and _as_id(entity_id) is not None:
        found.add((entity_type, _as_id(entity_id)))
    if entity is not None and entity_type not in SUBJECT_KINDS:
        for attr, kind in (("organisation_id", "organisation"), ("user_id", "user")):
            value = _as_id(getattr(entity, attr, None))
            if value is not None:
                found.add((kind, value))
    for kind, subject_id in extra:
        if kind not in SUBJECT_KINDS or _as_id(subject_id) is None:
            raise ValueError(f"not an audit subject: {kind} {subject_id!r}")
        found.add((kind, _as_id(subject_id)))
    return [list(s) for s in sorted(found)]


def record(
    action: str,
    entity: Any = None,
    *,
    summary: str,
    changes: dict | None = None,
    entity_type: str | None = None,
    entity_id: Any = None,
    actor: Any = None,
    subjects: Iterable[tuple[str, int]] = (),
) -> AuditEvent:
    """Append an event to the chain in the current transaction (flushes the session first; never commits).

    ``subjects`` adds people or organisations (``("user", 7)``) that the summary or changes speak of beyond
    those found by :func:`event_subjects`, so that erasing them reaches this event too. The event, its personal
    part and subjects are written at once; the returned :class:`AuditEvent` is not in the session.
    """
    db.session.flush()
    if entity is not None:
        entity_type = entity_type or entity.__tablename__
        if entity_id is None:
            entity_id = getattr(entity, "id", None)
    if entity_type is None:
        raise ValueError("an audit event needs an entity type")
    actor = actor if actor is not None else _current_actor()
    actor_id = getattr(actor, "id", None)
    about = event_subjects(actor_id, entity_type, entity_id, entity, subjects)
    key = hmac_key()
    last_id, last_hash = _locked_head()
    personal = AuditPersonal(
        salt=secrets.token_hex(16),
        actor=getattr(actor, "email", None) or "system",
        summary=summary,
        changes=_jsonable(changes) if changes else None,
        ip_address=request.remote_addr if has_request_context() else None,
    )
    ev = AuditEvent(
        id=last_id + 1,
        occurred_at=utcnow(),
        actor_id=actor_id,
        action=action,
        entity_type=entity_type,
        entity_id=None if entity_id is None else str(entity_id),
        request_id=request_id(),
        subjects=about,
        personal_digest=personal_digest(personal.salt, personal.content()),
        prev_hash=last_hash,
    )
    ev.hash = ev.compute_hash()
    ev.mac = link_mac(key, ev.hash)
    ev.personal = personal
    db.session.execute(_EVENT.insert(), {c.key: getattr(ev, c.key) for c in _EVENT.columns})
    db.session.execute(_PERSONAL.insert(), {"event_id": ev.id, "salt": personal.salt, "actor": personal.actor,
                                            "summary": summary, "changes": personal.changes,
                                            "ip_address": personal.ip_address, "erased_by": None})
    if about:
        db.session.execute(_SUBJECT.insert(), [{"event_id": ev.id, "kind": kind, "subject_id": sid}
                                               for kind, sid in about])
    db.session.execute(_MOVE_HEAD, {"last_id": ev.id, "last_hash": ev.hash})
    _keep_tip([ev.id, ev.hash])
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


# Erasure -------------------------------------------------------------------------------------------------------


def erase_subject(kind: str, subject_id: int, *, actor: Any = None) -> int:
    """Replace the personal part of every event about a user or an organisation with the tombstone.

    Records one ``audit.erase`` event (naming only the kind and id, and kept by later erasures of the same
    subject) and returns the number of events whose personal part was erased; erasing again returns 0. The
    chain still verifies afterwards. Flushes; never commits.
    """
    if kind not in SUBJECT_KINDS:
        raise ValueError(f"not an audit subject kind: {kind}")
    subject_id = int(subject_id)
    about = select(AuditSubject.event_id).where(AuditSubject.kind == kind, AuditSubject.subject_id == subject_id)
    earlier_erasures = select(AuditEvent.id).where(
        AuditEvent.action == ERASE_ACTION, AuditEvent.entity_type == kind, AuditEvent.entity_id == str(subject_id))
    pending = (AuditPersonal.event_id.in_(about), AuditPersonal.event_id.not_in(earlier_erasures),
               AuditPersonal.erased_by.is_(None))
    count = db.session.execute(
        select(func.count()).select_from(AuditPersonal).where(*pending)
    ).scalar_one()
    erasure = record(ERASE_ACTION, entity_type=kind, entity_id=subject_id, actor=actor,
                     summary=f"Personal data of {kind} {subject_id} erased from {count} audit events",
                     changes={"events": count})
    db.session.execute(
        update(AuditPersonal)
        .where(*pending, AuditPersonal.event_id != erasure.id)
        .values(salt=None, actor=ERASED, summary=ERASED, changes=None, ip_address=None, erased_by=erasure.id)
        .execution_options(synchronize_session=False)
    )
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, AuditPersonal) and obj.event_id != erasure.id:
            db.session.expire(obj)
    return count


# Verification --------------------------------------------------------------------------------------------------


@dataclass
class VerifyResult:
    ok: bool
    events: int
    first_bad_event: int | None = None
    reason: str | None = None
    checkpoints: int = 0
    erased: int = 0


def _check_event(ev: AuditEvent, prev_hash: str, key: bytes, erasures: dict) -> str | None:
    """Why ``ev`` is not a genuine link after ``prev_hash``, or None."""
    if ev.prev_hash != prev_hash:
        return "link to the previous event is broken"
    if ev.compute_hash() != ev.hash:
        return "content does not match its hash"
    if not hmac.compare_digest(link_mac(key, ev.hash), ev.mac or ""):
        return "authentication code does not match: the event was written or re-chained without the key"
    part = ev.personal
    if part is None:
        return "its personal part is missing"
    if part.erased_by is None:
        if part.salt is None or personal_digest(part.salt, part.content()) != ev.personal_digest:
            return "content does not match its hash"
        return None
    target = erasures.get(part.erased_by)
    if not part.is_tombstone():
        return "erased content was altered"
    if target is None or part.erased_by <= ev.id or list(target) not in ev.subjects:
        return "erased without an erasure event about its subject"
    return None


def verify(batch: int = 2000, checkpoints: list | None = None) -> VerifyResult:
    """Walk the chain from the first event: every hash, every code, every personal part, the head, and
    ``checkpoints`` (:func:`fund.checkpoints.load_all`; none when not given).

    Detects an edited event (its hash, code or commitment no longer matches), a deleted or inserted event (ids
    not consecutive or the link to the previous hash broken), reordered events, a chain recomputed without the
    key, a tombstone that is not an erasure's, a truncated tail (the head names more) and, with checkpoints,
    a removed tail with a rewound head, a recomputed chain and a wiped table.
    """
    key = hmac_key()
    checkpoints = checkpoints or []
    by_event: dict[int, list] = {}
    for cp in checkpoints:
        by_event.setdefault(cp.event_id, []).append(cp)
    erasures = {
        row.id: (row.entity_type, _as_id(row.entity_id))
        for row in db.session.execute(
            select(AuditEvent.id, AuditEvent.entity_type, AuditEvent.entity_id).where(
                AuditEvent.action == ERASE_ACTION)
        )
    }
    expected_id = 1
    prev_hash = GENESIS_HASH
    count = erased = 0
    last_id = 0
    last_seen: int | None = None

    def failed(event_id, reason):
        return VerifyResult(False, count, event_id, reason, len(checkpoints), erased)

    while True:
        query = select(AuditEvent).order_by(AuditEvent.id).limit(batch)
        if last_seen is not None:
            query = query.where(AuditEvent.id > last_seen)
        rows = db.session.execute(query).unique().scalars().all()
        if not rows:
            break
        for ev in rows:
            last_seen = ev.id
            if ev.id < expected_id:
                return failed(ev.id, "event out of sequence")
            if ev.id != expected_id:
                return failed(expected_id, f"event {expected_id} is missing")
            reason = _check_event(ev, prev_hash, key, erasures)
            if reason:
                return failed(ev.id, reason)
            for cp in by_event.get(ev.id, ()):
                if cp.hash != ev.hash or cp.mac != ev.mac:
                    return failed(ev.id, f"the chain differs from checkpoint {cp.name}: it was recomputed")
            erased += ev.erased
            prev_hash = ev.hash
            expected_id += 1
            last_id = ev.id
            count += 1
        for ev in rows:
            if ev.personal is not None:
                db.session.expunge(ev.personal)
            db.session.expunge(ev)
    head = db.session.execute(select(AuditHead.last_id, AuditHead.last_hash).where(AuditHead.id == 1)).first()
    if head is not None and (head.last_id != last_id or head.last_hash != prev_hash):
        if head.last_id > last_id:
            return failed(last_id + 1, f"event {last_id + 1} is missing: the chain was truncated")
        return failed(last_id, "chain head does not match the last event")
    if head is None and count:
        return failed(1, "chain head is missing")
    beyond = [cp for cp in checkpoints if cp.event_id > last_id]
    if beyond:
        cp = max(beyond, key=lambda c: c.event_id)
        if count == 0:
            reason = f"the audit table is empty but checkpoint {cp.name} names event {cp.event_id}: it was wiped"
        else:
            reason = (f"the chain ends at event {last_id} but checkpoint {cp.name} names event {cp.event_id}: "
                      "events were removed and the head rewound")
        return failed(last_id + 1, reason)
    return VerifyResult(True, count, checkpoints=len(checkpoints), erased=erased)


# Reading -------------------------------------------------------------------------------------------------------


def filtered_events(filters: dict):
    """A select of events matching the browse/export filters, newest first."""
    query = select(AuditEvent)
    if filters.get("entity_type"):
        query = query.where(AuditEvent.entity_type == filters["entity_type"])
    if filters.get("entity_id"):
        query = query.where(AuditEvent.entity_id == str(filters["entity_id"]))
    if filters.get("actor"):
        query = query.where(AuditEvent.id.in_(
            select(AuditPersonal.event_id).where(AuditPersonal.actor.ilike(f"%{filters['actor']}%"))))
    if filters.get("action"):
        query = query.where(AuditEvent.action.startswith(filters["action"]))
    if filters.get("date_from"):
        start = dt.datetime.combine(filters["date_from"], dt.time.min, tzinfo=dt.UTC)
        query = query.where(AuditEvent.occurred_at >= start)
    if filters.get("date_to"):
        end = dt.datetime.combine(filters["date_to"] + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC)
        query = query.where(AuditEvent.occurred_at < end)
    return query.order_by(AuditEvent.id.desc())
