"""The unspent balance of each attribution pool (donor, earmark), kept current with the attribution rows so that a
payment reads the pools without adding up the fund's history; back-filled from the rows already written. A pool
without an earmark is keyed by empty strings (a unique key cannot hold NULL).

Revision ID: 0010_attribution_pools
Revises: 0009_attribution
Create Date: 2026-11-30 09:40:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0010_attribution_pools'
down_revision = '0009_attribution'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('ledger_attribution_pool',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('donor_id', sa.Integer(), nullable=False),
    sa.Column('earmark_type', sa.String(length=20), nullable=False),
    sa.Column('earmark_value', sa.String(length=200), nullable=False),
    sa.Column('usd_cents', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_attribution_pool')),
    sa.UniqueConstraint('donor_id', 'earmark_type', 'earmark_value',
                        name=op.f('uq_ledger_attribution_pool_donor_id_earmark_type_earmark_value'))
    )
    op.execute(
        "INSERT INTO ledger_attribution_pool (donor_id, earmark_type, earmark_value, usd_cents) "
        "SELECT donor_id, COALESCE(earmark_type, ''), "
        "CASE WHEN earmark_type IS NULL THEN '' ELSE COALESCE(earmark_value, '') END, "
        "SUM(CASE WHEN kind = 'contribution' THEN usd_cents ELSE -usd_cents END) "
        "FROM ledger_attribution "
        "GROUP BY donor_id, COALESCE(earmark_type, ''), "
        "CASE WHEN earmark_type IS NULL THEN '' ELSE COALESCE(earmark_value, '') END")


def downgrade():
    op.drop_table('ledger_attribution_pool')
