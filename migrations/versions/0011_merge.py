"""Join the attribution, audit anchor, ledger balances, payee and vocabulary branches.

Revision ID: 0011_merge
Revises: 0009_audit_anchor, 0009_ledger_balances, 0009_payee_and_totp, 0009_vocabulary, 0010_attribution_pools
Create Date: 2026-11-30
"""

revision = "0011_merge"
down_revision = ("0009_audit_anchor", "0009_ledger_balances", "0009_payee_and_totp", "0009_vocabulary",
                 "0010_attribution_pools")
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
