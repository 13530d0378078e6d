"""alert delivery: severity 'error', acknowledgement, escalation, dedup key, silences; metric rollups

Expand only: new nullable columns, a new table and a wider severity check, so the
previous release (which writes critical/warning/info and none of the new columns)
keeps running during a rolling deploy.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

_NEW = "severity IN ('critical', 'error', 'warning', 'info')"
_OLD = "severity IN ('critical', 'warning', 'info')"


def upgrade() -> None:
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dedup_key', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('acknowledged_by', sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column('acknowledged_via', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('escalated_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key('fk_alerts_acknowledged_by_users', 'users', ['acknowledged_by'], ['id'],
                                    ondelete='SET NULL')
        batch_op.drop_constraint('ck_alerts_severity', type_='check')
        batch_op.create_check_constraint('ck_alerts_severity', _NEW)
        batch_op.create_index('ix_alerts_opened', ['opened_at'], unique=False)

    op.create_table('alert_silences',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('rule', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('alert_silences', schema=None) as batch_op:
        batch_op.create_index('ix_alert_silences_expires_at', ['expires_at'], unique=False)

    # Totals of rows retention deleted, so the /metrics counters never go down.
    op.create_table('metric_rollups',
    sa.Column('metric', sa.String(length=100), nullable=False),
    sa.Column('labels', sa.String(length=500), nullable=False),
    sa.Column('count', sa.BigInteger(), nullable=False),
    sa.Column('total', sa.Float(), nullable=False),
    sa.Column('buckets', JSON, nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('metric', 'labels')
    )


def downgrade() -> None:
    op.drop_table('metric_rollups')
    with op.batch_alter_table('alert_silences', schema=None) as batch_op:
        batch_op.drop_index('ix_alert_silences_expires_at')
    op.drop_table('alert_silences')

    # The older release knows no 'error' severity: such alerts become critical.
    op.execute("UPDATE alerts SET severity = 'critical' WHERE severity = 'error'")
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index('ix_alerts_opened')
        batch_op.drop_constraint('ck_alerts_severity', type_='check')
        batch_op.create_check_constraint('ck_alerts_severity', _OLD)
        batch_op.drop_constraint('fk_alerts_acknowledged_by_users', type_='foreignkey')
        batch_op.drop_column('escalated_at')
        batch_op.drop_column('acknowledged_via')
        batch_op.drop_column('acknowledged_by')
        batch_op.drop_column('acknowledged_at')
        batch_op.drop_column('dedup_key')
