"""The progress store: stored actuals per (goal, period) and the marks that say which are stale."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Date, ForeignKey, Index, Integer
from sqlalchemy.orm import Mapped, mapped_column

from goalgraph.db.base import Base
from goalgraph.db.types import Money, UTCDateTime

#: An auto-incrementing 64-bit key (SQLite's rowid alias must be spelled INTEGER).
BigKey = BigInteger().with_variant(Integer(), "sqlite")


class StoredProgress(Base):
    """One goal's actual in one period (split goals: per element too), as the engine last computed it.

    A row is fresh unless a :class:`ProgressMark` covers it; a frozen row (a period closed longer than
    the grace time ago) is moved only by marks that ``thaw`` (definition, calendar, rates, an admin).
    """

    __tablename__ = "progress_store"

    goal_id: Mapped[int] = mapped_column(ForeignKey("goals.id", ondelete="CASCADE"), primary_key=True)
    period_start: Mapped[date] = mapped_column(Date, primary_key=True)
    #: The period's end instant (exclusive): when it may be frozen.
    period_end: Mapped[datetime] = mapped_column(UTCDateTime())
    actual: Mapped[Decimal] = mapped_column(Money())
    facts: Mapped[int] = mapped_column(Integer)
    unconverted: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    #: Split goals: {element: {"actual": "12.5", "facts": 3}}.
    elements: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: Set when the period had closed (plus the grace time) at computation: later facts no longer move it.
    frozen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ProgressMark(Base):
    """Rows made stale by a committed change, written in that change's transaction.

    Covers the periods of ``goal_id`` (None: every goal) that overlap ``first_day``..``last_day``
    (local dates, None: unbounded). The recompute worker deletes the marks it consumed, in the
    transaction that writes the recomputed rows; a mark written meanwhile stays.
    """

    __tablename__ = "progress_marks"

    id: Mapped[int] = mapped_column(BigKey, primary_key=True, autoincrement=True)
    goal_id: Mapped[int | None] = mapped_column(ForeignKey("goals.id", ondelete="CASCADE"))
    first_day: Mapped[date | None] = mapped_column(Date)
    last_day: Mapped[date | None] = mapped_column(Date)
    #: Also moves frozen rows (the goal's definition, the calendar or a rate changed; an admin asked).
    thaw: Mapped[bool] = mapped_column(Boolean, default=False)
    marked_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_progress_marks_goal_id", "goal_id"),)
