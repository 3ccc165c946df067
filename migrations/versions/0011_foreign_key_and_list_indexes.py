"""foreign key and list indexes

Revision ID: 0011
Revises: 0010

Every foreign key gets an index (deleting or merging a case, retiring an
agency or an account no longer scans the referencing table), and the staff
lists get indexes in their own order, so that a first page reads a page of
rows at a million cases: ``case(next_due, id)`` replaces ``case(next_due)``
(``ORDER BY next_due NULLS LAST, id``), ``case(agency_id, next_due, id)``
(an agency's inbox), ``case(status, received_at, id)`` (the desk queue),
``case_event(actor_id, case_id)`` (an officer's "acted on before" scope).

Plain CREATE INDEX: it blocks writes to the table while it builds (seconds
at a million cases on PostgreSQL); upgrade in the maintenance window.
"""
from alembic import op

import feedback.models  # noqa: F401  (custom column types)

# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_token_agency_id'), ['agency_id'], unique=False)

    with op.batch_alter_table('attachment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_attachment_event_id'), ['event_id'], unique=False)

    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_next_due'))
        batch_op.create_index('ix_case_agency_next_due_id', ['agency_id', 'next_due', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_answered_by_id'), ['answered_by_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_merged_into_id'), ['merged_into_id'], unique=False)
        batch_op.create_index('ix_case_next_due_id', ['next_due', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_proposed_agency_id'), ['proposed_agency_id'], unique=False)
        batch_op.create_index('ix_case_status_received_at_id', ['status', 'received_at', 'id'], unique=False)

    with op.batch_alter_table('case_event', schema=None) as batch_op:
        batch_op.create_index('ix_case_event_actor_case', ['actor_id', 'case_id'], unique=False)

    with op.batch_alter_table('category', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_category_default_agency_id'), ['default_agency_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_category_parent_id'), ['parent_id'], unique=False)

    with op.batch_alter_table('digest_delivery', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_digest_delivery_notification_id'), ['notification_id'], unique=False)

    with op.batch_alter_table('erasure_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_erasure_request_decided_by_id'), ['decided_by_id'], unique=False)

    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notification_recipient_user_id'), ['recipient_user_id'], unique=False)

    with op.batch_alter_table('procedure', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_procedure_agency_id'), ['agency_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_procedure_category_id'), ['category_id'], unique=False)

    with op.batch_alter_table('rating', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rating_category_id'), ['category_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rating_officer_id'), ['officer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rating_procedure_id'), ['procedure_id'], unique=False)

    with op.batch_alter_table('reminder_delivery', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reminder_delivery_notification_id'), ['notification_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_reminder_delivery_recipient_id'), ['recipient_id'], unique=False)

    with op.batch_alter_table('submission_key', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_submission_key_case_id'), ['case_id'], unique=False)


def downgrade():
    with op.batch_alter_table('submission_key', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_submission_key_case_id'))

    with op.batch_alter_table('reminder_delivery', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reminder_delivery_recipient_id'))
        batch_op.drop_index(batch_op.f('ix_reminder_delivery_notification_id'))

    with op.batch_alter_table('rating', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rating_procedure_id'))
        batch_op.drop_index(batch_op.f('ix_rating_officer_id'))
        batch_op.drop_index(batch_op.f('ix_rating_category_id'))

    with op.batch_alter_table('procedure', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_procedure_category_id'))
        batch_op.drop_index(batch_op.f('ix_procedure_agency_id'))

    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notification_recipient_user_id'))

    with op.batch_alter_table('erasure_request', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_erasure_request_decided_by_id'))

    with op.batch_alter_table('digest_delivery', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_digest_delivery_notification_id'))

    with op.batch_alter_table('category', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_category_parent_id'))
        batch_op.drop_index(batch_op.f('ix_category_default_agency_id'))

    with op.batch_alter_table('case_event', schema=None) as batch_op:
        batch_op.drop_index('ix_case_event_actor_case')

    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.drop_index('ix_case_status_received_at_id')
        batch_op.drop_index(batch_op.f('ix_case_proposed_agency_id'))
        batch_op.drop_index('ix_case_next_due_id')
        batch_op.drop_index(batch_op.f('ix_case_merged_into_id'))
        batch_op.drop_index(batch_op.f('ix_case_answered_by_id'))
        batch_op.drop_index('ix_case_agency_next_due_id')
        batch_op.create_index(batch_op.f('ix_case_next_due'), ['next_due'], unique=False)

    with op.batch_alter_table('attachment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_attachment_event_id'))

    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_token_agency_id'))
