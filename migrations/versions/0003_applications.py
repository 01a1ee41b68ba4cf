"""Applications: organisations (and their administrators and invitations), calls for proposals with their
assessment criteria, applications with beneficiary counts, budget lines and status history, stored documents;
user.organisation_id becomes a foreign key to organisation.

Revision ID: 0003_applications
Revises: 0001_foundation
Create Date: 2026-11-28 11:24:58.145930

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0003_applications'
down_revision = '0001_foundation'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('funding_call',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title_en', sa.String(length=255), nullable=False),
    sa.Column('title_fr', sa.String(length=255), nullable=False),
    sa.Column('description_en', sa.Text(), nullable=False),
    sa.Column('description_fr', sa.Text(), nullable=False),
    sa.Column('window', sa.String(length=32), nullable=False),
    sa.Column('opens_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closes_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('envelope', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('min_grant', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('max_grant', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('max_duration_months', sa.Integer(), nullable=False),
    sa.Column('eligible_countries', sa.JSON(), nullable=False),
    sa.Column('priority_forms', sa.JSON(), nullable=False),
    sa.Column('required_documents', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('closes_at > opens_at', name=op.f('ck_funding_call_dates')),
    sa.CheckConstraint('min_grant > 0 AND max_grant >= min_grant', name=op.f('ck_funding_call_grant_limits')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_funding_call'))
    )
    with op.batch_alter_table('funding_call', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_funding_call_status'), ['status'], unique=False)

    op.create_table('application_reference_counter',
    sa.Column('prefix', sa.String(length=32), nullable=False),
    sa.Column('last', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('prefix', name=op.f('pk_application_reference_counter'))
    )
    op.create_table('organisation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('acronym', sa.String(length=30), nullable=True),
    sa.Column('registration_number', sa.String(length=100), nullable=True),
    sa.Column('registration_date', sa.Date(), nullable=True),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('address', sa.Text(), nullable=True),
    sa.Column('website', sa.String(length=255), nullable=True),
    sa.Column('year_established', sa.Integer(), nullable=True),
    sa.Column('org_type', sa.String(length=32), nullable=False),
    sa.Column('contact_name', sa.String(length=200), nullable=True),
    sa.Column('contact_email', sa.String(length=255), nullable=True),
    sa.Column('contact_phone', sa.String(length=50), nullable=True),
    sa.Column('years_direct_assistance', sa.Integer(), nullable=True),
    sa.Column('bank_account_holder', sa.String(length=200), nullable=True),
    sa.Column('bank_name', sa.String(length=200), nullable=True),
    sa.Column('bank_account_number', sa.String(length=64), nullable=True),
    sa.Column('bank_swift', sa.String(length=11), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_organisation'))
    )
    op.create_table('call_criterion',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('call_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name_en', sa.String(length=255), nullable=False),
    sa.Column('name_fr', sa.String(length=255), nullable=False),
    sa.Column('weight', sa.Integer(), nullable=False),
    sa.CheckConstraint('weight > 0 AND weight <= 100', name=op.f('ck_call_criterion_weight')),
    sa.ForeignKeyConstraint(['call_id'], ['funding_call.id'], name=op.f('fk_call_criterion_call_id_funding_call'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_call_criterion'))
    )
    with op.batch_alter_table('call_criterion', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_call_criterion_call_id'), ['call_id'], unique=False)

    op.create_table('application',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('call_id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('reference', sa.String(length=40), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('project_title', sa.String(length=255), nullable=True),
    sa.Column('summary', sa.Text(), nullable=True),
    sa.Column('objectives', sa.Text(), nullable=True),
    sa.Column('countries', sa.JSON(), nullable=False),
    sa.Column('locations', sa.Text(), nullable=True),
    sa.Column('start_date', sa.Date(), nullable=True),
    sa.Column('duration_months', sa.Integer(), nullable=True),
    sa.Column('forms_of_exploitation', sa.JSON(), nullable=False),
    sa.Column('assistance_types', sa.JSON(), nullable=False),
    sa.Column('identification_referral', sa.Text(), nullable=True),
    sa.Column('partners', sa.Text(), nullable=True),
    sa.Column('risks_safeguarding', sa.Text(), nullable=True),
    sa.Column('monitoring_plan', sa.Text(), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('requested_amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.ForeignKeyConstraint(['call_id'], ['funding_call.id'], name=op.f('fk_application_call_id_funding_call')),
    sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_application_created_by_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_application_organisation_id_organisation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_application')),
    sa.UniqueConstraint('call_id', 'organisation_id', name='uq_application_call_organisation'),
    sa.UniqueConstraint('reference', name=op.f('uq_application_reference'))
    )
    with op.batch_alter_table('application', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_application_call_id'), ['call_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_application_organisation_id'), ['organisation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_application_status'), ['status'], unique=False)

    op.create_table('organisation_admin',
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_organisation_admin_organisation_id_organisation'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_organisation_admin_user_id_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('organisation_id', 'user_id', name=op.f('pk_organisation_admin'))
    )
    with op.batch_alter_table('organisation_admin', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_organisation_admin_user_id'), ['user_id'], unique=False)

    op.create_table('organisation_invitation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=255), nullable=False),
    sa.Column('nonce', sa.String(length=64), nullable=False),
    sa.Column('invited_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('accepted_user_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['accepted_user_id'], ['user.id'], name=op.f('fk_organisation_invitation_accepted_user_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['invited_by_id'], ['user.id'], name=op.f('fk_organisation_invitation_invited_by_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_organisation_invitation_organisation_id_organisation'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_organisation_invitation')),
    sa.UniqueConstraint('nonce', name=op.f('uq_organisation_invitation_nonce'))
    )
    with op.batch_alter_table('organisation_invitation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_organisation_invitation_organisation_id'), ['organisation_id'], unique=False)

    op.create_table('application_beneficiary',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('sex', sa.String(length=16), nullable=False),
    sa.Column('age_band', sa.String(length=16), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.CheckConstraint('count >= 0', name=op.f('ck_application_beneficiary_count')),
    sa.ForeignKeyConstraint(['application_id'], ['application.id'], name=op.f('fk_application_beneficiary_application_id_application'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_application_beneficiary')),
    sa.UniqueConstraint('application_id', 'sex', 'age_band', name='uq_application_beneficiary_cell')
    )
    with op.batch_alter_table('application_beneficiary', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_application_beneficiary_application_id'), ['application_id'], unique=False)

    op.create_table('application_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('trigger', sa.String(length=32), nullable=False),
    sa.Column('from_status', sa.String(length=32), nullable=False),
    sa.Column('to_status', sa.String(length=32), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('message', sa.Text(), nullable=True),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['user.id'], name=op.f('fk_application_event_actor_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['application_id'], ['application.id'], name=op.f('fk_application_event_application_id_application'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_application_event'))
    )
    with op.batch_alter_table('application_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_application_event_application_id'), ['application_id'], unique=False)

    op.create_table('budget_line',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=32), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.Column('quantity', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('unit_cost', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('total', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.CheckConstraint('quantity > 0 AND unit_cost >= 0 AND total >= 0', name=op.f('ck_budget_line_amounts')),
    sa.ForeignKeyConstraint(['application_id'], ['application.id'], name=op.f('fk_budget_line_application_id_application'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_budget_line'))
    )
    with op.batch_alter_table('budget_line', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_budget_line_application_id'), ['application_id'], unique=False)

    op.create_table('document',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('storage_key', sa.String(length=64), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['application_id'], ['application.id'], name=op.f('fk_document_application_id_application')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_document_organisation_id_organisation')),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['user.id'], name=op.f('fk_document_uploaded_by_id_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_document')),
    sa.UniqueConstraint('storage_key', name=op.f('uq_document_storage_key'))
    )
    with op.batch_alter_table('document', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_document_application_id'), ['application_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_document_organisation_id'), ['organisation_id'], unique=False)

    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.create_foreign_key(batch_op.f('fk_user_organisation_id_organisation'), 'organisation', ['organisation_id'], ['id'])



def downgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_user_organisation_id_organisation'), type_='foreignkey')

    with op.batch_alter_table('document', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_document_organisation_id'))
        batch_op.drop_index(batch_op.f('ix_document_application_id'))

    op.drop_table('document')
    with op.batch_alter_table('budget_line', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_budget_line_application_id'))

    op.drop_table('budget_line')
    with op.batch_alter_table('application_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_application_event_application_id'))

    op.drop_table('application_event')
    with op.batch_alter_table('application_beneficiary', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_application_beneficiary_application_id'))

    op.drop_table('application_beneficiary')
    with op.batch_alter_table('organisation_invitation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_organisation_invitation_organisation_id'))

    op.drop_table('organisation_invitation')
    with op.batch_alter_table('organisation_admin', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_organisation_admin_user_id'))

    op.drop_table('organisation_admin')
    with op.batch_alter_table('application', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_application_status'))
        batch_op.drop_index(batch_op.f('ix_application_organisation_id'))
        batch_op.drop_index(batch_op.f('ix_application_call_id'))

    op.drop_table('application')
    with op.batch_alter_table('call_criterion', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_call_criterion_call_id'))

    op.drop_table('call_criterion')
    op.drop_table('organisation')
    op.drop_table('application_reference_counter')
    with op.batch_alter_table('funding_call', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_funding_call_status'))

    op.drop_table('funding_call')
