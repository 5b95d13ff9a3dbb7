"""The bell, live: the `notifications` subscription over graphql-transport-ws, against real server processes
(two of them on PostgreSQL, where the notice is written by whichever process's dispatcher claims it)."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets

from factsets import INGEST
from goalgraph.live.broker import FactsChanged
from goalgraph.testing.credentials import system_token, user_token
from test_live import _ended_with, _http, server

BELL = """subscription { notifications(first: 3) { unreadCount reason notifications { id kind title read } } }"""
CREATE = """mutation($i: GoalInput!) { createGoal(input: $i) { __typename ... on GoalSuccess { goal { id } } } }"""
MARK = """mutation { markNotificationsRead(all: true) { ... on NotificationsMarkedRead { marked unreadCount } } }"""


def _goal(title: str, user: str) -> dict:
    return {"title": title, "goalType": "DEALS_ADDED", "measure": "COUNT", "interval": "MONTHLY",
            "startDate": "2026-01-01", "targetForAll": "3", "assignee": {"kind": "USER", "id": user}}


async def _seed(gql) -> None:  # type: ignore[no-untyped-def]
    batch = {"users": [{"id": "anna", "name": "Anna"}, {"id": "bo", "name": "Bo"}]}
    assert (await gql(INGEST, input=batch))["ingestFacts"]["__typename"] == "IngestFactsResult"


async def _bell(port: int, token: str):  # type: ignore[no-untyped-def]
    ws = await websockets.connect(f"ws://127.0.0.1:{port}/graphql", subprotocols=["graphql-transport-ws"])
    await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}))
    assert json.loads(await ws.recv())["type"] == "connection_ack"
    await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": BELL}}))
    return ws


async def _push(ws, timeout: float = 15) -> dict:  # type: ignore[no-untyped-def]
    message = json.loads(await asyncio.wait_for(ws.recv(), timeout=timeout))
    assert message["type"] == "next" and "errors" not in message["payload"], message
    return message["payload"]["data"]["notifications"]


async def _mark_all(port: int, token: str) -> dict:
    import httpx

    async with httpx.AsyncClient() as client:
        body = (await client.post(f"http://127.0.0.1:{port}/graphql", json={"query": MARK},
                                  headers={"authorization": f"Bearer {token}"})).json()
    return body["data"]["markNotificationsRead"]


def test_a_notices_only_event_round_trips_through_json_and_moves_no_facts() -> None:
    event = FactsChanged.notices_of([3, 1])
    assert event.users == frozenset() and event.notices == {1, 3}
    assert FactsChanged.from_json(event.to_json()) == event
    # Events of before (and of processes not yet upgraded) still read as they did.
    assert FactsChanged.from_json('{"users": null}') == FactsChanged(None)
    assert json.loads(FactsChanged(frozenset({2})).to_json()) == {"users": [2]}


async def test_the_bell_is_pushed_when_a_notice_arrives_and_when_it_is_read(settings, gql, tmp_path) -> None:  # type: ignore[no-untyped-def]
    await _seed(gql)
    anna = user_token(settings, "anna")
    with server(settings, tmp_path) as port:
        ws = await _bell(port, anna)
        bo = await _bell(port, user_token(settings, "bo"))
        first = await _push(ws)
        assert first == {"unreadCount": 0, "reason": "INITIAL", "notifications": []}
        assert (await _push(bo))["unreadCount"] == 0
        created = await _http(port, settings, CREATE, i=_goal("Anna's deals", "anna"))
        assert created["createGoal"]["__typename"] == "GoalSuccess"
        # The dispatcher of the server writes the in-app notice and announces it in that transaction.
        pushed = await _push(ws)
        assert pushed["reason"] == "CHANGED" and pushed["unreadCount"] == 1
        assert [(n["kind"], n["read"]) for n in pushed["notifications"]] == [("GOAL_ASSIGNED", False)]
        assert "Anna's deals" in pushed["notifications"][0]["title"]
        # Marked read (another tab): pushed again with the count down.
        assert await _mark_all(port, anna) == {"marked": 1, "unreadCount": 0}
        pushed = await _push(ws)
        assert pushed["unreadCount"] == 0 and pushed["notifications"][0]["read"] is True
        # Bo heard nothing of Anna's notices: his next push is his own.
        await _http(port, settings, CREATE, i=_goal("Bo's deals", "bo"))
        pushed = await _push(bo)
        assert pushed["unreadCount"] == 1 and "Bo's deals" in pushed["notifications"][0]["title"]
        # A service token has no notices.
        service = await _bell(port, system_token(settings))
        assert (await _push(service)) == {"unreadCount": 0, "reason": "INITIAL", "notifications": []}
        for socket_ in (ws, bo, service):
            await socket_.close()


async def test_the_bell_ends_when_the_user_is_deactivated(settings, gql, tmp_path) -> None:  # type: ignore[no-untyped-def]
    await _seed(gql)
    with server(settings, tmp_path) as port:
        ws = await _bell(port, user_token(settings, "anna"))
        assert (await _push(ws))["reason"] == "INITIAL"
        await _http(port, settings, INGEST, input={"users": [{"id": "anna", "name": "Anna", "active": False}]})
        error = await _ended_with(ws, "UNAUTHENTICATED")
        assert "deactivated" in error["message"]
        await ws.close()


async def test_the_bell_ends_when_the_token_expires(settings, gql, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from goalgraph.access.tokens import mint_token

    await _seed(gql)
    with server(settings, tmp_path) as port:
        ws = await _bell(port, mint_token(settings, "anna", ttl=timedelta(seconds=2)))
        assert (await _push(ws))["reason"] == "INITIAL"
        await asyncio.sleep(2.5)
        await _http(port, settings, CREATE, i=_goal("Anna's deals", "anna"))  # a notice for her: the push checks the token
        error = await _ended_with(ws, "UNAUTHENTICATED")
        assert "expired" in error["message"]
        await ws.close()


async def test_a_bad_first_is_refused(settings, gql, tmp_path) -> None:  # type: ignore[no-untyped-def]
    await _seed(gql)
    with server(settings, tmp_path) as port:
        ws = await websockets.connect(f"ws://127.0.0.1:{port}/graphql", subprotocols=["graphql-transport-ws"])
        await ws.send(json.dumps({"type": "connection_init",
                                  "payload": {"Authorization": f"Bearer {user_token(settings, 'anna')}"}}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        await ws.send(json.dumps({"id": "1", "type": "subscribe",
                                  "payload": {"query": "subscription { notifications(first: 500) { unreadCount } }"}}))
        message = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
        assert "BAD_USER_INPUT" in json.dumps(message), message
        await ws.close()


@pytest.mark.parametrize("db_kind", [pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_a_notice_written_by_another_process_rings_the_bell(settings, gql, tmp_path) -> None:  # type: ignore[no-untyped-def]
    await _seed(gql)
    anna = user_token(settings, "anna")
    with server(settings, tmp_path) as port_a, server(settings, tmp_path) as port_b:
        ws = await _bell(port_a, anna)
        assert (await _push(ws))["unreadCount"] == 0
        await _http(port_b, settings, CREATE, i=_goal("Anna's deals", "anna"))
        assert (await _push(ws))["unreadCount"] == 1
        assert (await _mark_all(port_b, anna))["marked"] == 1  # read through B: A's subscriber hears it
        assert (await _push(ws))["unreadCount"] == 0
        await ws.close()
