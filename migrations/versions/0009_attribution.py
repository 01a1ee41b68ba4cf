"""Attribution of the fund's payments to donors, recorded when the money moves: one row per movement of a
donor's pool (contribution received, grant or programme support costs paid, money returned), beside the ledger
entry that moved it; append-only on PostgreSQL like the ledger.

Contributions already in the ledger fill their pools (at their USD value, with their pledge's earmark);
payments made before this revision are not attributed.

Revision ID: 0009_attribution
Revises: 0008_merge
Create Date: 2026-11-30 08:40:00

"""
import sqlalchemy as sa
from alembic import op

from fund.audit import APPEND_ONLY_FUNCTION, append_only_trigger_sql

# revision identifiers, used by Alembic.
revision = '0009_attribution'
down_revision = '0008_merge'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('ledger_attribution',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('value_date', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('donor_id', sa.Integer(), nullable=False),
    sa.Column('earmark_type', sa.String(length=20), nullable=True),
    sa.Column('earmark_value', sa.String(length=200), nullable=True),
    sa.Column('grant_id', sa.Integer(), nullable=True),
    sa.Column('usd_cents', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['journal_entry.id'],
                            name=op.f('fk_ledger_attribution_entry_id_journal_entry')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_attribution'))
    )
    with op.batch_alter_table('ledger_attribution', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ledger_attribution_entry_id'), ['entry_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_attribution_value_date'), ['value_date'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_attribution_donor_id'), ['donor_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_attribution_grant_id'), ['grant_id'], unique=False)
    op.execute(
        "INSERT INTO ledger_attribution (entry_id, value_date, kind, donor_id, earmark_type, earmark_value, "
        "grant_id, usd_cents) "
        "SELECT e.id, e.value_date, 'contribution', p.donor_id, pl.earmark_type, pl.earmark_value, NULL, p.usd_cents "
        "FROM ledger_posting p JOIN journal_entry e ON e.id = p.entry_id "
        "LEFT JOIN pledge pl ON pl.id = p.pledge_id "
        "WHERE e.kind = 'contribution' AND p.account = 'cash' AND p.donor_id IS NOT NULL "
        "ORDER BY e.id, p.id")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(APPEND_ONLY_FUNCTION)
        op.execute(append_only_trigger_sql('ledger_attribution'))


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS ledger_attribution_append_only ON ledger_attribution")
    with op.batch_alter_table('ledger_attribution', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ledger_attribution_grant_id'))
        batch_op.drop_index(batch_op.f('ix_ledger_attribution_donor_id'))
        batch_op.drop_index(batch_op.f('ix_ledger_attribution_value_date'))
        batch_op.drop_index(batch_op.f('ix_ledger_attribution_entry_id'))
    op.drop_table('ledger_attribution')
