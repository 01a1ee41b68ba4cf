"""Ledger balances per month of value date (scope "month", ref_id year x 100 + month: the fund's movements of each
month by account, entry kind and currency), so that the finance dashboard's chart of the position over time reads
a few rows per month instead of adding up every posting; back-filled from the postings already in the ledger.

Revision ID: 0015_month_balances
Revises: 0014_merge
Create Date: 2026-11-30 18:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0015_month_balances'
down_revision = '0014_merge'
branch_labels = None
depends_on = None

balance_t = sa.table("ledger_balance", sa.column("scope", sa.String), sa.column("ref_id", sa.Integer),
                     sa.column("account", sa.String), sa.column("kind", sa.String), sa.column("currency", sa.String),
                     sa.column("amount_minor", sa.BigInteger), sa.column("usd_cents", sa.BigInteger))
posting_t = sa.table("ledger_posting", sa.column("entry_id", sa.Integer), sa.column("account", sa.String),
                     sa.column("currency", sa.String), sa.column("amount_minor", sa.BigInteger),
                     sa.column("usd_cents", sa.BigInteger))
entry_t = sa.table("journal_entry", sa.column("id", sa.Integer), sa.column("kind", sa.String),
                   sa.column("value_date", sa.Date))


def upgrade():
    # EXTRACT on PostgreSQL, strftime on SQLite: SQLAlchemy compiles it for each.
    year, month = sa.extract("year", entry_t.c.value_date), sa.extract("month", entry_t.c.value_date)
    p = posting_t.c
    months = (
        sa.select(sa.literal_column("'month'"), sa.cast(year * sa.literal_column("100") + month, sa.Integer),
                  p.account, entry_t.c.kind, p.currency, sa.func.sum(p.amount_minor), sa.func.sum(p.usd_cents))
        .select_from(posting_t.join(entry_t, entry_t.c.id == p.entry_id))
        .group_by(year, month, p.account, entry_t.c.kind, p.currency)
    )
    op.execute(balance_t.insert().from_select(
        ["scope", "ref_id", "account", "kind", "currency", "amount_minor", "usd_cents"], months))


def downgrade():
    op.execute(balance_t.delete().where(balance_t.c.scope == "month"))
