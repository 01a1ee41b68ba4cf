"""Grants awarded: grants with their budget, tranches and yearly number counter; disbursements; grantee
reports with their results (aggregate counts) and expenditure; refunds; the history of every step; report
reminders (one per report per day).

Revision ID: 0006_awards
Revises: 0004_merge
Create Date: 2026-11-28 11:46:37.084381

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0006_awards'
down_revision = '0004_merge'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('grant_number_counter',
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('last', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('year', name=op.f('pk_grant_number_counter'))
    )
    op.create_table('grant_award',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=20), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=255), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('signed_document_id', sa.Integer(), nullable=True),
    sa.Column('signed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('signed_by_id', sa.Integer(), nullable=True),
    sa.Column('countersigned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('countersigned_by_id', sa.Integer(), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('amount > 0', name=op.f('ck_grant_award_amount')),
    sa.CheckConstraint('end_date >= start_date', name=op.f('ck_grant_award_dates')),
    sa.ForeignKeyConstraint(['application_id'], ['application.id'], name=op.f('fk_grant_award_application_id_application')),
    sa.ForeignKeyConstraint(['countersigned_by_id'], ['user.id'], name=op.f('fk_grant_award_countersigned_by_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_grant_award_created_by_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_grant_award_organisation_id_organisation')),
    sa.ForeignKeyConstraint(['signed_by_id'], ['user.id'], name=op.f('fk_grant_award_signed_by_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['signed_document_id'], ['document.id'], name=op.f('fk_grant_award_signed_document_id_document')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_grant_award')),
    sa.UniqueConstraint('application_id', name=op.f('uq_grant_award_application_id')),
    sa.UniqueConstraint('number', name=op.f('uq_grant_award_number'))
    )
    with op.batch_alter_table('grant_award', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_grant_award_organisation_id'), ['organisation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_grant_award_status'), ['status'], unique=False)

    op.create_table('grant_budget_line',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('grant_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=32), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.CheckConstraint('amount >= 0', name=op.f('ck_grant_budget_line_amount')),
    sa.ForeignKeyConstraint(['grant_id'], ['grant_award.id'], name=op.f('fk_grant_budget_line_grant_id_grant_award'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_grant_budget_line'))
    )
    with op.batch_alter_table('grant_budget_line', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_grant_budget_line_grant_id'), ['grant_id'], unique=False)

    op.create_table('grant_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('grant_id', sa.Integer(), nullable=False),
    sa.Column('entity', sa.String(length=16), nullable=False),
    sa.Column('entity_id', sa.Integer(), nullable=False),
    sa.Column('trigger', sa.String(length=32), nullable=False),
    sa.Column('from_status', sa.String(length=24), nullable=False),
    sa.Column('to_status', sa.String(length=24), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('message', sa.Text(), nullable=True),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['user.id'], name=op.f('fk_grant_event_actor_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['grant_id'], ['grant_award.id'], name=op.f('fk_grant_event_grant_id_grant_award'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_grant_event'))
    )
    with op.batch_alter_table('grant_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_grant_event_grant_id'), ['grant_id'], unique=False)

    op.create_table('grant_refund',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('grant_id', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('amount', sa.Numeric(precision=18, scale=3), nullable=False),
    sa.Column('usd', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('exchange_rate_id', sa.Integer(), nullable=True),
    sa.Column('received_on', sa.Date(), nullable=False),
    sa.Column('bank_reference', sa.String(length=100), nullable=False),
    sa.Column('ledger_entry_id', sa.Integer(), nullable=False),
    sa.Column('psc_usd', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('amount > 0', name=op.f('ck_grant_refund_amount')),
    sa.ForeignKeyConstraint(['exchange_rate_id'], ['exchange_rate.id'], name=op.f('fk_grant_refund_exchange_rate_id_exchange_rate')),
    sa.ForeignKeyConstraint(['grant_id'], ['grant_award.id'], name=op.f('fk_grant_refund_grant_id_grant_award'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['ledger_entry_id'], ['journal_entry.id'], name=op.f('fk_grant_refund_ledger_entry_id_journal_entry')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['user.id'], name=op.f('fk_grant_refund_recorded_by_id_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_grant_refund')),
    sa.UniqueConstraint('ledger_entry_id', name=op.f('uq_grant_refund_ledger_entry_id'))
    )
    with op.batch_alter_table('grant_refund', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_grant_refund_grant_id'), ['grant_id'], unique=False)

    op.create_table('grant_report',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('grant_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('activities', sa.Text(), nullable=True),
    sa.Column('results_narrative', sa.Text(), nullable=True),
    sa.Column('challenges', sa.Text(), nullable=True),
    sa.Column('lessons', sa.Text(), nullable=True),
    sa.Column('consultation', sa.Text(), nullable=True),
    sa.Column('total_assisted', sa.Integer(), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('expenditure', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('received', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('unspent', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('audit_document_id', sa.Integer(), nullable=True),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('submitted_by_id', sa.Integer(), nullable=True),
    sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reviewed_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['audit_document_id'], ['document.id'], name=op.f('fk_grant_report_audit_document_id_document')),
    sa.ForeignKeyConstraint(['grant_id'], ['grant_award.id'], name=op.f('fk_grant_report_grant_id_grant_award'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reviewed_by_id'], ['user.id'], name=op.f('fk_grant_report_reviewed_by_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['submitted_by_id'], ['user.id'], name=op.f('fk_grant_report_submitted_by_id_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_grant_report')),
    sa.UniqueConstraint('grant_id', 'kind', name='uq_grant_report_kind')
    )
    with op.batch_alter_table('grant_report', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_grant_report_due_on'), ['due_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_grant_report_grant_id'), ['grant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_grant_report_status'), ['status'], unique=False)

    op.create_table('grant_tranche',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('grant_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('condition', sa.String(length=24), nullable=False),
    sa.Column('expected_on', sa.Date(), nullable=False),
    sa.CheckConstraint('amount > 0', name=op.f('ck_grant_tranche_amount')),
    sa.ForeignKeyConstraint(['grant_id'], ['grant_award.id'], name=op.f('fk_grant_tranche_grant_id_grant_award'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_grant_tranche')),
    sa.UniqueConstraint('grant_id', 'number', name='uq_grant_tranche_number')
    )
    with op.batch_alter_table('grant_tranche', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_grant_tranche_grant_id'), ['grant_id'], unique=False)

    op.create_table('disbursement',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('grant_id', sa.Integer(), nullable=False),
    sa.Column('tranche_id', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('edited_by_id', sa.Integer(), nullable=True),
    sa.Column('edited_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('approved_by_id', sa.Integer(), nullable=True),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('payment_reference', sa.String(length=100), nullable=True),
    sa.Column('paid_on', sa.Date(), nullable=True),
    sa.Column('paid_by_id', sa.Integer(), nullable=True),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ledger_entry_id', sa.Integer(), nullable=True),
    sa.Column('psc_usd', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('amount > 0', name=op.f('ck_disbursement_amount')),
    sa.ForeignKeyConstraint(['approved_by_id'], ['user.id'], name=op.f('fk_disbursement_approved_by_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['edited_by_id'], ['user.id'], name=op.f('fk_disbursement_edited_by_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['grant_id'], ['grant_award.id'], name=op.f('fk_disbursement_grant_id_grant_award'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['ledger_entry_id'], ['journal_entry.id'], name=op.f('fk_disbursement_ledger_entry_id_journal_entry')),
    sa.ForeignKeyConstraint(['paid_by_id'], ['user.id'], name=op.f('fk_disbursement_paid_by_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['requested_by_id'], ['user.id'], name=op.f('fk_disbursement_requested_by_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tranche_id'], ['grant_tranche.id'], name=op.f('fk_disbursement_tranche_id_grant_tranche')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_disbursement')),
    sa.UniqueConstraint('ledger_entry_id', name=op.f('uq_disbursement_ledger_entry_id'))
    )
    with op.batch_alter_table('disbursement', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_disbursement_grant_id'), ['grant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_disbursement_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_disbursement_tranche_id'), ['tranche_id'], unique=False)

    op.create_table('grant_report_expense',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('budget_line_id', sa.Integer(), nullable=False),
    sa.Column('spent', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('explanation', sa.Text(), nullable=True),
    sa.CheckConstraint('spent >= 0', name=op.f('ck_grant_report_expense_spent')),
    sa.ForeignKeyConstraint(['budget_line_id'], ['grant_budget_line.id'], name=op.f('fk_grant_report_expense_budget_line_id_grant_budget_line')),
    sa.ForeignKeyConstraint(['report_id'], ['grant_report.id'], name=op.f('fk_grant_report_expense_report_id_grant_report'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_grant_report_expense')),
    sa.UniqueConstraint('report_id', 'budget_line_id', name='uq_grant_report_expense_line')
    )
    with op.batch_alter_table('grant_report_expense', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_grant_report_expense_budget_line_id'), ['budget_line_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_grant_report_expense_report_id'), ['report_id'], unique=False)

    op.create_table('grant_report_reminder',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('sent_on', sa.Date(), nullable=False),
    sa.Column('recipients', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['report_id'], ['grant_report.id'], name=op.f('fk_grant_report_reminder_report_id_grant_report'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_grant_report_reminder')),
    sa.UniqueConstraint('report_id', 'sent_on', name='uq_grant_report_reminder_day')
    )
    with op.batch_alter_table('grant_report_reminder', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_grant_report_reminder_report_id'), ['report_id'], unique=False)

    op.create_table('grant_report_result',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('breakdown', sa.String(length=16), nullable=False),
    sa.Column('key', sa.String(length=48), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.CheckConstraint('count >= 0', name=op.f('ck_grant_report_result_count')),
    sa.ForeignKeyConstraint(['report_id'], ['grant_report.id'], name=op.f('fk_grant_report_result_report_id_grant_report'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_grant_report_result')),
    sa.UniqueConstraint('report_id', 'breakdown', 'key', name='uq_grant_report_result_cell')
    )
    with op.batch_alter_table('grant_report_result', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_grant_report_result_report_id'), ['report_id'], unique=False)



def downgrade():
    with op.batch_alter_table('grant_report_result', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_grant_report_result_report_id'))

    op.drop_table('grant_report_result')
    with op.batch_alter_table('grant_report_reminder', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_grant_report_reminder_report_id'))

    op.drop_table('grant_report_reminder')
    with op.batch_alter_table('grant_report_expense', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_grant_report_expense_report_id'))
        batch_op.drop_index(batch_op.f('ix_grant_report_expense_budget_line_id'))

    op.drop_table('grant_report_expense')
    with op.batch_alter_table('disbursement', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_disbursement_tranche_id'))
        batch_op.drop_index(batch_op.f('ix_disbursement_status'))
        batch_op.drop_index(batch_op.f('ix_disbursement_grant_id'))

    op.drop_table('disbursement')
    with op.batch_alter_table('grant_tranche', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_grant_tranche_grant_id'))

    op.drop_table('grant_tranche')
    with op.batch_alter_table('grant_report', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_grant_report_status'))
        batch_op.drop_index(batch_op.f('ix_grant_report_grant_id'))
        batch_op.drop_index(batch_op.f('ix_grant_report_due_on'))

    op.drop_table('grant_report')
    with op.batch_alter_table('grant_refund', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_grant_refund_grant_id'))

    op.drop_table('grant_refund')
    with op.batch_alter_table('grant_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_grant_event_grant_id'))

    op.drop_table('grant_event')
    with op.batch_alter_table('grant_budget_line', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_grant_budget_line_grant_id'))

    op.drop_table('grant_budget_line')
    with op.batch_alter_table('grant_award', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_grant_award_status'))
        batch_op.drop_index(batch_op.f('ix_grant_award_organisation_id'))

    op.drop_table('grant_award')
    op.drop_table('grant_number_counter')
