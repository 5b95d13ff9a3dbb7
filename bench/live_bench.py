"""Live-update cost: memory of 1,000 idle subscribers, and pushes caused by a burst of 10,000 facts.

    .venv/bin/python bench/live_bench.py [--subscribers 1000] [--facts 10000] [--db sqlite|postgres]

Starts a real `goalgraph serve` process on a fresh database, opens N graphql-transport-ws
subscriptions to one goal (each its own websocket), reads the server's resident memory before and
after, then ingests a burst of facts that all count for the goal (batches of 500 through
GraphQL) and counts the pushes subscribers receive. Prints the figures beside the references
(200 MB for 1,000 idle subscribers; "batched, not one push per fact").
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import httpx
import websockets
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from goalgraph.testing.credentials import licence_keypair, make_licence, TEST_JWT_SECRET
from goalgraph.access.tokens import mint_token
from goalgraph.settings import Settings
from goalgraph.testing.servers import free_port, wait_until_healthy

INGEST = "mutation($i: IngestFactsInput!) { ingestFacts(input: $i) { __typename } }"
SUBSCRIBE = "subscription($ids: [ID!]!) { goalProgress(goalIds: $ids) { reason goals { currentPeriod { actual } } } }"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")



async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--facts", type=int, default=10_000)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="gg-live-"))
    env = {**os.environ, "GOALGRAPH_JWT_SECRET": TEST_JWT_SECRET, "GOALGRAPH_LICENCE": make_licence(),
           "GOALGRAPH_LICENCE_PUBLIC_KEY": licence_keypair()[1], "GOALGRAPH_MIGRATE_ON_START": "1"}
    schema = None
    if args.db == "postgres":
        url = os.environ.get("GOALGRAPH_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        admin = create_async_engine(url, isolation_level="AUTOCOMMIT")
        async with admin.connect() as c:
            await c.execute(text(f'CREATE SCHEMA "{schema}"'))
        env.update(GOALGRAPH_DATABASE_URL=url, GOALGRAPH_DATABASE_SCHEMA=schema)
    else:
        env["GOALGRAPH_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp / 'live.db'}"
    settings = Settings(jwt_secret=TEST_JWT_SECRET)
    system = {"authorization": f"Bearer {mint_token(settings, 'bench', system=True)}"}
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "goalgraph.cli", "serve", "--port", str(port)], env=env,
                            stdout=open(tmp / "server.log", "w"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, headers=system, timeout=60) as http:
            await wait_until_healthy(http, seconds=30, log=tmp / "server.log")
            now = datetime.now(timezone.utc)
            seed = {"users": [{"id": "anna", "name": "Anna"}],
                    "pipelines": [{"id": "p", "name": "P", "stages": [{"id": "s", "name": "S", "probability": 10}]}]}
            assert (await http.post("/graphql", json={"query": INGEST, "variables": {"i": seed}})).json()["data"]
            goal = (await http.post("/graphql", json={"query": """mutation($i: GoalInput!) { createGoal(input: $i) {
                ... on GoalSuccess { goal { id } } } }""", "variables": {"i": {
                "title": "Deals", "goalType": "DEALS_ADDED", "measure": "COUNT", "interval": "MONTHLY",
                "startDate": f"{now.year}-01-01", "targetForAll": "100", "assignee": {"kind": "USER", "id": "anna"}}}})).json()
            goal_id = goal["data"]["createGoal"]["goal"]["id"]
            idle_before = rss_mb(proc.pid)

            token = mint_token(settings, "anna")
            pushes = [0] * args.subscribers
            sockets = []
            started = time.perf_counter()
            for i in range(args.subscribers):
                ws = await websockets.connect(f"ws://127.0.0.1:{port}/graphql", subprotocols=["graphql-transport-ws"],
                                              max_size=None)
                await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}))
                await ws.recv()
                await ws.send(json.dumps({"id": "1", "type": "subscribe",
                                          "payload": {"query": SUBSCRIBE, "variables": {"ids": [goal_id]}}}))
                await ws.recv()  # INITIAL
                sockets.append(ws)
            opened = time.perf_counter() - started
            await asyncio.sleep(2)
            idle_after = rss_mb(proc.pid)

            async def count(i: int, ws) -> None:  # type: ignore[no-untyped-def]
                try:
                    while True:
                        await asyncio.wait_for(ws.recv(), timeout=8)
                        pushes[i] += 1
                except (asyncio.TimeoutError, websockets.ConnectionClosed):
                    return

            counters = [asyncio.create_task(count(i, ws)) for i, ws in enumerate(sockets)]
            burst_started = time.perf_counter()
            batch = 500
            for start in range(0, args.facts, batch):
                deals = [{"id": f"d{n}", "title": f"d{n}", "value": "1", "currency": "EUR", "ownerId": "anna",
                          "stageId": "s", "addedAt": datetime.now(timezone.utc).isoformat()}
                         for n in range(start, min(start + batch, args.facts))]
                body = (await http.post("/graphql", json={"query": INGEST, "variables": {"i": {"deals": deals}}})).json()
                assert body["data"]["ingestFacts"]["__typename"] == "IngestFactsResult", body
            burst = time.perf_counter() - burst_started
            await asyncio.gather(*counters)
            final = (await http.post("/graphql", json={"query": '{ goal(id: "%s") { currentPeriod { actual } } }' % goal_id})).json()
            for ws in sockets:
                await ws.close()
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        if schema:
            async with admin.connect() as c:
                await c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            await admin.dispose()

    per_sub = (idle_after - idle_before) / max(args.subscribers, 1) * 1024
    total_pushes = sum(pushes)
    print(f"database: {args.db}; subscribers: {args.subscribers}; facts in burst: {args.facts}")
    print(f"server RSS before subscribers: {idle_before:.0f} MB; with {args.subscribers} idle subscribers: "
          f"{idle_after:.0f} MB (reference 200 MB, ratio {idle_after / 200:.2f}); ≈{per_sub:.1f} KB per subscriber; "
          f"opened in {opened:.1f} s")
    print(f"burst of {args.facts} facts in {args.facts // batch} mutations took {burst:.1f} s; pushes per subscriber: "
          f"min {min(pushes)}, max {max(pushes)}, mean {total_pushes / len(pushes):.1f} "
          f"(one push per fact would be {args.facts}); final actual {final['data']['goal']['currentPeriod']['actual']}")


if __name__ == "__main__":
    asyncio.run(main())
