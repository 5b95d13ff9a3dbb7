"""Engine and session factory for SQLite (aiosqlite) and PostgreSQL (asyncpg)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from goalgraph.db.dialect import register_sqlite_functions
from goalgraph.settings import Settings


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()
    register_sqlite_functions(dbapi_connection)


def create_engine(settings: Settings) -> AsyncEngine:
    """Create the async engine for ``settings.database_url``."""
    url = settings.database_url
    kwargs: dict[str, Any] = {"echo": settings.echo_sql}
    if url.startswith("sqlite"):
        path = settings.sqlite_path()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    if url.startswith("postgresql") and "+asyncpg" not in url.split("://", 1)[0]:
        raise ValueError(
            f"GOALGRAPH_DATABASE_URL {url.split('@')[-1]!r}: use the asyncpg driver, e.g. postgresql+asyncpg://user@host/db"
        )
    # JIT off: progress statements are estimated above jit_above_cost (500,000) at CRM scale, and
    # PostgreSQL then spent 1–2 s compiling each (13 s of 17 s for the hand-written dashboard statement
    # at 100k deals, bench/README.md) to save milliseconds of execution; reads here are short.
    # Custom plans always: progress statements pass goals and bounds as array parameters, and only a
    # custom plan sees how many there are. After five runs PostgreSQL may switch a prepared statement
    # to a generic plan guessing 10 rows per array — measured here as one dashboard read in five
    # taking 7.3 s instead of 1.0 s (bench/dashboard_bench.py, 100k deals). Planning costs about a ms.
    server_settings = {"jit": "off", "plan_cache_mode": "force_custom_plan"}
    if settings.database_schema:
        server_settings["search_path"] = settings.database_schema
    kwargs["connect_args"] = {"server_settings": server_settings}
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True, **kwargs)


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)
