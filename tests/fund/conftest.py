"""Fixtures of the fund package's tests."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, make_url, text

from fund.accounting import rates
from fund.db import db


@pytest.fixture
def currencies(app):
    """The ISO 4217 currencies in their table (it is emptied between tests)."""
    with app.app_context():
        rates.seed_currencies()
        db.session.commit()


@pytest.fixture
def tamper(app, owner_engine):
    """Run raw SQL against the audit tables as a database superuser would: triggers (PostgreSQL) and foreign
    keys switched off."""

    def run(*statements: str) -> None:
        if owner_engine.dialect.name == "sqlite":
            # Foreign keys off, as on PostgreSQL: the pragma only takes effect outside a transaction, so each
            # statement runs on its own (the connection is in autocommit mode, fund.db).
            raw = owner_engine.raw_connection()
            try:
                cursor = raw.cursor()
                cursor.execute("PRAGMA foreign_keys=OFF")
                for sql in statements:
                    cursor.execute(sql)
                cursor.execute("PRAGMA foreign_keys=ON")
            finally:
                raw.close()
            return
        with owner_engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SET LOCAL session_replication_role = replica"))
            for sql in statements:
                conn.execute(text(sql))

    return run


@pytest.fixture
def fresh_database(app, owner_engine, tmp_path):
    """The URL of an empty database of the same kind as the suite's, dropped afterwards."""
    if owner_engine.dialect.name != "postgresql":
        yield f"sqlite:///{tmp_path / 'upgrade.db'}"
        return
    url = make_url(app.config.get("DATABASE_OWNER_URL") or str(owner_engine.url))
    name = f"{url.database}_upgrade"
    admin = create_engine(url.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
