"""A call's review deadline: after it, no reviewer is assigned to the call's applications (one by one or in bulk).

Revision ID: 0013_review_deadline
Revises: 0012_confirm_existing_users
Create Date: 2026-11-30
"""
import sqlalchemy as sa
from alembic import op

revision = "0013_review_deadline"
down_revision = "0012_confirm_existing_users"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("call_review_settings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("review_deadline", sa.Date(), nullable=True))


def downgrade():
    with op.batch_alter_table("call_review_settings", schema=None) as batch_op:
        batch_op.drop_column("review_deadline")
