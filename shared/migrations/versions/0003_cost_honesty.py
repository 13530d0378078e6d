"""cost honesty: token classes, generation ownership, generation cache, half-open probe

Expand only: new nullable columns and indexes, so the previous release keeps
running beside this one (it never reads or writes them). The indexes on the
two busiest tables are built concurrently (shared/migrations/online.py).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""
from alembic import op
import sqlalchemy as sa

from shared.migrations import online

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

_TOKEN_CLASSES = ('cached_input_tokens', 'cache_write_tokens', 'cache_write_1h_tokens', 'reasoning_tokens')


def upgrade() -> None:
    once = online.if_missing()
    # Requests write content_items, then usage_events: take both (and the circuits) up front, in that order.
    online.lock_tables('content_items', 'usage_events', 'provider_circuits')
    with op.batch_alter_table('usage_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('generation_id', sa.String(length=36), nullable=True), if_not_exists=once)
        for name in _TOKEN_CLASSES:
            batch_op.add_column(sa.Column(name, sa.Integer(), nullable=True), if_not_exists=once)
        batch_op.add_column(sa.Column('cost_avoided_usd', sa.Numeric(precision=18, scale=8), nullable=True), if_not_exists=once)
    with op.batch_alter_table('content_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cached_input_tokens', sa.Integer(), nullable=True), if_not_exists=once)
        batch_op.add_column(sa.Column('reasoning_tokens', sa.Integer(), nullable=True), if_not_exists=once)
        batch_op.add_column(sa.Column('cached', sa.Boolean(), server_default=sa.false(), nullable=False), if_not_exists=once)
        batch_op.add_column(sa.Column('cache_key', sa.String(length=64), nullable=True), if_not_exists=once)
    with op.batch_alter_table('provider_circuits', schema=None) as batch_op:
        batch_op.add_column(sa.Column('probe_until', sa.DateTime(timezone=True), nullable=True), if_not_exists=once)
    # Concurrent builds leave the revision's transaction: the columns above are committed first, so
    # they are added only if missing (a retry after a lock timeout here redoes just the index).
    online.create_index('ix_usage_events_generation', 'usage_events', ['generation_id'])
    online.create_index('ix_content_items_cache_key', 'content_items', ['cache_key', 'created_at'])


def downgrade() -> None:
    online.drop_index('ix_content_items_cache_key', 'content_items')
    online.drop_index('ix_usage_events_generation', 'usage_events')
    with op.batch_alter_table('provider_circuits', schema=None) as batch_op:
        batch_op.drop_column('probe_until')
    with op.batch_alter_table('content_items', schema=None) as batch_op:
        for name in ('cache_key', 'cached', 'reasoning_tokens', 'cached_input_tokens'):
            batch_op.drop_column(name)
    with op.batch_alter_table('usage_events', schema=None) as batch_op:
        for name in ('cost_avoided_usd', *reversed(_TOKEN_CLASSES), 'generation_id'):
            batch_op.drop_column(name)
