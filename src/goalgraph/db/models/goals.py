"""Goals, their per-period targets and target revisions (their results: models.progress)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from goalgraph.db.base import Base
from goalgraph.db.types import Money, UTCDateTime


class Goal(Base):
    """A goal: what is measured (type, measure, filters), for whom, over which periods, against which target."""

    __tablename__ = "goals"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    goal_type: Mapped[str] = mapped_column(String(64))
    #: USER, TEAM or COMPANY.
    assignee_kind: Mapped[str] = mapped_column(String(16))
    assignee_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    assignee_team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    #: Filter key → list of values (external ids or texts), as the goal type accepts them.
    filters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    measure: Mapped[str] = mapped_column(String(64))
    currency: Mapped[str | None] = mapped_column(String(3))
    #: WEEKLY, MONTHLY, QUARTERLY, YEARLY or CUSTOM (one period start..end).
    interval: Mapped[str] = mapped_column(String(16))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    fiscal: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The target of every period without an override ("apply to all").
    target: Mapped[Decimal] = mapped_column(Money())
    stretch_target: Mapped[Decimal | None] = mapped_column(Money())
    #: HIGHER_IS_BETTER or LOWER_IS_BETTER (goalgraph.registry.Direction): which way the actual is better.
    direction: Mapped[str] = mapped_column(String(16), default="HIGHER_IS_BETTER", server_default="HIGHER_IS_BETTER")
    #: Dimension key the goal is split by (separate targets per element), if any.
    split_by: Mapped[str | None] = mapped_column(String(64))
    #: The goal this one breaks down (company → team → user; same type, measure, filters, currency, interval).
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("goals.id", ondelete="SET NULL"), index=True)
    locked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    locked_by: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str | None] = mapped_column(String(128))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        CheckConstraint("target >= 0", name="target_non_negative"),
        CheckConstraint("direction IN ('HIGHER_IS_BETTER', 'LOWER_IS_BETTER')", name="direction_known"),
        CheckConstraint(
            "(assignee_kind = 'USER' AND assignee_user_id IS NOT NULL AND assignee_team_id IS NULL) OR "
            "(assignee_kind = 'TEAM' AND assignee_team_id IS NOT NULL AND assignee_user_id IS NULL) OR "
            "(assignee_kind = 'COMPANY' AND assignee_user_id IS NULL AND assignee_team_id IS NULL)",
            name="assignee_consistent",
        ),
        Index("ix_goals_assignee_user", "assignee_user_id"),
        Index("ix_goals_assignee_team", "assignee_team_id"),
        Index("ix_goals_type", "goal_type"),
    )


class GoalPeriodTarget(Base):
    """A per-period target override (seasonality), keyed by the period's first local day."""

    __tablename__ = "goal_period_targets"

    goal_id: Mapped[int] = mapped_column(ForeignKey("goals.id", ondelete="CASCADE"), primary_key=True)
    period_start: Mapped[date] = mapped_column(Date, primary_key=True)
    target: Mapped[Decimal] = mapped_column(Money())

    __table_args__ = (CheckConstraint("target >= 0", name="target_non_negative"),)


class GoalRevision(Base):
    """One change to a goal's targets (or lock state): who, when, what changed from what to what."""

    __tablename__ = "goal_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    goal_id: Mapped[int] = mapped_column(ForeignKey("goals.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    changed_by: Mapped[str | None] = mapped_column(String(128))
    #: [{"field": "target" | "period 2026-03-01" | …, "old": "10", "new": "12"}]
    changes: Mapped[list[dict[str, Any]]] = mapped_column(JSON)


class GoalElementTarget(Base):
    """For a goal split by a dimension: the target of one element, in every period."""

    __tablename__ = "goal_element_targets"

    goal_id: Mapped[int] = mapped_column(ForeignKey("goals.id", ondelete="CASCADE"), primary_key=True)
    element: Mapped[str] = mapped_column(String(200), primary_key=True)
    target: Mapped[Decimal] = mapped_column(Money())

    __table_args__ = (CheckConstraint("target >= 0", name="target_non_negative"),)


class DimensionElement(Base):
    """An element of a dimension added by an admin (on top of the plugin's registered ones)."""

    __tablename__ = "dimension_elements"

    dimension: Mapped[str] = mapped_column(String(64), primary_key=True)
    element: Mapped[str] = mapped_column(String(200), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class GoalStatusMark(Base):
    """The last status seen for a goal's period, to notice changes (goalgraph_goal_status_changed)."""

    __tablename__ = "goal_status_marks"

    goal_id: Mapped[int] = mapped_column(ForeignKey("goals.id", ondelete="CASCADE"), primary_key=True)
    period_start: Mapped[date] = mapped_column(Date, primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime())
