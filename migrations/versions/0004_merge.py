"""Join the money and the applications branches.

Revision ID: 0004_merge
Revises: 0002_money, 0003_applications
Create Date: 2026-11-28
"""

revision = "0004_merge"
down_revision = ("0002_money", "0003_applications")
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
