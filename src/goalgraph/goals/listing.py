"""The SQL that finds goals for lists: assignee, type, pipeline, timeframe, date range."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Select, cast, exists, func, literal_column, or_, select
from sqlalchemy.dialects.postgresql import JSONB

from goalgraph.db.models import Goal, Team, User


class Timeframe(str, enum.Enum):
    ACTIVE = "ACTIVE"
    PAST = "PAST"
    FUTURE = "FUTURE"


@dataclass
class GoalListFilter:
    """Conditions on the goals list; None means "any"."""

    assignee_kind: str | None = None
    assignee_id: str | None = None
    goal_type: str | None = None
    pipeline_id: str | None = None
    timeframe: Timeframe | None = None
    overlaps_from: date | None = None
    overlaps_to: date | None = None


def json_array_contains(dialect: str, col: Any, key: str, value: str) -> Any:
    """``col[key]`` (a JSON array) contains ``value`` — portable between SQLite and PostgreSQL."""
    if dialect == "postgresql":
        return cast(col, JSONB)[key].contains(func.jsonb_build_array(value))
    each = func.json_each(col, f"$.{key}").table_valued("value")
    return exists(select(literal_column("1")).select_from(each).where(each.c.value == value))


def goals_query(f: GoalListFilter, *, today: date, dialect: str) -> Select[Any]:
    """Live goals matching ``f`` (no ordering)."""
    query = select(Goal).where(Goal.deleted_at.is_(None))
    if f.assignee_kind is not None:
        query = query.where(Goal.assignee_kind == f.assignee_kind)
        if f.assignee_id is not None and f.assignee_kind == "USER":
            query = query.where(Goal.assignee_user_id == select(User.id).where(User.external_id == f.assignee_id)
                                .scalar_subquery())
        if f.assignee_id is not None and f.assignee_kind == "TEAM":
            query = query.where(Goal.assignee_team_id == select(Team.id).where(Team.external_id == f.assignee_id)
                                .scalar_subquery())
    if f.goal_type is not None:
        query = query.where(Goal.goal_type == f.goal_type)
    if f.pipeline_id is not None:
        query = query.where(json_array_contains(dialect, Goal.filters, "pipelines", f.pipeline_id))
    if f.timeframe is Timeframe.ACTIVE:
        query = query.where(Goal.start_date <= today, or_(Goal.end_date.is_(None), Goal.end_date >= today))
    elif f.timeframe is Timeframe.PAST:
        query = query.where(Goal.end_date < today)
    elif f.timeframe is Timeframe.FUTURE:
        query = query.where(Goal.start_date > today)
    if f.overlaps_to is not None:
        query = query.where(Goal.start_date <= f.overlaps_to)
    if f.overlaps_from is not None:
        query = query.where(or_(Goal.end_date.is_(None), Goal.end_date >= f.overlaps_from))
    return query
