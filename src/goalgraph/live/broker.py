"""Fan fact-change events out to subscribers.

In one process, events go straight to every listener's queue. With PostgreSQL, events travel
through ``LISTEN``/``NOTIFY`` on a channel of the database, so a change ingested through one
server process reaches subscribers of every other process (no extra service needed); each
process delivers to its own listeners when the notification comes back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from goalgraph.settings import Settings

log = logging.getLogger(__name__)
#: Payload limit of NOTIFY is 8000 bytes; beyond this many users, say "everyone".
MAX_USERS_IN_EVENT = 500


@dataclass(frozen=True)
class FactsChanged:
    """Something subscribers see changed: for goals followed by these users' facts (internal ids;
    ``users=None``: anything may have changed), and the stored figures of ``goals`` (the recompute
    worker's announcement)."""

    users: frozenset[int] | None = None
    goals: frozenset[int] = frozenset()

    def to_json(self) -> str:
        return json.dumps({"users": sorted(self.users) if self.users is not None else None,
                           "goals": sorted(self.goals)})

    @classmethod
    def from_json(cls, text: str) -> "FactsChanged":
        data = json.loads(text)
        users = data.get("users")
        return cls(frozenset(users) if users is not None else None, frozenset(data.get("goals") or ()))

    @classmethod
    def of_goals(cls, goals: Iterable[int]) -> "FactsChanged":
        """The stored figures of these goals changed (and nothing else); "everything" beyond the payload limit."""
        goals = frozenset(goals)
        return cls(frozenset(), goals) if len(goals) <= MAX_USERS_IN_EVENT else cls(None)

    @classmethod
    def of(cls, users: Iterable[int] | None) -> "FactsChanged":
        if users is None:
            return cls(None)
        users = frozenset(users)
        return cls(users if len(users) <= MAX_USERS_IN_EVENT else None)


_PENDING = "goalgraph.live.pending"


def _deliver_pending(session: Session) -> None:
    for broker, event in session.info.pop(_PENDING, ()):
        try:
            broker.deliver(event)
        except Exception:  # noqa: BLE001 - the change is committed; a failed push must not undo its answer
            log.exception("delivering a change to live subscribers failed")


def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)


class Broker:
    """In-process fan-out (SQLite, single process)."""

    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[FactsChanged]] = set()
        #: Bumped on every event: results computed for subscribers are shared within one generation.
        self.generation = 0
        self._shared: dict[Any, asyncio.Future[Any]] = {}

    async def start(self) -> None:
        """Begin receiving events (no-op in process)."""

    async def stop(self) -> None:
        """Stop receiving events."""

    @contextlib.contextmanager
    def listen(self) -> Iterator[asyncio.Queue[FactsChanged]]:
        """A queue receiving every event until the block exits."""
        queue: asyncio.Queue[FactsChanged] = asyncio.Queue(maxsize=1000)
        self._queues.add(queue)
        try:
            yield queue
        finally:
            self._queues.discard(queue)

    @property
    def listeners(self) -> int:
        return len(self._queues)

    async def shared(self, key: Any, compute: Any) -> Any:
        """``await compute()`` once per key and generation, however many subscribers ask (single flight)."""
        full_key = (self.generation, key)
        future = self._shared.get(full_key)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._shared[full_key] = future
            try:
                future.set_result(await compute())
            except BaseException as exc:
                del self._shared[full_key]
                future.set_exception(exc)
                future.exception()  # retrieved: waiting subscribers re-raise it
                raise
        return await asyncio.shield(future)

    def deliver(self, event: FactsChanged) -> None:
        """Hand an event to every local listener (a full queue drops it: its owner is recomputing anyway)."""
        self.generation += 1
        self._shared.clear()
        for queue in list(self._queues):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(event)

    async def announce(self, session: AsyncSession, event: FactsChanged) -> None:
        """Announce ``event`` as part of ``session``'s transaction: delivered when, and only if, it commits.

        In process the event waits for the commit (and is dropped by a rollback); delivery then
        only fills queues, so it can never turn a committed change into an error.
        """
        pending = session.info.setdefault(_PENDING, [])
        if not pending:
            sync = session.sync_session
            if not sa_event.contains(sync, "after_commit", _deliver_pending):
                sa_event.listen(sync, "after_commit", _deliver_pending)
                sa_event.listen(sync, "after_rollback", _drop_pending)  # outermost only
        pending.append((self, event))

    async def publish(self, event: FactsChanged) -> None:
        """Announce a change outside any transaction (nothing to commit; e.g. tests, admin commands)."""
        self.deliver(event)


class PostgresBroker(Broker):
    """Fan-out through PostgreSQL LISTEN/NOTIFY: every process sharing the database hears every change."""

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        url = make_url(settings.database_url).set(drivername="postgresql")
        self._dsn = url.render_as_string(hide_password=False)
        self.channel = f"goalgraph_facts_{settings.database_schema}"[:63] if settings.database_schema else "goalgraph_facts"
        self._conn: Any = None
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self._was_connected = False

    async def start(self) -> None:
        """Listen in the background, reconnecting if the database goes away (start never fails)."""
        self._task = asyncio.get_running_loop().create_task(self._keep_listening())
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._connected.wait(), timeout=3)

    #: Seconds between checks that the listening connection still answers (a silently dead one hears nothing).
    PING_EVERY = 15.0

    async def _keep_listening(self) -> None:
        """Listen; when the connection is lost, reconnect with backoff (0.5 s doubling to 30 s), logging both."""
        import asyncpg

        delay = 0.5
        while True:
            lost = asyncio.Event()
            conn = None
            try:
                conn = await asyncio.wait_for(asyncpg.connect(self._dsn), timeout=10)
                conn.add_termination_listener(lambda _c: lost.set())
                await conn.add_listener(self.channel, self._on_notify)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any failure to connect: try again later
                if conn is not None:
                    conn.terminate()
                log.warning("live updates: cannot listen on %s (%s: %s); retrying in %.1f s",
                            self.channel, type(exc).__name__, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30)
                continue
            if delay > 0.5 or self._was_connected:
                log.warning("live updates: listening on %s again", self.channel)
            self._conn, delay, self._was_connected = conn, 0.5, True
            self._connected.set()
            self.deliver(FactsChanged(None))  # anything may have changed while we were not listening
            while not lost.is_set():
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(lost.wait(), timeout=self.PING_EVERY)
                if lost.is_set():
                    break
                try:
                    async with self._lock:
                        await asyncio.wait_for(conn.fetchval("SELECT 1"), timeout=5)
                except asyncio.CancelledError:
                    raise
                except Exception:  # noqa: BLE001 - it no longer answers: reconnect
                    lost.set()
            self._conn = None
            self._connected.clear()
            conn.terminate()
            log.warning("live updates: lost the connection listening on %s; reconnecting", self.channel)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()
            self._conn = None

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            self.deliver(FactsChanged.from_json(payload))
        except (ValueError, TypeError):
            log.warning("ignored a malformed notification on %s", self.channel)

    async def announce(self, session: AsyncSession, event: FactsChanged) -> None:
        """``pg_notify`` in the writing transaction: PostgreSQL delivers it exactly when it commits, to every
        process (this one too, through its listening connection)."""
        await session.execute(text("SELECT pg_notify(:channel, :payload)"),
                              {"channel": self.channel, "payload": event.to_json()})

    async def publish(self, event: FactsChanged) -> None:
        if self._conn is None:  # not started (e.g. a CLI command that only writes): deliver nowhere else
            self.deliver(event)
            return
        async with self._lock:
            await self._conn.execute("SELECT pg_notify($1, $2)", self.channel, event.to_json())


def create_broker(settings: Settings) -> Broker:
    """The broker for the configured database."""
    return PostgresBroker(settings) if settings.database_url.startswith("postgresql") else Broker()
