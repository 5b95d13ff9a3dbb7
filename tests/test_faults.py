"""Faults: the server's database connections are terminated while batches are being ingested.

Whatever the server answered must be true: a batch reported committed is stored, a batch reported
failed (RETRYABLE, or any error) is absent, and once the database is reachable again ingest works.
"""

from __future__ import annotations

import asyncio
import logging
import random

import asyncpg
import pytest
from sqlalchemy import event
from sqlalchemy.engine import make_url

from factsets import BASE, INGEST, T0, deal

PG_ONLY = pytest.mark.parametrize("db_kind", [pytest.param("postgres", marks=pytest.mark.postgres)])

WORKERS = 8
BATCHES = 8
PER_BATCH = 5


@PG_ONLY
async def test_terminated_connections_never_misreport_a_batch(gql, gql_raw, settings, runtime, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="goalgraph.live.broker")
    await gql(INGEST, input=BASE)
    pids: set[int] = set()

    def remember(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        pids.add(dbapi_connection.driver_connection.get_server_pid())

    event.listen(runtime.engine.sync_engine, "connect", remember)
    # Connections opened before the listener: make the pool open new ones.
    await runtime.engine.dispose()
    dsn = make_url(settings.database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    admin = await asyncpg.connect(dsn)
    answers: dict[str, dict] = {}
    stop = asyncio.Event()
    kills = 0

    async def killer() -> None:
        nonlocal kills
        rng = random.Random(3)
        while not stop.is_set():
            await asyncio.sleep(rng.uniform(0.02, 0.15))
            targets = set(pids)
            if runtime.broker._conn is not None:  # the live-updates listener goes too
                targets.add(runtime.broker._conn.get_server_pid())
            kills += await admin.fetchval(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE pid = ANY($1::int[])", list(targets))

    async def worker(w: int) -> None:
        for b in range(BATCHES):
            name = f"w{w}b{b}"
            batch = {"deals": [deal(f"{name}-{i}", updatedAt=T0) for i in range(PER_BATCH)]}
            answers[name] = await gql_raw(INGEST, {"input": batch})

    kill_task = asyncio.create_task(killer())
    try:
        await asyncio.gather(*(worker(w) for w in range(WORKERS)))
    finally:
        stop.set()
        await kill_task
        await admin.close()
    assert kills > 0

    stored = {d["id"] for d in (await gql("{ deals(first: 500) { nodes { id } } }"))["deals"]["nodes"]}
    outcome: dict[str, int] = {}
    for name, answer in answers.items():
        ids = {f"{name}-{i}" for i in range(PER_BATCH)}
        result = (answer.get("data") or {}).get("ingestFacts") or {}
        # Refused before the batch ran (the viewer could not be loaded while connections died): a typed
        # top-level RETRYABLE error, also fine; nothing was written.
        codes = {e.get("extensions", {}).get("code") for e in answer.get("errors") or ()}
        kind = result.get("__typename") or ("RetryableError" if codes == {"RETRYABLE"} else "error")
        outcome[kind] = outcome.get(kind, 0) + 1
        if kind == "IngestFactsResult":
            assert ids <= stored, (name, "reported committed but missing")
        else:
            assert not ids & stored, (name, kind, "reported failed but (partly) stored", answer)
        # Never a masked internal error for ingest: success or the typed RETRYABLE.
        assert kind in {"IngestFactsResult", "RetryableError"}, answer
    assert outcome.get("IngestFactsResult", 0) > 0, outcome

    after = await gql_raw(INGEST, {"input": {"deals": [deal("after-the-faults", updatedAt=T0)]}})
    assert after["data"]["ingestFacts"]["__typename"] == "IngestFactsResult", after
    for _ in range(100):  # the live listener reconnected by itself
        if runtime.broker._conn is not None:
            break
        await asyncio.sleep(0.1)
    assert runtime.broker._conn is not None
    messages = [r.getMessage() for r in caplog.records if r.name == "goalgraph.live.broker"]
    assert any("lost the connection" in m for m in messages) and any("listening on" in m and "again" in m
                                                                     for m in messages), messages


async def test_a_change_is_announced_exactly_when_its_transaction_commits(runtime) -> None:
    """Rolled back: never announced; committed: announced (PostgreSQL: pg_notify in the transaction,
    heard back through LISTEN; SQLite: delivered after the commit)."""
    from sqlalchemy import text

    from goalgraph.live.broker import FactsChanged

    broker = runtime.broker
    with broker.listen() as queue:
        while not queue.empty():
            queue.get_nowait()  # the "anything may have changed" of (re)connecting
        async with runtime.sessions() as session:
            async with session.begin():
                await broker.announce(session, FactsChanged(frozenset({1})))
                await session.execute(text("SELECT 1"))
                await session.rollback()
            async with session.begin():
                await broker.announce(session, FactsChanged(frozenset({2})))
                assert queue.empty(), "announced before the commit"
        event = await asyncio.wait_for(queue.get(), timeout=5)
        assert event == FactsChanged(frozenset({2}))
        await asyncio.sleep(0.3)
        assert queue.empty()
