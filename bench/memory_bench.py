"""Does a long-running server's memory grow? A fixed request mix against the app on SQLite, in process.

    .venv/bin/python bench/memory_bench.py                          # 8 rounds × 500 requests, RSS per round
    .venv/bin/python bench/memory_bench.py --rounds 3 --tracemalloc # plus the Python allocations that grew

The demo organisation is loaded into a temporary SQLite file; 4 concurrent clients send the mix
(50 % dashboard, 20 % ingests of 5 deals, 15 % a goal with a deals page, 10 % invalid queries with
ever-new text, 5 % unauthenticated) through ``httpx.ASGITransport``. After one warm-up round it prints
RSS after each round; with ``--tracemalloc`` also Python-traced memory and the four source lines whose
allocations grew most since the warm-up (tracemalloc slows requests several times).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import tempfile
import time
import tracemalloc
from datetime import datetime, timezone
from pathlib import Path

import httpx

from goalgraph.access.tokens import mint_token
from goalgraph.app import create_app
from goalgraph.demo import DEMO_ADMIN, ensure_demo_data
from goalgraph.runtime import open_runtime
from goalgraph.settings import Settings
from goalgraph.testing.credentials import TEST_JWT_SECRET, licence_keypair, make_licence

DASHBOARD = "{ goals(first: 200) { nodes { id title periods { label target actual ratio status } } } }"
INGEST = "mutation($i: IngestFactsInput!) { ingestFacts(input: $i) { __typename } }"
CLIENTS = 4


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--requests-per-round", type=int, default=500)
    parser.add_argument("--tracemalloc", action="store_true")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="gg-mem-"))
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp / 'memory.db'}", jwt_secret=TEST_JWT_SECRET,
                        licence=make_licence(), licence_public_key=licence_keypair()[1])
    print(await ensure_demo_data(settings))
    async with open_runtime(settings) as runtime:
        app = create_app(settings, runtime=runtime)
        async with app.router.lifespan_context(app), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://bench", timeout=120) as http:
            system = {"authorization": f"Bearer {mint_token(settings, 'bench', system=True)}"}
            reader = {"authorization": f"Bearer {mint_token(settings, DEMO_ADMIN)}"}
            data = (await http.post("/graphql", headers=system, json={"query": "{ users(first: 50) { nodes { id } } "
                    "pipelines { stages { id } } goals(first: 50) { nodes { id } } }"})).json()["data"]
            owners = [u["id"] for u in data["users"]["nodes"]]
            stages = [s["id"] for p in data["pipelines"] for s in p["stages"]]
            goals = [g["id"] for g in data["goals"]["nodes"]]
            sent = 0

            async def client(seed: int, count: int) -> None:
                nonlocal sent
                rng = random.Random(seed)
                for _ in range(count):
                    sent += 1
                    r = rng.random()
                    if r < 0.5:
                        body, headers = {"query": DASHBOARD}, reader
                    elif r < 0.7:
                        now = datetime.now(timezone.utc).isoformat()
                        deals = [{"id": f"mem-{sent}-{j}", "title": "x", "value": "10", "currency": "EUR",
                                  "ownerId": rng.choice(owners), "stageId": rng.choice(stages), "addedAt": now,
                                  "updatedAt": now} for j in range(5)]
                        body, headers = {"query": INGEST, "variables": {"i": {"deals": deals}}}, system
                    elif r < 0.85:
                        body = {"query": '{ goal(id: "%s") { title periods { actual } } deals(first: 20) '
                                         '{ nodes { id title } } }' % rng.choice(goals)}
                        headers = reader
                    elif r < 0.95:
                        body, headers = {"query": "{ nosuch%d }" % sent}, reader
                    else:
                        body, headers = {"query": DASHBOARD}, {}
                    await http.post("/graphql", headers=headers, json=body)

            async def one_round(number: int) -> None:
                per_client = args.requests_per_round // CLIENTS
                await asyncio.gather(*(client(number * CLIENTS + c, per_client) for c in range(CLIENTS)))
                gc.collect()

            await one_round(0)
            if args.tracemalloc:
                tracemalloc.start(1)
                base = tracemalloc.take_snapshot()
            print(f"warm-up: {sent} requests, RSS {rss_mb():.0f} MB")
            for number in range(1, args.rounds + 1):
                started = time.perf_counter()
                await one_round(number)
                line = f"after {sent} requests: RSS {rss_mb():.0f} MB ({time.perf_counter() - started:.0f} s)"
                if args.tracemalloc:
                    snapshot = tracemalloc.take_snapshot()
                    line += f", traced {tracemalloc.get_traced_memory()[0] / 1e6:.1f} MB"
                print(line, flush=True)
                if args.tracemalloc:
                    for stat in snapshot.compare_to(base, "lineno")[:4]:
                        print(f"    +{stat.size_diff // 1024} KiB ({stat.count_diff:+} blocks) {stat.traceback[0]}")


if __name__ == "__main__":
    asyncio.run(main())
