"""quotes table

The first revision of the ``quotes`` branch: goalgraph-quotes' own migrations, separate from the
core's. ``down_revision = None`` starts the branch; ``depends_on = "0001"`` (the core revision
that creates ``users`` and ``deals``, which ``quotes`` references) makes Alembic apply the core
first on upgrade and revert this branch first on downgrade.

Revision ID: quotes_0001
Revises:
Depends on: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import goalgraph.db.types


revision = "quotes_0001"
down_revision = None
branch_labels = ("quotes",)
depends_on = "0001"


def upgrade() -> None:
    op.create_table(
        "quotes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("deal_id", sa.Integer(), nullable=True),
        sa.Column("amount", goalgraph.db.types.Money(precision=20, scale=4), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("sent_at", goalgraph.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("source_updated_at", goalgraph.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_quotes_amount_non_negative")),
        sa.CheckConstraint("status IN ('DRAFT', 'SENT', 'ACCEPTED', 'DECLINED')", name=op.f("ck_quotes_status_known")),
        sa.ForeignKeyConstraint(["deal_id"], ["deals.id"], name=op.f("fk_quotes_deal_id_deals"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name=op.f("fk_quotes_owner_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quotes")),
        sa.UniqueConstraint("external_id", name=op.f("uq_quotes_external_id")),
    )
    with op.batch_alter_table("quotes", schema=None) as batch_op:
        batch_op.create_index("ix_quotes_owner_sent", ["owner_id", "sent_at"], unique=False)
        batch_op.create_index("ix_quotes_deal_id", ["deal_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("quotes", schema=None) as batch_op:
        batch_op.drop_index("ix_quotes_deal_id")
        batch_op.drop_index("ix_quotes_owner_sent")
    op.drop_table("quotes")
