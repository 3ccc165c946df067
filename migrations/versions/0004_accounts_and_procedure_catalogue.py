"""accounts must change an admin-chosen password; procedure catalogue fields

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 15:40:00

"""
import sqlalchemy as sa
from alembic import op

import feedback.models  # noqa: F401  (custom column types)

# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('must_change_password', sa.Boolean(), server_default=sa.false(),
                                      nullable=False))

    with op.batch_alter_table('procedure', schema=None) as batch_op:
        batch_op.add_column(sa.Column('agency_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('legal_document', sa.String(length=500), server_default='', nullable=False))
        batch_op.add_column(sa.Column('url', sa.String(length=500), server_default='', nullable=False))
        batch_op.create_foreign_key('fk_procedure_agency_id_agency', 'agency', ['agency_id'], ['id'])


def downgrade():
    with op.batch_alter_table('procedure', schema=None) as batch_op:
        batch_op.drop_constraint('fk_procedure_agency_id_agency', type_='foreignkey')
        batch_op.drop_column('url')
        batch_op.drop_column('legal_document')
        batch_op.drop_column('agency_id')

    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_column('must_change_password')
