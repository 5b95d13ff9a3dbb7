"""Leaderboards: users or teams ranked for one goal type and measure over one period.

Ranked *by actual*: every active user (or every team) is measured by the engine in one batch — the
same placement, filters and conversion as goals. Ranked *by attainment*: the user (or team) goals of
that goal type and measure running in the period, by actual ÷ target of that period (goals with a
zero target have no attainment and come last).

Order follows the board's direction (:func:`goalgraph.progress.status.rules_for`): the one asked for,
else the measure's default; lower-is-better boards rank the lowest first. By attainment, only goals of
that direction run (a cap's 80 % and a quota's 80 % are not the same feat). Ties share
a rank and the next rank skips ("1, 2, 2, 4": competition ranking); within a tie entries are listed
by name. Ranks are computed over every entrant before the viewer's sight is applied, so a viewer who
sees only themselves still sees their true rank.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from goalgraph.db.models import Goal, Team, User
from goalgraph.goals.schedule import calendar_of
from goalgraph.organisation import OrganisationSettings
from goalgraph.periods import Interval, Period, period_containing, periods_for
from goalgraph.progress.engine import Assignee, AssigneeKind, GoalQuery, compute_actuals
from goalgraph.progress.service import compute_progress
from goalgraph.progress.status import rules_for
from goalgraph.registry import Direction, Registry


class RankBy(str, enum.Enum):
    ACTUAL = "ACTUAL"
    ATTAINMENT = "ATTAINMENT"


class Entrants(str, enum.Enum):
    USERS = "USERS"
    TEAMS = "TEAMS"


@dataclass(frozen=True)
class Entry:
    """One ranked user or team."""

    rank: int
    user_id: int | None
    team_id: int | None
    #: The user's or team's CRM id.
    external_id: str
    name: str
    actual: Decimal
    target: Decimal | None
    ratio: Decimal | None
    goal_id: int | None = None


@dataclass(frozen=True)
class Board:
    period: Period
    entries: list[Entry]
    direction: Direction = Direction.HIGHER_IS_BETTER


class LeaderboardError(ValueError):
    """A leaderboard that cannot be made (unknown goal type or measure, money without a currency)."""


def ranked(items: Sequence[tuple[Decimal | None, str, dict]], lower_is_better: bool) -> list[tuple[int, dict]]:
    """Competition ranks ("1, 2, 2, 4") by value, best first; None values last (all sharing the last rank)."""
    present = sorted((i for i in items if i[0] is not None), key=lambda i: (i[0] if lower_is_better else -i[0], i[1]))
    out: list[tuple[int, dict]] = []
    previous: Decimal | None = None
    rank = 0
    for position, (value, _, data) in enumerate(present, start=1):
        if value != previous:
            rank, previous = position, value
        out.append((rank, data))
    missing = sorted((i for i in items if i[0] is None), key=lambda i: i[1])
    out += [(len(present) + 1, data) for _, _, data in missing]
    return out


async def leaderboard(session: AsyncSession, registry: Registry, org: OrganisationSettings, now: datetime, *,
                      goal_type: str, measure: str, interval: Interval, on: datetime, rank_by: RankBy,
                      entrants: Entrants, currency: str | None, filters: Mapping[str, Sequence[str]],
                      direction: Direction | None = None) -> Board:
    """The ranked board (every entrant; the caller applies what the viewer may see); ``direction``: None for
    the measure's default."""
    kind = registry.goal_types.get(goal_type)
    if kind is None:
        raise LeaderboardError(f"goalType: unknown goal type {goal_type!r}")
    m = kind.measure(measure)
    if m is None:
        raise LeaderboardError(f"measure: goal type {goal_type} has no measure {measure!r}")
    lower = rules_for(m, direction).lower_is_better
    chosen = Direction.LOWER_IS_BETTER if lower else Direction.HIGHER_IS_BETTER
    currency = (currency or org.default_currency) if m.money else None
    cal = calendar_of(org)
    start, end = period_containing(cal, interval, on)
    period = periods_for(cal, interval, start, end)[0]
    assignee = AssigneeKind.USER if entrants is Entrants.USERS else AssigneeKind.TEAM
    if rank_by is RankBy.ACTUAL:
        model = User if entrants is Entrants.USERS else Team
        query = select(model.id, model.external_id, model.name)
        if model is User:
            query = query.where(User.active.is_(True))
        who = (await session.execute(query)).all()
        queries = [GoalQuery(key=i, goal_type=goal_type, measure=measure, assignee=Assignee(assignee, i),
                             periods=[period], filters=dict(filters), currency=currency) for i, _, _ in who]
        actuals = await compute_actuals(session, registry, queries) if queries else {}
        items = [(actuals[(i, period.index)].value, name, {"id": i, "external_id": ext, "name": name,
                  "actual": actuals[(i, period.index)].value}) for i, ext, name in who]
        rows = ranked(items, lower)
        return Board(period, [_entry(rank, d, entrants) for rank, d in rows], chosen)

    goals = list((await session.scalars(select(Goal).where(
        Goal.deleted_at.is_(None), Goal.goal_type == goal_type, Goal.measure == measure,
        Goal.assignee_kind == assignee.value, Goal.direction == chosen.value, Goal.start_date <= period.end_date,
        (Goal.end_date.is_(None)) | (Goal.end_date >= period.start_date),
        *( [Goal.currency == currency] if currency else [])).order_by(Goal.id))).all())
    progress = await compute_progress(session, registry, goals, now, window=(period.start_date, period.end_date),
                                      organisation=org) if goals else {}
    names = await _names(session, goals, entrants)
    items = []
    for goal in goals:
        periods = [p for p in progress[goal.id].periods if p.period.start_date <= period.start_date <= p.period.end_date]
        if not periods:
            continue
        p = periods[0]
        owner = goal.assignee_user_id if entrants is Entrants.USERS else goal.assignee_team_id
        ext, name = names.get(owner, ("", ""))
        items.append((p.ratio, name, {"id": owner, "external_id": ext, "name": name, "actual": p.actual, "target": p.target,
                                      "ratio": p.ratio, "goal_id": goal.id}))
    return Board(period, [_entry(rank, d, entrants) for rank, d in ranked(items, lower)], chosen)


async def _names(session: AsyncSession, goals: Sequence[Goal], entrants: Entrants) -> dict[int, tuple[str, str]]:
    model = User if entrants is Entrants.USERS else Team
    ids = {g.assignee_user_id if entrants is Entrants.USERS else g.assignee_team_id for g in goals}
    if not ids:
        return {}
    rows = await session.execute(select(model.id, model.external_id, model.name).where(model.id.in_(sorted(ids))))
    return {i: (ext, name) for i, ext, name in rows}


def _entry(rank: int, d: dict, entrants: Entrants) -> Entry:
    users = entrants is Entrants.USERS
    return Entry(rank=rank, user_id=d["id"] if users else None, team_id=None if users else d["id"],
                 external_id=d["external_id"], name=d["name"],
                 actual=d["actual"], target=d.get("target"), ratio=d.get("ratio"), goal_id=d.get("goal_id"))


