"""API token scope, agency and expiry; failed logins and the lock they set

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08 10:00:00

"""
import sqlalchemy as sa
from alembic import op

import feedback.models  # noqa: F401  (custom column types)

# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.add_column(sa.Column('scope', sa.String(length=10), server_default='write', nullable=False))
        batch_op.add_column(sa.Column('agency_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key('fk_api_token_agency_id_agency', 'agency', ['agency_id'], ['id'])

    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('failed_logins', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_column('locked_until')
        batch_op.drop_column('failed_logins')

    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.drop_constraint('fk_api_token_agency_id_agency', type_='foreignkey')
        batch_op.drop_column('expires_at')
        batch_op.drop_column('agency_id')
        batch_op.drop_column('scope')
