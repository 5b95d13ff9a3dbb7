"""The service plugin's own fact table: support tickets.

The model derives from goalgraph's declarative ``Base`` so it can reference the core tables
(``users``, ``pipelines``, ``stages``) and get the core's constraint names. The table is created by
this plugin's own Alembic branch (``migrations/``, label ``service``), never by the core's.
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from goalgraph.db.base import Base
from goalgraph.db.models import EXTERNAL_ID_LENGTH
from goalgraph.db.types import Money, UTCDateTime


class TicketStatus(str, enum.Enum):
    """Where a ticket stands. Only CLOSED tickets (with ``closed_at``) count as closed."""

    OPEN = "OPEN"
    PENDING = "PENDING"
    CLOSED = "CLOSED"


class TicketPriority(str, enum.Enum):
    """How urgent a ticket is."""

    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    URGENT = "URGENT"


class TicketChannel(str, enum.Enum):
    """Where a ticket came from."""

    EMAIL = "EMAIL"
    CHAT = "CHAT"
    PHONE = "PHONE"
    FORM = "FORM"
    OTHER = "OTHER"


STATUSES = tuple(s.value for s in TicketStatus)
PRIORITIES = tuple(p.value for p in TicketPriority)
CHANNELS = tuple(c.value for c in TicketChannel)


def _known(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Ticket(Base):
    """A support ticket: who handles it, in which (ticket) pipeline and stage, and when it was answered and closed.

    ``first_response_hours`` and ``close_hours`` are derived from the timestamps when a ticket is
    written (exact, four decimals, null until answered / closed), so goal sources stay plain,
    portable SQL: an average is a sum and a count like any other measure.
    """

    #: The column naming the credited user: who may see a row is decided by it (access.policy.row_condition).
    credited_user = "owner_id"

    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The CRM's id of the ticket: re-sending it updates the row.
    external_id: Mapped[str] = mapped_column(String(EXTERNAL_ID_LENGTH), unique=True)
    subject: Mapped[str] = mapped_column(String(300))
    #: A pipeline of the core's ``pipelines`` (ticket pipelines are pipelines like deal pipelines).
    pipeline_id: Mapped[int] = mapped_column(ForeignKey("pipelines.id"))
    stage_id: Mapped[int | None] = mapped_column(ForeignKey("stages.id"))
    priority: Mapped[str | None] = mapped_column(String(16))
    channel: Mapped[str | None] = mapped_column(String(16))
    #: Who handles it: the goal's credited user.
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16))
    #: Hours from created_at to first_response_at (null until answered); exact, fixed-point like Money.
    first_response_hours: Mapped[Decimal | None] = mapped_column(Money())
    #: Hours from created_at to closed_at (null until closed).
    close_hours: Mapped[Decimal | None] = mapped_column(Money())
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: The CRM's timestamp of this version; older updates are ignored.
    source_updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        CheckConstraint(_known("status", STATUSES), name="status_known"),
        CheckConstraint(f"priority IS NULL OR {_known('priority', PRIORITIES)}", name="priority_known"),
        CheckConstraint(f"channel IS NULL OR {_known('channel', CHANNELS)}", name="channel_known"),
        CheckConstraint("first_response_hours IS NULL OR first_response_hours >= 0", name="first_response_non_negative"),
        CheckConstraint("close_hours IS NULL OR close_hours >= 0", name="close_non_negative"),
        # The goal types credit the owner and place tickets by one of these timestamps: index each pair.
        Index("ix_tickets_owner_created", "owner_id", "created_at"),
        Index("ix_tickets_owner_first_response", "owner_id", "first_response_at"),
        Index("ix_tickets_owner_closed", "owner_id", "closed_at"),
        Index("ix_tickets_pipeline", "pipeline_id"),
        Index("ix_tickets_stage", "stage_id"),
    )
