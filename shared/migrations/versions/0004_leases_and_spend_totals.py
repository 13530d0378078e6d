"""job leases and spend totals: jobs and budgets that work through PgBouncer

Expand only: two new tables. The previous release never reads them, so it
keeps running beside this one during a deploy (its jobs still take advisory
locks, its budget still sums the ledger; see docs/OPERATIONS.md).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'job_leases',
        sa.Column('job', sa.String(length=64), nullable=False),
        sa.Column('owner', sa.String(length=200), nullable=False),
        sa.Column('acquired_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('job'),
    )
    op.create_table(
        'spend_totals',
        sa.Column('bucket', sa.String(length=80), nullable=False),
        sa.Column('total_usd', sa.Numeric(precision=18, scale=8), nullable=False),
        sa.Column('period_end', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('bucket'),
    )
    op.create_index('ix_spend_totals_period_end', 'spend_totals', ['period_end'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_spend_totals_period_end', table_name='spend_totals')
    op.drop_table('spend_totals')
    op.drop_table('job_leases')
