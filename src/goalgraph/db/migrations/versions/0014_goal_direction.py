"""goals: a direction (higher or lower is better) of their own

Existing goals get HIGHER_IS_BETTER: the default direction of every first-party measure (a
migration cannot see the plugins' registry; a plugin whose measure is lower-is-better flips its
goals itself, see docs/goals.md "Direction").

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('goals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('direction', sa.String(length=16), nullable=False,
                                      server_default='HIGHER_IS_BETTER'))
        batch_op.create_check_constraint(batch_op.f('ck_goals_direction_known'), "direction IN ('HIGHER_IS_BETTER', 'LOWER_IS_BETTER')")


def downgrade() -> None:
    with op.batch_alter_table('goals', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_goals_direction_known'), type_='check')
        batch_op.drop_column('direction')
