"""tickets table

The first revision of the ``service`` branch: goalgraph_service's own migrations, separate from the
core's. ``down_revision = None`` starts the branch; ``depends_on = "0001"`` (the core revision that
creates ``users``, ``pipelines`` and ``stages``, which ``tickets`` references) makes Alembic apply
the core first on upgrade and revert this branch first on downgrade.

Revision ID: service_0001
Revises:
Depends on: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import goalgraph.db.types


revision = "service_0001"
down_revision = None
branch_labels = ("service",)
depends_on = "0001"


def upgrade() -> None:
    op.create_table(
        "tickets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("pipeline_id", sa.Integer(), nullable=False),
        sa.Column("stage_id", sa.Integer(), nullable=True),
        sa.Column("priority", sa.String(length=16), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=True),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("created_at", goalgraph.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("first_response_at", goalgraph.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", goalgraph.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("first_response_hours", goalgraph.db.types.Money(precision=20, scale=4), nullable=True),
        sa.Column("close_hours", goalgraph.db.types.Money(precision=20, scale=4), nullable=True),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("source_updated_at", goalgraph.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("channel IS NULL OR channel IN ('EMAIL', 'CHAT', 'PHONE', 'FORM', 'OTHER')",
                           name=op.f("ck_tickets_channel_known")),
        sa.CheckConstraint("priority IS NULL OR priority IN ('LOW', 'MEDIUM', 'HIGH', 'URGENT')",
                           name=op.f("ck_tickets_priority_known")),
        sa.CheckConstraint("status IN ('OPEN', 'PENDING', 'CLOSED')", name=op.f("ck_tickets_status_known")),
        sa.CheckConstraint("close_hours IS NULL OR close_hours >= 0", name=op.f("ck_tickets_close_non_negative")),
        sa.CheckConstraint("first_response_hours IS NULL OR first_response_hours >= 0",
                           name=op.f("ck_tickets_first_response_non_negative")),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name=op.f("fk_tickets_owner_id_users")),
        sa.ForeignKeyConstraint(["pipeline_id"], ["pipelines.id"], name=op.f("fk_tickets_pipeline_id_pipelines")),
        sa.ForeignKeyConstraint(["stage_id"], ["stages.id"], name=op.f("fk_tickets_stage_id_stages")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tickets")),
        sa.UniqueConstraint("external_id", name=op.f("uq_tickets_external_id")),
    )
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.create_index("ix_tickets_owner_created", ["owner_id", "created_at"], unique=False)
        batch_op.create_index("ix_tickets_owner_first_response", ["owner_id", "first_response_at"], unique=False)
        batch_op.create_index("ix_tickets_owner_closed", ["owner_id", "closed_at"], unique=False)
        batch_op.create_index("ix_tickets_pipeline", ["pipeline_id"], unique=False)
        batch_op.create_index("ix_tickets_stage", ["stage_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_tickets_stage")
        batch_op.drop_index("ix_tickets_pipeline")
        batch_op.drop_index("ix_tickets_owner_closed")
        batch_op.drop_index("ix_tickets_owner_first_response")
        batch_op.drop_index("ix_tickets_owner_created")
    op.drop_table("tickets")
