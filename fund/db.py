"""The database base: declarative base with a constraint naming convention, UTC timestamps, SQLite locking.

SQLite: every transaction starts with ``BEGIN IMMEDIATE`` so that a read-check-write sequence holds the write
lock from its first read (Python's sqlite3 would otherwise read outside the write transaction). PostgreSQL:
code that guards a limited resource locks rows with ``SELECT ... FOR UPDATE``.
"""

from __future__ import annotations

import datetime as dt

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import DateTime, TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC datetime on both databases (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            # Libraries (Flask-Security) hand us naive UTC datetimes.
            value = value.replace(tzinfo=dt.UTC)
        value = value.astimezone(dt.UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)


def is_sqlite() -> bool:
    return db.engine.dialect.name == "sqlite"


_CUSTOM_PLANS = text("SET LOCAL plan_cache_mode = force_custom_plan")


def plan_for_these_values() -> None:
    """On PostgreSQL, plan the rest of the transaction's statements for the values they are given.

    The driver prepares a statement used often, and the server may then keep one plan for any value: a plan made
    for the average donor (or grant). Where the rows behind one value and another differ by orders of magnitude
    (a State's thousands of contributions beside an individual's one), that plan reads the whole ledger for the
    small one. A read whose statements filter on such a value calls this first; a few tenths of a millisecond
    of planning per statement buy a plan that reads only the value's own rows."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(_CUSTOM_PLANS)


@event.listens_for(Engine, "connect")
def _sqlite_on_connect(dbapi_connection, connection_record):
    import sqlite3

    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    # Take transaction control away from the sqlite3 module so that BEGIN IMMEDIATE is ours to emit.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


@event.listens_for(Engine, "begin")
def _sqlite_on_begin(conn):
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def render_migration_item(type_, obj, autogen_context):
    """Alembic autogenerate: write our column types as plain SQLAlchemy types in migrations."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False
