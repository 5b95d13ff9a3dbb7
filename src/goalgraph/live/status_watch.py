"""Notice period status changes (achieved, exceeded, missed …) and fire goalgraph_goal_status_changed.

Runs in the process that ingested the facts (so each change is announced once, whatever the
number of server processes), in the background, coalescing bursts: after a batch commits, the
current periods of the goals whose facts changed are measured (batched, like any dashboard) and
compared with the last status seen, kept in ``goal_status_marks``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import or_, select

from goalgraph import clock
from goalgraph.db.dialect import conflict_insert
from goalgraph.db.models import Goal, GoalStatusMark
from goalgraph.events import fire
from goalgraph.goals.audience import counts_for, union
from goalgraph.notifications import produce
from goalgraph.notifications.listeners import status_changed
from goalgraph.live.broker import FactsChanged
from goalgraph.access.gate import load_gate
from goalgraph.organisation import get_organisation
from goalgraph.progress.service import compute_progress

if TYPE_CHECKING:
    from goalgraph.runtime import Runtime

log = logging.getLogger(__name__)
COALESCE_SECONDS = 0.5


class StatusWatch:
    """Coalesces local fact changes and checks the affected goals' current statuses."""

    def __init__(self, runtime: "Runtime") -> None:
        self.runtime = runtime
        self._queue: asyncio.Queue[FactsChanged] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._checking = False
        self._coalescing = False

    def notify(self, event: FactsChanged) -> None:
        """Called after a local ingest committed; returns at once."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())
        self._queue.put_nowait(event)

    async def _run(self) -> None:
        while True:
            try:
                events = [await asyncio.wait_for(self._queue.get(), timeout=30)]
            except asyncio.TimeoutError:
                return  # idle: the next notify starts a new task
            self._coalescing = True
            try:
                await asyncio.sleep(COALESCE_SECONDS)
            finally:
                self._coalescing = False
            while not self._queue.empty():
                events.append(self._queue.get_nowait())
            users = union(*(e.users for e in events))
            self._checking = True
            try:
                await self.check(users)
            except Exception:  # noqa: BLE001 - a failed check must not stop later ones
                log.exception("checking goal statuses failed")
            finally:
                self._checking = False

    async def settled(self, timeout: float = 30) -> None:
        """Wait until every change notified so far has been checked (tests, orderly shutdown)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not self._queue.empty() or self._coalescing or self._checking:
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError("the status watch did not settle")
            await asyncio.sleep(0.02)

    async def check(self, users: frozenset[int] | None, now: datetime | None = None) -> list[tuple[int, str, str, str]]:
        """Compare current statuses with the marks; record and announce changes. Returns them."""
        runtime = self.runtime
        now = now or runtime.clock()
        async with runtime.sessions() as session:
            today = clock.today(await get_organisation(session), now)
            query = select(Goal).where(Goal.deleted_at.is_(None), Goal.start_date <= today,
                                       or_(Goal.end_date.is_(None), Goal.end_date >= today))
            if users is not None:
                query = query.where(counts_for(users))
            goals = list((await session.scalars(query)).all())
            if not goals:
                return []
            gate = await load_gate(session, runtime.settings, runtime.registry, today)
            progress = await compute_progress(session, runtime.registry, goals, now, window=(today, today),
                                              lapsed=frozenset(g.id for g in goals if gate.lapsed(g)))
            marks = {(m.goal_id, m.period_start): m.status for m in await session.scalars(
                select(GoalStatusMark).where(GoalStatusMark.goal_id.in_([g.id for g in goals])))}
        changes = []
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
        async with runtime.sessions() as session, session.begin():
            if rows:
                table = GoalStatusMark.__table__
                stmt = conflict_insert(session.bind.dialect.name, table)
                await session.execute(stmt.on_conflict_do_update(
                    index_elements=[table.c.goal_id, table.c.period_start],
                    set_={"status": stmt.excluded.status, "changed_at": stmt.excluded.changed_at}), rows)
            # What contributors hear (milestones, pace, status changes) commits with the marks, once per crossing.
            written = await produce.progress_changed(session, goals, progress, now, plugin_channels=channels)
            for goal_id, index, old, new in changes:
                written += await status_changed(session, goal_id, index, old, new, plugin_channels=channels, now=now)
        if written and dispatcher is not None:
            dispatcher.wake()
        for goal_id, index, old, new in changes:
            fire(runtime.plugins.manager, "goalgraph_goal_status_changed", goal_id=goal_id, period_index=index,
                 old_status=old, new_status=new)
        return changes

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
