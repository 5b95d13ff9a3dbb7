"""Turn what the rest of goalgraph announces into outbox rows.

:func:`status_changed` is meant to be called by the status watch (goalgraph.live.status_watch) in
the transaction that records the new status marks, so the notification commits with the change.
:class:`StatusChangeListener` is the same as a hook implementation of
``goalgraph_goal_status_changed`` (its own transaction after the change), for wiring without
touching the watch.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from goalgraph.db.models import Goal
from goalgraph.hookspecs import hookimpl
from goalgraph.notifications.messages import EventKind
from goalgraph.notifications.outbox import enqueue

if TYPE_CHECKING:
    from goalgraph.runtime import Runtime


async def status_changed(session: AsyncSession, goal_id: int, period_index: int, old_status: str, new_status: str,
                         *, plugin_channels: list[str], now: datetime) -> int:
    """Enqueue STATUS_CHANGED for a goal's current period; returns the outbox rows written."""
    goal = await session.get(Goal, goal_id)
    if goal is None or goal.deleted_at is not None:
        return 0
    payload = {"periodIndex": period_index, "oldStatus": old_status, "newStatus": new_status}
    return await enqueue(session, EventKind.STATUS_CHANGED, goal, payload, plugin_channels=plugin_channels,
                         event_key=f"status:{goal_id}:{period_index}:{old_status}:{new_status}:{now.isoformat()}",
                         now=now)


class StatusChangeListener:
    """``goalgraph_goal_status_changed`` → :func:`status_changed` in a transaction of its own."""

    def __init__(self, runtime: "Runtime") -> None:
        self.runtime = runtime

    @hookimpl
    async def goalgraph_goal_status_changed(self, goal_id: int, period_index: int, old_status: str,
                                            new_status: str) -> Any:
        runtime = self.runtime
        async with runtime.sessions() as session, session.begin():
            await status_changed(session, goal_id, period_index, old_status, new_status,
                                 plugin_channels=runtime.dispatcher.plugin_channels, now=runtime.clock())
        runtime.dispatcher.wake()
