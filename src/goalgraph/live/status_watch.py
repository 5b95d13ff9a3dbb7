"""Notice period status changes (achieved, exceeded, missed …) and fire goalgraph_goal_status_changed.

The recompute worker calls :meth:`StatusWatch.check_in` inside the round that changed the goals'
stored figures, so each change is detected once, whatever the number of server processes, and its
status marks and notifications commit with the figures. The current periods of those goals are
read from the store (just written) and compared with the last status seen, in ``goal_status_marks``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from goalgraph import clock
from goalgraph.db.dialect import conflict_insert
from goalgraph.db.models import Goal, GoalStatusMark
from goalgraph.events import fire
from goalgraph.goals.audience import counts_for
from goalgraph.notifications import produce
from goalgraph.notifications.listeners import status_changed
from goalgraph.access.gate import load_gate
from goalgraph.organisation import get_organisation
from goalgraph.progress.service import compute_progress

if TYPE_CHECKING:
    from goalgraph.runtime import Runtime

log = logging.getLogger(__name__)
#: (goal id, period index, old status, new status)
Change = tuple[int, int, str, str]


class StatusWatch:
    """Compares current statuses with the marks; records and announces the changes."""

    def __init__(self, runtime: "Runtime") -> None:
        self.runtime = runtime

    async def check(self, users: frozenset[int] | None, now: datetime | None = None) -> list[Change]:
        """Check every current goal that facts of ``users`` (None: anyone's) move, in a transaction
        of its own (``goalgraph import``'s last step, tests). Returns the changes."""
        runtime = self.runtime
        now = now or runtime.clock()
        async with runtime.sessions() as session, session.begin():
            query = select(Goal).where(Goal.deleted_at.is_(None))
            if users is not None:
                query = query.where(counts_for(users))
            goals = list((await session.scalars(query)).all())
            changes, written = await self.check_in(session, goals, now)
        self.announce(changes, written)
        return changes

    async def check_in(self, session: AsyncSession, goals: Sequence[Goal], now: datetime) -> tuple[list[Change], int]:
        """Inside the caller's transaction: the current periods of ``goals`` against their marks; writes
        the new marks and what contributors hear (milestones, pace, status changes, once per crossing).
        Returns the status changes and how many notifications were written (for :meth:`announce`)."""
        runtime = self.runtime
        today = clock.today(await get_organisation(session), now)
        goals = [g for g in goals if g.deleted_at is None and g.start_date <= today
                 and (g.end_date is None or g.end_date >= today)]
        if not goals:
            return [], 0
        gate = await load_gate(session, runtime.settings, runtime.registry, today)
        progress = await compute_progress(session, runtime.registry, goals, now, window=(today, today),
                                          lapsed=frozenset(g.id for g in goals if gate.lapsed(g)))
        marks = {(m.goal_id, m.period_start): m.status for m in await session.scalars(
            select(GoalStatusMark).where(GoalStatusMark.goal_id.in_([g.id for g in goals])))}
        changes: list[Change] = []
        rows = []
        for goal_id, goal_progress in progress.items():
            for period in goal_progress.periods:
                new = period.status.value
                # A period seen for the first time was under way without facts: IN_PROGRESS.
                old = marks.get((goal_id, period.period.start_date), "IN_PROGRESS")
                if (goal_id, period.period.start_date) not in marks or old != new:
                    rows.append({"goal_id": goal_id, "period_start": period.period.start_date, "status": new,
                                 "changed_at": now})
                if old != new:
                    changes.append((goal_id, period.period.index, old, new))
        dispatcher = runtime.dispatcher
        channels = dispatcher.plugin_channels if dispatcher is not None else []
        if rows:
            table = GoalStatusMark.__table__
            stmt = conflict_insert(session.bind.dialect.name, table)
            await session.execute(stmt.on_conflict_do_update(
                index_elements=[table.c.goal_id, table.c.period_start],
                set_={"status": stmt.excluded.status, "changed_at": stmt.excluded.changed_at}), rows)
        written = await produce.progress_changed(session, goals, progress, now, plugin_channels=channels)
        for goal_id, index, old, new in changes:
            written += await status_changed(session, goal_id, index, old, new, plugin_channels=channels, now=now)
        return changes, written

    def announce(self, changes: Sequence[Change], written: int) -> None:
        """After the commit: wake the dispatcher for new notifications, fire the status hook (never raises)."""
        try:
            if written and self.runtime.dispatcher is not None:
                self.runtime.dispatcher.wake()
            for goal_id, index, old, new in changes:
                fire(self.runtime.plugins.manager, "goalgraph_goal_status_changed", goal_id=goal_id,
                     period_index=index, old_status=old, new_status=new)
        except Exception:  # noqa: BLE001 - the change is committed; announcing it must not undo that
            log.exception("announcing status changes failed")
