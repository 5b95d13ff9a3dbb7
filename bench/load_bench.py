"""Mixed load against `goalgraph serve --workers W` on PostgreSQL: N clients × S seconds.

    .venv/bin/python bench/load_bench.py                          # 16 clients × 60 s on 2 workers
    .venv/bin/python bench/load_bench.py --clients 4 --seconds 10 --workers 1

What it does:

1. Creates a fresh schema in ``GOALGRAPH_TEST_POSTGRES_URL`` (default
   postgresql+asyncpg://postgres@127.0.0.1:5432/test), migrates it and loads the demo organisation
   (:func:`goalgraph.demo.ensure_demo_data`: ~20 users, ~1,900 deals, ~8,000 activities, 24 goals).
2. Starts ``goalgraph serve --workers W`` on it and waits for ``/healthz``.
3. Runs N client tasks for S seconds, each sending one request after the other: 80 % dashboard reads
   (``goals(first: 200)`` with every period's target, actual, ratio and status, as the demo admin),
   20 % small ingests (``ingestFacts`` of 5 new deals, as a service token).
   Meanwhile a probe follows one user's "Deals added" goal over the ``goalProgress`` subscription and,
   every 2 s, ingests one deal for that user, timing ingest answer → push carrying the new value
   (the freshness figure: fact ingested → subscriber receives it, under the load).
4. Prints requests, errors, req/s, p50/p95/p99 per kind, facts sent (in batches answered as committed)
   versus present in the database afterwards, worker RSS before and after, and the load average
   (the machine may be shared: note it beside the figures).

The schema is dropped at the end (``--keep`` leaves it).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from goalgraph.access.tokens import mint_token
from goalgraph.demo import DEMO_ADMIN, ensure_demo_data
from goalgraph.settings import Settings
from goalgraph.testing.credentials import TEST_JWT_SECRET, licence_keypair, make_licence
from goalgraph.testing.servers import free_port, wait_until_healthy

DASHBOARD = "{ goals(first: 200) { nodes { id title periods { label target actual ratio status } } } }"
INGEST = "mutation($i: IngestFactsInput!) { ingestFacts(input: $i) { __typename } }"
DEALS_PER_INGEST = 5
FOLLOW = """subscription($ids: [ID!]!) { goalProgress(goalIds: $ids) { reason goals { id currentPeriod { actual } } } }"""
PROBE_EVERY = 2.0


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except FileNotFoundError:
        pass
    return float("nan")



def cpu_seconds(pid: int) -> float:
    """User + system CPU of one process so far (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class PostgresCPU:
    """CPU seconds of every PostgreSQL process on this machine (backends, walwriter, …; other jobs' too),
    sampled every second so backends that exit during the run still count up to their last sample."""

    def __init__(self) -> None:
        self.first: dict[int, float] = {}  # at the first sample (processes started later: 0)
        self.last: dict[int, float] = {}
        self.sampled = False

    def sample(self) -> None:
        for pid in map(int, subprocess.run(["pgrep", "-x", "postgres"], capture_output=True, text=True).stdout.split()):
            used = cpu_seconds(pid)
            self.first.setdefault(pid, 0.0 if self.sampled else used)
            if used:
                self.last[pid] = used
        self.sampled = True

    @property
    def used(self) -> float:
        return sum(self.last[p] - self.first.get(p, 0.0) for p in self.last)

    async def follow(self, until: float) -> None:
        while time.monotonic() < until:
            self.sample()
            await asyncio.sleep(1.0)
        self.sample()


def machine_cpu() -> float:
    """CPU seconds the whole machine spent busy (all cores, from /proc/stat)."""
    user, nice, system, idle, iowait, irq, softirq, steal = map(int, Path("/proc/stat").read_text().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--read-share", type=float, default=0.8)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    url = os.environ.get("GOALGRAPH_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    schema = f"load_{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as c:
        await c.execute(text(f'CREATE SCHEMA "{schema}"'))
    licence, public = make_licence(), licence_keypair()[1]
    settings = Settings(database_url=url, database_schema=schema, migrate_on_start=True, jwt_secret=TEST_JWT_SECRET,
                        licence=licence, licence_public_key=public)
    tmp = Path(tempfile.mkdtemp(prefix="gg-load-"))
    proc = None
    try:
        started = time.perf_counter()
        print(await ensure_demo_data(settings), flush=True)
        print(f"setup {time.perf_counter() - started:.1f} s", flush=True)
        env = {**os.environ, "GOALGRAPH_DATABASE_URL": url, "GOALGRAPH_DATABASE_SCHEMA": schema,
               "GOALGRAPH_JWT_SECRET": TEST_JWT_SECRET, "GOALGRAPH_LICENCE": licence,
               "GOALGRAPH_LICENCE_PUBLIC_KEY": public, "GOALGRAPH_MIGRATE_ON_START": "0"}
        port = free_port()
        log = open(tmp / "server.log", "w")
        proc = subprocess.Popen([sys.executable, "-m", "goalgraph.cli", "serve", "--port", str(port),
                                 "--workers", str(args.workers)], env=env, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        system = {"authorization": f"Bearer {mint_token(settings, 'load-bench', system=True)}"}
        reader = {"authorization": f"Bearer {mint_token(settings, DEMO_ADMIN)}"}
        limits = httpx.Limits(max_connections=args.clients + 4)
        async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as http:
            await wait_until_healthy(http, seconds=60, log=tmp / "server.log")
            children = [int(p) for p in subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True,
                                                        text=True).stdout.split()]
            # uvicorn's workers, not multiprocessing's resource tracker
            workers = [p for p in children if b"resource_tracker" not in Path(f"/proc/{p}/cmdline").read_bytes()]
            workers = workers or [proc.pid]  # one worker: uvicorn serves in the process itself
            facts = (await http.post("/graphql", headers=system, json={"query": "{ users(first: 50) { nodes { id } } "
                     "pipelines { id stages { id } } deals(first: 0) { totalCount } }"})).json()["data"]
            owners = [u["id"] for u in facts["users"]["nodes"]]
            stages = [s["id"] for p in facts["pipelines"] for s in p["stages"]]
            deals_before = facts["deals"]["totalCount"]
            # One warm-up read per worker connection, so the RSS "before" is of a server that has answered.
            for _ in range(args.workers * 2):
                await http.post("/graphql", headers=reader, json={"query": DASHBOARD})
            rss_before = {w: rss_mb(w) for w in workers}

            times: dict[str, list[float]] = defaultdict(list)
            errors: dict[str, int] = defaultdict(int)
            samples: list[str] = []
            sent = committed = 0
            deadline = time.monotonic() + args.seconds

            async def client(c: int) -> None:
                nonlocal sent, committed
                rng = random.Random(c)
                n = 0
                while time.monotonic() < deadline:
                    n += 1
                    if rng.random() < args.read_share:
                        kind, headers, body = "dashboard", reader, {"query": DASHBOARD}
                    else:
                        now = datetime.now(timezone.utc).isoformat()
                        deals = [{"id": f"load-{c}-{n}-{i}", "title": f"Load {c}/{n}/{i}", "value": "1000",
                                  "currency": "EUR", "ownerId": rng.choice(owners), "stageId": rng.choice(stages),
                                  "addedAt": now, "updatedAt": now} for i in range(DEALS_PER_INGEST)]
                        kind, headers, body = "ingest", system, {"query": INGEST, "variables": {"i": {"deals": deals}}}
                    t0 = time.perf_counter()
                    try:
                        response = await http.post("/graphql", headers=headers, json=body)
                        payload = response.json()
                        ok = response.status_code == 200 and "errors" not in payload and (
                            kind != "ingest" or payload["data"]["ingestFacts"]["__typename"] == "IngestFactsResult")
                    except (httpx.HTTPError, ValueError) as exc:
                        ok, payload = False, repr(exc)
                    times[kind].append(time.perf_counter() - t0)
                    if kind == "ingest":
                        sent += DEALS_PER_INGEST
                        committed += DEALS_PER_INGEST if ok else 0
                    if not ok:
                        errors[kind] += 1
                        if len(samples) < 3:
                            samples.append(str(payload)[:300])

            found = (await http.post("/graphql", headers=system, json={"query": "{ goals(first: 200) { nodes { id title "
                     "goalType { key } assignee { kind user { id } } currentPeriod { actual } } } }"})).json()["data"]
            probe_goal = next(g for g in found["goals"]["nodes"] if g["goalType"]["key"] == "DEALS_ADDED"
                              and g["assignee"]["kind"] == "USER" and g["currentPeriod"] is not None)
            probe_owner = probe_goal["assignee"]["user"]["id"]
            fresh: list[float] = []
            missed = 0

            async def probe() -> None:
                """Ingest one deal for the followed goal's user every PROBE_EVERY s; time until the push shows it."""
                nonlocal sent, committed, missed
                import json

                import websockets

                ws_url = base.replace("http", "ws") + "/graphql"
                # Unbounded queue: other clients' ingests push this goal too, faster than the probe reads
                # between its rounds; a bounded queue would stop reading the socket (and its pongs).
                async with websockets.connect(ws_url, subprotocols=["graphql-transport-ws"], max_queue=None) as ws:
                    await ws.send(json.dumps({"type": "connection_init", "payload": system | {
                        "Authorization": system["authorization"]}}))
                    assert json.loads(await ws.recv())["type"] == "connection_ack"
                    await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {
                        "query": FOLLOW, "variables": {"ids": [probe_goal["id"]]}}}))
                    first = json.loads(await ws.recv())
                    last = int(first["payload"]["data"]["goalProgress"]["goals"][0]["currentPeriod"]["actual"])
                    n = 0
                    while time.monotonic() < deadline - 3:
                        n += 1
                        now = datetime.now(timezone.utc).isoformat()
                        deal = {"id": f"probe-{n}", "title": f"Probe {n}", "value": "1", "currency": "EUR",
                                "ownerId": probe_owner, "stageId": stages[0], "addedAt": now, "updatedAt": now}
                        r = await http.post("/graphql", headers=system, json={"query": INGEST,
                                                                               "variables": {"i": {"deals": [deal]}}})
                        answered = time.perf_counter()
                        sent += 1
                        if r.json().get("data", {}).get("ingestFacts", {}).get("__typename") == "IngestFactsResult":
                            committed += 1
                        try:
                            while True:
                                msg = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
                                goals = msg["payload"]["data"]["goalProgress"]["goals"]
                                value = int(goals[0]["currentPeriod"]["actual"]) if goals else last
                                if value > last:
                                    fresh.append(time.perf_counter() - answered)
                                    last = value
                                    break
                        except asyncio.TimeoutError:
                            missed += 1
                        await asyncio.sleep(PROBE_EVERY)

            load_before = os.getloadavg()
            pg = PostgresCPU()
            pg.sample()
            cpu_before = (time.process_time(), sum(map(cpu_seconds, workers)), 0.0, machine_cpu())
            t0 = time.perf_counter()
            probing = asyncio.ensure_future(probe())
            await asyncio.gather(pg.follow(deadline), *(client(c) for c in range(args.clients)))
            # Requests per second over the clients' time (the probe may still wait for its last push).
            elapsed = time.perf_counter() - t0
            load_after = os.getloadavg()
            cpu_after = (time.process_time(), sum(map(cpu_seconds, workers)), pg.used, machine_cpu())
            await probing
            rss_after = {w: rss_mb(w) for w in workers}
            deals_after = (await http.post("/graphql", headers=system, json={
                "query": "{ deals(first: 0) { totalCount } }"})).json()["data"]["deals"]["totalCount"]

        total = sum(len(v) for v in times.values())
        print(f"\nload: {args.clients} clients × {args.seconds:.0f} s against {args.workers} worker(s), "
              f"PostgreSQL {url.split('@')[-1]}")
        print(f"requests={total} errors={sum(errors.values())} req/s={total / elapsed:.1f} (elapsed {elapsed:.1f} s)")
        for kind in ("dashboard", "ingest"):
            v = times.get(kind, [])
            print(f"  {kind:9}: n={len(v)} errors={errors.get(kind, 0)} p50={pct(v, .5) * 1000:.0f} ms "
                  f"p95={pct(v, .95) * 1000:.0f} ms p99={pct(v, .99) * 1000:.0f} ms"
                  + (f" mean={statistics.fmean(v) * 1000:.0f} ms" if v else ""))
        print(f"  freshness (ingest answered → push with the new value): n={len(fresh)} missed={missed} "
              f"p50={pct(fresh, .5) * 1000:.0f} ms p95={pct(fresh, .95) * 1000:.0f} ms max="
              f"{max(fresh, default=float('nan')) * 1000:.0f} ms")
        present = deals_after - deals_before
        print(f"facts: sent={sent} answered committed={committed} present={present} "
              f"({'all committed present' if present == committed else 'MISMATCH'})")
        for w in workers:
            print(f"  worker {w}: RSS {rss_before[w]:.0f} MB -> {rss_after[w]:.0f} MB")
        bench_cpu, workers_cpu, pg_cpu, all_cpu = (a - b for a, b in zip(cpu_after, cpu_before))
        cores = elapsed * (os.cpu_count() or 1)
        print(f"CPU of the {os.cpu_count()} cores over the run: server workers {workers_cpu / cores:.0%}, "
              f"PostgreSQL (all of it) {pg_cpu / cores:.0%}, this load generator {bench_cpu / cores:.0%}, "
              f"everything else {max(0.0, all_cpu - workers_cpu - pg_cpu - bench_cpu) / cores:.0%}, "
              f"idle {max(0.0, 1 - all_cpu / cores):.0%}; per request: workers {workers_cpu / total * 1000:.1f} ms, "
              f"PostgreSQL {pg_cpu / total * 1000:.1f} ms")
        print(f"load average (1/5/15 min): before {' '.join(f'{x:.2f}' for x in load_before)}, "
              f"after {' '.join(f'{x:.2f}' for x in load_after)} on {os.cpu_count()} CPUs")
        for s in samples:
            print("  error sample:", s)
        dash = times.get("dashboard", [])
        # The floors are the aims (no hand-written equivalent of a whole server under load).
        print(f"LOAD_RPS: api_p50={total / elapsed:.1f}/s floor_p50=150.0/s ratio={total / elapsed / 150:.3f}")
        print(f"LOAD_DASHBOARD_P95: api_p50={pct(dash, .95) * 1000:.0f}ms floor_p50=250ms "
              f"ratio={pct(dash, .95) / 0.25:.3f}")
        print(f"LOAD_FRESHNESS_P95: api_p50={pct(fresh, .95) * 1000:.0f}ms floor_p50=1000ms ratio={pct(fresh, .95):.3f}")
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        if not args.keep:
            async with admin.connect() as c:
                await c.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        else:
            print(f"kept schema {schema}; server log in {tmp}")
        await admin.dispose()


if __name__ == "__main__":
    asyncio.run(main())
