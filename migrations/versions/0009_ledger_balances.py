"""Ledger balances kept current by the posting of each entry (fund-wide and per donor, pledge and grant, by
account, entry kind and currency), so that figures read a few rows instead of adding up every posting; back-filled
from the postings already in the ledger.

Revision ID: 0009_ledger_balances
Revises: 0008_merge
Create Date: 2026-11-30 08:40:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0009_ledger_balances'
down_revision = '0008_merge'
branch_labels = None
depends_on = None

SCOPES = (("fund", None), ("donor", "donor_id"), ("pledge", "pledge_id"), ("grant", "grant_id"))


def upgrade():
    op.create_table('ledger_balance',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('scope', sa.String(length=10), nullable=False),
    sa.Column('ref_id', sa.Integer(), nullable=False),
    sa.Column('account', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('usd_cents', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_balance')),
    sa.UniqueConstraint('scope', 'ref_id', 'account', 'kind', 'currency',
                        name=op.f('uq_ledger_balance_scope_ref_id_account_kind_currency'))
    )
    for scope, column in SCOPES:
        ref = "0" if column is None else f"p.{column}"
        where = "" if column is None else f"WHERE p.{column} IS NOT NULL "
        group = "" if column is None else f"p.{column}, "
        op.execute(
            "INSERT INTO ledger_balance (scope, ref_id, account, kind, currency, amount_minor, usd_cents) "
            f"SELECT '{scope}', {ref}, p.account, e.kind, p.currency, SUM(p.amount_minor), SUM(p.usd_cents) "
            "FROM ledger_posting p JOIN journal_entry e ON e.id = p.entry_id "
            f"{where}GROUP BY {group}p.account, e.kind, p.currency")


def downgrade():
    op.drop_table('ledger_balance')
