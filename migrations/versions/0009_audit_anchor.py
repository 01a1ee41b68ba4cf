"""The audit chain anchored with a key and its personal data made erasable.

Each event's personal part (actor e-mail, summary, changes, IP address) moves to ``audit_personal`` behind a
salted commitment; the people and organisations an event is about are listed in its core and indexed in
``audit_subject``; every link gets an HMAC with ``AUDIT_HMAC_KEY``. Existing events are re-chained in the new
form once, after their old chain has been verified: the upgrade refuses to run on a chain that does not verify,
so nothing tampered with before is laundered. The old head hash is logged for the record. A request id may
now be 128 characters long.

Revision ID: 0009_audit_anchor
Revises: 0008_merge
Create Date: 2026-11-30
"""

import hashlib
import logging
import secrets
from types import SimpleNamespace

import sqlalchemy as sa
from alembic import op
from flask import current_app

from fund.audit import (
    APPEND_ONLY_FUNCTION,
    ERASED,
    GENESIS_HASH,
    append_only_trigger_sql,
    canonical_json,
    core_content,
    event_subjects,
    link_hash,
    link_mac,
    personal_content,
    personal_digest,
)
from fund.db import UTCDateTime

revision = "0009_audit_anchor"
down_revision = "0008_merge"
branch_labels = None
depends_on = None

BATCH = 1000

event_t = sa.table(
    "audit_event",
    sa.column("id", sa.Integer), sa.column("occurred_at", UTCDateTime), sa.column("actor_id", sa.Integer),
    sa.column("actor", sa.String), sa.column("action", sa.String), sa.column("entity_type", sa.String),
    sa.column("entity_id", sa.String), sa.column("summary", sa.Text), sa.column("changes", sa.JSON),
    sa.column("request_id", sa.String), sa.column("ip_address", sa.String), sa.column("prev_hash", sa.String),
    sa.column("hash", sa.String), sa.column("subjects", sa.JSON), sa.column("personal_digest", sa.String),
    sa.column("mac", sa.String),
)
personal_t = sa.table(
    "audit_personal",
    sa.column("event_id", sa.Integer), sa.column("salt", sa.String), sa.column("actor", sa.String),
    sa.column("summary", sa.Text), sa.column("changes", sa.JSON), sa.column("ip_address", sa.String),
    sa.column("erased_by", sa.Integer),
)
subject_t = sa.table("audit_subject", sa.column("event_id", sa.Integer), sa.column("kind", sa.String),
                     sa.column("subject_id", sa.Integer))
head_t = sa.table("audit_head", sa.column("id", sa.Integer), sa.column("last_id", sa.Integer),
                  sa.column("last_hash", sa.String))


def _legacy_hash(row, prev_hash: str) -> str:
    content = {
        "id": row.id,
        "occurred_at": row.occurred_at.isoformat(timespec="microseconds"),
        "actor_id": row.actor_id,
        "actor": row.actor,
        "action": row.action,
        "entity_type": row.entity_type,
        "entity_id": row.entity_id,
        "summary": row.summary,
        "changes": row.changes,
        "request_id": row.request_id,
        "ip_address": row.ip_address,
    }
    return hashlib.sha256((prev_hash + canonical_json(content)).encode()).hexdigest()


def _events(conn, columns):
    last = 0
    while True:
        rows = conn.execute(sa.select(*columns).where(event_t.c.id > last).order_by(event_t.c.id).limit(BATCH)).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].id


def _triggers(enable: bool) -> None:
    if op.get_bind().dialect.name == "postgresql":
        state = "ENABLE" if enable else "DISABLE"
        op.execute(f"ALTER TABLE audit_event {state} TRIGGER audit_event_append_only")


def upgrade():
    conn = op.get_bind()
    op.create_table(
        "audit_personal",
        sa.Column("event_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("salt", sa.String(length=32), nullable=True),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=True),
        sa.Column("ip_address", sa.String(length=64), nullable=True),
        sa.Column("erased_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["event_id"], ["audit_event.id"], name=op.f("fk_audit_personal_event_id_audit_event")),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_audit_personal")),
    )
    op.create_table(
        "audit_subject",
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("subject_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["audit_event.id"], name=op.f("fk_audit_subject_event_id_audit_event")),
        sa.PrimaryKeyConstraint("event_id", "kind", "subject_id", name=op.f("pk_audit_subject")),
    )
    with op.batch_alter_table("audit_subject", schema=None) as batch_op:
        batch_op.create_index("ix_audit_subject_kind_subject_id", ["kind", "subject_id"], unique=False)
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("subjects", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("personal_digest", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("mac", sa.String(length=64), nullable=True))
        batch_op.alter_column("request_id", existing_type=sa.String(length=64), type_=sa.String(length=128))

    events = list(_events(conn, [event_t.c.id]))
    if events:
        key = current_app.config.get("AUDIT_HMAC_KEY")
        if not key:
            raise RuntimeError("AUDIT_HMAC_KEY must be set to re-chain the existing audit events")
        key = key.encode()
        _triggers(False)
        old_prev = new_prev = GENESIS_HASH
        expected = 1
        columns = [c for c in event_t.c if c.name not in ("subjects", "personal_digest", "mac")]
        for row in _events(conn, columns):
            if row.id != expected or row.prev_hash != old_prev or _legacy_hash(row, old_prev) != row.hash:
                raise RuntimeError(f"the audit chain does not verify at event {row.id}; it is not re-chained")
            old_prev = row.hash
            expected += 1
            salt = secrets.token_hex(16)
            part = personal_content(row.actor, row.summary, row.changes, row.ip_address)
            digest = personal_digest(salt, part)
            subjects = event_subjects(row.actor_id, row.entity_type, row.entity_id)
            core = core_content(id=row.id, occurred_at=row.occurred_at, actor_id=row.actor_id, action=row.action,
                                entity_type=row.entity_type, entity_id=row.entity_id, request_id=row.request_id,
                                subjects=subjects, personal_digest=digest)
            new_hash = link_hash(new_prev, core)
            conn.execute(sa.insert(personal_t).values(event_id=row.id, salt=salt, **part))
            if subjects:
                conn.execute(sa.insert(subject_t), [
                    {"event_id": row.id, "kind": kind, "subject_id": sid} for kind, sid in subjects])
            conn.execute(sa.update(event_t).where(event_t.c.id == row.id).values(
                subjects=subjects, personal_digest=digest, prev_hash=new_prev, hash=new_hash,
                mac=link_mac(key, new_hash)))
            new_prev = new_hash
        head = conn.execute(sa.select(head_t).where(head_t.c.id == 1)).first()
        if head is None or head.last_id != expected - 1 or head.last_hash != old_prev:
            raise RuntimeError("the audit chain head does not match the last event; it is not re-chained")
        conn.execute(sa.update(head_t).where(head_t.c.id == 1).values(last_hash=new_prev))
        _triggers(True)
        logging.getLogger("alembic.runtime.migration").info(
            "audit: %d events re-chained; the old head hash was %s", expected - 1, old_prev)

    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.alter_column("subjects", existing_type=sa.JSON(), nullable=False)
        batch_op.alter_column("personal_digest", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("mac", existing_type=sa.String(length=64), nullable=False)
        batch_op.drop_column("actor")
        batch_op.drop_column("summary")
        batch_op.drop_column("changes")
        batch_op.drop_column("ip_address")
    if conn.dialect.name == "postgresql":
        op.execute(APPEND_ONLY_FUNCTION)
        op.execute(append_only_trigger_sql("audit_subject"))


def downgrade():
    conn = op.get_bind()
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("actor", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("summary", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("changes", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("ip_address", sa.String(length=64), nullable=True))
    _triggers(False)
    prev = GENESIS_HASH
    columns = [c for c in event_t.c if c.name not in ("actor", "summary", "changes", "ip_address")]
    for row in _events(conn, columns):
        part = conn.execute(sa.select(personal_t).where(personal_t.c.event_id == row.id)).first()
        values = {"actor": part.actor if part else ERASED, "summary": part.summary if part else ERASED,
                  "changes": part.changes if part else None, "ip_address": part.ip_address if part else None}
        new_hash = _legacy_hash(SimpleNamespace(**{**row._asdict(), **values}), prev)
        conn.execute(sa.update(event_t).where(event_t.c.id == row.id).values(prev_hash=prev, hash=new_hash,
                                                                          **values))
        prev = new_hash
    conn.execute(sa.update(head_t).where(head_t.c.id == 1).values(last_hash=prev))
    _triggers(True)
    if conn.dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_subject_append_only ON audit_subject")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.alter_column("request_id", existing_type=sa.String(length=128), type_=sa.String(length=64))
        batch_op.alter_column("actor", existing_type=sa.String(length=255), nullable=False)
        batch_op.alter_column("summary", existing_type=sa.Text(), nullable=False)
        batch_op.drop_column("mac")
        batch_op.drop_column("personal_digest")
        batch_op.drop_column("subjects")
    op.drop_table("audit_subject")
    op.drop_table("audit_personal")

