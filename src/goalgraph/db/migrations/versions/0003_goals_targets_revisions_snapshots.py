"""goals targets revisions snapshots

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import goalgraph.db.types


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('goals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('goal_type', sa.String(length=64), nullable=False),
    sa.Column('assignee_kind', sa.String(length=16), nullable=False),
    sa.Column('assignee_user_id', sa.Integer(), nullable=True),
    sa.Column('assignee_team_id', sa.Integer(), nullable=True),
    sa.Column('filters', sa.JSON(), nullable=False),
    sa.Column('measure', sa.String(length=64), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('interval', sa.String(length=16), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.Column('fiscal', sa.Boolean(), nullable=False),
    sa.Column('target', goalgraph.db.types.Money(precision=20, scale=4), nullable=False),
    sa.Column('stretch_target', goalgraph.db.types.Money(precision=20, scale=4), nullable=True),
    sa.Column('locked_at', goalgraph.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('locked_by', sa.String(length=128), nullable=True),
    sa.Column('created_at', goalgraph.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=128), nullable=True),
    sa.Column('updated_at', goalgraph.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('deleted_at', goalgraph.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("(assignee_kind = 'USER' AND assignee_user_id IS NOT NULL AND assignee_team_id IS NULL) OR (assignee_kind = 'TEAM' AND assignee_team_id IS NOT NULL AND assignee_user_id IS NULL) OR (assignee_kind = 'COMPANY' AND assignee_user_id IS NULL AND assignee_team_id IS NULL)", name=op.f('ck_goals_assignee_consistent')),
    sa.CheckConstraint('target >= 0', name=op.f('ck_goals_target_non_negative')),
    sa.ForeignKeyConstraint(['assignee_team_id'], ['teams.id'], name=op.f('fk_goals_assignee_team_id_teams')),
    sa.ForeignKeyConstraint(['assignee_user_id'], ['users.id'], name=op.f('fk_goals_assignee_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_goals'))
    )
    with op.batch_alter_table('goals', schema=None) as batch_op:
        batch_op.create_index('ix_goals_assignee_team', ['assignee_team_id'], unique=False)
        batch_op.create_index('ix_goals_assignee_user', ['assignee_user_id'], unique=False)
        batch_op.create_index('ix_goals_type', ['goal_type'], unique=False)

    op.create_table('goal_period_targets',
    sa.Column('goal_id', sa.Integer(), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('target', goalgraph.db.types.Money(precision=20, scale=4), nullable=False),
    sa.CheckConstraint('target >= 0', name=op.f('ck_goal_period_targets_target_non_negative')),
    sa.ForeignKeyConstraint(['goal_id'], ['goals.id'], name=op.f('fk_goal_period_targets_goal_id_goals'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('goal_id', 'period_start', name=op.f('pk_goal_period_targets'))
    )
    op.create_table('goal_revisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('goal_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('changed_at', goalgraph.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('changed_by', sa.String(length=128), nullable=True),
    sa.Column('changes', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['goal_id'], ['goals.id'], name=op.f('fk_goal_revisions_goal_id_goals'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_goal_revisions'))
    )
    with op.batch_alter_table('goal_revisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_goal_revisions_goal_id'), ['goal_id'], unique=False)

    op.create_table('period_snapshots',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('goal_id', sa.Integer(), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('actual', goalgraph.db.types.Money(precision=20, scale=4), nullable=False),
    sa.Column('facts', sa.Integer(), nullable=False),
    sa.Column('unconverted', sa.JSON(), nullable=False),
    sa.Column('taken_at', goalgraph.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['goal_id'], ['goals.id'], name=op.f('fk_period_snapshots_goal_id_goals'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_period_snapshots')),
    sa.UniqueConstraint('goal_id', 'period_start', name=op.f('uq_period_snapshots_goal_id_period_start'))
    )



def downgrade() -> None:

    op.drop_table('period_snapshots')
    with op.batch_alter_table('goal_revisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_goal_revisions_goal_id'))

    op.drop_table('goal_revisions')
    op.drop_table('goal_period_targets')
    with op.batch_alter_table('goals', schema=None) as batch_op:
        batch_op.drop_index('ix_goals_type')
        batch_op.drop_index('ix_goals_assignee_user')
        batch_op.drop_index('ix_goals_assignee_team')

    op.drop_table('goals')

