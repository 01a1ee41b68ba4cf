"""Fixtures of the fund package's tests."""

from __future__ import annotations

import pytest
from sqlalchemy import text


@pytest.fixture
def tamper(app, owner_engine):
    """Run raw SQL against the audit tables as a database superuser would (on PostgreSQL with triggers and
    foreign keys switched off for the session)."""

    def run(*statements: str) -> None:
        with owner_engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SET LOCAL session_replication_role = replica"))
            for sql in statements:
                conn.execute(text(sql))

    return run
