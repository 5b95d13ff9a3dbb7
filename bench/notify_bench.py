"""Outbox → webhook on PostgreSQL with two server processes, one killed (kill -9) half-way.

    .venv/bin/python bench/notify_bench.py [--events 1000] [--rate 200]

Creates a fresh schema in ``GOALGRAPH_TEST_POSTGRES_URL``, starts a real HTTP receiver (uvicorn, in this
process) and two ``goalgraph serve`` processes (each runs one dispatcher), registers one webhook endpoint,
then enqueues ``--events`` events through ``goalgraph.notifications.outbox.enqueue`` at ``--rate`` per
second (committed transactions of 10; the receiver takes ``--receiver-delay`` to answer, so sends are
in flight) and SIGKILLs one server (``--kill``, default the second) when half are enqueued, while messages are SENDING. Waits until
every event has arrived (the killed process's claims are taken over when their 60 s lease ends) and
prints: events received, lost (enqueued, never received), repeats (received again with the same
idempotency key), distinct keys per event (must be 1), the latency from commit to receipt (p50/p95/max),
and beside it the floor: the same receiver's latency for a direct POST from this process.
The latency covers outbox → receiver; event detection (the status watch) comes before it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import orjson
import uvicorn
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from goalgraph.db.migrate import upgrade
from goalgraph.db.models import WebhookEndpoint
from goalgraph.db.session import create_engine, create_session_factory
from goalgraph.notifications.outbox import enqueue
from goalgraph.settings import Settings
from goalgraph.testing.credentials import TEST_JWT_SECRET
from goalgraph.testing.servers import free_port, wait_until_healthy


class Receiver:
    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.got: list[tuple[str, int, float]] = []  # (key, event number, receipt time)

    async def __call__(self, scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        now = time.time()
        headers = dict(scope["headers"])
        key = headers.get(b"goalgraph-idempotency-key", b"").decode()
        if key:
            self.got.append((key, int(orjson.loads(body)["data"]["n"]), now))
            await asyncio.sleep(self.delay)  # a receiver taking its time: the kill catches sends in flight
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--kill", type=int, choices=[0, 1], default=1, help="which server to SIGKILL half-way")
    parser.add_argument("--receiver-delay", type=float, default=0.05, help="seconds the receiver takes to answer")
    args = parser.parse_args()

    url = os.environ.get("GOALGRAPH_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    schema = f"bench_notify_{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    settings = Settings(database_url=url, database_schema=schema, jwt_secret=TEST_JWT_SECRET, migrate_on_start=False)
    engine = create_engine(settings)
    tmp = Path(tempfile.mkdtemp(prefix="gg-notify-"))
    receiver = Receiver(args.receiver_delay)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(receiver, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off"))
    serving = asyncio.create_task(server.serve())
    procs: list[subprocess.Popen] = []
    try:
        await upgrade(engine)
        sessions = create_session_factory(engine)
        async with sessions() as session, session.begin():
            session.add(WebhookEndpoint(url=f"http://127.0.0.1:{port}/hook", event_kinds=["MILESTONE_REACHED"],
                                        secret="bench-secret-0123456789", active=True,
                                        created_at=settings_now()))
        env = {**os.environ, "GOALGRAPH_DATABASE_URL": url, "GOALGRAPH_DATABASE_SCHEMA": schema,
               "GOALGRAPH_JWT_SECRET": TEST_JWT_SECRET, "GOALGRAPH_MIGRATE_ON_START": "0"}
        for n in range(2):
            server_port = free_port()
            log = open(tmp / f"server{n}.log", "w")  # noqa: SIM115 - closed with the process
            procs.append(subprocess.Popen([sys.executable, "-m", "goalgraph.cli", "serve", "--port", str(server_port)],
                                          env=env, stdout=log, stderr=subprocess.STDOUT))
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server_port}") as http:
                await wait_until_healthy(http, seconds=60, log=tmp / f"server{n}.log")
        while not server.started:
            await asyncio.sleep(0.05)

        # Floor: a direct POST to the same receiver, from this process.
        floor = []
        async with httpx.AsyncClient() as http:
            for n in range(200):
                started = time.time()
                await http.post(f"http://127.0.0.1:{port}/floor", content=b"{}")
                floor.append(time.time() - started)

        committed: dict[int, float] = {}
        batch = 10
        killed_at = None
        in_flight = 0
        for start in range(0, args.events, batch):
            async with sessions() as session, session.begin():
                for n in range(start, min(start + batch, args.events)):
                    await enqueue(session, "MILESTONE_REACHED", None, {"n": n}, recipients=[])
            now = time.time()
            for n in range(start, min(start + batch, args.events)):
                committed[n] = now
            if killed_at is None and start + batch >= args.events // 2:
                # Kill while messages are being sent (by either process: the claim does not say whose).
                async with sessions() as session:
                    for _ in range(500):
                        in_flight = (await session.execute(text(
                            "SELECT count(*) FROM notification_outbox WHERE status = 'SENDING'"))).scalar() or 0
                        if in_flight:
                            break
                        await asyncio.sleep(0.01)
                procs[args.kill].send_signal(signal.SIGKILL)
                killed_at = time.time()
            await asyncio.sleep(batch / args.rate)

        deadline = time.time() + 180
        while len({n for _, n, _ in receiver.got}) < args.events and time.time() < deadline:
            await asyncio.sleep(0.2)
        got = list(receiver.got)
        first_receipt: dict[int, float] = {}
        keys_per_event: dict[int, set[str]] = {}
        for key, n, at in got:
            first_receipt.setdefault(n, at)
            keys_per_event.setdefault(n, set()).add(key)
        latencies = [first_receipt[n] - committed[n] for n in first_receipt]
        lost = args.events - len(first_receipt)
        repeats = len(got) - len({k for k, _, _ in got})
        distinct = max((len(v) for v in keys_per_event.values()), default=0)
        with open("/proc/loadavg") as f:
            load = f.read().split()[:3]
        late = sum(1 for v in latencies if v > 10)
        print(f"events={args.events} received={len(first_receipt)} lost={lost} repeats_same_key={repeats} "
              f"max_keys_per_event={distinct} killed_after={args.events // 2} sending_at_the_kill={in_flight} "
              f"resent_after_the_lease={late} (receiver answers in {args.receiver_delay * 1000:.0f} ms)")
        print(f"latency commit->receipt: p50={statistics.median(latencies) * 1000:.0f} ms "
              f"p95={quantile(latencies, 0.95) * 1000:.0f} ms max={max(latencies) * 1000:.0f} ms "
              f"(load average {' '.join(load)})")
        api, base = statistics.median(latencies), statistics.median(floor)
        print(f"NOTIFY_WEBHOOK_P95: api_p50={quantile(latencies, 0.95) * 1000:.1f}ms "
              f"floor_p50={base * 1000:.1f}ms ratio={quantile(latencies, 0.95) / base:.1f}")
        print(f"NOTIFY_WEBHOOK: api_p50={api * 1000:.1f}ms floor_p50={base * 1000:.1f}ms ratio={api / base:.1f}")
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
        server.should_exit = True
        await serving
        await engine.dispose()
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await admin.dispose()


def settings_now():  # type: ignore[no-untyped-def]
    from goalgraph import clock

    return clock.now()


if __name__ == "__main__":
    asyncio.run(main())
