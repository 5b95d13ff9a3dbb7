"""What a running goalgraph holds: settings, database engine and session factory.

Built once by the app's lifespan and by CLI commands that touch the database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from goalgraph.db.migrate import upgrade
from goalgraph.db.session import create_engine, create_session_factory
from goalgraph.settings import Settings


@dataclass
class Runtime:
    """The long-lived objects of one goalgraph process."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]

    async def database_state(self) -> dict[str, object]:
        """A small health report: can we reach the database, and at which revision."""
        from goalgraph.db.migrate import current_revision

        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            revision = await current_revision(self.engine)
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            return {"ok": False, "dialect": self.engine.dialect.name, "error": f"{type(exc).__name__}: {exc}"}
        return {"ok": True, "dialect": self.engine.dialect.name, "revision": revision}


@asynccontextmanager
async def open_runtime(settings: Settings, *, migrate: bool | None = None) -> AsyncIterator[Runtime]:
    """Create the engine (migrating first when configured) and dispose of it on exit."""
    engine = create_engine(settings)
    try:
        if settings.migrate_on_start if migrate is None else migrate:
            await upgrade(engine)
        yield Runtime(settings=settings, engine=engine, sessions=create_session_factory(engine))
    finally:
        await engine.dispose()
