"""Join the selection, grants and statements branches.

Revision ID: 0008_merge
Revises: 0005_review, 0006_awards, 0007_statements
Create Date: 2026-11-28
"""

revision = "0008_merge"
down_revision = ("0005_review", "0006_awards", "0007_statements")
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
