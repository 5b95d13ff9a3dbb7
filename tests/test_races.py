"""Races through the real HTTP app: concurrent ingest batches, concurrent goal edits."""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import datetime, timedelta, timezone

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from factsets import BASE, INGEST, T0, deal
from goalgraph.db.retry import RetriesExhausted, is_transient, retrying

PG_ONLY = pytest.mark.parametrize("db_kind", [pytest.param("postgres", marks=pytest.mark.postgres)])

DEALS = [f"race-{i:02d}" for i in range(30)]
STAGES = ("s1", "s2", "s3")


def _version(i: int) -> str:
    return (datetime(2026, 1, 10, 9, tzinfo=timezone.utc) + timedelta(minutes=i)).isoformat()


def _batch(version: int, rng: random.Random) -> dict[str, object]:
    """The 30 deals at ``version``, in a shuffled order; each version moves them to another stage."""
    ids = list(DEALS)
    rng.shuffle(ids)
    deals = [deal(d, value=str(100 + version), stageId=STAGES[version % 3], updatedAt=_version(version),
                  stageHistory=[{"stageId": STAGES[(version + 1) % 3], "enteredAt": _version(version)}])
             for d in ids]
    users = [{"id": u["id"], "name": f"{u['name']} v{version}", "updatedAt": _version(version)}
             for u in rng.sample(BASE["users"], len(BASE["users"]))]
    return {"users": users, "deals": deals}


async def test_twenty_shuffled_concurrent_ingests_all_succeed_and_newest_wins(gql, gql_raw) -> None:
    await gql(INGEST, input={**BASE, "deals": [deal(d, updatedAt=T0) for d in DEALS]})
    rng = random.Random(11)
    versions = list(range(1, 21))
    batches = [_batch(v, rng) for v in versions]
    answers = await asyncio.gather(*(gql_raw(INGEST, {"input": b}) for b in batches))
    problems = [a for a in answers if "errors" in a or a["data"]["ingestFacts"]["__typename"] != "IngestFactsResult"]
    assert problems == [], problems[:3]
    newest = max(versions)
    data = await gql("{ deals(first: 100) { nodes { id value { amount } stage { id } } } users { nodes { id name } } }")
    got = {d["id"]: (d["value"]["amount"], d["stage"]["id"]) for d in data["deals"]["nodes"]}
    assert got == {d: (f"{100 + newest}.0000", STAGES[newest % 3]) for d in DEALS}
    assert all(u["name"].endswith(f" v{newest}") for u in data["users"]["nodes"])


async def _admin(settings):  # type: ignore[no-untyped-def]
    """A plain asyncpg connection to the test's schema, outside the app."""
    dsn = make_url(settings.database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    return await asyncpg.connect(dsn, server_settings={"search_path": settings.database_schema})


@PG_ONLY
async def test_a_deadlocked_ingest_is_retried_inside_the_server(gql, gql_raw, settings, caplog) -> None:
    """An outside transaction deadlocks with an ingest; the server retries it and answers success."""
    caplog.set_level(logging.INFO, logger="goalgraph.db.retry")
    await gql(INGEST, input={**BASE, "deals": [deal(d, updatedAt=T0) for d in DEALS]})
    other = await _admin(settings)
    try:
        tx = other.transaction()
        await tx.start()
        await other.execute("UPDATE deals SET title = 'held' WHERE external_id = $1", DEALS[-1])
        # The ingest locks DEALS[0] first (sorted order), then waits for DEALS[-1] held above …
        ingest = asyncio.create_task(gql_raw(INGEST, {"input": {"deals": [
            deal(d, value="7", updatedAt=_version(1)) for d in (DEALS[-1], DEALS[0])]}}))
        await asyncio.sleep(0.3)
        # … and this waits for DEALS[0]: a deadlock; the ingest, waiting longer, is the victim.
        await other.execute("UPDATE deals SET title = 'held too' WHERE external_id = $1", DEALS[0])
        await asyncio.sleep(0.2)
        await tx.rollback()
        answer = await asyncio.wait_for(ingest, timeout=30)
    finally:
        await other.close()
    assert answer["data"]["ingestFacts"]["__typename"] == "IngestFactsResult", answer
    assert answer["data"]["ingestFacts"]["deals"]["updated"] == 2
    assert any("DeadlockDetectedError" in r.getMessage() and "retrying" in r.getMessage() for r in caplog.records)


@PG_ONLY
async def test_retries_run_out_into_a_typed_retryable_error(settings, runtime) -> None:
    """A real deadlock is transient; when every attempt hits one, RetriesExhausted (→ RETRYABLE) says so."""
    from sqlalchemy import text

    async with runtime.engine.begin() as conn:
        await conn.execute(text("CREATE TABLE race_probe (id int primary key)"))
        await conn.execute(text("INSERT INTO race_probe VALUES (1), (2)"))
    attempts = 0

    async def deadlocking() -> None:
        nonlocal attempts
        attempts += 1
        other = await _admin(settings)
        try:
            async with runtime.engine.begin() as conn:
                tx = other.transaction()
                await tx.start()
                await conn.execute(text("UPDATE race_probe SET id = id WHERE id = 1"))
                await other.execute("UPDATE race_probe SET id = id WHERE id = 2")
                # ours waits first, so ours is the one the deadlock detector aborts
                waiting = asyncio.create_task(conn.execute(text("UPDATE race_probe SET id = id WHERE id = 2")))
                await asyncio.sleep(0.1)
                try:
                    await other.execute("UPDATE race_probe SET id = id WHERE id = 1")
                finally:
                    await tx.rollback()
                await waiting
        finally:
            await other.close()

    with pytest.raises(RetriesExhausted) as raised:
        await retrying(deadlocking, attempts=3)
    assert attempts == 3
    assert is_transient(raised.value.__cause__)
    assert "try again" in str(raised.value)


GOAL_INPUT = {"title": "Race", "goalType": "DEALS_WON", "measure": "VALUE", "currency": "EUR",
              "assignee": {"kind": "COMPANY"}, "interval": "MONTHLY", "startDate": "2026-01-01",
              "endDate": "2026-03-31", "targetForAll": "100"}
CREATE_GOAL = """mutation($input: GoalInput!) { createGoal(input: $input) {
  __typename ... on GoalSuccess { goal { id version } } } }"""
UPDATE_GOAL = """mutation($id: ID!, $version: Int!, $input: GoalUpdateInput!) {
  updateGoal(id: $id, version: $version, input: $input) {
    __typename ... on GoalSuccess { goal { version } } ... on ConflictError { code currentVersion } } }"""


async def test_twenty_racing_goal_updates_answer_success_or_conflict(gql, gql_raw) -> None:
    """Each caller reads the version, then updates with it: every answer is a success or CONFLICT, and
    exactly the successes bumped the version (on both databases)."""
    goal = (await gql(CREATE_GOAL, input=GOAL_INPUT))["createGoal"]["goal"]

    async def read_then_update(i: int) -> dict[str, object]:
        version = (await gql_raw('{ goal(id: "%s") { version } }' % goal["id"]))["data"]["goal"]["version"]
        return await gql_raw(UPDATE_GOAL, {"id": goal["id"], "version": version,
                                           "input": {"title": f"Race {i}", "targetForAll": str(200 + i)}})

    answers = await asyncio.gather(*(read_then_update(i) for i in range(20)))
    kinds = [a.get("data") and a["data"]["updateGoal"]["__typename"] for a in answers]
    assert all(k in {"GoalSuccess", "ConflictError"} for k in kinds), [a for a in answers if "errors" in a][:2]
    assert all(a["data"]["updateGoal"]["code"] == "CONFLICT" for a, k in zip(answers, kinds) if k == "ConflictError")
    successes = kinds.count("GoalSuccess")
    assert successes >= 1
    final = (await gql('{ goal(id: "%s") { version } }' % goal["id"]))["goal"]["version"]
    assert final == goal["version"] + successes
    assert sorted(a["data"]["updateGoal"]["goal"]["version"] for a, k in zip(answers, kinds) if k == "GoalSuccess") \
        == list(range(goal["version"] + 1, final + 1))
