"""Accounts that existed before sign-up asked for a confirmed e-mail address count as confirmed: they were
admitted under the earlier rule, and Flask-Security refuses an unconfirmed account at sign-in.

Revision ID: 0012_confirm_existing_users
Revises: 0011_merge
Create Date: 2026-11-30
"""
import datetime as dt

import sqlalchemy as sa
from alembic import op

from fund.db import UTCDateTime

revision = "0012_confirm_existing_users"
down_revision = "0011_merge"
branch_labels = None
depends_on = None


def upgrade():
    users = sa.table("user", sa.column("confirmed_at", UTCDateTime()))
    op.execute(users.update().where(users.c.confirmed_at.is_(None)).values(confirmed_at=dt.datetime.now(dt.UTC)))


def downgrade():
    pass  # which accounts were confirmed here is not recorded; leaving them confirmed is harmless
