"""From what happened to notifications in the outbox: the one bridge between the rules (who hears what,
once per crossing: notifications.rules) and delivery (notifications.outbox).

Called inside the transaction of the change, so a notification commits with it or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from goalgraph.db.models import Goal
from goalgraph.notifications import rules
from goalgraph.notifications.outbox import enqueue, known_event_keys


async def emit(session: AsyncSession, goal: Goal, events: Iterable[rules.Event], *, settings: rules.NotificationSettings,
               plugin_channels: Sequence[str] = (), now: datetime | None = None,
               known: set[str] | None = None) -> int:
    """Write each event for its recipients; returns the outbox rows written (repeats of a key write none).

    Events whose key the outbox already holds (``known``, or looked up here) are skipped before their
    recipients are worked out: a milestone stays reached for the rest of its period, so most events a
    progress check finds were announced before.
    """
    events = list(events)
    if known is None:
        known = await known_event_keys(session, [e.key for e in events])
    written = 0
    for event in events:
        if event.key in known:
            continue
        who = await rules.recipients(session, goal, event.kind, settings)
        written += await enqueue(session, event.kind, goal, event.payload, who, plugin_channels=plugin_channels,
                                 event_key=event.key, now=now)
    return written


async def goal_assigned(session: AsyncSession, goal: Goal, *, before: tuple[str, int | None] | None,
                        plugin_channels: Sequence[str] = (), now: datetime | None = None) -> int:
    """A goal was created, or given another assignee (``before``: the assignee it had)."""
    after = (goal.assignee_kind, goal.assignee_user_id or goal.assignee_team_id)
    if before == after:
        return 0
    settings = (await rules.settings_of(session, [goal.id]))[goal.id]
    if not settings.assigned:
        return 0
    return await emit(session, goal, [rules.assigned_event(goal, after)], settings=settings,
                      plugin_channels=plugin_channels, now=now)


async def progress_changed(session: AsyncSession, goals: Sequence[Goal], progress: Mapping[int, Any], now: datetime, *,
                           plugin_channels: Sequence[str] = ()) -> int:
    """Milestones, pace and closed periods of freshly measured goals (``progress``: goal id → GoalProgress)."""
    settings = await rules.settings_of(session, [g.id for g in goals])
    found_events = {goal.id: rules.events_of(goal, settings[goal.id], progress[goal.id].periods, now,
                                             progress[goal.id].rules.lower_is_better)
                    for goal in goals if goal.id in progress}
    known = await known_event_keys(session, [e.key for events in found_events.values() for e in events])
    written = 0
    for goal in goals:
        events = found_events.get(goal.id)
        if events:
            written += await emit(session, goal, events, settings=settings[goal.id], plugin_channels=plugin_channels,
                                  now=now, known=known)
    return written


async def weekly_digests(session: AsyncSession, registry: Any, now: datetime, *,
                         plugin_channels: Sequence[str] = ()) -> int:
    """On the first day of the organisation's week: each user's digest of the goals they hear about with
    ``weeklyDigest`` on — the current period's target, actual, ratio, status and pace — once per user and
    week (the key ``digest:<user>:<ISO week>``), whichever process runs it and however often."""
    from sqlalchemy import select

    from goalgraph import clock
    from goalgraph.db.models import GoalNotificationSettings
    from goalgraph.organisation import get_organisation
    from goalgraph.progress.service import compute_progress

    org = await get_organisation(session)
    today = clock.today(org, now)
    if today.weekday() != org.week_start:
        return 0
    chosen = [g for g, s in (await session.execute(
        select(GoalNotificationSettings.goal_id, GoalNotificationSettings.settings))).all() if (s or {}).get("weekly_digest")]
    if not chosen:
        return 0
    goals = list((await session.scalars(select(Goal).where(Goal.id.in_(chosen), Goal.deleted_at.is_(None)))).all())
    progress = await compute_progress(session, registry, goals, now, window=(today, today), organisation=org)
    settings = await rules.settings_of(session, [g.id for g in goals])
    per_user: dict[int, list[dict[str, Any]]] = {}
    for goal in goals:
        current = progress[goal.id].current if goal.id in progress else None
        if current is None:
            continue
        line = {"goal": {"id": str(goal.id), "title": goal.title}, "period": current.period.label,
                "target": str(current.target), "actual": str(current.actual),
                "ratio": None if current.ratio is None else str(current.ratio), "status": current.status.value,
                "pace": current.pace.status.value if current.pace else None}
        for user_id in await rules.recipients(session, goal, rules.DIGEST, settings[goal.id]):
            per_user.setdefault(user_id, []).append(line)
    year, week, _ = today.isocalendar()
    written = 0
    for user_id, lines in per_user.items():
        written += await enqueue(session, rules.DIGEST, None, {"week": f"{year}-W{week:02d}", "goals": lines}, [user_id],
                                 plugin_channels=plugin_channels, event_key=f"digest:{user_id}:{year}-W{week:02d}",
                                 now=now)
    return written


async def periods_closed(session: AsyncSession, registry: Any, now: datetime, *,
                         plugin_channels: Sequence[str] = ()) -> int:
    """The close of every period that ended in the last week (rules.CLOSED_IS_NEWS): time, not facts, closes
    a period, so this runs on a schedule (the dispatcher, hourly); each close is announced once (keyed)."""
    from datetime import timedelta

    from sqlalchemy import or_, select

    from goalgraph import clock
    from goalgraph.organisation import get_organisation
    from goalgraph.progress.service import compute_progress

    org = await get_organisation(session)
    today = clock.today(org, now)
    since = today - timedelta(days=rules.CLOSED_IS_NEWS.days + 1)
    goals = list((await session.scalars(select(Goal).where(
        Goal.deleted_at.is_(None), Goal.start_date <= today, or_(Goal.end_date.is_(None), Goal.end_date >= since)))).all())
    if not goals:
        return 0
    progress = await compute_progress(session, registry, goals, now, window=(since, today), organisation=org)
    settings = await rules.settings_of(session, [g.id for g in goals])
    found_events = {goal.id: [e for e in rules.events_of(goal, settings[goal.id], progress[goal.id].periods, now,
                                                         progress[goal.id].rules.lower_is_better)
                              if e.kind == rules.CLOSED] for goal in goals}
    known = await known_event_keys(session, [e.key for events in found_events.values() for e in events])
    written = 0
    for goal in goals:
        if found_events[goal.id]:
            written += await emit(session, goal, found_events[goal.id], settings=settings[goal.id],
                                  plugin_channels=plugin_channels, now=now, known=known)
    return written
