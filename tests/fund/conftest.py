"""Fixtures of the fund package's tests."""

from __future__ import annotations

import pytest
from sqlalchemy import text


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
