"""audit log hash chain: prev_hash and hash on every row

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-10 09:00:00

Rows already in the log are sealed into the chain in id order. The chain
expects consecutive ids (a gap is a deleted row), so existing rows are
renumbered 1, 2, 3 … first; nothing refers to an audit row's id.
"""
import sqlalchemy as sa
from alembic import op

import feedback.models  # noqa: F401  (custom column types)

# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('prev_hash', sa.String(length=64), server_default='', nullable=False))
        batch_op.add_column(sa.Column('hash', sa.String(length=64), server_default='', nullable=False))
    _chain_existing_rows()


def _chain_existing_rows():
    """Seal the rows written before the chain existed, oldest first, with the
    same hash ``record_audit`` uses from now on."""
    from feedback.audit import GENESIS, canonical_hash

    bind = op.get_bind()
    log = sa.table('audit_log', sa.column('id', sa.Integer), sa.column('at', feedback.models.UTCDateTime),
                   sa.column('user_id', sa.Integer), sa.column('action', sa.String),
                   sa.column('case_id', sa.Integer), sa.column('detail', sa.JSON), sa.column('ip', sa.String),
                   sa.column('prev_hash', sa.String), sa.column('hash', sa.String))
    rows = bind.execute(sa.select(log).order_by(log.c.id)).mappings().all()
    prev_hash = GENESIS
    for new_id, row in enumerate(rows, start=1):
        values = {**row, "id": new_id, "prev_hash": prev_hash, "detail": row["detail"] or {}, "ip": row["ip"] or ""}
        values["hash"] = canonical_hash(values)
        bind.execute(log.update().where(log.c.id == row["id"])
                     .values(id=new_id, prev_hash=prev_hash, hash=values["hash"]))
        prev_hash = values["hash"]


def downgrade():
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_column('hash')
        batch_op.drop_column('prev_hash')
