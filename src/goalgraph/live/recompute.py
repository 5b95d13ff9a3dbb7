"""The recompute worker: keeps the progress store fresh, then tells subscribers and contributors.

Each round is one transaction: take the stale marks, recompute the rows they cover with the engine
(progress.recompute), write them, drop the marks, check the changed goals' statuses (status marks
and notifications), and announce the changed goals to live subscribers (``pg_notify`` in the
transaction on PostgreSQL). Exactly one round runs at a time across processes on PostgreSQL (a
transaction-level advisory lock; another process finding it taken leaves the work to the holder);
on SQLite, within the process (run one server process on SQLite). A failed or killed round rolls
back: its rows stay stale, never wrong.

The worker starts on the first local change (``wake``) and with the server; it polls for marks
other processes wrote every ``GOALGRAPH_RECOMPUTE_POLL_SECONDS``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select, text

from goalgraph import clock, staleness
from goalgraph.access.gate import load_gate
from goalgraph.db.models import Goal, ProgressMark
from goalgraph.live.broker import FactsChanged
from goalgraph.organisation import get_organisation
from goalgraph.progress.recompute import Round, recompute
from goalgraph.progress.service import busy

if TYPE_CHECKING:
    from goalgraph.runtime import Runtime

log = logging.getLogger(__name__)
#: pg_try_advisory_xact_lock key of the recompute round ("goalgraph store"), per database schema.
LOCK_KEY = 0x676F616C_73746F72 & 0x7FFFFFFFFFFFFFFF


def lock_key(schema: str | None) -> int:
    """The round's advisory lock for one schema: deployments sharing a database never wait on each other."""
    if not schema:
        return LOCK_KEY
    return int.from_bytes(hashlib.blake2b(schema.encode(), digest_size=8).digest(), "big") & 0x7FFFFFFFFFFFFFFF
#: Events arriving within this window are taken by one round (coalescing bursts of ingests) …
COALESCE_SECONDS = 0.05
#: … and within this one while the process is busy (progress.service.busy): under a steady stream of
#: changes a round then covers several of them instead of one each (a round costs the engine's statements
#: once per goal type, whatever the number of marks), while a change is still in the store well within
#: the second the freshness aim allows.
COALESCE_BUSY_SECONDS = 0.25


class RecomputeWorker:
    """Runs rounds when woken (a local change committed) or every poll interval, until stopped."""

    def __init__(self, runtime: "Runtime", *, autostart: bool = True) -> None:
        """``autostart=False``: a wake does not start the worker (commands that only write, such as
        ``goalgraph import``: their marks wait for a server's worker)."""
        self.runtime = runtime
        self._autostart = autostart
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        #: Goals whose statuses the next round checks even if their figures stay (a target changed).
        self._check: set[int] = set()
        self._check_all = False

    def start(self) -> None:
        """Run in the background (idempotent)."""
        if self._stopping:
            return
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._loop())

    def wake(self, check: Iterable[int] | None = ()) -> None:
        """A change was committed here: run a round soon (starts the worker when needed; never raises);
        the round checks the statuses of the goals in ``check`` too (None: of every goal)."""
        try:
            if check is None:
                self._check_all = True
            else:
                self._check.update(check)
            self._wake.set()
            if self._autostart or self._task is not None:
                self.start()
        except RuntimeError:  # no running loop (a synchronous caller): the next poll finds the marks
            pass

    async def stop(self, timeout: float = 5.0) -> None:
        """Stop after the round under way (cancelled after ``timeout``: its transaction rolls back, its
        marks stay); later wakes do not start the worker again until :meth:`resume`."""
        self._stopping = True
        self._wake.set()
        task, self._task = self._task, None
        if task is not None and not task.done():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(task), timeout)
            if not task.done():
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def resume(self) -> None:
        """Allow the worker to run again after :meth:`stop` (it starts on the next wake)."""
        self._stopping = False

    async def _loop(self) -> None:
        failures = 0
        while not self._stopping:
            try:
                done = await self.round()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a failed round leaves rows stale; try again later
                failures += 1
                log.exception("recomputing the progress store failed (attempt %d)", failures)
                with contextlib.suppress(asyncio.TimeoutError):  # back off, but a stop ends the wait
                    self._wake.clear()
                    await asyncio.wait_for(self._wake.wait(), timeout=min(30.0, 0.5 * 2 ** min(failures, 6)))
                continue
            if done is not None and done.busy:
                await asyncio.sleep(0)  # more may be waiting: go on, letting requests run in between
                continue
            self._wake.clear()
            if self._stopping:
                return
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.runtime.settings.recompute_poll_seconds)
            await asyncio.sleep(COALESCE_BUSY_SECONDS if busy(self.runtime.requests_in_flight) else COALESCE_SECONDS)

    async def round(self, now: datetime | None = None) -> Round | None:
        """One round (see the module docstring); None when another process holds the round's lock."""
        runtime = self.runtime
        async with self._lock:
            now = now or runtime.clock()
            changes: list[tuple[int, int, str, str]] = []
            written = 0
            async with runtime.sessions() as session, session.begin():
                if session.bind.dialect.name == "postgresql":
                    key = lock_key(runtime.settings.database_schema)
                    if not await session.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": key}):
                        return None
                today = clock.today(await get_organisation(session), now)
                gate = await load_gate(session, runtime.settings, runtime.registry, today)
                grace = timedelta(hours=runtime.settings.snapshot_grace_hours)
                done = await recompute(session, runtime.registry, now, grace=grace,
                                       lapsed=lambda g: bool(gate.lapsed(g)))
                check, self._check = self._check, set()
                check_all, self._check_all = self._check_all, False
                try:
                    goals = [g for g in done.goals if g.id in done.changed]
                    extra = check - {g.id for g in goals}
                    if check_all:
                        goals = list((await session.scalars(select(Goal).where(Goal.deleted_at.is_(None)))).all())
                    elif extra:
                        goals += (await session.scalars(select(Goal).where(Goal.id.in_(sorted(extra))))).all()
                    if goals and runtime.status_watch is not None:
                        changes, written = await runtime.status_watch.check_in(session, goals, now)
                    if done.changed:
                        await runtime.broker.announce(session, FactsChanged.of_goals(done.changed))
                except BaseException:
                    self._check |= check  # checked next round
                    self._check_all |= check_all
                    raise
            if runtime.status_watch is not None:
                runtime.status_watch.announce(changes, written)
            return done

    async def rebuild(self, goal_ids: Iterable[int] | None, *, on_round: Callable[[Round, int], None] | None = None,
                      timeout: float = 24 * 3600.0) -> Round:
        """Recompute these goals' stored rows (None: every goal's), closed periods too, and wait until
        nothing is stale; ``on_round(round, marks_left)`` after each round. Returns the totals."""
        runtime = self.runtime
        async with runtime.sessions() as session, session.begin():
            if goal_ids is None:
                await staleness.mark(session, None, thaw=True)
            else:
                ids = sorted(set(goal_ids))
                known = set((await session.scalars(select(Goal.id).where(Goal.id.in_(ids),
                                                                        Goal.deleted_at.is_(None)))).all())
                if unknown := [i for i in ids if i not in known]:
                    raise LookupError(f"no goal with id {', '.join(map(str, unknown))}")
                await staleness.mark(session, ids, thaw=True)
        total = Round()
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            done = await self.round()
            if done is not None:
                total.marks += done.marks
                total.rows += done.rows
                total.changed |= done.changed
            async with runtime.sessions() as session:
                left = await session.scalar(select(func.count()).select_from(ProgressMark))
            if on_round is not None and done is not None:
                on_round(done, left or 0)
            if not left:
                return total
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError("the progress store did not settle")
            if done is None:
                await asyncio.sleep(0.2)  # another process holds the round: it does the work

    async def settled(self, timeout: float = 60.0) -> None:
        """Run rounds until no mark is left (tests, ``goalgraph recompute``, orderly shutdown)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            done = await self.round()
            if done is not None and not done.busy:
                return
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError("the progress store did not settle")
            if done is None:
                await asyncio.sleep(0.05)  # another process holds the round: wait for it
