"""The plugin's own fact table: quotes sent to customers.

The model derives from goalgraph's declarative ``Base`` so it can reference the core tables
(``users``, ``deals``) by name and so the core's naming convention names its constraints. The
table itself is created by this plugin's own migration (``migrations/``), never by the core's.
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from goalgraph.db.base import Base
from goalgraph.db.models import EXTERNAL_ID_LENGTH
from goalgraph.db.types import Money, UTCDateTime


class QuoteStatus(str, enum.Enum):
    """Where a quote stands. Only quotes that were sent (``sent_at`` set) count."""

    DRAFT = "DRAFT"
    SENT = "SENT"
    ACCEPTED = "ACCEPTED"
    DECLINED = "DECLINED"


STATUSES = tuple(s.value for s in QuoteStatus)


class Quote(Base):
    """A quote (offer) a salesperson sent, optionally about a deal."""

    __tablename__ = "quotes"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The CRM's id of the quote: re-sending it updates the row.
    external_id: Mapped[str] = mapped_column(String(EXTERNAL_ID_LENGTH), unique=True)
    #: Who sent it; the goal's credited user.
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    deal_id: Mapped[int | None] = mapped_column(ForeignKey("deals.id", ondelete="SET NULL"))
    amount: Mapped[Decimal] = mapped_column(Money())
    currency: Mapped[str] = mapped_column(String(3))
    #: When it was sent (None for drafts): places the quote in a period.
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16))
    #: The CRM's timestamp of this version; older updates are ignored.
    source_updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        CheckConstraint("amount >= 0", name="amount_non_negative"),
        CheckConstraint("status IN ('DRAFT', 'SENT', 'ACCEPTED', 'DECLINED')", name="status_known"),
        # The goal type places quotes by sent_at and credits the owner: index that pair.
        Index("ix_quotes_owner_sent", "owner_id", "sent_at"),
        Index("ix_quotes_deal_id", "deal_id"),
    )
