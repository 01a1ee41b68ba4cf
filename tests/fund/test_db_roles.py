"""The PostgreSQL role split: the suite migrates as the owner and runs as the application's role, which cannot
rewrite history (no TRUNCATE, no ALTER TABLE, no UPDATE or DELETE on append-only tables) but can do its work."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from fund.db import db
from fund.dbroles import app_role, grant_app_role
from tests.fund.test_audit import cli_verify, write_events


@pytest.fixture
def app_engine(app, owner_engine):
    if owner_engine.dialect.name != "postgresql":
        pytest.skip("database roles are PostgreSQL's")
    with app.app_context():
        engine = db.engine
        assert app_role(app.config) == engine.url.username != owner_engine.url.username
    return engine


def refused(engine, sql: str) -> str:
    with pytest.raises(DBAPIError) as info, engine.begin() as conn:
        conn.execute(text(sql))
    return str(info.value.orig)


@pytest.mark.parametrize("sql", [
    "TRUNCATE audit_event CASCADE",
    "TRUNCATE audit_head",
    "TRUNCATE ledger_posting CASCADE",
    "DELETE FROM audit_event",
    "UPDATE audit_event SET action = 'x'",
    "DELETE FROM audit_subject",
    "DELETE FROM audit_personal",
    "DELETE FROM audit_head",
    "DELETE FROM journal_entry",
    "UPDATE ledger_posting SET usd_cents = 0",
    "DELETE FROM exchange_rate",
    "UPDATE alembic_version SET version_num = 'x'",
])
def test_the_application_role_cannot_rewrite_history(app_engine, sql):
    assert "permission denied" in refused(app_engine, sql)


@pytest.mark.parametrize("sql", [
    "ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only",
    "ALTER TABLE audit_event DISABLE TRIGGER ALL",
    "ALTER TABLE journal_entry DISABLE TRIGGER journal_entry_append_only",
    "DROP TABLE audit_event CASCADE",
    "CREATE TABLE audit_event_copy (id integer)",
    "SET session_replication_role = replica",
])
def test_the_application_role_cannot_change_the_schema_or_switch_triggers_off(app_engine, sql):
    message = refused(app_engine, sql)
    assert "must be owner" in message or "permission denied" in message


def test_the_application_role_does_its_work(app, app_engine):
    write_events(app, 3)  # INSERT into the chain, UPDATE of its head, through the application's engine
    with app_engine.begin() as conn:
        # What the retention job purges stays deletable; the erasable part of events stays updatable.
        for table in ("idempotency_key", "outbox_message", "api_token", "document", "organisation_invitation"):
            conn.execute(text(f"DELETE FROM {table} WHERE 1 = 0"))
        conn.execute(text("UPDATE audit_personal SET summary = summary WHERE 1 = 0"))
    assert cli_verify(app).exit_code == 0


def test_a_table_added_later_is_granted_by_the_grant_step(app, app_engine, owner_engine):
    from fund.audit import append_only_trigger_sql

    try:
        with owner_engine.begin() as conn:
            conn.execute(text("CREATE TABLE later_log (id integer PRIMARY KEY)"))
            conn.execute(text("CREATE TABLE later_note (id integer PRIMARY KEY)"))
            conn.execute(text(append_only_trigger_sql("later_log")))
        assert "permission denied" in refused(app_engine, "INSERT INTO later_note VALUES (1)")
        result = app.test_cli_runner().invoke(args=["db-roles", "grant"])
        assert result.exit_code == 0, result.output
        assert "later_log: SELECT, INSERT\n" in result.output
        assert "later_note: SELECT, INSERT, UPDATE, DELETE\n" in result.output
        with app_engine.begin() as conn:
            conn.execute(text("INSERT INTO later_log VALUES (1)"))
            conn.execute(text("INSERT INTO later_note VALUES (1)"))
            conn.execute(text("DELETE FROM later_note"))
        assert "permission denied" in refused(app_engine, "DELETE FROM later_log")
    finally:
        with owner_engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS later_log, later_note"))


def test_grants_follow_the_append_only_triggers(owner_engine, app_engine):
    with owner_engine.begin() as conn:
        granted = grant_app_role(conn, app_engine.url.username)
    for table in ("audit_event", "audit_subject", "journal_entry", "ledger_posting", "exchange_rate"):
        assert granted[table] == "SELECT, INSERT", table
    assert granted["audit_personal"] == granted["audit_head"] == "SELECT, INSERT, UPDATE"
    assert granted["idempotency_key"] == granted["outbox_message"] == "SELECT, INSERT, UPDATE, DELETE"
    assert granted["alembic_version"] == "SELECT"
