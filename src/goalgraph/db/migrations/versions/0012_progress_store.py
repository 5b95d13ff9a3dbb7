"""progress store: stored actuals per (goal, period) and stale marks; closed-period snapshots move in

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01

Snapshots become frozen rows of the store. One mark covering every goal is written, so the
recompute worker fills the store for every goal on its first round (until then reads compute
the missing rows themselves).
"""

from __future__ import annotations

from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa

import goalgraph.db.types


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

BigKey = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table('progress_store',
    sa.Column('goal_id', sa.Integer(), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', goalgraph.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actual', goalgraph.db.types.Money(precision=20, scale=4), nullable=False),
    sa.Column('facts', sa.Integer(), nullable=False),
    sa.Column('unconverted', sa.JSON(), nullable=False),
    sa.Column('elements', sa.JSON(), nullable=False),
    sa.Column('computed_at', goalgraph.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('frozen_at', goalgraph.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['goal_id'], ['goals.id'], name=op.f('fk_progress_store_goal_id_goals'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('goal_id', 'period_start', name=op.f('pk_progress_store'))
    )
    marks = op.create_table('progress_marks',
    sa.Column('id', BigKey, autoincrement=True, nullable=False),
    sa.Column('goal_id', sa.Integer(), nullable=True),
    sa.Column('first_day', sa.Date(), nullable=True),
    sa.Column('last_day', sa.Date(), nullable=True),
    sa.Column('thaw', sa.Boolean(), nullable=False),
    sa.Column('marked_at', goalgraph.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['goal_id'], ['goals.id'], name=op.f('fk_progress_marks_goal_id_goals'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_progress_marks'))
    )
    op.create_index('ix_progress_marks_goal_id', 'progress_marks', ['goal_id'], unique=False)
    # Snapshots are frozen rows now (their end instant is unknown here and no longer needed: frozen).
    op.execute(
        "INSERT INTO progress_store (goal_id, period_start, period_end, actual, facts, unconverted, elements, "
        "computed_at, frozen_at) SELECT goal_id, period_start, taken_at, actual, facts, unconverted, elements, "
        "taken_at, taken_at FROM period_snapshots")
    now = datetime.now(timezone.utc)
    op.bulk_insert(marks, [{"goal_id": None, "first_day": None, "last_day": None, "thaw": False, "marked_at": now}])
    op.drop_table('period_snapshots')


def downgrade() -> None:
    op.create_table('period_snapshots',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('goal_id', sa.Integer(), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('actual', goalgraph.db.types.Money(precision=20, scale=4), nullable=False),
    sa.Column('facts', sa.Integer(), nullable=False),
    sa.Column('unconverted', sa.JSON(), nullable=False),
    sa.Column('taken_at', goalgraph.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('elements', sa.JSON(), nullable=False, server_default=sa.text("'{}'")),
    sa.ForeignKeyConstraint(['goal_id'], ['goals.id'], name=op.f('fk_period_snapshots_goal_id_goals'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_period_snapshots')),
    sa.UniqueConstraint('goal_id', 'period_start', name=op.f('uq_period_snapshots_goal_id_period_start'))
    )
    op.execute(
        "INSERT INTO period_snapshots (goal_id, period_start, actual, facts, unconverted, taken_at, elements) "
        "SELECT goal_id, period_start, actual, facts, unconverted, frozen_at, elements FROM progress_store "
        "WHERE frozen_at IS NOT NULL")
    op.drop_index('ix_progress_marks_goal_id', table_name='progress_marks')
    op.drop_table('progress_marks')
    op.drop_table('progress_store')
