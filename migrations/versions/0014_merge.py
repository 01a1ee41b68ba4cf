"""Join the review deadline and the staff search branches.

Revision ID: 0014_merge
Revises: 0013_review_deadline, 0013_users_search
Create Date: 2026-11-30
"""

revision = "0014_merge"
down_revision = ("0013_review_deadline", "0013_users_search")
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
