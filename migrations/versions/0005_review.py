"""Selection: per-call review settings, eligibility screenings and their checklist items, the UN sanctions list
(imports, listed entries and their names with matching keys), reviews with conflict-of-interest declarations and
scores per criterion, and the Board's decisions.

Revision ID: 0005_review
Revises: 0004_merge
Create Date: 2026-11-28 11:50:39.864584

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0005_review'
down_revision = '0004_merge'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('sanctions_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference_number', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=500), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sanctions_entry'))
    )
    with op.batch_alter_table('sanctions_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sanctions_entry_reference_number'), ['reference_number'], unique=False)

    op.create_table('sanctions_import',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('imported_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source', sa.String(length=255), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('generated', sa.String(length=64), nullable=True),
    sa.Column('entries', sa.Integer(), nullable=False),
    sa.Column('names', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sanctions_import'))
    )
    op.create_table('call_review_settings',
    sa.Column('call_id', sa.Integer(), nullable=False),
    sa.Column('min_reviewers', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('min_reviewers >= 1 AND min_reviewers <= 10', name=op.f('ck_call_review_settings_min_reviewers')),
    sa.ForeignKeyConstraint(['call_id'], ['funding_call.id'], name=op.f('fk_call_review_settings_call_id_funding_call'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('call_id', name=op.f('pk_call_review_settings'))
    )
    op.create_table('sanctions_name',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=500), nullable=False),
    sa.Column('is_alias', sa.Boolean(), nullable=False),
    sa.Column('key', sa.String(length=500), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['sanctions_entry.id'], name=op.f('fk_sanctions_name_entry_id_sanctions_entry'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sanctions_name'))
    )
    with op.batch_alter_table('sanctions_name', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sanctions_name_entry_id'), ['entry_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sanctions_name_key'), ['key'], unique=False)

    op.create_table('board_decision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('call_id', sa.Integer(), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('out_of_order_reason', sa.Text(), nullable=True),
    sa.Column('score', sa.Numeric(precision=5, scale=2), nullable=True),
    sa.Column('grant_id', sa.Integer(), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('amount IS NULL OR amount > 0', name=op.f('ck_board_decision_amount')),
    sa.ForeignKeyConstraint(['application_id'], ['application.id'], name=op.f('fk_board_decision_application_id_application'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['call_id'], ['funding_call.id'], name=op.f('fk_board_decision_call_id_funding_call')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['user.id'], name=op.f('fk_board_decision_decided_by_id_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_board_decision'))
    )
    with op.batch_alter_table('board_decision', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_board_decision_application_id'), ['application_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_board_decision_call_id'), ['call_id'], unique=False)

    op.create_table('review',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('reviewer_id', sa.Integer(), nullable=False),
    sa.Column('assigned_by_id', sa.Integer(), nullable=True),
    sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('coi', sa.String(length=16), nullable=False),
    sa.Column('coi_reason', sa.Text(), nullable=True),
    sa.Column('coi_declared_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('recommendation', sa.String(length=32), nullable=True),
    sa.Column('general_comment', sa.Text(), nullable=True),
    sa.Column('saved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['application_id'], ['application.id'], name=op.f('fk_review_application_id_application'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['assigned_by_id'], ['user.id'], name=op.f('fk_review_assigned_by_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['reviewer_id'], ['user.id'], name=op.f('fk_review_reviewer_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review')),
    sa.UniqueConstraint('application_id', 'reviewer_id', name='uq_review_application_reviewer')
    )
    with op.batch_alter_table('review', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_application_id'), ['application_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_review_reviewer_id'), ['reviewer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_review_status'), ['status'], unique=False)

    op.create_table('screening',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=True),
    sa.Column('message', sa.Text(), nullable=True),
    sa.Column('screened_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['application_id'], ['application.id'], name=op.f('fk_screening_application_id_application'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['screened_by_id'], ['user.id'], name=op.f('fk_screening_screened_by_id_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_screening')),
    sa.UniqueConstraint('application_id', name=op.f('uq_screening_application_id'))
    )
    op.create_table('review_score',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('review_id', sa.Integer(), nullable=False),
    sa.Column('criterion_id', sa.Integer(), nullable=False),
    sa.Column('score', sa.Integer(), nullable=True),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.CheckConstraint('score IS NULL OR (score >= 1 AND score <= 5)', name=op.f('ck_review_score_score')),
    sa.ForeignKeyConstraint(['criterion_id'], ['call_criterion.id'], name=op.f('fk_review_score_criterion_id_call_criterion'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['review_id'], ['review.id'], name=op.f('fk_review_score_review_id_review'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_score')),
    sa.UniqueConstraint('review_id', 'criterion_id', name='uq_review_score_criterion')
    )
    with op.batch_alter_table('review_score', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_score_criterion_id'), ['criterion_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_review_score_review_id'), ['review_id'], unique=False)

    op.create_table('screening_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('screening_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('result', sa.String(length=16), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['screening_id'], ['screening.id'], name=op.f('fk_screening_item_screening_id_screening'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_screening_item')),
    sa.UniqueConstraint('screening_id', 'code', name='uq_screening_item_code')
    )
    with op.batch_alter_table('screening_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_screening_item_screening_id'), ['screening_id'], unique=False)



def downgrade():
    with op.batch_alter_table('screening_item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_screening_item_screening_id'))

    op.drop_table('screening_item')
    with op.batch_alter_table('review_score', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_score_review_id'))
        batch_op.drop_index(batch_op.f('ix_review_score_criterion_id'))

    op.drop_table('review_score')
    op.drop_table('screening')
    with op.batch_alter_table('review', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_status'))
        batch_op.drop_index(batch_op.f('ix_review_reviewer_id'))
        batch_op.drop_index(batch_op.f('ix_review_application_id'))

    op.drop_table('review')
    with op.batch_alter_table('board_decision', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_board_decision_call_id'))
        batch_op.drop_index(batch_op.f('ix_board_decision_application_id'))

    op.drop_table('board_decision')
    with op.batch_alter_table('sanctions_name', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sanctions_name_key'))
        batch_op.drop_index(batch_op.f('ix_sanctions_name_entry_id'))

    op.drop_table('sanctions_name')
    op.drop_table('call_review_settings')
    op.drop_table('sanctions_import')
    with op.batch_alter_table('sanctions_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sanctions_entry_reference_number'))

    op.drop_table('sanctions_entry')
