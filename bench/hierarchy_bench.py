"""Benchmark the leaderboard and the goal hierarchy against the plain goals query for the same goals.

    .venv/bin/python bench/hierarchy_bench.py                          # 100,000 deals, both databases
    .venv/bin/python bench/hierarchy_bench.py --deals 1000000 --runs 20 --db postgres

Issue 16: "The leaderboard and the hierarchy read from the progress store when it exists: with 300
users their queries stay within 2× of the plain goals query for the same goals (measured)."

Per database (SQLite file in a temp dir; PostgreSQL: a fresh schema in ``GOALGRAPH_TEST_POSTGRES_URL``):

1. The facts of ``bench/dashboard_bench.py`` (300 users in 30 teams of 10, N deals over two years,
   loaded directly; the same seeded data on both databases).
2. Through GraphQL: one company goal (DEALS_WON, VALUE, EUR, 12 monthly periods ending this month),
   ``cascadeGoal`` to the 30 teams, then each team goal ``cascadeGoal`` to its 10 members: 331 goals,
   every user's goal a child of their team's goal, every team's a child of the company's.
3. The store warmed (``goalgraph recompute --all``, the worker stopped so nothing moves), then each
   pair timed side by side, alternating within one run (API first, then its reference, ``--runs``
   times after one warm-up each), over HTTP (httpx + ASGITransport on ``goalgraph.app.create_app``):

   * LEADERBOARD_ATTAINMENT — ``leaderboard(rankBy: ATTAINMENT)`` of this month (the 300 user goals)
     vs ``goals(filter: {assigneeKind: USER})`` with ``periods(from, to)`` of this month (the same goals,
     the same period, rank, target, actual, ratio);
   * LEADERBOARD_ACTUAL — ``leaderboard(rankBy: ACTUAL)`` of this month (every active user: one goal each
     here) vs the same plain query;
   * HIERARCHY_TEAMS — the company goal's ``hierarchy`` (its 30 children with their 12 periods, and the
     sums and mismatch per period) vs ``goals(filter: {assigneeKind: TEAM})`` with 12 periods;
   * HIERARCHY_ALL — the company goal's hierarchy two levels deep (every team's ``hierarchy`` under it:
     all 331 goals, 12 periods, sums at both levels) vs ``goals(first: 331)`` with 12 periods.

Ends with ``<NAME>_<DB>: api_p50=… floor_p50=… ratio=…`` (floor = the plain goals query) and the load
average. ``--keep`` leaves the databases behind.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import signal
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dashboard_bench import (  # noqa: E402  (the bench directory is not a package)
    CREATE, TEAMS, TIME_ZONE, USERS, World, bench_database, gql, http_app, load_facts, log, months_until,
    vacuum_analyze,
)
from sqlalchemy import text  # noqa: E402

from goalgraph.db.migrate import upgrade  # noqa: E402
from goalgraph.db.session import create_engine  # noqa: E402

GOALS = 1 + TEAMS + USERS
CASCADE = """
mutation Cascade($id: ID!, $level: CascadeLevel!) {
  cascadeGoal(id: $id, level: $level) {
    __typename ... on CascadeSuccess { children { id } } ... on UserError { message }
  }
}
"""
PERIOD = "label target actual ratio status"
PLAIN_MONTH = ("query($from: Date!, $to: Date!) { goals(first: 300, filter: {assigneeKind: USER}) { nodes { id title "
               "periods(from: $from, to: $to) { %s } } } }" % PERIOD)
BOARD = ("query($on: Date!, $rank: LeaderboardRank!) { leaderboard(goalType: \"DEALS_WON\", measure: \"VALUE\", "
         "interval: MONTHLY, on: $on, rankBy: $rank) { label entrants entries { rank userId name actual target ratio "
         "goalId } } }")
SUMS = "targetMismatch periods { startDate target childrenTarget actual childrenActual targetMismatch }"
HIERARCHY_TEAMS = "query($id: ID!) { goal(id: $id) { id title hierarchy { %s children { id title periods { %s } } } } }" % (
    SUMS, PERIOD)
PLAIN_TEAMS = "{ goals(first: 30, filter: {assigneeKind: TEAM}) { nodes { id title periods { %s } } } }" % PERIOD
HIERARCHY_ALL = ("query($id: ID!) { goal(id: $id) { id title periods { %s } hierarchy { %s children { id title "
                 "periods { %s } hierarchy { %s children { id title periods { %s } } } } } } }"
                 % (PERIOD, SUMS, PERIOD, SUMS, PERIOD))
PLAIN_ALL = "{ goals(first: %d) { nodes { id title periods { %s } } } }" % (GOALS, PERIOD)


@dataclass
class Pair:
    name: str
    db: str
    api: list[float]
    floor: list[float]
    check: str

    @property
    def ratio(self) -> float:
        return statistics.median(self.api) / statistics.median(self.floor)


async def side_by_side(api: Callable[[], Awaitable[Any]], floor: Callable[[], Awaitable[Any]],
                       runs: int) -> tuple[list[float], list[float]]:
    """One warm-up each, then ``runs`` rounds of API then floor, alternating (the same load for both)."""
    await api()
    await floor()
    a, f = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        await api()
        a.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        await floor()
        f.append(time.perf_counter() - t0)
    return a, f


async def build_goals(client: Any, months: Sequence[Any]) -> str:
    """The company goal cascaded to teams, each team goal to its members; returns the company goal's id."""
    await gql(client, 'mutation { updateOrganisation(input: {timeZone: "%s"}) { __typename } }' % TIME_ZONE)
    last = months[-1].end_date - timedelta(days=1)
    created = (await gql(client, CREATE, input={
        "title": "Won revenue", "goalType": "DEALS_WON", "measure": "VALUE", "currency": "EUR",
        "assignee": {"kind": "COMPANY"}, "interval": "MONTHLY", "startDate": months[0].start_date.isoformat(),
        "endDate": last.isoformat(), "targetForAll": str(USERS * 40_000)}))["createGoal"]
    if created["__typename"] != "GoalSuccess":
        raise RuntimeError(f"createGoal failed: {created}")
    company = created["goal"]["id"]
    teams = (await gql(client, CASCADE, id=company, level="TEAMS"))["cascadeGoal"]
    if teams["__typename"] != "CascadeSuccess":
        raise RuntimeError(f"cascadeGoal failed: {teams}")
    for team in teams["children"]:
        members = (await gql(client, CASCADE, id=team["id"], level="USERS"))["cascadeGoal"]
        if members["__typename"] != "CascadeSuccess" or len(members["children"]) != USERS // TEAMS:
            raise RuntimeError(f"cascadeGoal of a team failed: {members}")
    return company


def _check_board(board: dict[str, Any], plain: list[dict[str, Any]], rank: str) -> str:
    """The board's figures are the plain query's (by goal for ATTAINMENT, by user's goal for ACTUAL)."""
    by_title = {n["title"].rsplit(" — ", 1)[-1]: n["periods"][0] for n in plain}
    wrong = [e for e in board["entries"] if by_title.get(e["name"], {}).get("actual") != e["actual"]]
    if len(board["entries"]) != USERS or wrong:
        return f"{rank}: {len(board['entries'])} entries, {len(wrong)} actuals differ from the goals query"
    return f"verified ({USERS} entries: the goals query's actuals)"


def _check_hierarchy(goal: dict[str, Any], plain: list[dict[str, Any]], depth: int) -> str:
    by_id = {n["id"]: n["periods"] for n in plain}
    seen, wrong = 0, 0
    stack = [(goal["hierarchy"], 1)]
    while stack:
        h, level = stack.pop()
        for child in h["children"]:
            seen += 1
            wrong += [p["actual"] for p in child["periods"]] != [p["actual"] for p in by_id.get(child["id"], [])]
            if level < depth and child.get("hierarchy"):
                stack.append((child["hierarchy"], level + 1))
    expected = TEAMS if depth == 1 else TEAMS + USERS
    if seen != expected or wrong:
        return f"{seen} children (expected {expected}), {wrong} differ from the goals query"
    return f"verified ({seen} children: the goals query's actuals)"


async def run_database(kind: str, args: argparse.Namespace, now: datetime) -> list[Pair]:
    months = months_until(now)
    pairs: list[Pair] = []
    async with bench_database(kind, args.keep) as settings:
        log(f"\n== {kind} ==")
        t0 = time.perf_counter()
        engine = create_engine(settings)
        try:
            await upgrade(engine)
            log(f"  loading facts ({args.deals:,} deals, {args.activities:,} activities, {USERS} users, {TEAMS} teams)")
            await load_facts(engine, kind, settings.database_schema, World(now=now, deals=args.deals,
                                                                           activities=args.activities))
        finally:
            await engine.dispose()
        if kind == "postgres":
            await vacuum_analyze(settings)
        log(f"  facts loaded in {time.perf_counter() - t0:.1f}s")
        async with http_app(settings, now) as (client, runtime):
            t0 = time.perf_counter()
            company = await build_goals(client, months)
            log(f"  {GOALS} goals (company → 30 teams → 300 users) through createGoal + cascadeGoal in "
                f"{time.perf_counter() - t0:.1f}s")
            await runtime.recompute.stop()
            t0 = time.perf_counter()
            await runtime.recompute.rebuild(None)
            async with runtime.engine.connect() as conn:
                stored = (await conn.execute(text("SELECT count(*) FROM progress_store"))).scalar_one()
                stale = (await conn.execute(text("SELECT count(*) FROM progress_marks"))).scalar_one()
            log(f"  store warmed in {time.perf_counter() - t0:.1f}s: {stored:,} rows, {stale} marks left")
            month = months[-1]
            span = {"from": month.start_date.isoformat(), "to": (month.end_date - timedelta(days=1)).isoformat()}
            last: dict[str, Any] = {}

            def call(name: str, query: str, **variables: Any) -> Callable[[], Awaitable[Any]]:
                async def run() -> None:
                    last[name] = await gql(client, query, **variables)
                return run

            for rank in ("ATTAINMENT", "ACTUAL"):
                log(f"  [{kind}] leaderboard {rank} vs goals …")
                a, f = await side_by_side(call("board", BOARD, on=span["from"], rank=rank),
                                          call("plain", PLAIN_MONTH, **span), args.runs)
                check = _check_board(last["board"]["leaderboard"], last["plain"]["goals"]["nodes"], rank)
                pairs.append(Pair(f"LEADERBOARD_{rank}", kind, a, f, check))
            log(f"  [{kind}] hierarchy (30 teams) vs goals …")
            a, f = await side_by_side(call("h", HIERARCHY_TEAMS, id=company), call("plain", PLAIN_TEAMS), args.runs)
            pairs.append(Pair("HIERARCHY_TEAMS", kind, a, f,
                              _check_hierarchy(last["h"]["goal"], last["plain"]["goals"]["nodes"], 1)))
            log(f"  [{kind}] hierarchy (two levels, 331 goals) vs goals …")
            a, f = await side_by_side(call("h", HIERARCHY_ALL, id=company), call("plain", PLAIN_ALL), args.runs)
            pairs.append(Pair("HIERARCHY_ALL", kind, a, f,
                              _check_hierarchy(last["h"]["goal"], last["plain"]["goals"]["nodes"], 2)))
            for p in pairs[-4:]:
                log(f"  [{kind}] {p.name}: API p50 {statistics.median(p.api) * 1000:.0f} ms | goals p50 "
                    f"{statistics.median(p.floor) * 1000:.0f} ms | {p.ratio:.2f}× | {p.check}")
    return pairs


async def main(args: argparse.Namespace) -> int:
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)  # type: ignore[union-attr]
    now = datetime.now(timezone.utc).replace(microsecond=0)
    log(f"now {now.isoformat()}; load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    pairs: list[Pair] = []
    for kind in (["sqlite", "postgres"] if args.db == "both" else [args.db]):
        pairs += await run_database(kind, args, now)
    log("\n" + "=" * 100)
    log(f"leaderboard and hierarchy vs the plain goals query (the same goals), store warmed; {args.deals:,} deals; "
        f"{USERS} users in {TEAMS} teams, {GOALS} goals; {args.runs} runs each, alternating; {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}")
    for p in pairs:
        ok = "MET" if p.ratio <= 2 else "NOT MET"
        log(f"aim ({p.db} {p.name} within 2× of goals): {ok} (p50 {p.ratio:.2f}×) — {p.check}")
    log(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for p in pairs:
        log(f"{p.name}_{p.db.upper()}: api_p50={statistics.median(p.api):.4f}s floor_p50={statistics.median(p.floor):.4f}s "
            f"ratio={p.ratio:.3f}")
    return 0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--activities", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=15, help="timed rounds per pair (after one warm-up)")
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--keep", action="store_true", help="keep the databases (prints where)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(main(parse_args())))
    except (KeyboardInterrupt, asyncio.CancelledError):
        log("interrupted; the benchmark's databases were dropped")
        sys.exit(130)
