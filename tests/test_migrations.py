"""Alembic migrations: upgrade, downgrade, and the models match what migrations build."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from goalgraph.db.base import Base
from goalgraph.db.migrate import current_revision, downgrade, upgrade
from goalgraph.db.session import create_engine
from goalgraph.settings import Settings


async def test_upgrade_downgrade_upgrade(settings: Settings) -> None:
    engine = create_engine(settings)
    try:
        await upgrade(engine)
        head = await current_revision(engine)
        assert head is not None
        async with engine.connect() as conn:
            tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        assert {"users", "teams", "deals", "activities", "deal_stage_changes", "organisation"} <= tables
        await downgrade(engine, "base")
        assert await current_revision(engine) is None
        async with engine.connect() as conn:
            left = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        assert left <= {"alembic_version"}
        await upgrade(engine)
        assert await current_revision(engine) == head
    finally:
        await engine.dispose()


async def test_models_match_migrations(settings: Settings) -> None:
    engine = create_engine(settings)
    try:
        await upgrade(engine)
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c, opts={"compare_type": True}), Base.metadata)
            )
        assert diff == [], f"models and migrations differ; write a migration: {diff}"
    finally:
        await engine.dispose()


async def test_upgrade_keeps_existing_users_on_the_targets_right(settings: Settings) -> None:
    """0007 adds the data right "Targets": users stored before it keep using goals (nobody is locked out)."""
    from datetime import datetime, timezone

    from sqlalchemy import column, table, text

    from goalgraph.db.types import UTCDateTime

    engine = create_engine(settings)
    try:
        await upgrade(engine, "0006")
        users = table("users", column("external_id"), column("name"), column("active"),
                      column("source_updated_at", UTCDateTime()))
        async with engine.begin() as conn:  # a user as 0006 stored it
            await conn.execute(users.insert().values(external_id="old", name="Old", active=True,
                                                     source_updated_at=datetime(2026, 1, 1, tzinfo=timezone.utc)))
        await upgrade(engine)
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT can_use_targets FROM users WHERE external_id = 'old'"))).scalar() \
                in (True, 1)
    finally:
        await engine.dispose()
