"""alert outbox, and request_metrics.user_id indexed

Expand only: a new table, read and written only by this release (the previous
one keeps delivering alerts inside requests, as it did), and a new index.
The index serves erasure (its UPDATE ... SET user_id = NULL and the foreign
key's ON DELETE SET NULL both looked every row of the largest table up).

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-04
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from shared.migrations import online

revision = '0006'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'alert_outbox',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('channel', sa.String(length=16), nullable=False),
        sa.Column('alert_id', sa.String(length=36), nullable=True),
        sa.Column('rule', sa.String(length=100), nullable=False),
        sa.Column('severity', sa.String(length=16), nullable=False),
        sa.Column('event', sa.String(length=16), nullable=False),
        sa.Column('summary', sa.Text(), nullable=False),
        sa.Column('details', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'),
                  nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_error', sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_alert_outbox_due', 'alert_outbox', ['delivered_at', 'next_attempt_at'], unique=False)
    # request_metrics is the busiest table: on PostgreSQL the index is built concurrently, no lock held.
    online.create_index('ix_request_metrics_user_id', 'request_metrics', ['user_id'])


def downgrade() -> None:
    online.drop_index('ix_request_metrics_user_id', 'request_metrics')
    op.drop_index('ix_alert_outbox_due', table_name='alert_outbox')
    op.drop_table('alert_outbox')
