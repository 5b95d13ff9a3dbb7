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
from goalgraph.notifications.outbox import enqueue


async def emit(session: AsyncSession, goal: Goal, events: Iterable[rules.Event], *, settings: rules.NotificationSettings,
               plugin_channels: Sequence[str] = (), now: datetime | None = None) -> int:
    """Write each event for its recipients; returns the outbox rows written (repeats of a key write none)."""
    written = 0
    for event in events:
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
    written = 0
    for goal in goals:
        found = progress.get(goal.id)
        if found is None:
            continue
        events = rules.events_of(goal, settings[goal.id], found.periods, now)
        if events:
            written += await emit(session, goal, events, settings=settings[goal.id], plugin_channels=plugin_channels,
                                  now=now)
    return written
