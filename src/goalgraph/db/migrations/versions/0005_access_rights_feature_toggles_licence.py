"""access rights feature toggles licence

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import goalgraph.db.types


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('feature_toggles',
    sa.Column('feature', sa.String(length=64), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('changed_at', goalgraph.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('changed_by', sa.String(length=128), nullable=True),
    sa.PrimaryKeyConstraint('feature', name=op.f('pk_feature_toggles'))
    )
    op.create_table('installed_licence',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=8000), nullable=False),
    sa.Column('installed_at', goalgraph.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('installed_by', sa.String(length=128), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_installed_licence'))
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_admin', sa.Boolean(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('can_see_company_statistics', sa.Boolean(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('can_see_other_users_statistics', sa.Boolean(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('can_lock_targets', sa.Boolean(), server_default='0', nullable=False))




def downgrade() -> None:

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('can_lock_targets')
        batch_op.drop_column('can_see_other_users_statistics')
        batch_op.drop_column('can_see_company_statistics')
        batch_op.drop_column('is_admin')

    op.drop_table('installed_licence')
    op.drop_table('feature_toggles')

