"""Donor statements: issued statements (number, period, language, SHA-256 and storage key of the stored PDF,
verification code, totals printed, void) and the yearly statement number counter.

Revision ID: 0007_statements
Revises: 0004_merge
Create Date: 2026-11-28 12:30:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0007_statements'
down_revision = '0004_merge'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('statement_counter',
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('last', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('year', name=op.f('pk_statement_counter'))
    )
    op.create_table('issued_statement',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=20), nullable=False),
    sa.Column('donor_id', sa.Integer(), nullable=False),
    sa.Column('period_from', sa.Date(), nullable=False),
    sa.Column('period_to', sa.Date(), nullable=False),
    sa.Column('language', sa.String(length=2), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('issued_by_id', sa.Integer(), nullable=True),
    sa.Column('donor_name', sa.String(length=200), nullable=False),
    sa.Column('anonymous', sa.Boolean(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('storage_key', sa.String(length=32), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('verification_code', sa.String(length=32), nullable=False),
    sa.Column('totals', sa.JSON(), nullable=False),
    sa.Column('voided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('voided_by_id', sa.Integer(), nullable=True),
    sa.Column('void_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['donor_id'], ['donor.id'], name=op.f('fk_issued_statement_donor_id_donor')),
    sa.ForeignKeyConstraint(['issued_by_id'], ['user.id'], name=op.f('fk_issued_statement_issued_by_id_user')),
    sa.ForeignKeyConstraint(['voided_by_id'], ['user.id'], name=op.f('fk_issued_statement_voided_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_issued_statement')),
    sa.UniqueConstraint('number', name=op.f('uq_issued_statement_number')),
    sa.UniqueConstraint('verification_code', name=op.f('uq_issued_statement_verification_code'))
    )
    with op.batch_alter_table('issued_statement', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_issued_statement_donor_id'), ['donor_id'], unique=False)


def downgrade():
    with op.batch_alter_table('issued_statement', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_issued_statement_donor_id'))

    op.drop_table('issued_statement')
    op.drop_table('statement_counter')
