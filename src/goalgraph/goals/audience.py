"""Who counts for a goal: the one rule, in SQL and in Python.

A goal assigned to a user counts that user's facts; a team goal counts its current members'
facts; a company goal counts everyone's. The engine (which facts a goal adds up), live pushes
(which goals a batch of facts moves) and the status watch (which goals to check) all ask here.

``None`` stands for "everyone" (company goals), so callers never enumerate every user.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import ColumnElement, Integer, column, false, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from goalgraph.db.dialect import rows_of_params, rows_params
from goalgraph.db.models import Goal, TeamMembership

USER, TEAM, COMPANY = "USER", "TEAM", "COMPANY"

#: Who counts for one goal: the users whose facts move it, or None for everyone (company goals).
Audience = frozenset[int] | None


def assignee_pairs(users: Any, teams: Any) -> Any:
    """(``g``, ``u``) rows: whose facts count for goal ``g``, from user goals ``users`` (columns ``g``,
    ``u``) and team goals ``teams`` (columns ``g``, ``t``: the team's members count).

    Company goals are not here: everyone counts, which the engine handles as a roll-up over all
    credited users instead of one row per user.
    """
    member = TeamMembership
    return union_all(
        select(users.c.g, users.c.u),
        select(teams.c.g, member.user_id.label("u")).join(member, member.team_id == teams.c.t),
    )


def split_assignees(rows: Iterable[tuple[int, str, int | None]]) -> tuple[list[dict[str, int]], list[dict[str, int]]]:
    """(goal, assignee kind, assignee id) rows as the ``users`` and ``teams`` rows of :func:`assignee_pairs`."""
    users, teams = [], []
    for g, kind, a_id in rows:
        if kind == USER and a_id is not None:
            users.append({"g": g, "u": a_id})
        elif kind == TEAM and a_id is not None:
            teams.append({"g": g, "t": a_id})
    return users, teams


_GOAL_USERS = [column("g", Integer), column("u", Integer)]
_GOAL_TEAMS = [column("g", Integer), column("t", Integer)]


def pairs_of(dialect_name: str, rows: Iterable[tuple[int, str, int | None]]) -> Any:
    """:func:`assignee_pairs` for literal (goal, assignee kind, assignee id) rows, passed as parameters."""
    return pairs_of_params(dialect_name, pairs_params(dialect_name, rows))


def pairs_params(dialect_name: str, rows: Iterable[tuple[int, str, int | None]]) -> dict[str, Any]:
    """The parameters carrying these (goal, assignee kind, assignee id) rows into :func:`pairs_of_params`."""
    users, teams = split_assignees(rows)
    return {**rows_params(dialect_name, "gau", _GOAL_USERS, users),
            **rows_params(dialect_name, "gat", _GOAL_TEAMS, teams)}


def pairs_of_params(dialect_name: str, values: dict[str, Any] | None = None) -> Any:
    """:func:`assignee_pairs` reading its rows from parameters: ``values`` (:func:`pairs_params`), or
    supplied when the statement is executed."""
    return assignee_pairs(rows_of_params(dialect_name, "gau", _GOAL_USERS, values),
                          rows_of_params(dialect_name, "gat", _GOAL_TEAMS, values))


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
        pairs: dict[int, set[int]] = {}
        for g_id, user_id in await session.execute(pairs_of(session.bind.dialect.name, rest)):
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
