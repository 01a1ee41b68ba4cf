"""The PostgreSQL roles: the owner migrates, the application runs with only what it needs.

The owner (``DATABASE_OWNER_URL``) owns the schema: it runs ``flask db upgrade`` and nothing else. The
application connects (``DATABASE_URL``) as another role that may read and write rows but not change the
schema: no TRUNCATE, no ALTER (so no ``DISABLE TRIGGER``), no DDL, and on the append-only tables (those with
an ``<table>_append_only`` trigger: the audit trail, the ledger, exchange rates...) no UPDATE or DELETE
either. A few tables whose rows change but are never deleted (the audit head, the erasable personal part of
audit events) get UPDATE without DELETE. Everything else, including what the retention job purges, keeps
SELECT, INSERT, UPDATE and DELETE.

:func:`grant_app_role` derives the grants from the live schema, so a table added by a later migration is
covered: it runs at the end of every ``flask db upgrade`` whose owner and application roles differ (see
``migrations/env.py``), and ``flask --app wsgi db-roles grant`` runs it by hand.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection, make_url

#: Tables whose rows the application updates but never deletes.
NO_DELETE = frozenset({"audit_head", "audit_personal"})
#: Tables the application only reads.
READ_ONLY = frozenset({"alembic_version"})

APPEND_ONLY_TABLES_SQL = """
SELECT c.relname FROM pg_trigger t
JOIN pg_class c ON c.oid = t.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND t.tgname = c.relname || '_append_only'
"""


def app_role(config: dict) -> str | None:
    """The application's role when it differs from the owner's (``DATABASE_URL`` vs ``DATABASE_OWNER_URL``)."""
    owner = config.get("DATABASE_OWNER_URL")
    if not owner:
        return None
    app_url, owner_url = make_url(config["SQLALCHEMY_DATABASE_URI"]), make_url(owner)
    if app_url.get_backend_name() != "postgresql" or app_url.username == owner_url.username:
        return None
    return app_url.username


def privileges(table: str, append_only: set[str]) -> str:
    if table in READ_ONLY:
        return "SELECT"
    if table in append_only:
        return "SELECT, INSERT"
    if table in NO_DELETE:
        return "SELECT, INSERT, UPDATE"
    return "SELECT, INSERT, UPDATE, DELETE"


def grant_app_role(conn: Connection, role: str) -> dict[str, str]:
    """Give ``role`` exactly the privileges above on every table of the current schema (run as the owner;
    idempotent). Returns ``{table: privileges}``."""
    quote = conn.dialect.identifier_preparer.quote
    schema = quote(conn.execute(text("SELECT current_schema()")).scalar_one())
    who = quote(role)
    append_only = set(conn.execute(text(APPEND_ONLY_TABLES_SQL)).scalars())
    tables = conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                               "ORDER BY tablename")).scalars().all()
    conn.execute(text(f"GRANT USAGE ON SCHEMA {schema} TO {who}"))
    conn.execute(text(f"REVOKE CREATE ON SCHEMA {schema} FROM {who}"))
    conn.execute(text(f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {who}"))
    granted = {}
    for table in tables:
        granted[table] = privileges(table, append_only)
        conn.execute(text(f"GRANT {granted[table]} ON TABLE {schema}.{quote(table)} TO {who}"))
    conn.execute(text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {who}"))
    return granted
