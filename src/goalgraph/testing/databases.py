"""Fresh, isolated databases for tests: a SQLite file, or a PostgreSQL schema."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from goalgraph.settings import Settings
from goalgraph.testing.credentials import with_credentials

DEFAULT_TEST_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


def postgres_url() -> str:
    """The PostgreSQL server tests use (``GOALGRAPH_TEST_POSTGRES_URL``)."""
    return os.environ.get("GOALGRAPH_TEST_POSTGRES_URL", DEFAULT_TEST_POSTGRES_URL)


async def postgres_available(url: str | None = None) -> str | None:
    """None when PostgreSQL answers, else the reason it does not."""
    engine = create_async_engine(url or postgres_url())
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return None
    except Exception as exc:  # noqa: BLE001 - turned into a skip/fail reason
        return f"{type(exc).__name__}: {exc}"
    finally:
        await engine.dispose()


@asynccontextmanager
async def fresh_database(kind: str, tmp_dir: Path) -> AsyncIterator[Settings]:
    """Settings for an empty database of ``kind`` (``sqlite`` or ``postgres``), removed afterwards.

    They carry the test token secret and an enterprise test licence (see goalgraph.testing.credentials).
    """
    if kind == "sqlite":
        yield with_credentials(Settings(database_url=f"sqlite+aiosqlite:///{tmp_dir / 'goalgraph.db'}",
                                        migrate_on_start=True, strict_plugins=True))
        return
    url = postgres_url()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        yield with_credentials(Settings(database_url=url, database_schema=schema, migrate_on_start=True,
                                        strict_plugins=True))
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await admin.dispose()
