"""initial facts and organisation

Revision ID: 0001
Revises: 
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import goalgraph.db.types


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('organisation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('default_currency', sa.String(length=3), nullable=False),
    sa.Column('time_zone', sa.String(length=64), nullable=False),
    sa.Column('week_start', sa.SmallInteger(), nullable=False),
    sa.Column('fiscal_year_start_month', sa.SmallInteger(), nullable=False),
    sa.Column('updated_at', goalgraph.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('fiscal_year_start_month BETWEEN 1 AND 12', name=op.f('ck_organisation_fiscal_month_range')),
    sa.CheckConstraint('week_start BETWEEN 0 AND 6', name=op.f('ck_organisation_week_start_range')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_organisation'))
    )
    op.create_table('pipelines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('external_id', sa.String(length=128), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('source_updated_at', goalgraph.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pipelines')),
    sa.UniqueConstraint('external_id', name=op.f('uq_pipelines_external_id'))
    )
    op.create_table('teams',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('external_id', sa.String(length=128), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('source_updated_at', goalgraph.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_teams')),
    sa.UniqueConstraint('external_id', name=op.f('uq_teams_external_id'))
    )
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('external_id', sa.String(length=128), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('source_updated_at', goalgraph.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('external_id', name=op.f('uq_users_external_id'))
    )
    op.create_table('stages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('external_id', sa.String(length=128), nullable=False),
    sa.Column('pipeline_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('probability', sa.SmallInteger(), nullable=False),
    sa.Column('source_updated_at', goalgraph.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('probability >= 0 AND probability <= 100', name=op.f('ck_stages_probability_range')),
    sa.ForeignKeyConstraint(['pipeline_id'], ['pipelines.id'], name=op.f('fk_stages_pipeline_id_pipelines'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stages')),
    sa.UniqueConstraint('external_id', name=op.f('uq_stages_external_id'))
    )
    with op.batch_alter_table('stages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stages_pipeline_id'), ['pipeline_id'], unique=False)

    op.create_table('team_memberships',
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('is_leader', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_team_memberships_team_id_teams'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_team_memberships_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('team_id', 'user_id', name=op.f('pk_team_memberships'))
    )
    with op.batch_alter_table('team_memberships', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_team_memberships_user_id'), ['user_id'], unique=False)

    op.create_table('deals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('external_id', sa.String(length=128), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('value', goalgraph.db.types.Money(precision=20, scale=4), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('cost', goalgraph.db.types.Money(precision=20, scale=4), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('pipeline_id', sa.Integer(), nullable=False),
    sa.Column('stage_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('OPEN', 'WON', 'LOST', 'STALLED', name='deal_status', native_enum=False, length=16), nullable=False),
    sa.Column('added_at', goalgraph.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('won_at', goalgraph.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('lost_at', goalgraph.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('expected_close_date', sa.Date(), nullable=True),
    sa.Column('attributes', sa.JSON(), nullable=False),
    sa.Column('source_updated_at', goalgraph.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('cost >= 0', name=op.f('ck_deals_cost_non_negative')),
    sa.CheckConstraint('value >= 0', name=op.f('ck_deals_value_non_negative')),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_deals_owner_id_users')),
    sa.ForeignKeyConstraint(['pipeline_id'], ['pipelines.id'], name=op.f('fk_deals_pipeline_id_pipelines')),
    sa.ForeignKeyConstraint(['stage_id'], ['stages.id'], name=op.f('fk_deals_stage_id_stages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deals')),
    sa.UniqueConstraint('external_id', name=op.f('uq_deals_external_id'))
    )
    with op.batch_alter_table('deals', schema=None) as batch_op:
        batch_op.create_index('ix_deals_owner_added', ['owner_id', 'added_at'], unique=False)
        batch_op.create_index('ix_deals_owner_won', ['owner_id', 'won_at'], unique=False)
        batch_op.create_index('ix_deals_pipeline_status', ['pipeline_id', 'status'], unique=False)
        batch_op.create_index('ix_deals_stage', ['stage_id'], unique=False)

    op.create_table('activities',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('external_id', sa.String(length=128), nullable=False),
    sa.Column('type', sa.String(length=64), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('deal_id', sa.Integer(), nullable=True),
    sa.Column('added_at', goalgraph.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('due_at', goalgraph.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('done_at', goalgraph.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('attributes', sa.JSON(), nullable=False),
    sa.Column('source_updated_at', goalgraph.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['deal_id'], ['deals.id'], name=op.f('fk_activities_deal_id_deals'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_activities_owner_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_activities')),
    sa.UniqueConstraint('external_id', name=op.f('uq_activities_external_id'))
    )
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_activities_deal_id'), ['deal_id'], unique=False)
        batch_op.create_index('ix_activities_owner_added', ['owner_id', 'added_at'], unique=False)
        batch_op.create_index('ix_activities_owner_done', ['owner_id', 'done_at'], unique=False)
        batch_op.create_index('ix_activities_type', ['type'], unique=False)

    op.create_table('deal_stage_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('deal_id', sa.Integer(), nullable=False),
    sa.Column('pipeline_id', sa.Integer(), nullable=False),
    sa.Column('stage_id', sa.Integer(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('entered_at', goalgraph.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['deal_id'], ['deals.id'], name=op.f('fk_deal_stage_changes_deal_id_deals'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_deal_stage_changes_owner_id_users')),
    sa.ForeignKeyConstraint(['pipeline_id'], ['pipelines.id'], name=op.f('fk_deal_stage_changes_pipeline_id_pipelines')),
    sa.ForeignKeyConstraint(['stage_id'], ['stages.id'], name=op.f('fk_deal_stage_changes_stage_id_stages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deal_stage_changes')),
    sa.UniqueConstraint('deal_id', 'stage_id', 'entered_at', name=op.f('uq_deal_stage_changes_deal_id_stage_id_entered_at'))
    )
    with op.batch_alter_table('deal_stage_changes', schema=None) as batch_op:
        batch_op.create_index('ix_deal_stage_changes_owner_entered', ['owner_id', 'entered_at'], unique=False)
        batch_op.create_index('ix_deal_stage_changes_stage_entered', ['stage_id', 'entered_at'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('deal_stage_changes', schema=None) as batch_op:
        batch_op.drop_index('ix_deal_stage_changes_stage_entered')
        batch_op.drop_index('ix_deal_stage_changes_owner_entered')

    op.drop_table('deal_stage_changes')
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.drop_index('ix_activities_type')
        batch_op.drop_index('ix_activities_owner_done')
        batch_op.drop_index('ix_activities_owner_added')
        batch_op.drop_index(batch_op.f('ix_activities_deal_id'))

    op.drop_table('activities')
    with op.batch_alter_table('deals', schema=None) as batch_op:
        batch_op.drop_index('ix_deals_stage')
        batch_op.drop_index('ix_deals_pipeline_status')
        batch_op.drop_index('ix_deals_owner_won')
        batch_op.drop_index('ix_deals_owner_added')

    op.drop_table('deals')
    with op.batch_alter_table('team_memberships', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_team_memberships_user_id'))

    op.drop_table('team_memberships')
    with op.batch_alter_table('stages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stages_pipeline_id'))

    op.drop_table('stages')
    op.drop_table('users')
    op.drop_table('teams')
    op.drop_table('pipelines')
    op.drop_table('organisation')

