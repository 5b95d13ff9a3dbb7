"""goal notification settings, followers and mutes

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('goal_notification_settings',
    sa.Column('goal_id', sa.Integer(), nullable=False),
    sa.Column('settings', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['goal_id'], ['goals.id'], name=op.f('fk_goal_notification_settings_goal_id_goals'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('goal_id', name=op.f('pk_goal_notification_settings'))
    )
    op.create_table('goal_followers',
    sa.Column('goal_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['goal_id'], ['goals.id'], name=op.f('fk_goal_followers_goal_id_goals'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_goal_followers_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('goal_id', 'user_id', name=op.f('pk_goal_followers'))
    )
    op.create_index(op.f('ix_goal_followers_user_id'), 'goal_followers', ['user_id'], unique=False)
    op.create_table('notification_mutes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('goal_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_notification_mutes_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_mutes')),
    sa.UniqueConstraint('user_id', 'goal_id', 'kind', name=op.f('uq_notification_mutes_user_id_goal_id_kind'))
    )
    op.create_index('ix_notification_mutes_user', 'notification_mutes', ['user_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_notification_mutes_user', table_name='notification_mutes')
    op.drop_table('notification_mutes')
    op.drop_index(op.f('ix_goal_followers_user_id'), table_name='goal_followers')
    op.drop_table('goal_followers')
    op.drop_table('goal_notification_settings')
