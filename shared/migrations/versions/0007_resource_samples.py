"""resource samples: function instances' memory and pool, the database's size and queries

Expand only: two new tables the previous release never reads.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        'instance_samples',
        sa.Column('id', BIGID, autoincrement=True, nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('instance', sa.String(length=200), nullable=False),
        sa.Column('function', sa.String(length=32), nullable=False),
        sa.Column('rss_bytes', sa.BigInteger(), nullable=False),
        sa.Column('threads', sa.Integer(), nullable=False),
        sa.Column('in_flight', sa.Integer(), nullable=False),
        sa.Column('pool_size', sa.Integer(), nullable=False),
        sa.Column('pool_checked_out', sa.Integer(), nullable=False),
        sa.Column('pool_checkouts', sa.BigInteger(), nullable=False),
        sa.Column('pool_waits', sa.BigInteger(), nullable=False),
        sa.Column('pool_timeouts', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_instance_samples_at', 'instance_samples', ['at'], unique=False)
    op.create_index('ix_instance_samples_instance_at', 'instance_samples', ['instance', 'at'], unique=False)
    op.create_table(
        'database_samples',
        sa.Column('id', BIGID, autoincrement=True, nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('size_bytes', sa.BigInteger(), nullable=False),
        sa.Column('connections', sa.Integer(), nullable=True),
        sa.Column('max_connections', sa.Integer(), nullable=True),
        sa.Column('queries', JSON, nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_database_samples_at', 'database_samples', ['at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_database_samples_at', table_name='database_samples')
    op.drop_table('database_samples')
    op.drop_index('ix_instance_samples_instance_at', table_name='instance_samples')
    op.drop_index('ix_instance_samples_at', table_name='instance_samples')
    op.drop_table('instance_samples')
