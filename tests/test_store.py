"""The progress store end to end: pending figures said honestly, the worker's pushes, /healthz's backlog,
goalgraph recompute, one round at a time, a failed round leaving rows stale (property test:
test_store_properties.py)."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import subprocess
import sys
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from factsets import BASE, INGEST, deal
from goalgraph.db.models import ProgressMark, StoredProgress
from goalgraph.runtime import Runtime

NOW = datetime(2026, 1, 20, 12, 0, tzinfo=timezone.utc)
CREATE = """mutation($i: GoalInput!) { createGoal(input: $i) { __typename ... on GoalSuccess { goal { id
  currentPeriod { actual pending computedAt } } } } }"""
READ = """query($id: ID!) { goal(id: $id) { currentPeriod { actual facts pending computedAt } } }"""
GOAL = {"title": "Deals added", "goalType": "DEALS_ADDED", "measure": "COUNT", "interval": "MONTHLY",
        "startDate": "2026-01-01", "targetForAll": "5", "assignee": {"kind": "USER", "id": "u1"}}


async def _setup(runtime: Runtime, gql) -> str:  # type: ignore[no-untyped-def]
    runtime.clock = lambda: NOW
    assert (await gql(INGEST, input={**BASE, "deals": [deal("d1")]}))["ingestFacts"]["__typename"] == "IngestFactsResult"
    made = (await gql(CREATE, i=GOAL))["createGoal"]
    # A goal just created answers with its figures, measured for the answer.
    assert made["goal"]["currentPeriod"]["actual"] == "1" and made["goal"]["currentPeriod"]["pending"] is False
    await runtime.recompute.settled()
    return made["goal"]["id"]


async def _marks(runtime: Runtime) -> int:
    async with runtime.sessions() as session:
        return await session.scalar(select(func.count()).select_from(ProgressMark)) or 0


async def test_a_read_says_pending_until_the_worker_stored_the_new_figure(runtime, gql, client) -> None:  # type: ignore[no-untyped-def]
    goal_id = await _setup(runtime, gql)
    stored = (await gql(READ, id=goal_id))["goal"]["currentPeriod"]
    assert stored["pending"] is False and stored["actual"] == "1"
    await runtime.recompute.stop()  # hold the worker: the new fact stays pending
    runtime.settings = dataclasses.replace(runtime.settings, inline_recompute_facts=0)  # reads never recompute
    await gql(INGEST, input={"deals": [deal("d2", addedAt="2026-01-15T10:00:00+00:00")]})
    assert await _marks(runtime) > 0
    pending = (await gql(READ, id=goal_id))["goal"]["currentPeriod"]
    assert pending == {**stored, "pending": True}, "the last value, flagged, never presented as fresh"
    health = (await client.get("/healthz")).json()
    assert health["database"]["store"]["staleMarks"] > 0 and health["database"]["store"]["oldestSeconds"] >= 0
    await runtime.recompute.settled()
    fresh = (await gql(READ, id=goal_id))["goal"]["currentPeriod"]
    assert fresh["actual"] == "2" and fresh["facts"] == 2 and fresh["pending"] is False
    assert (await client.get("/healthz")).json()["database"]["store"]["staleMarks"] == 0


async def test_a_cheap_stale_row_is_recomputed_in_the_request(runtime, gql) -> None:  # type: ignore[no-untyped-def]
    goal_id = await _setup(runtime, gql)
    await runtime.recompute.stop()
    await gql(INGEST, input={"deals": [deal("d2", addedAt="2026-01-15T10:00:00+00:00")]})
    assert await _marks(runtime) > 0
    read = (await gql(READ, id=goal_id))["goal"]["currentPeriod"]
    assert read["actual"] == "2" and read["pending"] is False  # 1 fact counted before: cheap, measured now


async def test_a_busy_process_serves_stale_rows_pending_and_leaves_them_to_the_worker(runtime, gql) -> None:  # type: ignore[no-untyped-def]
    """Answering more than two requests at once, a read does not recompute (the worker stores it once)."""
    from goalgraph.progress.service import BUSY_REQUESTS

    goal_id = await _setup(runtime, gql)
    await runtime.recompute.stop()
    await gql(INGEST, input={"deals": [deal("d2", addedAt="2026-01-15T10:00:00+00:00")]})
    runtime.requests_in_flight = BUSY_REQUESTS  # two others under way: this read is the third
    try:
        busy = (await gql(READ, id=goal_id))["goal"]["currentPeriod"]
    finally:
        runtime.requests_in_flight = 0
    assert busy["actual"] == "1" and busy["pending"] is True
    alone = (await gql(READ, id=goal_id))["goal"]["currentPeriod"]
    assert alone["actual"] == "2" and alone["pending"] is False  # not busy: measured in the request


async def test_an_ingest_reaches_subscribers_through_the_worker(runtime, gql) -> None:  # type: ignore[no-untyped-def]
    """The worker's round announces the goals whose figures changed; nobody recomputes per subscriber."""
    goal_id = await _setup(runtime, gql)
    with runtime.broker.listen() as queue:
        await gql(INGEST, input={"deals": [deal("d3", addedAt="2026-01-16T10:00:00+00:00")]})
        got = []
        async with asyncio.timeout(10):
            while not any(int(goal_id) in e.goals for e in got):
                got.append(await queue.get())
    async with runtime.sessions() as session:
        row = (await session.scalars(select(StoredProgress).where(StoredProgress.goal_id == int(goal_id),
                                                                  StoredProgress.period_start == NOW.date().replace(day=1)))).one()
    assert row.facts == 2


async def test_one_round_at_a_time_across_processes(runtime, gql) -> None:  # type: ignore[no-untyped-def]
    if runtime.engine.dialect.name != "postgresql":
        pytest.skip("the advisory lock is PostgreSQL's; SQLite runs one server process")
    from goalgraph.live.recompute import lock_key
    from sqlalchemy import text

    await _setup(runtime, gql)
    key = lock_key(runtime.settings.database_schema)
    async with runtime.engine.connect() as other:  # another process's round holds the lock
        await other.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
        assert await runtime.recompute.round() is None
        await other.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
    assert (await runtime.recompute.round()) is not None


async def test_a_failed_round_leaves_rows_stale_not_wrong(runtime, gql, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    goal_id = await _setup(runtime, gql)
    await runtime.recompute.stop()
    runtime.settings = dataclasses.replace(runtime.settings, inline_recompute_facts=0)
    await gql(INGEST, input={"deals": [deal("d2", addedAt="2026-01-15T10:00:00+00:00")]})
    import goalgraph.live.recompute as worker

    async def broken(*_a, **_k):  # type: ignore[no-untyped-def]
        raise RuntimeError("the database went away mid-round")

    monkeypatch.setattr(worker, "recompute", broken)
    with pytest.raises(RuntimeError):
        await runtime.recompute.round()
    monkeypatch.undo()
    assert (await gql(READ, id=goal_id))["goal"]["currentPeriod"]["pending"] is True
    await runtime.recompute.settled()
    read = (await gql(READ, id=goal_id))["goal"]["currentPeriod"]
    assert read["actual"] == "2" and read["pending"] is False


def test_recompute_command(settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {**os.environ, "GOALGRAPH_DATABASE_URL": settings.database_url, "GOALGRAPH_MIGRATE_ON_START": "1"}
    if settings.database_schema:
        env["GOALGRAPH_DATABASE_SCHEMA"] = settings.database_schema

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "goalgraph.cli", "recompute", *args], env=env,
                              capture_output=True, text=True, timeout=120)

    usage = run()
    assert usage.returncode == 2 and "--goal ID" in usage.stderr
    missing = run("--goal", "999")
    assert missing.returncode == 2 and "no goal with id 999" in missing.stderr
    done = run("--all", "--no-progress")
    assert done.returncode == 0, done.stderr
    assert "recomputed" in done.stdout
