"""Who counts for a goal: the one rule, in SQL and in Python.

A goal assigned to a user counts that user's facts; a team goal counts its current members'
facts; a company goal counts everyone's. The engine (which facts a goal adds up), live pushes
(which goals a batch of facts moves) and the status watch (which goals to check) all ask here.

``None`` stands for "everyone" (company goals), so callers never enumerate every user.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import ColumnElement, Integer, String, column, false, or_, select, union_all, values
from sqlalchemy.ext.asyncio import AsyncSession

from goalgraph.db.models import Goal, TeamMembership

USER, TEAM, COMPANY = "USER", "TEAM", "COMPANY"

#: Who counts for one goal: the users whose facts move it, or None for everyone (company goals).
Audience = frozenset[int] | None


def assignee_pairs(assignees: Any) -> Any:
    """(``g``, ``u``) rows for the user and team rows of ``assignees`` (columns ``g``, ``a_kind``, ``a_id``).

    Company rows yield nothing here: everyone counts, which the engine handles as a roll-up over
    all credited users instead of one row per user.
    """
    member = TeamMembership
    return union_all(
        select(assignees.c.g, assignees.c.a_id.label("u")).where(assignees.c.a_kind == USER),
        select(assignees.c.g, member.user_id.label("u")).join(member, member.team_id == assignees.c.a_id)
        .where(assignees.c.a_kind == TEAM),
    )


def assignees_values(rows: Iterable[tuple[int, str, int | None]], name: str = "ga") -> Any:
    """A VALUES clause of (g, a_kind, a_id) rows for :func:`assignee_pairs`."""
    return values(column("g", Integer), column("a_kind", String), column("a_id", Integer), name=name).data(
        [(g, kind, a_id if a_id is not None else 0) for g, kind, a_id in rows])


def _assignee(goal: Goal) -> tuple[str, int | None]:
    kind = goal.assignee_kind
    return kind, goal.assignee_user_id if kind == USER else goal.assignee_team_id if kind == TEAM else None


async def audiences(session: AsyncSession, goals: Iterable[Goal]) -> dict[int, Audience]:
    """Per goal id, whose facts move it as the goals and teams are stored now."""
    goals = list(goals)
    out: dict[int, Audience] = {g.id: None for g in goals if g.assignee_kind == COMPANY}
    rest = [(g.id, *_assignee(g)) for g in goals if g.assignee_kind != COMPANY]
    for g_id, _, _ in rest:
        out[g_id] = frozenset()
    if rest:
        ga = assignees_values(rest).cte("ga")
        pairs: dict[int, set[int]] = {}
        for g_id, user_id in await session.execute(assignee_pairs(ga)):
            pairs.setdefault(g_id, set()).add(user_id)
        out.update({g_id: frozenset(users) for g_id, users in pairs.items()})
    return out


async def audience_of(session: AsyncSession, goal_ids: Iterable[int]) -> Audience:
    """Everyone whose facts move any of these goals (None when one of them is a company goal)."""
    ids = sorted(set(goal_ids))
    if not ids:
        return frozenset()
    goals = (await session.scalars(select(Goal).where(Goal.id.in_(ids)))).all()
    return union(*(await audiences(session, goals)).values())


def union(*parts: Audience) -> Audience:
    """The audience of several goals together."""
    if any(p is None for p in parts):
        return None
    return frozenset().union(*parts)  # type: ignore[arg-type]


def moved(audiences_by_goal: Mapping[int, Audience], users: Audience) -> set[int]:
    """The goals among ``audiences_by_goal`` that facts of ``users`` (None: anyone's) move."""
    if users is None:
        return set(audiences_by_goal)
    return {g for g, who in audiences_by_goal.items() if who is None or who & users}


def counts_for(users: Audience) -> ColumnElement[bool]:
    """A condition on :class:`Goal`: goals that facts of ``users`` (None: anyone's) move."""
    if users is None:
        return ~false()
    ids = sorted(users)
    teams = select(TeamMembership.team_id).where(TeamMembership.user_id.in_(ids))
    return or_(Goal.assignee_kind == COMPANY,
               (Goal.assignee_kind == USER) & Goal.assignee_user_id.in_(ids),
               (Goal.assignee_kind == TEAM) & Goal.assignee_team_id.in_(teams))
