"""Live progress over graphql-transport-ws, against real server processes (two of them on PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
import os
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
from goalgraph.testing.servers import free_port as _free_port

NOW = datetime.now(timezone.utc)
SUBSCRIBE = """subscription($ids: [ID!]!) { goalProgress(goalIds: $ids) { reason goals { id title
  currentPeriod { label actual facts } } } }"""



@contextmanager
def server(settings, tmp_path, **extra: str):  # type: ignore[no-untyped-def]
    """A real `goalgraph serve` process on the test database (``extra``: more environment)."""
    port = _free_port()
    env = {**os.environ, "GOALGRAPH_DATABASE_URL": settings.database_url, "GOALGRAPH_JWT_SECRET": settings.jwt_secret,
           "GOALGRAPH_LICENCE": settings.licence, "GOALGRAPH_LICENCE_PUBLIC_KEY": settings.licence_public_key,
           "GOALGRAPH_MIGRATE_ON_START": "0", **extra}
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
    # The store holds the goal before a server starts (else its first round would push the figures it stores).
    await gql.runtime.recompute.settled()
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


async def test_first_push_reads_afresh_after_another_processes_write(settings, gql, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A subscription's first push is its own read: a fact another process wrote without an announcement
    here (SQLite has no NOTIFY; the server's worker polls rarely here) is in it, not a result an earlier
    subscriber computed (the dashboard's "updating…" step failed on this)."""
    goal_id = await _seed(gql)
    with server(settings, tmp_path, GOALGRAPH_RECOMPUTE_POLL_SECONDS="600") as port:
        first = await _subscribe(port, user_token(settings, "anna"), goal_id)
        reason, goals = await _next_goals(first)
        assert reason == "INITIAL" and goals[0]["currentPeriod"]["facts"] == 1
        await first.close()
        # Another process (this test's own runtime) writes a deal of Anna's.
        assert (await gql(INGEST, input={"deals": [_deal("d-elsewhere", "anna")]}))["ingestFacts"]["__typename"] \
            == "IngestFactsResult"
        again = await _subscribe(port, user_token(settings, "anna"), goal_id)
        reason, goals = await _next_goals(again)
        assert reason == "INITIAL" and goals[0]["currentPeriod"]["facts"] == 2, goals
        await again.close()


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


# --- Pushes are computed from the goal as it is now, and for a viewer who may still see it --------------------

TARGETS = """subscription($ids: [ID!]!) { goalProgress(goalIds: $ids) { reason goals { id
  currentPeriod { startDate target actual } } } }"""
UPDATE_TARGETS = """mutation($id: ID!, $v: Int!, $input: GoalUpdateInput!) { updateGoal(id: $id, version: $v, input: $input) {
  __typename ... on GoalSuccess { goal { version currentPeriod { target } } } } }"""
ACCESS = """mutation($u: ID!, $i: AccessInput!) { setUserAccess(userId: $u, input: $i) { __typename } }"""


async def _http(port: int, settings, query: str, **variables: object) -> dict:  # type: ignore[no-untyped-def]
    async with httpx.AsyncClient() as client:
        body = (await client.post(f"http://127.0.0.1:{port}/graphql", json={"query": query, "variables": variables},
                                  headers={"authorization": f"Bearer {system_token(settings)}"})).json()
    assert "errors" not in body, body
    return body["data"]


async def _subscribe_to(port: int, token: str, goal_id: str, query: str = SUBSCRIBE):  # type: ignore[no-untyped-def]
    ws = await websockets.connect(f"ws://127.0.0.1:{port}/graphql", subprotocols=["graphql-transport-ws"])
    await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}))
    assert json.loads(await ws.recv())["type"] == "connection_ack"
    await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query, "variables": {"ids": [goal_id]}}}))
    return ws


async def _ended_with(ws, code: str) -> dict:  # type: ignore[no-untyped-def]
    """The stream's last push carries an error with ``code``, then it completes."""
    message = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
    assert message["type"] in {"next", "error"}, message
    errors = message["payload"].get("errors") if message["type"] == "next" else message["payload"]
    assert errors, f"a push with data instead of an error: {message}"
    assert message["type"] == "error" or message["payload"].get("data") is None, message
    assert [e["extensions"]["code"] for e in errors] == [code], message
    done = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
    assert done["type"] == "complete", done
    return errors[0]


async def test_pushes_carry_the_goal_as_it_is_now(settings, gql, tmp_path) -> None:  # type: ignore[no-untyped-def]
    await _seed(gql)
    created = await gql("""mutation($i: GoalInput!) { createGoal(input: $i) { ... on GoalSuccess { goal { id
                           currentPeriod { startDate } } } } }""",
                        i={"title": "Quarters", "goalType": "DEALS_ADDED", "measure": "COUNT", "interval": "QUARTERLY",
                           "startDate": f"{NOW.year}-01-01", "endDate": f"{NOW.year + 1}-12-31",
                           "targetForAll": "300000", "assignee": {"kind": "USER", "id": "anna"}})
    goal = created["createGoal"]["goal"]
    quarter = goal["currentPeriod"]["startDate"]
    # The store holds the new goal before the server starts: else a round storing it could push figures
    # computed before the update below, just after it (a push is the state when it was computed).
    await gql.runtime.recompute.settled()
    with server(settings, tmp_path) as port:
        ws = await _subscribe_to(port, user_token(settings, "anna"), goal["id"], TARGETS)
        reason, goals = await _next_goals(ws)
        assert reason == "INITIAL" and goals[0]["currentPeriod"]["target"] == "300000"
        updated = await _http(port, settings, UPDATE_TARGETS, id=goal["id"], v=1,
                              input={"periodTargets": [{"periodStart": quarter, "target": "450000"}]})
        assert updated["updateGoal"]["goal"]["currentPeriod"]["target"] == "450000"
        # The change itself is pushed, with the new target.
        reason, goals = await _next_goals(ws)
        assert goals[0]["currentPeriod"]["target"] == "450000"
        # A new subscription (the dashboard reloaded) starts from the new target too …
        again = await _subscribe_to(port, user_token(settings, "anna"), goal["id"], TARGETS)
        reason, goals = await _next_goals(again)
        assert reason == "INITIAL" and goals[0]["currentPeriod"]["target"] == "450000"
        # … and so do later pushes, on both.
        await _ingest(port, settings, _deal("d1", "anna"))
        for socket_ in (ws, again):
            reason, goals = await _next_goals(socket_)
            assert reason == "FACTS" and goals[0]["currentPeriod"] == {"startDate": quarter, "target": "450000",
                                                                     "actual": "2"}
        await ws.close()
        await again.close()


async def test_subscription_ends_when_statistics_rights_are_revoked(settings, gql, tmp_path) -> None:  # type: ignore[no-untyped-def]
    goal_id = await _seed(gql)
    both = {"seeCompanyStatistics": True, "seeOtherUsersStatistics": True}
    assert (await gql(ACCESS, u="bo", i=both))["setUserAccess"]["__typename"] == "AccessSaved"
    with server(settings, tmp_path) as port:
        ws = await _subscribe_to(port, user_token(settings, "bo"), goal_id)  # Bo sees Anna's goal with both rights
        reason, goals = await _next_goals(ws)
        assert reason == "INITIAL" and goals[0]["id"] == goal_id
        await _http(port, settings, ACCESS, u="bo", i={"seeCompanyStatistics": False, "seeOtherUsersStatistics": False})
        await _ingest(port, settings, _deal("d1", "anna"))  # would have been pushed to Bo
        error = await _ended_with(ws, "NOT_FOUND")  # a hidden goal answers as a missing one
        assert f"no goal with id {goal_id}" in error["message"]
        await ws.close()


async def test_subscription_ends_when_the_user_is_deactivated(settings, gql, tmp_path) -> None:  # type: ignore[no-untyped-def]
    goal_id = await _seed(gql)
    with server(settings, tmp_path) as port:
        ws = await _subscribe_to(port, user_token(settings, "anna"), goal_id)
        assert (await _next_goals(ws))[0] == "INITIAL"
        await _http(port, settings, INGEST, input={"users": [{"id": "anna", "name": "Anna", "active": False}]})
        await _ingest(port, settings, _deal("d1", "anna"))
        error = await _ended_with(ws, "UNAUTHENTICATED")
        assert "deactivated" in error["message"]
        await ws.close()
