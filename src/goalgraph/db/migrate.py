"""Run Alembic migrations programmatically (``goalgraph migrate`` and start-up).

The core's revisions live in ``migrations/versions``. A plugin that owns tables ships its own
revisions as a separate branch (its own ``branch_labels``, ``depends_on`` the core revision that
creates the tables it references) and returns their directory from the
``goalgraph_register_migrations`` hook; every migration run adds those directories to Alembic's
version locations, so ``upgrade`` to ``heads`` applies the core and every installed plugin, and
``downgrade`` to ``base`` reverts them all. With plugins installed the database has several heads
(one per branch); :func:`current_heads` lists them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncEngine

if TYPE_CHECKING:
    from goalgraph.plugins import Plugins

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


class MigrationError(RuntimeError):
    """A plugin's migrations cannot be used (the hook raised, or the path is not a directory)."""


def alembic_config(extra_version_locations: Sequence[str] | None = None) -> Config:
    """An Alembic config pointing at goalgraph's migrations (plus plugins' own)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    locations = [str(MIGRATIONS_DIR / "versions"), *(extra_version_locations or [])]
    # One location per line: paths may contain spaces. ``%`` is configparser's interpolation.
    cfg.set_main_option("version_locations", "\n".join(locations).replace("%", "%%"))
    cfg.set_main_option("path_separator", "newline")
    return cfg


def plugin_version_locations(plugins: "Plugins | None" = None) -> list[str]:
    """The migration directories plugins register through ``goalgraph_register_migrations``.

    ``plugins`` defaults to the installed ones (entry points, strictness from the environment),
    exactly what the service loads.
    """
    if plugins is None:
        from goalgraph.plugins import load_plugins
        from goalgraph.settings import Settings

        plugins = load_plugins(strict=Settings.from_env().strict_plugins)
    locations: list[str] = []
    # pluggy lists implementations last-registered first; keep registration order.
    for impl in reversed(plugins.manager.hook.goalgraph_register_migrations.get_hookimpls()):
        try:
            paths = list(impl.function() or ())
        except Exception as exc:  # noqa: BLE001 - reported with the plugin's name
            raise MigrationError(
                f"plugin {impl.plugin_name!r} failed in goalgraph_register_migrations: {type(exc).__name__}: {exc}"
            ) from exc
        for path in paths:
            directory = Path(path)
            if not directory.is_dir():
                raise MigrationError(
                    f"plugin {impl.plugin_name!r} registered migrations at {str(path)!r}, which is not a directory"
                )
            resolved = str(directory.resolve())
            if resolved not in locations:
                locations.append(resolved)
    return locations


async def upgrade(engine: AsyncEngine, revision: str = "heads", *, plugins: "Plugins | None" = None) -> None:
    """Apply migrations (the core's and the plugins') up to ``revision`` on ``engine``'s database."""
    await _run(engine, plugins, lambda cfg: command.upgrade(cfg, revision))


async def downgrade(engine: AsyncEngine, revision: str, *, plugins: "Plugins | None" = None) -> None:
    """Revert migrations down to ``revision`` (``base`` reverts all, ``quotes@base`` one plugin's branch)."""
    await _run(engine, plugins, lambda cfg: command.downgrade(cfg, revision))


async def current_heads(engine: AsyncEngine) -> tuple[str, ...]:
    """Every revision the database is at (one per branch: the core's and each plugin's), sorted."""
    from alembic.runtime.migration import MigrationContext

    async with engine.connect() as conn:
        heads = await conn.run_sync(lambda sync: MigrationContext.configure(sync).get_current_heads())
    return tuple(sorted(heads))


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at, or None when it was never migrated.

    With plugin branches there are several heads; they are joined with ``", "``.
    """
    heads = await current_heads(engine)
    return ", ".join(heads) if heads else None


async def _run(engine: AsyncEngine, plugins: "Plugins | None", action) -> None:  # type: ignore[no-untyped-def]
    cfg = alembic_config(plugin_version_locations(plugins))
    async with engine.begin() as conn:

        def run(sync_conn) -> None:  # type: ignore[no-untyped-def]
            cfg.attributes["connection"] = sync_conn
            action(cfg)

        await conn.run_sync(run)
