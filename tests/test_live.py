"""Live progress over graphql-transport-ws, against real server processes (two of them on PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import datetime, timezone

import httpx
import pytest
import websockets

from factsets import INGEST
from goalgraph.testing.credentials import system_token, user_token

NOW = datetime.now(timezone.utc)
SUBSCRIBE = """subscription($ids: [ID!]!) { goalProgress(goalIds: $ids) { reason goals { id title
  currentPeriod { label actual facts } } } }"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def server(settings, tmp_path):  # type: ignore[no-untyped-def]
    """A real `goalgraph serve` process on the test database."""
    port = _free_port()
    env = {**os.environ, "GOALGRAPH_DATABASE_URL": settings.database_url, "GOALGRAPH_JWT_SECRET": settings.jwt_secret,
           "GOALGRAPH_LICENCE": settings.licence, "GOALGRAPH_LICENCE_PUBLIC_KEY": settings.licence_public_key,
           "GOALGRAPH_MIGRATE_ON_START": "0"}
    if settings.database_schema:
        env["GOALGRAPH_DATABASE_SCHEMA"] = settings.database_schema
    log = open(tmp_path / f"server-{port}.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "goalgraph.cli", "serve", "--port", str(port)],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise AssertionError((tmp_path / f"server-{port}.log").read_text())
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


async def _seed(gql) -> str:  # type: ignore[no-untyped-def]
    batch = {
        "users": [{"id": "anna", "name": "Anna"}, {"id": "bo", "name": "Bo"}],
        "pipelines": [{"id": "p", "name": "P", "stages": [{"id": "s", "name": "S", "probability": 10}]}],
        "deals": [{"id": "d0", "title": "First", "value": "1", "currency": "EUR", "ownerId": "anna", "stageId": "s",
                   "addedAt": NOW.isoformat()}],
    }
    assert (await gql(INGEST, input=batch))["ingestFacts"]["__typename"] == "IngestFactsResult"
    created = await gql("""mutation($i: GoalInput!) { createGoal(input: $i) { ... on GoalSuccess { goal { id } } } }""",
                        i={"title": "Anna's deals", "goalType": "DEALS_ADDED", "measure": "COUNT", "interval": "MONTHLY",
                           "startDate": "2026-01-01", "targetForAll": "3", "assignee": {"kind": "USER", "id": "anna"}})
    return created["createGoal"]["goal"]["id"]


async def _ingest(port: int, settings, deal: dict) -> None:  # type: ignore[no-untyped-def]
    async with httpx.AsyncClient() as client:
        body = (await client.post(f"http://127.0.0.1:{port}/graphql", json={"query": INGEST, "variables": {"input": {"deals": [deal]}}},
                                  headers={"authorization": f"Bearer {system_token(settings)}"})).json()
    assert body["data"]["ingestFacts"]["__typename"] == "IngestFactsResult", body


async def _subscribe(port: int, token: str, goal_id: str):  # type: ignore[no-untyped-def]
    ws = await websockets.connect(f"ws://127.0.0.1:{port}/graphql", subprotocols=["graphql-transport-ws"])
    await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}))
    assert json.loads(await ws.recv())["type"] == "connection_ack"
    await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIBE, "variables": {"ids": [goal_id]}}}))
    return ws


async def _next_goals(ws) -> tuple[str, list]:  # type: ignore[no-untyped-def]
    message = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
    assert message["type"] == "next", message
    update = message["payload"]["data"]["goalProgress"]
    return update["reason"], update["goals"]


def _deal(id_: str, owner: str) -> dict:
    return {"id": id_, "title": id_, "value": "1", "currency": "EUR", "ownerId": owner, "stageId": "s",
            "addedAt": datetime.now(timezone.utc).isoformat()}


async def test_followed_goal_is_pushed_and_access_is_checked(settings, gql, tmp_path) -> None:  # type: ignore[no-untyped-def]
    goal_id = await _seed(gql)
    with server(settings, tmp_path) as port:
        ws = await _subscribe(port, user_token(settings, "anna"), goal_id)
        reason, goals = await _next_goals(ws)
        assert reason == "INITIAL" and goals[0]["currentPeriod"]["actual"] == "1"
        await _ingest(port, settings, _deal("d-bo", "bo"))  # not Anna's: no push
        await _ingest(port, settings, _deal("d1", "anna"))
        started = time.monotonic()
        reason, goals = await _next_goals(ws)
        assert reason == "FACTS" and goals[0]["currentPeriod"]["actual"] == "2"
        assert time.monotonic() - started < 2
        await ws.close()

        # The token is checked on connect; a goal the viewer may not see is refused.
        bad = await websockets.connect(f"ws://127.0.0.1:{port}/graphql", subprotocols=["graphql-transport-ws"])
        await bad.send(json.dumps({"type": "connection_init", "payload": {"Authorization": "Bearer nonsense"}}))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(bad.recv(), timeout=5)
        assert closed.value.rcvd.code == 4403
        hidden = await _subscribe(port, user_token(settings, "bo"), goal_id)  # Bo may not see Anna's goal
        message = json.loads(await asyncio.wait_for(hidden.recv(), timeout=10))
        assert message["type"] in {"error", "next"} and "no goal with id" in json.dumps(message)
        await hidden.close()


@pytest.mark.parametrize("db_kind", [pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_two_processes_share_changes_through_postgres(settings, gql, tmp_path) -> None:  # type: ignore[no-untyped-def]
    goal_id = await _seed(gql)
    with server(settings, tmp_path) as port_a, server(settings, tmp_path) as port_b:
        ws = await _subscribe(port_a, user_token(settings, "anna"), goal_id)
        assert (await _next_goals(ws))[0] == "INITIAL"
        await _ingest(port_b, settings, _deal("d2", "anna"))
        reason, goals = await _next_goals(ws)
        assert reason == "FACTS" and goals[0]["currentPeriod"]["actual"] == "2"
        async with httpx.AsyncClient() as client:  # and the write is readable through A
            body = (await client.post(f"http://127.0.0.1:{port_a}/graphql", json={"query": '{ deal(id: "d2") { id } }'},
                                      headers={"authorization": f"Bearer {system_token(settings)}"})).json()
        assert body["data"]["deal"] == {"id": "d2"}
        await ws.close()
