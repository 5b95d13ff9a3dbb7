"""dimensions and split targets

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import goalgraph.db.types


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('dimension_elements',
    sa.Column('dimension', sa.String(length=64), nullable=False),
    sa.Column('element', sa.String(length=200), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('dimension', 'element', name=op.f('pk_dimension_elements'))
    )
    op.create_table('goal_element_targets',
    sa.Column('goal_id', sa.Integer(), nullable=False),
    sa.Column('element', sa.String(length=200), nullable=False),
    sa.Column('target', goalgraph.db.types.Money(precision=20, scale=4), nullable=False),
    sa.CheckConstraint('target >= 0', name=op.f('ck_goal_element_targets_target_non_negative')),
    sa.ForeignKeyConstraint(['goal_id'], ['goals.id'], name=op.f('fk_goal_element_targets_goal_id_goals'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('goal_id', 'element', name=op.f('pk_goal_element_targets'))
    )
    with op.batch_alter_table('goals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('split_by', sa.String(length=64), nullable=True))

    with op.batch_alter_table('period_snapshots', schema=None) as batch_op:
        batch_op.add_column(sa.Column('elements', sa.JSON(), nullable=False, server_default=sa.text("'{}'")))




def downgrade() -> None:

    with op.batch_alter_table('period_snapshots', schema=None) as batch_op:
        batch_op.drop_column('elements')

    with op.batch_alter_table('goals', schema=None) as batch_op:
        batch_op.drop_column('split_by')

    op.drop_table('goal_element_targets')
    op.drop_table('dimension_elements')

