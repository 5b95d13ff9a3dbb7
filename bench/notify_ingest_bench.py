"""Delivery does not slow ingest: ``ingestFacts`` with 10 webhook endpoints registered vs none, same run.

    .venv/bin/python bench/notify_ingest_bench.py [--phases 6 --clients 4 --requests 10 --deals 10]

Creates a fresh schema in ``GOALGRAPH_TEST_POSTGRES_URL`` and starts one ``goalgraph serve`` process (its
dispatcher and status watch run as in production) and 10 real HTTP receivers (uvicorn, in a subprocess of
their own, answering 200 at once). Through GraphQL it loads 20 users with 5 monthly goals each (deals
added, milestones every 10 %, so ingested deals keep crossing milestones), and registers 10 webhook
endpoints wanting every kind of event.

Then it alternates phases — *none* (every endpoint switched off: no webhook rows, no POSTs) and *ten*
(all 10 on) — in the order none, ten, ten, none, none, ten …, so drift in the machine's load falls on both.
A phase is ``--clients`` concurrent clients each sending ``--requests`` ``ingestFacts`` mutations of
``--deals`` new deals (owners round-robin) with a service token; one more phase first warms up (not
counted). Between phases the bench waits until the
outbox is drained, so each phase starts from the same state; deliveries made *during* a phase are
counted (with 10 endpoints the dispatcher POSTs while the ingests run in the same process).

Prints the per-request latency p50 with 10 endpoints beside none, the phase throughputs (deals/s), the
webhooks received during and after the *ten* phases, how long the outbox took to drain after each
phase, and the load average:
``NOTIFY_INGEST: api_p50=… floor_p50=… ratio=…`` (ratio ≤ 1.10 is the aim: within 10 %) and
``NOTIFY_INGEST_RATE: api_rate=… floor_rate=… ratio=…`` (throughput with ten over none, aim ≥ 0.90).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from goalgraph.db.migrate import upgrade
from goalgraph.db.session import create_engine
from goalgraph.settings import Settings
from goalgraph.testing.credentials import TEST_JWT_SECRET, system_token
from goalgraph.testing.servers import free_port, wait_until_healthy

ENDPOINTS = 10
USERS = 20
GOALS_PER_USER = 5
KINDS = ["GOAL_ASSIGNED", "MILESTONE_REACHED", "PACE_CHANGED", "PERIOD_CLOSED", "STATUS_CHANGED", "WEEKLY_DIGEST"]
INGEST = """mutation($i: IngestFactsInput!) { ingestFacts(input: $i) { __typename } }"""
CREATE_GOAL = """mutation($i: GoalInput!) { createGoal(input: $i) { __typename } }"""
CREATE_ENDPOINT = """mutation($i: WebhookEndpointInput!) { createWebhookEndpoint(input: $i) { __typename
  ... on WebhookEndpointCreated { endpoint { id } } } }"""
SWITCH = """mutation($id: ID!, $on: Boolean!) { updateWebhookEndpoint(id: $id, input: {active: $on}) { __typename } }"""


def receivers(ports: list[int]) -> None:
    """The receivers' process: one uvicorn server per port, 200 at once; GET /count answers the POSTs so far."""
    import uvicorn

    count = 0

    async def app(scope: Any, receive: Any, send: Any) -> None:
        nonlocal count
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        body = b"ok"
        if scope["method"] == "POST":
            count += 1
        else:
            body = str(count).encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    async def serve() -> None:
        servers = [uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=p, log_level="warning", lifespan="off"))
                   for p in ports]
        await asyncio.gather(*(s.serve() for s in servers))

    asyncio.run(serve())


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes so far (0 for one that is gone)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def postgres_pids() -> list[int]:
    """The PostgreSQL server's processes (backends come and go; each phase reads them afresh)."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    out.append(int(entry.name))
            except OSError:
                pass
    return out


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


class Bench:
    def __init__(self, http: httpx.AsyncClient, token: str, engine: Any, receiver_port: int) -> None:
        self.http, self.engine, self.receiver_port = http, engine, receiver_port
        self.headers = {"authorization": f"Bearer {token}"}
        self.deal = 0

    async def gql(self, query: str, **variables: Any) -> dict[str, Any]:
        response = await self.http.post("/graphql", json={"query": query, "variables": variables}, headers=self.headers)
        body = response.json()
        if body.get("errors"):
            raise RuntimeError(json.dumps(body["errors"])[:500])
        return body["data"]

    async def received(self) -> int:
        async with httpx.AsyncClient() as client:
            return int((await client.get(f"http://127.0.0.1:{self.receiver_port}/count")).text)

    async def pending(self) -> int:
        async with self.engine.connect() as conn:
            return (await conn.execute(text("SELECT count(*) FROM notification_outbox "
                                            "WHERE status IN ('PENDING', 'SENDING')"))).scalar() or 0

    async def drained(self, timeout: float = 300) -> None:
        """Wait until the outbox has nothing due and stays so (the status watch may still be writing)."""
        deadline, quiet = time.monotonic() + timeout, 0
        while quiet < 3:
            if time.monotonic() > deadline:
                raise TimeoutError("the outbox did not drain")
            await asyncio.sleep(0.5)
            quiet = quiet + 1 if await self.pending() == 0 else 0

    def deals(self, n: int) -> list[dict[str, Any]]:
        now = datetime.now(timezone.utc).isoformat()
        out = []
        for _ in range(n):
            self.deal += 1
            out.append({"id": f"d{self.deal}", "title": f"Deal {self.deal}", "value": "100", "currency": "EUR",
                        "ownerId": f"u{self.deal % USERS}", "stageId": "s1", "addedAt": now, "updatedAt": now})
        return out

    async def phase(self, clients: int, requests: int, deals: int) -> tuple[list[float], float]:
        """Per-request latencies and the phase's throughput (deals/s)."""
        latencies: list[float] = []

        async def client() -> None:
            for _ in range(requests):
                body = {"query": INGEST, "variables": {"i": {"deals": self.deals(deals)}}}
                started = time.perf_counter()
                response = await self.http.post("/graphql", json=body, headers=self.headers)
                latencies.append(time.perf_counter() - started)
                assert response.json()["data"]["ingestFacts"]["__typename"] == "IngestFactsResult", response.text

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        return latencies, clients * requests * deals / (time.perf_counter() - started)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--phases", type=int, default=6, help="phases of each kind (none / ten)")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--requests", type=int, default=10, help="ingests per client and phase")
    parser.add_argument("--deals", type=int, default=10, help="deals per ingest")
    args = parser.parse_args()

    url = os.environ.get("GOALGRAPH_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    schema = f"bench_notify_ingest_{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    settings = Settings(database_url=url, database_schema=schema, jwt_secret=TEST_JWT_SECRET, migrate_on_start=False)
    engine = create_engine(settings)
    tmp = Path(tempfile.mkdtemp(prefix="gg-notify-ingest-"))
    ports = [free_port() for _ in range(ENDPOINTS)]
    procs: list[subprocess.Popen] = []
    try:
        await upgrade(engine)
        procs.append(subprocess.Popen([sys.executable, __file__, "--receivers", ",".join(map(str, ports))],
                                      stdout=open(tmp / "receivers.log", "w"), stderr=subprocess.STDOUT))  # noqa: SIM115
        env = {**os.environ, "GOALGRAPH_DATABASE_URL": url, "GOALGRAPH_DATABASE_SCHEMA": schema,
               "GOALGRAPH_JWT_SECRET": TEST_JWT_SECRET, "GOALGRAPH_MIGRATE_ON_START": "0"}
        server_port = free_port()
        procs.append(subprocess.Popen([sys.executable, "-m", "goalgraph.cli", "serve", "--port", str(server_port)],
                                      env=env, stdout=open(tmp / "server.log", "w"), stderr=subprocess.STDOUT))  # noqa: SIM115
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server_port}", timeout=120) as http:
            await wait_until_healthy(http, seconds=60, log=tmp / "server.log")
            bench = Bench(http, system_token(settings), engine, ports[0])
            for attempt in range(100):  # the receivers are up
                try:
                    await bench.received()
                    break
                except httpx.HTTPError:
                    if attempt == 99:
                        raise
                    await asyncio.sleep(0.1)

            await bench.gql(INGEST, i={
                "users": [{"id": f"u{n}", "name": f"User {n}"} for n in range(USERS)],
                "pipelines": [{"id": "p", "name": "P", "stages": [{"id": "s1", "name": "S1", "probability": 50}]}]})
            month = datetime.now(timezone.utc).strftime("%Y-%m-01")
            per_user_deals = (2 * args.phases + 1) * args.clients * args.requests * args.deals / USERS
            for n in range(USERS):
                for g in range(GOALS_PER_USER):  # targets spread so milestones are crossed throughout the run
                    target = int(per_user_deals * (1 + g / GOALS_PER_USER)) + 1
                    await bench.gql(CREATE_GOAL, i={
                        "title": f"u{n} goal {g}", "goalType": "DEALS_ADDED", "measure": "COUNT", "interval": "MONTHLY",
                        "startDate": month, "targetForAll": str(target), "assignee": {"kind": "USER", "id": f"u{n}"},
                        "notifications": {"milestones": list(range(10, 101, 10))}})
            endpoint_ids = []
            for n, port in enumerate(ports):
                made = await bench.gql(CREATE_ENDPOINT, i={"url": f"http://127.0.0.1:{port}/hook", "eventKinds": KINDS,
                                                           "secret": f"bench-secret-{n:04d}-0123456789"})
                endpoint_ids.append(made["createWebhookEndpoint"]["endpoint"]["id"])
            await bench.drained()

            await bench.phase(args.clients, args.requests, args.deals)  # warm-up (not counted): caches, plans, pools
            await bench.drained()
            results: dict[str, list[tuple[list[float], float]]] = {"none": [], "ten": []}
            during = after = 0
            drains: dict[str, list[float]] = {"none": [], "ten": []}
            # CPU of the server process and of PostgreSQL over each phase and its drain: what the webhooks cost.
            cpu: dict[str, list[tuple[float, float]]] = {"none": [], "ten": []}
            server_pid = procs[1].pid
            order = [("none", "ten")[(i + i // 2) % 2] for i in range(2 * args.phases)]  # none ten ten none none ten …
            loads = [load_average()]
            state: bool | None = None
            for kind in order:
                on = kind == "ten"
                if on != state:
                    for id_ in endpoint_ids:
                        await bench.gql(SWITCH, id=id_, on=on)
                    state = on
                before = await bench.received()
                pg_pids = postgres_pids()
                cpu_start = cpu_seconds([server_pid]), cpu_seconds(pg_pids)
                results[kind].append(await bench.phase(args.clients, args.requests, args.deals))
                ended = await bench.received()
                draining = time.perf_counter()
                await bench.drained()
                drains[kind].append(time.perf_counter() - draining)
                pg_pids = sorted(set(pg_pids) | set(postgres_pids()))
                cpu[kind].append((cpu_seconds([server_pid]) - cpu_start[0], cpu_seconds(pg_pids) - cpu_start[1]))
                if on:
                    during += ended - before
                    after += await bench.received() - ended
                loads.append(load_average())
            if await bench.received() == 0:
                raise RuntimeError("no webhook was received: the bench measured nothing")

        def p50(kind: str) -> float:
            return statistics.median([x for lat, _ in results[kind] for x in lat])

        def rate(kind: str) -> float:
            return statistics.median([r for _, r in results[kind]])

        requests = args.phases * args.clients * args.requests
        print(f"{USERS} users × {GOALS_PER_USER} goals (milestones every 10 %), {ENDPOINTS} endpoints; {args.phases} "
              f"phases each of {args.clients} clients × {args.requests} ingests × {args.deals} deals "
              f"({requests} ingests per kind); load average {loads[0]} at the start, {loads[-1]} at the end")
        for kind in ("none", "ten"):
            rates = ", ".join(f"{r:.0f}" for _, r in results[kind])
            lat = sorted(x for l, _ in results[kind] for x in l)
            print(f"  {kind:>4}: ingest p50 {p50(kind) * 1000:.1f} ms, p95 {lat[int(0.95 * len(lat))] * 1000:.1f} ms; "
                  f"deals/s per phase {rates} (median {rate(kind):.0f}); outbox drained "
                  f"{statistics.median(drains[kind]):.1f} s after the phase (median, incl. 1.5 s of quiet)")
        print(f"  webhooks received during the ten phases: {during}, after them (drain): {after}")
        deals_per_phase = args.clients * args.requests * args.deals
        per = {k: tuple(statistics.median(c[i] for c in cpu[k]) for i in (0, 1)) for k in cpu}
        for kind in ("none", "ten"):
            print(f"  {kind:>4}: CPU per phase and its drain (median): server {per[kind][0]:.2f} s, PostgreSQL "
                  f"{per[kind][1]:.2f} s ({1000 * per[kind][0] / deals_per_phase:.2f} / "
                  f"{1000 * per[kind][1] / deals_per_phase:.2f} ms per deal)")
        hooks = (during + after) / max(args.phases, 1)
        print(f"  each webhook costs {1000 * (per['ten'][0] - per['none'][0]) / hooks:.2f} ms of server CPU and "
              f"{1000 * (per['ten'][1] - per['none'][1]) / hooks:.2f} ms of PostgreSQL CPU "
              f"({hooks:.0f} webhooks per ten phase; all PostgreSQL processes counted, other jobs' too)")
        api, floor = p50("ten"), p50("none")
        print(f"NOTIFY_INGEST: api_p50={api * 1000:.1f}ms floor_p50={floor * 1000:.1f}ms ratio={api / floor:.2f} "
              f"(load average {loads[-1]})")
        print(f"NOTIFY_INGEST_RATE: api_rate={rate('ten'):.0f}/s floor_rate={rate('none'):.0f}/s "
              f"ratio={rate('ten') / rate('none'):.2f}")
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
        await engine.dispose()
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await admin.dispose()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--receivers"]:  # the receivers' own process
        receivers([int(p) for p in sys.argv[2].split(",")])
    else:
        asyncio.run(main())
