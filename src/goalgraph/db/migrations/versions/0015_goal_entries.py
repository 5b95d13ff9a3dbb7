"""manual goals: values entered by hand per goal (goal_entries), corrections kept as history

Revision ID: 0015
Revises: 0013
Create Date: 2026-12-01

(Written beside another branch's 0014; rechain ``down_revision`` when both land.)
"""

from __future__ import annotations

from alembic import op
import sqlalchemy as sa

import goalgraph.db.types


revision = '0015'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('goal_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('goal_id', sa.Integer(), nullable=False),
    sa.Column('occurred_on', sa.Date(), nullable=False),
    sa.Column('value', goalgraph.db.types.Money(precision=20, scale=4), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.Column('entered_by_user_id', sa.Integer(), nullable=True),
    sa.Column('entered_by', sa.String(length=128), nullable=False),
    sa.Column('entered_at', goalgraph.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('origin_id', sa.Integer(), nullable=True),
    sa.Column('replaces_id', sa.Integer(), nullable=True),
    sa.Column('superseded_by_id', sa.Integer(), nullable=True),
    sa.Column('superseded_at', goalgraph.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('deleted_at', goalgraph.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('deleted_by', sa.String(length=128), nullable=True),
    sa.ForeignKeyConstraint(['goal_id'], ['goals.id'], name=op.f('fk_goal_entries_goal_id_goals'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['entered_by_user_id'], ['users.id'], name=op.f('fk_goal_entries_entered_by_user_id_users'),
                            ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['origin_id'], ['goal_entries.id'], name=op.f('fk_goal_entries_origin_id_goal_entries')),
    sa.ForeignKeyConstraint(['replaces_id'], ['goal_entries.id'],
                            name=op.f('fk_goal_entries_replaces_id_goal_entries')),
    sa.ForeignKeyConstraint(['superseded_by_id'], ['goal_entries.id'],
                            name=op.f('fk_goal_entries_superseded_by_id_goal_entries')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_goal_entries'))
    )
    op.create_index('ix_goal_entries_goal_day', 'goal_entries', ['goal_id', 'occurred_on'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_goal_entries_goal_day', table_name='goal_entries')
    op.drop_table('goal_entries')
