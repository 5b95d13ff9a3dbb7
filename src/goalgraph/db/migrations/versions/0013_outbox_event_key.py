"""notification outbox: the event key of each message, indexed (known events skip the recipients)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('notification_outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('event_key', sa.String(length=255), nullable=True))
        batch_op.create_index(batch_op.f('ix_notification_outbox_event_key'), ['event_key'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('notification_outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notification_outbox_event_key'))
        batch_op.drop_column('event_key')
