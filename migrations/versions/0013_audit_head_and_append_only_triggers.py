"""audit head and append-only triggers

Revision ID: 0013
Revises: 0012

The audit chain's newest row is recorded in ``audit_head`` (moved forward in
the same transaction as each append), so rows deleted from the end of the
log are found by ``flask audit verify``. The database itself now refuses to
change or delete audit rows and to move the head backwards (triggers on
PostgreSQL and SQLite): the application already refused; now so does a
hand at the ``psql`` prompt, short of dropping the triggers as the table's
owner, which the chain and the head still reveal.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

POSTGRESQL_UP = [
    """CREATE FUNCTION feedback_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$""",
    """CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION feedback_audit_append_only()""",
    """CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION feedback_audit_append_only()""",
    """CREATE FUNCTION feedback_audit_head_forward() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' OR NEW.last_id < OLD.last_id THEN
        RAISE EXCEPTION 'audit_head only moves forward: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$""",
    """CREATE TRIGGER audit_head_forward BEFORE UPDATE OR DELETE ON audit_head
    FOR EACH ROW EXECUTE FUNCTION feedback_audit_head_forward()""",
]
POSTGRESQL_DOWN = [
    "DROP TRIGGER IF EXISTS audit_head_forward ON audit_head",
    "DROP FUNCTION IF EXISTS feedback_audit_head_forward()",
    "DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log",
    "DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log",
    "DROP FUNCTION IF EXISTS feedback_audit_append_only()",
]
SQLITE_UP = [
    """CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused'); END""",
    """CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: DELETE refused'); END""",
    """CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head
    BEGIN SELECT RAISE(ABORT, 'audit_head only moves forward: DELETE refused'); END""",
    """CREATE TRIGGER audit_head_forward BEFORE UPDATE ON audit_head WHEN NEW.last_id < OLD.last_id
    BEGIN SELECT RAISE(ABORT, 'audit_head only moves forward: UPDATE refused'); END""",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS audit_head_forward",
    "DROP TRIGGER IF EXISTS audit_head_no_delete",
    "DROP TRIGGER IF EXISTS audit_log_no_delete",
    "DROP TRIGGER IF EXISTS audit_log_no_update",
]


def upgrade():
    op.create_table(
        'audit_head',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('last_id', sa.Integer(), nullable=False),
        sa.Column('last_hash', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_head')),
    )
    # The head of the chain as it stands (none for an empty log).
    op.execute("INSERT INTO audit_head (id, last_id, last_hash) "
               "SELECT 1, id, hash FROM audit_log ORDER BY id DESC LIMIT 1")
    dialect = op.get_bind().dialect.name
    for statement in POSTGRESQL_UP if dialect == "postgresql" else SQLITE_UP if dialect == "sqlite" else []:
        op.execute(statement)


def downgrade():
    dialect = op.get_bind().dialect.name
    for statement in POSTGRESQL_DOWN if dialect == "postgresql" else SQLITE_DOWN if dialect == "sqlite" else []:
        op.execute(statement)
    op.drop_table('audit_head')
