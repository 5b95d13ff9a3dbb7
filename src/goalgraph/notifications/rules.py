"""Who hears what about a goal: its notification settings, followers and mutes, the recipients of an
event, and the events a goal's progress gives rise to.

Each event carries a key naming the crossing it announces (``milestone:<goal>:<period>:<percent>`` …);
the outbox writes one message per key, channel and recipient, so a milestone reached, lost and
reached again within a period is announced once, whichever process noticed it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from goalgraph.access import policy
from goalgraph.access.viewer import viewer_of
from goalgraph.db.dialect import conflict_insert
from goalgraph.db.models import Goal, GoalFollower, GoalNotificationSettings, NotificationMute, TeamMembership, User
from goalgraph.errors import FactError
from goalgraph.goals.audience import audiences

#: The kinds of notification a user can choose (and mute).
ASSIGNED, MILESTONE, PACE, CLOSED, DIGEST = (
    "GOAL_ASSIGNED", "MILESTONE_REACHED", "PACE_CHANGED", "PERIOD_CLOSED", "WEEKLY_DIGEST")
KINDS = (ASSIGNED, MILESTONE, PACE, CLOSED, DIGEST)
MAX_MILESTONES = 10
#: How long after its end a period's close is still announced (a check that runs late still tells).
CLOSED_IS_NEWS = timedelta(days=7)


@dataclass(frozen=True)
class NotificationSettings:
    """What a goal's contributors are told. Defaults: assignment, milestones 50 % and 100 %, pace turning
    BEHIND or AT_RISK, and the period's close; no weekly digest; team leaders not included."""

    assigned: bool = True
    milestones: tuple[int, ...] = (50, 100)
    pace: bool = True
    period_closed: bool = True
    weekly_digest: bool = False
    #: For team goals: the team's leaders hear about it too (the members always do).
    team_leaders: bool = False

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "milestones": list(self.milestones)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> "NotificationSettings":
        if not data:
            return cls()
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if "milestones" in known:
            known["milestones"] = tuple(known["milestones"])
        return cls(**known)


def checked(settings: NotificationSettings, path: str = "notifications") -> tuple[NotificationSettings, list[FactError]]:
    """``settings`` with milestones sorted and de-duplicated, or the problems naming the field."""
    problems = []
    milestones = sorted(set(settings.milestones))
    if len(milestones) > MAX_MILESTONES:
        problems.append(FactError(path=(path, "milestones"), message=f"at most {MAX_MILESTONES} milestones"))
    for m in milestones:
        if not 1 <= m <= 1000:
            problems.append(FactError(path=(path, "milestones"), message=f"{m}: a milestone is a percentage from 1 to 1000"))
    return replace(settings, milestones=tuple(milestones)), problems


async def settings_of(session: AsyncSession, goal_ids: Iterable[int]) -> dict[int, NotificationSettings]:
    """Each goal's settings (the defaults for goals that never chose)."""
    ids = sorted(set(goal_ids))
    stored = dict((await session.execute(select(GoalNotificationSettings.goal_id, GoalNotificationSettings.settings)
                                         .where(GoalNotificationSettings.goal_id.in_(ids)))).all()) if ids else {}
    return {g: NotificationSettings.from_json(stored.get(g)) for g in ids}


async def save_settings(session: AsyncSession, goal_id: int, settings: NotificationSettings) -> None:
    table = GoalNotificationSettings.__table__
    stmt = conflict_insert(session.bind.dialect.name, table).values(goal_id=goal_id, settings=settings.to_json())
    await session.execute(stmt.on_conflict_do_update(index_elements=[table.c.goal_id],
                                                     set_={"settings": stmt.excluded.settings}))


async def follow(session: AsyncSession, goal_id: int, user_id: int, following: bool) -> None:
    """Start or stop following a goal (idempotent)."""
    if following:
        stmt = conflict_insert(session.bind.dialect.name, GoalFollower.__table__).values(goal_id=goal_id, user_id=user_id)
        await session.execute(stmt.on_conflict_do_nothing())
    else:
        await session.execute(delete(GoalFollower).where(GoalFollower.goal_id == goal_id, GoalFollower.user_id == user_id))


async def followed(session: AsyncSession, user_id: int) -> set[int]:
    """The goals a user follows."""
    return set((await session.scalars(select(GoalFollower.goal_id).where(GoalFollower.user_id == user_id))).all())


async def mute(session: AsyncSession, user_id: int, goal_id: int | None, kind: str | None, muted: bool) -> None:
    """Mute (or unmute) a goal, a kind of notification, or a kind for one goal, for one user."""
    key = {"user_id": user_id, "goal_id": goal_id or 0, "kind": kind or ""}
    if muted:
        stmt = conflict_insert(session.bind.dialect.name, NotificationMute.__table__).values(**key)
        await session.execute(stmt.on_conflict_do_nothing())
    else:
        await session.execute(delete(NotificationMute).where(*(getattr(NotificationMute, k) == v for k, v in key.items())))


async def mutes_of(session: AsyncSession, user_id: int) -> list[tuple[int | None, str | None]]:
    """A user's mutes as (goal id or None for any, kind or None for any)."""
    rows = await session.execute(select(NotificationMute.goal_id, NotificationMute.kind)
                                 .where(NotificationMute.user_id == user_id).order_by(NotificationMute.id))
    return [(g or None, k or None) for g, k in rows]


async def recipients(session: AsyncSession, goal: Goal, kind: str, settings: NotificationSettings | None = None) -> list[int]:
    """The users to tell about ``kind`` for ``goal``: its assignee (a team goal's members, its leaders when
    the settings say so) and its followers — minus those who muted the goal or the kind, and those
    who may not see the goal now (the access policy decides, at the moment of sending)."""
    settings = settings or (await settings_of(session, [goal.id]))[goal.id]
    who = set((await audiences(session, [goal])).get(goal.id) or ())
    if goal.assignee_kind == "TEAM" and settings.team_leaders and goal.assignee_team_id is not None:
        who |= set((await session.scalars(select(TeamMembership.user_id).where(
            TeamMembership.team_id == goal.assignee_team_id, TeamMembership.is_leader.is_(True)))).all())
    who |= set((await session.scalars(select(GoalFollower.user_id).where(GoalFollower.goal_id == goal.id))).all())
    if not who:
        return []
    muted = set((await session.scalars(select(NotificationMute.user_id).where(
        NotificationMute.user_id.in_(sorted(who)), NotificationMute.goal_id.in_((0, goal.id)),
        NotificationMute.kind.in_(("", kind))))).all())
    out = []
    for user in (await session.scalars(select(User).where(User.id.in_(sorted(who - muted)), User.active.is_(True)))).all():
        if policy.can_see_goal(await viewer_of(session, user), goal):
            out.append(user.id)
    return sorted(out)


@dataclass(frozen=True)
class Event:
    """Something to tell a goal's contributors, keyed by the crossing it announces."""

    kind: str
    goal_id: int
    key: str
    payload: dict[str, Any] = field(default_factory=dict)


def _figures(period: Any) -> dict[str, Any]:
    return {"period": period.period.label, "periodStart": period.period.start_date.isoformat(),
            "target": str(period.target), "actual": str(period.actual),
            "ratio": None if period.ratio is None else str(period.ratio)}


def events_of(goal: Goal, settings: NotificationSettings, periods: Sequence[Any], now: datetime,
              lower_is_better: bool = False) -> list[Event]:
    """The events a goal's measured periods (goalgraph.progress.service.PeriodProgress) give rise to now:
    each milestone its current period has reached, its pace once BEHIND or AT_RISK, and the close of
    a period that ended while the goal existed. Keys make each crossing one event, however often this is asked.

    ``lower_is_better`` (the goal's direction, from its progress' rules): a cap has no milestones — using
    50 % of it is no achievement, and breaking it is told by its pace (AT_RISK) and its close (MISSED).
    Pace and close follow the direction already (their statuses do)."""
    out: list[Event] = []
    for p in periods:
        start = p.period.start_date.isoformat()
        if p.period.start <= now < p.period.end:
            if settings.milestones and p.ratio is not None and not lower_is_better:
                for m in settings.milestones:
                    if p.ratio * 100 >= m:
                        out.append(Event(MILESTONE, goal.id, f"milestone:{goal.id}:{start}:{m}",
                                         {**_figures(p), "milestone": m}))
            if settings.pace and p.pace is not None and p.pace.status.value in ("BEHIND", "AT_RISK"):
                out.append(Event(PACE, goal.id, f"pace:{goal.id}:{start}:{p.pace.status.value}",
                                 {**_figures(p), "pace": p.pace.status.value,
                                  "projectedAtEnd": str(p.pace.projected)}))
        elif (settings.period_closed and p.period.end <= now <= p.period.end + CLOSED_IS_NEWS
              and (goal.created_at is None or p.period.end > goal.created_at)):
            # A period that just closed (not one that ended long ago, nor before the goal existed).
            achieved = p.status.value in ("ACHIEVED", "EXCEEDED")
            out.append(Event(CLOSED, goal.id, f"closed:{goal.id}:{start}",
                             {**_figures(p), "outcome": "ACHIEVED" if achieved else "MISSED", "status": p.status.value}))
    return out


def assigned_event(goal: Goal, assignee: tuple[str, int | None]) -> Event:
    """The goal was assigned (created, or given a new assignee)."""
    kind, who = assignee
    return Event(ASSIGNED, goal.id, f"assigned:{goal.id}:{kind}:{who}", {"title": goal.title})
