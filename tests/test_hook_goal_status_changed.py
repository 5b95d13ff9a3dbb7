"""goalgraph_goal_status_changed fires when ingested facts move a current period's status — once."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import httpx

from factsets import INGEST
from goalgraph.app import create_app
from goalgraph.events import drain
from goalgraph.hookspecs import hookimpl
from goalgraph.plugins import load_plugins
from goalgraph.runtime import open_runtime
from goalgraph.testing.credentials import system_token

NOW = datetime.now(timezone.utc)


class Recorder:
    def __init__(self) -> None:
        self.changes: list[tuple[int, int, str, str]] = []

    @hookimpl
    async def goalgraph_goal_status_changed(self, goal_id, period_index, old_status, new_status):  # type: ignore[no-untyped-def]
        self.changes.append((goal_id, period_index, old_status, new_status))


def _deal(id_: str) -> dict:
    return {"id": id_, "title": id_, "value": "1", "currency": "EUR", "ownerId": "anna", "stageId": "s",
            "addedAt": NOW.isoformat()}


async def test_status_changes_are_announced_once(settings) -> None:  # type: ignore[no-untyped-def]
    recorder = Recorder()
    plugins = load_plugins(strict=True, extra=[("recorder", recorder)])
    async with open_runtime(settings, migrate=True, plugins=plugins) as runtime:
        app = create_app(settings, runtime=runtime)
        auth = {"authorization": f"Bearer {system_token(settings)}"}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t", headers=auth) as c:
            async def gql(query: str, **variables: object) -> dict:
                body = (await c.post("/graphql", json={"query": query, "variables": variables or None})).json()
                assert "errors" not in body, body
                return body["data"]

            await gql(INGEST, input={"users": [{"id": "anna", "name": "Anna"}],
                                     "pipelines": [{"id": "p", "name": "P", "stages": [{"id": "s", "name": "S", "probability": 5}]}]})
            created = await gql("""mutation($i: GoalInput!) { createGoal(input: $i) { ... on GoalSuccess { goal { id } } } }""",
                                i={"title": "Two deals", "goalType": "DEALS_ADDED", "measure": "COUNT",
                                   "interval": "MONTHLY", "startDate": f"{NOW.year}-01-01", "targetForAll": "2",
                                   "assignee": {"kind": "USER", "id": "anna"}})
            goal_id = int(created["createGoal"]["goal"]["id"])
            async def settled(count: int) -> list:
                for _ in range(50):  # the watcher runs in the background, coalescing for 0.5 s
                    await asyncio.sleep(0.1)
                    await drain()
                    if len(recorder.changes) >= count:
                        break
                await asyncio.sleep(0.6)
                await drain()
                return list(recorder.changes)

            await gql(INGEST, input={"deals": [_deal("d1")]})
            assert await settled(0) == []  # 1 of 2: still in progress
            await gql(INGEST, input={"deals": [_deal("d2")]})
            changes = await settled(1)
            index = changes[0][1]
            assert changes == [(goal_id, index, "IN_PROGRESS", "ACHIEVED")]
            await gql(INGEST, input={"deals": [_deal("d3")]})
            assert (await settled(2))[1:] == [(goal_id, index, "ACHIEVED", "EXCEEDED")]
            assert await runtime.status_watch.check(None) == []  # nothing new: nothing announced again
    assert len(recorder.changes) == 2
