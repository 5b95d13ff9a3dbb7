"""Generate the plugin's next Alembic revision from its models (autogenerate), into its own branch.

    python new_migration.py "add quote title"

Runs against a scratch SQLite database: migrates it (the core and every installed plugin, this one
included, up to their heads), then lets Alembic compare goalgraph's ``Base.metadata`` — which now
holds this plugin's models — with it, and writes the difference as a new revision in
``src/goalgraph_quotes/migrations``. The first revision starts the ``quotes`` branch
(``down_revision = None``, ``depends_on`` the core revision creating the tables it references);
later ones follow ``quotes@head``. Read the file before committing it: autogenerate misses some
changes (renames, server defaults, data moves).
"""

from __future__ import annotations

import asyncio
import re
import sys
import tempfile
from pathlib import Path

from alembic import command

from goalgraph.db.migrate import alembic_config, plugin_version_locations, upgrade
from goalgraph.db.session import create_engine
from goalgraph.settings import Settings

BRANCH = "quotes"
#: The core revision that creates the tables the plugin's first revision references (users, deals).
DEPENDS_ON = "0001"
MIGRATIONS = Path(__file__).parent / "src" / "goalgraph_quotes" / "migrations"


async def new_revision(message: str) -> None:
    existing = sorted(int(m.group(1)) for p in MIGRATIONS.glob(f"{BRANCH}_*.py")
                      if (m := re.match(rf"{BRANCH}_(\d+)", p.name)))
    rev_id = f"{BRANCH}_{(existing[-1] if existing else 0) + 1:04d}"
    where = ({"head": f"{BRANCH}@head"} if existing
             else {"head": "base", "branch_label": BRANCH, "depends_on": DEPENDS_ON})
    with tempfile.TemporaryDirectory() as scratch:
        engine = create_engine(Settings(database_url=f"sqlite+aiosqlite:///{scratch}/scratch.db"))
        try:
            await upgrade(engine)  # also imports every installed plugin, so Base.metadata holds its models
            cfg = alembic_config(plugin_version_locations())
            async with engine.begin() as conn:

                def run(sync_conn) -> None:  # type: ignore[no-untyped-def]
                    cfg.attributes["connection"] = sync_conn
                    command.revision(cfg, message, autogenerate=True, rev_id=rev_id,
                                     version_path=str(MIGRATIONS), **where)

                await conn.run_sync(run)
        finally:
            await engine.dispose()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    asyncio.run(new_revision(sys.argv[1]))
