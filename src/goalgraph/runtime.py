"""What a running goalgraph holds: settings, database engine and session factory.

Built once by the app's lifespan and by CLI commands that touch the database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from goalgraph import clock as system_clock
from goalgraph.db.migrate import upgrade
from goalgraph.db.session import create_engine, create_session_factory
from goalgraph.live.broker import Broker, create_broker
from goalgraph.live.recompute import RecomputeWorker
from goalgraph.live.status_watch import StatusWatch
from goalgraph.notifications.dispatcher import Dispatcher
from goalgraph.plugins import Plugins, load_plugins
from goalgraph.registry import Registry
from goalgraph.settings import Settings


@dataclass
class Runtime:
    """The long-lived objects of one goalgraph process."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    plugins: Plugins
    #: Fact-change events for live subscriptions.
    broker: Broker = field(default_factory=Broker)
    #: Checks period statuses for the recompute worker (see goalgraph.live.status_watch).
    status_watch: Any = None
    #: Keeps the progress store fresh (goalgraph.live.recompute); starts on the first local change.
    recompute: Any = None
    #: Delivers notifications from the outbox (goalgraph.notifications.dispatcher); the app starts it.
    dispatcher: Any = None
    #: HTTP GraphQL requests this process is answering now (a load signal, see progress.service.inline_facts).
    requests_in_flight: int = 0
    #: The current instant (goalgraph.clock.now); tests replace it to pin "now" (and so "today").
    clock: Callable[[], datetime] = field(default=system_clock.now)

    @property
    def registry(self) -> Registry:
        """Goal types, features and dimensions registered by plugins."""
        return self.plugins.registry

    async def database_state(self) -> dict[str, object]:
        """A small health report: can we reach the database, and at which revision."""
        from goalgraph.db.migrate import current_revision

        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            revision = await current_revision(self.engine)
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            return {"ok": False, "dialect": self.engine.dialect.name, "error": f"{type(exc).__name__}: {exc}"}
        state: dict[str, object] = {"ok": True, "dialect": self.engine.dialect.name, "revision": revision}
        if revision is not None:
            from goalgraph.progress.store import backlog

            try:
                async with self.sessions() as session:
                    state["store"] = await backlog(session, system_clock.now())
            except Exception as exc:  # noqa: BLE001 - an older schema: reported, not raised
                state["store"] = {"error": f"{type(exc).__name__}: {exc}"}
        return state


@asynccontextmanager
async def open_runtime(
    settings: Settings, *, migrate: bool | None = None, plugins: Plugins | None = None, listen: bool = True
) -> AsyncIterator[Runtime]:
    """Load plugins, create the engine (migrating first when configured); dispose of it on exit.

    Pass ``plugins`` to use an already built set (tests registering a plugin for one test).
    ``listen=False`` skips receiving change events (commands that only write).
    """
    plugins = plugins or load_plugins(strict=settings.strict_plugins)
    engine = create_engine(settings)
    try:
        if settings.migrate_on_start if migrate is None else migrate:
            await upgrade(engine, plugins=plugins)
        broker = create_broker(settings)
        if listen:
            await broker.start()
        runtime = Runtime(settings=settings, engine=engine, sessions=create_session_factory(engine), plugins=plugins,
                          broker=broker)
        runtime.status_watch = StatusWatch(runtime)
        runtime.recompute = RecomputeWorker(runtime, autostart=listen)
        runtime.dispatcher = Dispatcher(runtime)
        try:
            yield runtime
        finally:
            await runtime.recompute.stop()
            await runtime.dispatcher.stop()
            await broker.stop()
    finally:
        await engine.dispose()
