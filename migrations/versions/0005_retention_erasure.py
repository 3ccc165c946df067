"""retention and erasure: when a case was anonymised; senders' erasure requests

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 10:00:00

"""
import sqlalchemy as sa
from alembic import op

import feedback.models  # noqa: F401  (custom column types)

# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.add_column(sa.Column('anonymised_at', sa.DateTime(timezone=True), nullable=True))

    op.create_table(
        'erasure_request',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('decided_by_id', sa.Integer(), nullable=True),
        sa.Column('refusal_reason', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['case.id'], name=op.f('fk_erasure_request_case_id_case')),
        sa.ForeignKeyConstraint(['decided_by_id'], ['user_account.id'],
                                name=op.f('fk_erasure_request_decided_by_id_user_account')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_erasure_request')),
    )
    with op.batch_alter_table('erasure_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_erasure_request_case_id'), ['case_id'], unique=False)


def downgrade():
    with op.batch_alter_table('erasure_request', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_erasure_request_case_id'))
    op.drop_table('erasure_request')

    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.drop_column('anonymised_at')
