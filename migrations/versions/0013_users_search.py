"""Staff search (grants.search): GIN indexes on the full-text expressions of organisations, applications and grants,
on PostgreSQL ('simple' configuration: no stemming, the names are in many languages). Each expression is written
exactly as grants.search._tsv builds it, so the planner uses the index. SQLite searches with LIKE: nothing to do.

Revision ID: 0013_users_search
Revises: 0012_confirm_existing_users
Create Date: 2026-11-30
"""
from alembic import op

revision = "0013_users_search"
down_revision = "0012_confirm_existing_users"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_organisation_search": ("organisation", "coalesce(name, '') || ' ' || coalesce(acronym, '') || ' ' || "
                                               "coalesce(registration_number, '')"),
    "ix_application_search": ("application", "coalesce(reference, '') || ' ' || coalesce(project_title, '') || ' ' "
                                             "|| coalesce(summary, '')"),
    "ix_grant_award_search": ("grant_award", "coalesce(number, '') || ' ' || coalesce(title, '')"),
}


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, (table, text) in INDEXES.items():
        op.execute(f"CREATE INDEX {name} ON {table} USING gin (to_tsvector('simple'::regconfig, {text}))")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
