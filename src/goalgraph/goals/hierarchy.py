"""Goal hierarchies: company → team → user goals that break one target down.

A child measures what its parent measures — same goal type, measure, filters, currency, interval and
fiscal alignment — for a part of its assignee: a team (or a user) under a company goal, a member under
a team goal. The targets need not add up (SuperOffice: "they need not be the sum of each other"): a
parent shows the sum of its children beside its own and flags a mismatch, as a guideline.

:func:`cascade` creates or updates the children of a goal for every team or every member in one go,
splitting the parent's targets evenly, by given shares, or by last year's actuals.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from goalgraph.access.gate import Gate
from goalgraph.access.viewer import Viewer
from goalgraph.db.models import Goal, Team, TeamMembership, User
from goalgraph.errors import FactError
from goalgraph.goals.errors import GoalInvalid
from goalgraph.goals.validation import GoalDraft

_Q = Decimal("0.0001")


def _refuse(message: str) -> GoalInvalid:
    return GoalInvalid([FactError(("parent_id",), message)])


async def check_parent(session: AsyncSession, draft: GoalDraft, assignee: object, viewer: Viewer,
                       goal_id: int | None) -> Goal:
    """The draft's parent, if it may be one; GoalInvalid on ``parent_id`` naming the mismatch otherwise."""
    from goalgraph.goals.service import get_goal
    from goalgraph.goals.errors import GoalNotFound

    try:
        parent = await get_goal(session, draft.parent_id, viewer)  # type: ignore[arg-type]
    except GoalNotFound:
        raise _refuse(f"no goal with id {draft.parent_id}") from None
    if goal_id is not None:
        ancestor: Goal | None = parent
        while ancestor is not None:
            if ancestor.id == goal_id:
                raise _refuse("a goal cannot be its own parent or a parent of its parent")
            ancestor = await session.get(Goal, ancestor.parent_id) if ancestor.parent_id else None
    for name, mine, theirs in (("goal type", draft.goal_type, parent.goal_type), ("measure", draft.measure, parent.measure),
                               ("currency", draft.currency, parent.currency), ("interval", draft.interval, parent.interval),
                               ("fiscal alignment", draft.fiscal, parent.fiscal)):
        if mine != theirs:
            raise _refuse(f"the parent's {name} is {theirs}, this goal's {mine}: a child measures what its parent measures")
    if {k: sorted(v) for k, v in draft.filters.items() if v} != {k: sorted(v) for k, v in (parent.filters or {}).items() if v}:
        raise _refuse("the parent's filters differ: a child measures what its parent measures")
    kind = getattr(assignee, "kind")
    if parent.assignee_kind == "USER":
        raise _refuse("a user goal has no children")
    if parent.assignee_kind == "COMPANY" and kind == "COMPANY":
        raise _refuse("a company goal's children are team or user goals")
    if parent.assignee_kind == "TEAM":
        if kind != "USER":
            raise _refuse("a team goal's children are its members' goals")
        member = await session.scalar(select(TeamMembership.user_id).where(
            TeamMembership.team_id == parent.assignee_team_id, TeamMembership.user_id == getattr(assignee, "user_id")))
        if member is None:
            raise _refuse("this user is not a member of the parent goal's team")
    return parent


def children_sum(values: Iterable[Decimal | None]) -> Decimal | None:
    """One period's sum over a parent's children; None when no child has a value there."""
    present = [v for v in values if v is not None]
    return sum(present, Decimal(0)) if present else None


def target_mismatch(own: Decimal | None, children: Decimal | None) -> bool:
    """The mismatch flag of one period: the parent's target differs from its children's sum.

    A guideline, not a rule (the targets need not add up); with nothing to compare — no own target, or
    no child with one — there is no mismatch.
    """
    return own is not None and children is not None and own != children


def organisation_children(teams: Sequence[int], members: Mapping[int, Sequence[int]],
                          users: Sequence[int]) -> tuple[list[int], list[int]]:
    """The company's parts as a hierarchy sees them (as :func:`parts_of` cascades): its teams, and the users
    in none of ``teams`` (``members``: team id → member user ids; a team's children are its members).

    Returns (team ids, user ids in no team), each in the order given.
    """
    in_a_team = {u for t in teams for u in members.get(t, ())}
    return list(teams), [u for u in users if u not in in_a_team]


class Split(str, enum.Enum):
    """How :func:`cascade` splits a parent's targets."""

    EVEN = "EVEN"
    SHARES = "SHARES"
    LAST_YEAR = "LAST_YEAR"


@dataclass(frozen=True)
class Part:
    """One child to create or update: assignee kind and CRM id, and its share of the parent (0–1)."""

    kind: str
    external_id: str
    share: Decimal


async def parts_of(session: AsyncSession, parent: Goal, level: str) -> list[tuple[str, str, int]]:
    """(kind, CRM id, internal id) of the children :func:`cascade` makes: every team for a company goal
    (``level`` TEAMS) or every active user (USERS); the members of a team goal."""
    if parent.assignee_kind == "TEAM":
        rows = await session.execute(select(User.external_id, User.id).join(TeamMembership, TeamMembership.user_id == User.id)
                                     .where(TeamMembership.team_id == parent.assignee_team_id, User.active.is_(True))
                                     .order_by(User.external_id))
        return [("USER", ext, i) for ext, i in rows]
    if parent.assignee_kind != "COMPANY":
        raise GoalInvalid([FactError(("id",), "only company and team goals cascade")])
    if level == "TEAMS":
        return [("TEAM", ext, i) for ext, i in await session.execute(select(Team.external_id, Team.id).order_by(Team.external_id))]
    rows = await session.execute(select(User.external_id, User.id).where(User.active.is_(True)).order_by(User.external_id))
    return [("USER", ext, i) for ext, i in rows]


def shared(amount: Decimal, shares: Sequence[Decimal]) -> list[Decimal]:
    """``amount`` split by ``shares`` (summing to 1), to 4 places, the rounding remainder on the largest share
    so the parts add up exactly."""
    parts = [(amount * s).quantize(_Q, rounding=ROUND_HALF_UP) for s in shares]
    if parts:
        largest = max(range(len(shares)), key=lambda i: shares[i])
        parts[largest] += amount - sum(parts)
    return parts


def normalised(weights: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """Weights as shares summing to 1 (all even when they sum to 0)."""
    total = sum(weights.values(), Decimal(0))
    if total <= 0:
        return {k: Decimal(1) / len(weights) for k in weights} if weights else {}
    return {k: v / total for k, v in weights.items()}


def child_draft(parent: GoalDraft, parent_id: int, part: Part, title: str, target_share: Decimal,
                period_targets: Mapping[date, Decimal]) -> GoalDraft:
    """The child's definition: the parent's, for ``part``, with its share of the targets."""
    return replace(parent, title=title, assignee_kind=part.kind, assignee_id=part.external_id, parent_id=parent_id,
                   target=target_share, period_targets=dict(period_targets), stretch_target=None, split_by=None,
                   element_targets={})


async def cascade(session: AsyncSession, registry: object, parent_id: str | int, *, level: str, split: Split,
                  shares: Mapping[str, Decimal] | None, viewer: Viewer, gate: Gate, now: datetime,
                  last_year: Mapping[str, Decimal] | None = None) -> list[Goal]:
    """Create or update the children of a goal for every team or member, in the caller's transaction (all or
    nothing); returns them. Existing children of the same assignee are updated (their version moves on).

    ``last_year``: for Split.LAST_YEAR, each part's actual a year earlier by CRM id
    (goalgraph.progress.cascade_weights computes them; all zero splits evenly)."""
    from goalgraph.goals.service import create_goal, draft_of, get_goal, update_goal

    parent = await get_goal(session, parent_id, viewer)
    draft = await draft_of(session, parent)
    if draft.split_by:
        raise GoalInvalid([FactError(("id",), "a goal split by a dimension does not cascade")])
    who = await parts_of(session, parent, level)
    if not who:
        raise GoalInvalid([FactError(("level",), "there is no one to cascade to")])
    if split is Split.SHARES:
        given = dict(shares or {})
        unknown = sorted(set(given) - {ext for _, ext, _ in who})
        if unknown:
            raise GoalInvalid([FactError(("shares",), f"{unknown[0]!r} is not among the goal's "
                                                       f"{'teams' if level == 'TEAMS' and parent.assignee_kind == 'COMPANY' else 'members'}")])
        if any(v < 0 for v in given.values()) or sum(given.values(), Decimal(0)) <= 0:
            raise GoalInvalid([FactError(("shares",), "shares are ≥ 0 and not all 0")])
        weights = {ext: given.get(ext, Decimal(0)) for _, ext, _ in who}
    elif split is Split.LAST_YEAR:
        weights = {ext: (last_year or {}).get(ext, Decimal(0)) for _, ext, _ in who}
    else:
        weights = {ext: Decimal(1) for _, ext, _ in who}
    share_of = normalised(weights)
    keys = [ext for _, ext, _ in who]
    targets = dict(zip(keys, shared(draft.target or Decimal(0), [share_of[k] for k in keys])))
    by_period = {day: dict(zip(keys, shared(value, [share_of[k] for k in keys]))) for day, value in draft.period_targets.items()}
    existing = {(g.assignee_kind, g.assignee_user_id or g.assignee_team_id): g for g in (await session.scalars(
        select(Goal).where(Goal.parent_id == parent.id, Goal.deleted_at.is_(None)))).all()}
    names = dict((await session.execute(select(User.external_id, User.name))).all())
    names.update(dict((await session.execute(select(Team.external_id, Team.name))).all()))
    out = []
    for kind, ext, internal in who:
        part = Part(kind, ext, share_of[ext])
        periods = {day: values[ext] for day, values in by_period.items()}
        title = f"{parent.title} — {names.get(ext, ext)}"
        found = existing.get((kind, internal))
        if found is None:
            out.append(await create_goal(session, registry, child_draft(draft, parent.id, part, title, targets[ext], periods),  # type: ignore[arg-type]
                                         viewer=viewer, gate=gate, now=now))
        else:
            out.append(await update_goal(session, registry, found.id, found.version,  # type: ignore[arg-type]
                                         {"target": targets[ext], "period_targets": periods}, viewer=viewer, gate=gate,
                                         now=now))
    return out
