"""The retention schedule: personal data and files are kept only as long as they are needed.

Each *class* of records has a retention period in days (config ``RETENTION_DAYS``, defaults in the README, each
one overridable with ``RETENTION_<NAME>_DAYS``). A class is a name, a query of the ids whose period has run
out at a cut-off time, and a purge of a batch of those ids. Packages register their own classes in their
``init_app`` with :func:`register`; this module registers the platform's (API tokens unused for a year,
idempotency keys, delivered mail).

``flask retention run`` purges class after class, each in one transaction: take the class's lock, list what is
due, purge it in batches (a progress bar moves with them), write one audit event ``retention.purge`` naming
the class and how many records went, commit. Stored files of purged documents are removed through
:func:`fund.storage.delete_after_commit`, so a file goes only once its row is gone for good. Running it again
purges nothing until more records fall due (idempotent). Several servers may run it at once: the class's lock
(``pg_advisory_xact_lock`` on PostgreSQL; SQLite transactions are ``BEGIN IMMEDIATE``) makes the second
wait, then list again and find nothing left, so every record is purged once and audited once.
``--dry-run`` counts what is due and writes nothing.

Money records (ledger entries and postings, contributions, disbursements, refunds, grants themselves) and the
audit trail are never purged: no class may name them (:data:`NEVER_PURGED`, checked at registration).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import Select, delete, func, or_, select, text

from fund import audit
from fund.db import db, utcnow

#: Tables that hold money or the audit trail. No retention class may purge them.
NEVER_PURGED = frozenset({
    "journal_entry", "ledger_posting", "contribution", "pledge", "pledge_instalment", "disbursement",
    "grant_refund", "grant_award", "issued_statement", "ledger_attribution",
    "ledger_attribution_pool", "exchange_rate",
    "audit_event", "audit_head", "audit_personal", "audit_subject",
})

BATCH = 500


@dataclass(frozen=True)
class RetentionClass:
    """Records that fall due ``RETENTION_DAYS[name]`` days after the moment ``due`` measures from."""

    name: str
    #: What the records are, for the summary and the audit event ("documents of unsuccessful applications").
    description: str
    #: ``due(cutoff)`` -> a select of the ids of the records whose retention period ended before ``cutoff``.
    due: Callable[[dt.datetime], Select]
    #: ``purge(ids)`` removes those records (and what hangs off them) and returns how many were removed.
    purge: Callable[[Sequence[int]], int]
    #: The tables the purge deletes from (checked against :data:`NEVER_PURGED`).
    tables: tuple[str, ...]


def _registry(app: Flask) -> dict[str, RetentionClass]:
    return app.extensions.setdefault("fund_retention", {})


def register(app: Flask, cls: RetentionClass) -> None:
    money = set(cls.tables) & NEVER_PURGED
    if money:
        raise ValueError(f"retention class {cls.name} would purge {sorted(money)}, which are never purged")
    _registry(app)[cls.name] = cls


def classes() -> list[RetentionClass]:
    return list(_registry(current_app).values())


def period(name: str) -> int | None:
    """The retention period of a class in days (None: the class is kept for ever)."""
    days = current_app.config.get("RETENTION_DAYS", {}).get(name)
    return None if days is None else int(days)


@dataclass
class Outcome:
    name: str
    description: str
    days: int | None
    cutoff: dt.datetime | None
    due: int
    purged: int = 0


def _lock(name: str) -> None:
    """Serialise runs of one class across servers for the rest of the transaction."""
    if db.session.get_bind().dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(f"retention:{name}".encode()).digest()[:8], "big", signed=True)
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
    else:
        db.session.connection()  # BEGIN IMMEDIATE: the write lock is held from here


def _chunks(ids: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


def run(*, dry_run: bool = False, now: dt.datetime | None = None,
        progress: Callable[[RetentionClass, int], object] | None = None) -> list[Outcome]:
    """Apply the schedule. Each class is purged and audited in its own transaction, committed here: this is a
    job, not an operation (the CLI and the tests call it; no request does)."""
    now = now or utcnow()
    outcomes = []
    for cls in classes():
        days = period(cls.name)
        if days is None:
            outcomes.append(Outcome(cls.name, cls.description, None, None, 0))
            continue
        cutoff = now - dt.timedelta(days=days)
        if dry_run:
            count = db.session.execute(select(func.count()).select_from(cls.due(cutoff).subquery())).scalar_one()
            outcomes.append(Outcome(cls.name, cls.description, days, cutoff, count))
            db.session.rollback()
            continue
        try:
            _lock(cls.name)
            ids = list(db.session.execute(cls.due(cutoff)).scalars())
            outcome = Outcome(cls.name, cls.description, days, cutoff, len(ids))
            for chunk in _chunks(ids, BATCH):
                outcome.purged += cls.purge(chunk)
                if progress:
                    progress(cls, len(chunk))
            if outcome.purged:
                audit.record(
                    "retention.purge", entity_type="retention", entity_id=cls.name,
                    summary=f"Retention: {outcome.purged} {cls.description} purged "
                            f"({days} days, due before {cutoff.date().isoformat()})",
                    changes={"records": [outcome.purged, 0], "retention_days": days,
                             "cutoff": cutoff.isoformat(timespec="seconds")},
                )
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
        outcomes.append(outcome)
    return outcomes


def due_counts(now: dt.datetime | None = None) -> dict[str, int]:
    """How many records of each class are due now (the dry run's numbers)."""
    return {o.name: o.due for o in run(dry_run=True, now=now)}


# The platform's own classes ---------------------------------------------------------------------------------


def _tokens_due(cutoff: dt.datetime) -> Select:
    from fund.models import ApiToken

    last_use = func.coalesce(ApiToken.last_used_at, ApiToken.created_at)
    return select(ApiToken.id).where(or_(last_use < cutoff, ApiToken.revoked_at < cutoff)).order_by(ApiToken.id)


def _tokens_purge(ids: Sequence[int]) -> int:
    from fund.models import ApiToken

    return db.session.execute(delete(ApiToken).where(ApiToken.id.in_(ids))).rowcount


def _keys_due(cutoff: dt.datetime) -> Select:
    from fund.idempotency import IdempotencyKey

    return select(IdempotencyKey.id).where(IdempotencyKey.created_at < cutoff).order_by(IdempotencyKey.id)


def _keys_purge(ids: Sequence[int]) -> int:
    from fund.idempotency import IdempotencyKey

    return db.session.execute(delete(IdempotencyKey).where(IdempotencyKey.id.in_(ids))).rowcount


def _mail_due(cutoff: dt.datetime) -> Select:
    from fund.mail import SENT, OutboxMessage

    return (select(OutboxMessage.id).where(OutboxMessage.status == SENT, OutboxMessage.sent_at < cutoff)
            .order_by(OutboxMessage.id))


def _mail_purge(ids: Sequence[int]) -> int:
    from fund.mail import SENT, OutboxMessage

    return db.session.execute(
        delete(OutboxMessage).where(OutboxMessage.id.in_(ids), OutboxMessage.status == SENT)).rowcount


def init_app(app: Flask) -> None:
    register(app, RetentionClass("api_tokens", "API tokens unused or revoked for the period", _tokens_due,
                                 _tokens_purge, ("api_token",)))
    register(app, RetentionClass("idempotency_keys", "idempotency keys", _keys_due, _keys_purge,
                                 ("idempotency_key",)))
    register(app, RetentionClass("delivered_mail", "delivered outbox messages", _mail_due, _mail_purge,
                                 ("outbox_message",)))
    app.cli.add_command(retention_cli)


# Command line ------------------------------------------------------------------------------------------------

retention_cli = AppGroup("retention", help="The retention schedule of personal data and files.")


@retention_cli.command("run")
@click.option("--dry-run", is_flag=True, help="Count what is due; purge nothing.")
def retention_run(dry_run):
    """Purge what the retention schedule says is due (one audit event per class of records)."""
    due = due_counts()
    total = sum(due.values())
    if dry_run:
        for cls in classes():
            days = period(cls.name)
            kept = "kept" if days is None else f"{days} days"
            click.echo(f"{cls.name:40} {due.get(cls.name, 0):>8} due  ({cls.description}; {kept})")
        click.echo(f"Dry run: {total} records due; nothing purged.")
        return
    with click.progressbar(length=max(total, 1), label="Purging", file=sys.stderr,
                           show_pos=True) as bar:
        outcomes = run(progress=lambda cls, n: bar.update(n))
        if bar.pos < bar.length:
            bar.update(bar.length - bar.pos)
    for o in outcomes:
        kept = "kept" if o.days is None else f"{o.days} days"
        click.echo(f"{o.name:40} {o.purged:>8} purged  ({o.description}; {kept})")
    click.echo(f"Purged {sum(o.purged for o in outcomes)} records.")
