"""The GraphQL layer against its floors: request overhead over HTTP, and resolving a large answer.

    .venv/bin/python bench/graphql_bench.py                      # both parts
    .venv/bin/python bench/graphql_bench.py --part typename --seconds 10 --rounds 3
    .venv/bin/python bench/graphql_bench.py --part resolve --runs 20

TYPENAME — ``{ __typename }`` requests per second over real HTTP against one uvicorn worker serving
``create_app`` (SQLite, authentication on; ``__typename`` needs no token), beside a bare Starlette
endpoint answering the same JSON, served by uvicorn with the same options in the same run. Load:
``wrk`` (Debian package ``wrk``: ``apt-get install -y wrk``; the benchmark requires it), one thread,
``--connections`` connections, ``--seconds`` per measurement, API and floor alternating for
``--rounds`` rounds; the median of each is reported. Both servers are checked to answer
``{"data":{"__typename":"Query"}}`` first, and any non-2xx answer under load fails the run.

RESOLVE — 500 goals × 52 weekly periods × 5 fields (``label target actual ratio status``, plus each
goal's ``id`` and ``title``) resolved by strawberry from memory: the real ``Goal`` type and its
``periods`` field under a one-field query root, with the real schema's extensions and scalars, fed by a
progress loader that answers from prepared ``GoalProgress`` objects (what the engine returns) instead
of the database; the answer encoded by the app's encoder. The floor builds the same JSON from the same
objects with dicts and orjson. The two answers are checked equal. p50 over ``--runs`` runs after a
warm-up.

Each part ends with one line: ``TYPENAME: api_rps=… floor_rps=… ratio=…`` (API / floor, higher is
better) and ``RESOLVE: api_p50=… floor_p50=… ratio=…`` (API / floor, lower is better).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson
import strawberry
from strawberry.types import Info

from goalgraph.graphql.types.goals import GoalNode

TYPENAME_BODY = b'{"query":"{ __typename }"}'
TYPENAME_ANSWER = {"data": {"__typename": "Query"}}
RESOLVE_QUERY = "{ goals { id title periods { label target actual ratio status } } }"
UVICORN_OPTIONS: dict[str, Any] = {"host": "127.0.0.1", "log_level": "warning", "access_log": False}


# --------------------------------------------------------------------------- servers (child processes)

def floor_app() -> Any:
    """A bare Starlette endpoint: read the body, answer the JSON ``{ __typename }`` answers."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def graphql(request: Request) -> JSONResponse:
        await request.body()
        return JSONResponse(TYPENAME_ANSWER)

    return Starlette(routes=[Route("/graphql", graphql, methods=["POST"])])


def serve(kind: str, port: int) -> None:
    import uvicorn

    if kind == "floor":
        app = floor_app()
    else:
        from goalgraph.app import create_app
        from goalgraph.settings import Settings

        app = create_app(Settings.from_env())
    uvicorn.run(app, port=port, **UVICORN_OPTIONS)


class Server:
    """One uvicorn worker in a child process (this script with ``--serve KIND``)."""

    def __init__(self, kind: str, env: dict[str, str], log_dir: Path) -> None:
        from goalgraph.testing.servers import free_port

        self.kind = kind
        self.port = free_port()
        self.log = log_dir / f"{kind}.log"
        self.proc = subprocess.Popen([sys.executable, __file__, "--serve", kind, "--port", str(self.port)],
                                     env=env, stdout=self.log.open("wb"), stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{self.port}/graphql"

    async def ready(self) -> None:
        async with httpx.AsyncClient() as http:
            for _ in range(300):
                if self.proc.poll() is not None:
                    raise SystemExit(f"{self.kind} server exited:\n{self.log.read_text()}")
                try:
                    answer = await http.post(self.url, content=TYPENAME_BODY,
                                             headers={"content-type": "application/json"})
                except httpx.HTTPError:
                    await asyncio.sleep(0.2)
                    continue
                if answer.status_code != 200 or answer.json() != TYPENAME_ANSWER:
                    raise SystemExit(f"{self.kind} answered {answer.status_code} {answer.text!r}")
                return
        raise SystemExit(f"{self.kind} server never answered:\n{self.log.read_text()}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = '{"query":"{ __typename }"}'
wrk.headers["Content-Type"] = "application/json"
"""


def wrk(url: str, seconds: float, connections: int, script: Path) -> float:
    """Requests per second wrk measured; SystemExit on any socket error or non-2xx answer."""
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "-s", str(script), url],
                         capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        raise SystemExit(f"errors under load:\n{out}")
    found = re.search(r"Requests/sec:\s*([\d.]+)", out)
    if found is None:
        raise SystemExit(f"no Requests/sec in wrk's output:\n{out}")
    return float(found.group(1))


async def typename(args: argparse.Namespace) -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("TYPENAME needs wrk (Debian: apt-get install -y wrk)")
    from goalgraph.testing.credentials import TEST_JWT_SECRET

    with tempfile.TemporaryDirectory(prefix="goalgraph-gqlbench-") as tmp:
        work = Path(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith("GOALGRAPH_")}
        env.update(GOALGRAPH_DATABASE_URL=f"sqlite+aiosqlite:///{work / 'bench.db'}",
                   GOALGRAPH_JWT_SECRET=TEST_JWT_SECRET, GOALGRAPH_GRAPHIQL="0")
        script = work / "post.lua"
        script.write_text(WRK_SCRIPT)
        servers = {kind: Server(kind, env, work) for kind in ("api", "floor")}
        try:
            for server in servers.values():
                await server.ready()
            figures: dict[str, list[float]] = {"api": [], "floor": []}
            for kind, server in servers.items():  # warm-up
                wrk(server.url, 1, args.connections, script)
            for round_ in range(args.rounds):
                for kind, server in servers.items():
                    rps = wrk(server.url, args.seconds, args.connections, script)
                    figures[kind].append(rps)
                    print(f"  round {round_ + 1} {kind:5} {rps:9,.0f} req/s", flush=True)
        finally:
            for server in servers.values():
                server.stop()
    api, floor = statistics.median(figures["api"]), statistics.median(figures["floor"])
    print(f"{{ __typename }} over HTTP, one uvicorn worker each, wrk -t1 -c{args.connections}, "
          f"{args.rounds} × {args.seconds:g} s (median), load average {load_average()}")
    print(f"TYPENAME: api_rps={api:.0f} floor_rps={floor:.0f} ratio={api / floor:.2f}")


# --------------------------------------------------------------------------- resolve from memory

def in_memory_goals(goals: int, periods: int) -> tuple[list[Any], dict[int, Any]]:
    """``goals`` goal rows (transient ORM objects) and their measured weekly periods."""
    from goalgraph.db.models import Goal
    from goalgraph.periods import Period
    from goalgraph.progress.service import GoalProgress, PeriodProgress
    from goalgraph.progress.status import Status

    start = datetime(2026, 1, 5, tzinfo=timezone.utc)
    bounds = [Period(index=i, start=start + timedelta(weeks=i), end=start + timedelta(weeks=i + 1),
                     start_date=date(2026, 1, 5) + timedelta(weeks=i),
                     end_date=date(2026, 1, 11) + timedelta(weeks=i), label=f"2026-W{i + 2:02d}")
              for i in range(periods)]
    statuses = [Status.ACHIEVED, Status.EXCEEDED, Status.MISSED, Status.IN_PROGRESS, Status.PENDING]
    rows, progress = [], {}
    for g in range(1, goals + 1):
        rows.append(Goal(id=g, title=f"Goal {g}", goal_type="DEALS_WON", measure="VALUE", currency="EUR",
                         interval="WEEKLY", start_date=date(2026, 1, 5), target=Decimal("1000.00"),
                         assignee_kind="COMPANY", version=1))
        measured = []
        for p in bounds:
            target = Decimal(1000 + g)
            actual = Decimal(g * 7 + p.index * 13) + Decimal("0.25")
            measured.append(PeriodProgress(goal_id=g, period=p, target=target, actual=actual, facts=g + p.index,
                                           unconverted={}, ratio=None if p.index % 11 == 0 else actual / target,
                                           status=statuses[(g + p.index) % 5], pace=None))
        progress[g] = GoalProgress(goal_id=g, periods=measured)
    return rows, progress


def floor_answer(rows: list[Any], progress: dict[int, Any]) -> bytes:
    """The same answer with dicts and orjson."""
    return orjson.dumps({"data": {"goals": [
        {"id": str(row.id), "title": row.title, "periods": [
            {"label": p.period.label, "target": str(p.target), "actual": str(p.actual),
             "ratio": None if p.ratio is None else str(p.ratio), "status": p.status.value}
            for p in progress[row.id].periods]}
        for row in rows]}})


@strawberry.type(description="The benchmark's root.")
class BenchQuery:
    @strawberry.field(description="The in-memory goals.")
    def goals(self, info: Info) -> list[GoalNode]:
        return [GoalNode(row=row) for row in info.context.rows]


def resolve_schema() -> Any:
    """The real Goal type under a one-field root, with the real schema's extensions and scalars."""
    from goalgraph.graphql.schema import GoalgraphSchema, schema_extensions
    from goalgraph.graphql.scalars import SCALAR_OVERRIDES
    from goalgraph.settings import Settings

    return GoalgraphSchema(query=BenchQuery, extensions=schema_extensions(Settings()),
                           scalar_overrides=SCALAR_OVERRIDES)  # type: ignore[arg-type]


class MemoryContext:
    """What the resolvers of the query use from a request's context, answered from memory."""

    def __init__(self, rows: list[Any], progress: dict[int, Any]) -> None:
        from strawberry.dataloader import DataLoader

        from goalgraph.access.viewer import SYSTEM

        self.rows = rows
        self._viewer = SYSTEM

        async def load(keys: list[tuple[int, Any, Any]]) -> list[Any]:
            return [progress[k[0]] for k in keys]

        self.loaders = type("Loaders", (), {})()
        self.loaders.progress = DataLoader(load)

    async def viewer(self) -> Any:
        return self._viewer

    async def close(self) -> None:
        return None


async def resolve(args: argparse.Namespace) -> None:
    from goalgraph.app import encode_answer

    rows, progress = in_memory_goals(args.goals, args.periods)
    schema = resolve_schema()

    async def api() -> bytes:
        result = await schema.execute(RESOLVE_QUERY, context_value=MemoryContext(rows, progress))
        if result.errors:
            raise SystemExit(f"errors: {result.errors}")
        return encode_answer({"data": result.data})

    api_answer, floor = await api(), floor_answer(rows, progress)
    if orjson.loads(api_answer) != orjson.loads(floor):
        raise SystemExit("the API's answer differs from the floor's")
    api_times, floor_times = [], []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        await api()
        api_times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        floor_answer(rows, progress)
        floor_times.append(time.perf_counter() - t0)
    a, f = statistics.median(api_times), statistics.median(floor_times)
    fields = args.goals * args.periods * 5
    print(f"{args.goals} goals × {args.periods} periods × 5 fields ({fields:,} period fields, "
          f"{len(api_answer):,} bytes), verified equal; {args.runs} runs, load average {load_average()}")
    print(f"RESOLVE: api_p50={a * 1000:.1f}ms floor_p50={f * 1000:.1f}ms ratio={a / f:.1f}")


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=["typename", "resolve", "both"], default="both")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--goals", type=int, default=500)
    parser.add_argument("--periods", type=int, default=52)
    parser.add_argument("--serve", choices=["api", "floor"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port)
        return
    if args.part in ("resolve", "both"):
        asyncio.run(resolve(args))
    if args.part in ("typename", "both"):
        asyncio.run(typename(args))


if __name__ == "__main__":
    main()
