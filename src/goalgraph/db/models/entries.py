"""Values entered by hand for manual goals (NPS, churned customers …), with their correction history."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from goalgraph.db.base import Base
from goalgraph.db.types import Money, UTCDateTime


class GoalEntry(Base):
    """One value entered for a goal on a local day.

    A correction is a new row (``replaces_id`` the row it corrects, ``origin_id`` the first row of
    the chain); the corrected row gets ``superseded_at``/``superseded_by_id`` and stops counting.
    A deleted entry keeps its row (``deleted_at``). Only rows neither superseded nor deleted count.
    """

    __tablename__ = "goal_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    goal_id: Mapped[int] = mapped_column(ForeignKey("goals.id", ondelete="CASCADE"))
    #: The local day the value is for: places it in a period.
    occurred_on: Mapped[date] = mapped_column(Date)
    value: Mapped[Decimal] = mapped_column(Money())
    note: Mapped[str | None] = mapped_column(String(500))
    #: Who entered it (None for a service token; ``entered_by`` names the subject either way).
    entered_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    entered_by: Mapped[str] = mapped_column(String(128))
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: The first entry of its correction chain (None: this row is the first).
    origin_id: Mapped[int | None] = mapped_column(ForeignKey("goal_entries.id"))
    #: The entry this one corrects.
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("goal_entries.id"))
    superseded_by_id: Mapped[int | None] = mapped_column(ForeignKey("goal_entries.id"))
    superseded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deleted_by: Mapped[str | None] = mapped_column(String(128))

    __table_args__ = (
        # The engine reads a goal's current entries by day.
        Index("ix_goal_entries_goal_day", "goal_id", "occurred_on"),
    )
