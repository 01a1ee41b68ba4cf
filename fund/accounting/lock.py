"""The fund lock: one row that every operation guarding the fund's money locks for the rest of its transaction.

Functions that check a limited resource (available balance, cash, a grant's outstanding commitment, a pledge's
receivable, the version of a rate) take it first, so that two such operations never interleave.
"""

from __future__ import annotations

from sqlalchemy import Integer, select
from sqlalchemy.orm import Mapped, mapped_column

from fund.db import db


class LedgerLock(db.Model):
    """The single row that operations guarding the fund's money lock (``SELECT ... FOR UPDATE``)."""

    __tablename__ = "ledger_lock"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)


def held_in_transaction(name: str) -> bool:
    """Whether :func:`hold_in_transaction` was called for ``name`` in a transaction still open: a row lock taken
    then is still held (PostgreSQL releases it only at the end of the transaction, or at the rollback of the
    savepoint it was taken in, which ends that savepoint's transaction too)."""
    txn = db.session.info.get(("held", name))
    return txn is not None and txn.is_active


def hold_in_transaction(name: str) -> None:
    session = db.session()
    session.info[("held", name)] = session.get_nested_transaction() or session.get_transaction()


#: The lock, as a Core statement on the table: nothing is loaded into the session, which saves the ORM's work on a
#: statement that every money operation runs.
_LOCK = select(LedgerLock.__table__.c.id).where(LedgerLock.__table__.c.id == 1).with_for_update()


def lock_fund() -> None:
    """Take the fund lock for the rest of the transaction (PostgreSQL: ``SELECT ... FOR UPDATE`` of the single
    :class:`LedgerLock` row, created on first use; SQLite: the transaction already holds the write lock). Once per
    transaction: an operation and the postings it makes both ask for it."""
    if held_in_transaction("fund"):
        return
    if db.session.execute(_LOCK).first() is not None:
        hold_in_transaction("fund")
        return
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    db.session.execute(insert(LedgerLock).values(id=1).on_conflict_do_nothing())
    db.session.execute(_LOCK)
    hold_in_transaction("fund")
