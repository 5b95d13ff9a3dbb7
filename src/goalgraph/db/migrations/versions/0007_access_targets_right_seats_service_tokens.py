"""access: targets right, seat assignments, service subjects, token revocation

Existing users get the Targets right (server default true) so an upgrade locks nobody out.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import goalgraph.db.types


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('can_use_targets', sa.Boolean(), server_default='1', nullable=False))
    op.create_table('seat_assignments',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('assigned_at', goalgraph.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('assigned_by', sa.String(length=128), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_seat_assignments_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_seat_assignments'))
    )
    op.create_table('service_subjects',
    sa.Column('subject', sa.String(length=128), nullable=False),
    sa.Column('description', sa.String(length=200), nullable=True),
    sa.Column('registered_at', goalgraph.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('registered_by', sa.String(length=128), nullable=True),
    sa.PrimaryKeyConstraint('subject', name=op.f('pk_service_subjects'))
    )
    op.create_table('revoked_tokens',
    sa.Column('jti', sa.String(length=128), nullable=False),
    sa.Column('revoked_at', goalgraph.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_by', sa.String(length=128), nullable=True),
    sa.PrimaryKeyConstraint('jti', name=op.f('pk_revoked_tokens'))
    )
    op.create_table('token_cutoffs',
    sa.Column('subject', sa.String(length=128), nullable=False),
    sa.Column('not_before', goalgraph.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('changed_by', sa.String(length=128), nullable=True),
    sa.PrimaryKeyConstraint('subject', name=op.f('pk_token_cutoffs'))
    )


def downgrade() -> None:
    op.drop_table('token_cutoffs')
    op.drop_table('revoked_tokens')
    op.drop_table('service_subjects')
    op.drop_table('seat_assignments')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('can_use_targets')
