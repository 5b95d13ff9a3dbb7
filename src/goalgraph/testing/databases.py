"""Fresh, isolated databases for tests: a SQLite file, or a PostgreSQL schema."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

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


_sqlite_template: dict[str, Path] = {}


async def migrated_sqlite(settings: Settings) -> None:
    """Give a test's SQLite database that does not exist yet the schema at head, with the installed plugins'
    branches, by copying a file migrated once per test session (migrating every test's database took a
    third of the suite's time). Databases of other kinds, and files that exist, are left alone."""
    url = settings.database_url
    if not url.startswith("sqlite") or "///" not in url:
        return
    path = Path(url.split("///", 1)[1])
    if path.exists():
        return
    template = _sqlite_template.get("path")
    if template is None:
        from goalgraph.db.migrate import upgrade
        from goalgraph.db.session import create_engine
        from goalgraph.plugins import load_plugins

        template = Path(tempfile.mkdtemp(prefix="goalgraph-template-")) / "template.db"
        engine = create_engine(replace(settings, database_url=f"sqlite+aiosqlite:///{template}"))
        try:
            await upgrade(engine, plugins=load_plugins(strict=settings.strict_plugins))
        finally:
            await engine.dispose()
        _sqlite_template["path"] = template
    shutil.copyfile(template, path)


_pg_template: dict[str, str] = {}


async def migrated_postgres(settings: Settings) -> None:
    """Give a test's empty PostgreSQL schema the schema at head (installed plugins' branches too) by replaying
    a dump of a schema migrated once per test session, renamed; a schema that has tables is left alone."""
    schema = settings.database_schema
    if not settings.database_url.startswith("postgresql") or not schema or shutil.which("pg_dump") is None:
        return  # without pg_dump (PostgreSQL's client tools) every test migrates its own schema
    admin = create_async_engine(settings.database_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            if await conn.scalar(text("SELECT count(*) FROM information_schema.tables WHERE table_schema = :s"),
                                 {"s": schema}):
                return
            sql = _pg_template.get("sql")
            if sql is None:
                sql = _pg_template["sql"] = await _pg_dump_of_migrated(settings, conn)
            raw = await conn.get_raw_connection()
            await raw.driver_connection.execute(sql.replace(_PLACEHOLDER, schema))
    finally:
        await admin.dispose()


_PLACEHOLDER = "__goalgraph_template_schema__"


async def _pg_dump_of_migrated(settings: Settings, conn: Any) -> str:
    """Migrate a scratch schema, dump it (DDL and rows, schema-qualified) and drop it; the dump names the
    schema by a placeholder, and leaves out creating it (the test's schema exists)."""
    import asyncio
    import subprocess

    from sqlalchemy.engine import make_url

    from goalgraph.db.migrate import upgrade
    from goalgraph.db.session import create_engine
    from goalgraph.plugins import load_plugins

    scratch = f"t_tmpl_{uuid.uuid4().hex[:12]}"
    await conn.execute(text(f'CREATE SCHEMA "{scratch}"'))
    try:
        engine = create_engine(replace(settings, database_schema=scratch))
        try:
            await upgrade(engine, plugins=load_plugins(strict=settings.strict_plugins))
        finally:
            await engine.dispose()
        url = make_url(settings.database_url)
        args = ["pg_dump", "--schema", scratch, "--no-owner", "--no-privileges", "--inserts",
                "-h", url.host or "127.0.0.1", "-p", str(url.port or 5432), "-U", url.username or "postgres",
                url.database or "postgres"]
        env = {**os.environ, **({"PGPASSWORD": url.password} if url.password else {})}
        done = await asyncio.to_thread(subprocess.run, args, capture_output=True, text=True, env=env, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"pg_dump failed: {done.stderr.strip()}")
    finally:
        await conn.execute(text(f'DROP SCHEMA IF EXISTS "{scratch}" CASCADE'))
    lines = [line for line in done.stdout.splitlines()
             if not line.startswith(f"CREATE SCHEMA {scratch}") and not line.startswith("\\")]
    return "\n".join(lines).replace(f'"{scratch}"', _PLACEHOLDER).replace(scratch, _PLACEHOLDER)
