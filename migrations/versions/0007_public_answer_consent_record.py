"""publication consent on record; the published answer kept apart from the answer

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 10:00:00

Cases published before this revision keep an empty public answer: their
answer was shown redacted on the fly, which could leak the sender's data, so
the desk publishes them again through the publish form if they are to show
an answer.
"""
import sqlalchemy as sa
from alembic import op

import feedback.models  # noqa: F401  (custom column types)

# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.add_column(sa.Column('publish_consent_at', feedback.models.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('publish_consent_text', sa.Text(), server_default='', nullable=False))
        batch_op.add_column(sa.Column('public_answer', sa.Text(), server_default='', nullable=False))


def downgrade():
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.drop_column('public_answer')
        batch_op.drop_column('publish_consent_text')
        batch_op.drop_column('publish_consent_at')
