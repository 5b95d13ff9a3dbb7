"""goal status marks

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""

from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import goalgraph.db.types


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('goal_status_marks',
    sa.Column('goal_id', sa.Integer(), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('changed_at', goalgraph.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['goal_id'], ['goals.id'], name=op.f('fk_goal_status_marks_goal_id_goals'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('goal_id', 'period_start', name=op.f('pk_goal_status_marks'))
    )



def downgrade() -> None:

    op.drop_table('goal_status_marks')

