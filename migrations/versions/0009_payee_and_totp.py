"""Bank-details history (changes of payee, pending until a finance officer verifies them) and the last accepted
second-factor time step of each user (a code is never accepted twice).

Revision ID: 0009_payee_and_totp
Revises: 0008_merge
Create Date: 2026-11-30 08:30:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0009_payee_and_totp'
down_revision = '0008_merge'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('bank_details_change',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('bank_account_holder', sa.String(length=200), nullable=True),
    sa.Column('bank_name', sa.String(length=200), nullable=True),
    sa.Column('bank_account_number', sa.String(length=64), nullable=True),
    sa.Column('bank_swift', sa.String(length=11), nullable=True),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sanctions_matches', sa.JSON(), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('callback_note', sa.Text(), nullable=True),
    sa.Column('decision_note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'],
                            name=op.f('fk_bank_details_change_organisation_id_organisation'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['requested_by_id'], ['user.id'],
                            name=op.f('fk_bank_details_change_requested_by_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['decided_by_id'], ['user.id'],
                            name=op.f('fk_bank_details_change_decided_by_id_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bank_details_change'))
    )
    with op.batch_alter_table('bank_details_change', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bank_details_change_organisation_id'), ['organisation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_bank_details_change_status'), ['status'], unique=False)

    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tf_totp_last_counter', sa.BigInteger(), nullable=True))


def downgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('tf_totp_last_counter')
    with op.batch_alter_table('bank_details_change', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bank_details_change_status'))
        batch_op.drop_index(batch_op.f('ix_bank_details_change_organisation_id'))
    op.drop_table('bank_details_change')
