"""Run Alembic migrations programmatically (``goalgraph migrate`` and start-up)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(extra_version_locations: list[str] | None = None) -> Config:
    """An Alembic config pointing at goalgraph's migrations (plus plugins' own)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    locations = [str(MIGRATIONS_DIR / "versions"), *(extra_version_locations or [])]
    cfg.set_main_option("version_locations", " ".join(locations))
    cfg.set_main_option("path_separator", "space")
    return cfg


async def upgrade(engine: AsyncEngine, revision: str = "heads") -> None:
    """Apply migrations up to ``revision`` on ``engine``'s database."""
    await _run(engine, lambda cfg: command.upgrade(cfg, revision))


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    """Revert migrations down to ``revision`` (``base`` reverts all)."""
    await _run(engine, lambda cfg: command.downgrade(cfg, revision))


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    from alembic.runtime.migration import MigrationContext

    async with engine.connect() as conn:
        return await conn.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())


async def _run(engine: AsyncEngine, action) -> None:  # type: ignore[no-untyped-def]
    cfg = alembic_config()
    async with engine.begin() as conn:

        def run(sync_conn) -> None:  # type: ignore[no-untyped-def]
            cfg.attributes["connection"] = sync_conn
            action(cfg)

        await conn.run_sync(run)
