"""Benchmark the dashboard query — all goals with 12 monthly periods and progress — through the HTTP app.

    .venv/bin/python bench/dashboard_bench.py                       # 1,000,000 deals + 1,000,000 activities, both DBs
    .venv/bin/python bench/dashboard_bench.py --deals 100000 --activities 100000 --runs 10 --db postgres

What it does, per database (SQLite file in a temp dir; PostgreSQL: a fresh schema in
``GOALGRAPH_TEST_POSTGRES_URL``, default postgresql+asyncpg://postgres@127.0.0.1:5432/test):

1. Builds the schema with the real migrations, then loads facts directly (COPY on PostgreSQL; big
   ``executemany`` chunks in one transaction on SQLite, values stored exactly as goalgraph's column
   types store them; foreign keys unchecked while loading): 300 users in 30 teams of 10
   (one leader each), 2 pipelines with stages, N deals over the last two years (85 % EUR, 15 % NOK,
   open / won / lost / stalled) with their stage history, N activities (call, email, meeting, task,
   lunch; most done), monthly NOK→EUR rates (``goalgraph.rates.set_rates``). PostgreSQL gets
   ``VACUUM ANALYZE`` afterwards. The data is the same on both databases (seeded).
2. Sets the organisation's time zone (Europe/Oslo) and creates 200 goals through the GraphQL
   ``createGoal`` mutation: DEALS_WON (VALUE, GROSS_PROFIT, COUNT), DEALS_ADDED (COUNT),
   DEALS_PROGRESSED (stage filter), ACTIVITIES_COMPLETED (activity-type filter), REVENUE_FORECAST;
   assigned to users, teams and the company; monthly from the first of the month 11 months ago to the
   end of this month — 12 periods each.
3. Times ``{ goals(first: 200) { nodes { id title periods { label target actual ratio status } } } }``
   over HTTP (httpx + ASGITransport on ``goalgraph.app.create_app``), ``snapshot_grace_hours`` so
   large that no period is frozen, in three variants:

   * live    — the progress store emptied before each run: all 2,400 goal-periods are measured from
               the facts in the request (the engine; a goal just created answers this way);
   * rebuild — not a dashboard read: the whole store rebuilt from the facts (``goalgraph recompute
               --all``: every goal marked, the worker's rounds until nothing is stale);
   * stored  — the dashboard read from the fresh store (what every read costs once the worker keeps up).

4. Times the floor: one hand-written SQL statement per dialect computing the same actuals (per goal
   and month, currency-converted) through the same driver, checks its numbers against the API's
   ("verified" or the differences), and prints p50 / p95 of both and the ratio API / floor.

Slow runs: after the warm-up, only as many runs are timed as fit in ``--budget`` seconds (a live
warm-up slower than the budget is the only sample; the table says so).

``--explain`` additionally prints the statements of one live and one stored request with their
durations, and the plans of the slowest (PostgreSQL: ``EXPLAIN (ANALYZE, BUFFERS)``, which runs them
once more; SQLite: ``EXPLAIN QUERY PLAN``). ``--keep`` leaves the databases behind for inspection
(where is printed). Otherwise they are dropped at the end, also on errors, Ctrl-C and SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import os
import platform
import random
import shutil
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import orjson
from sqlalchemy import event, insert, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from goalgraph.app import create_app
from goalgraph.collector import tune_for_serving
from goalgraph.db.migrate import upgrade
from goalgraph.db.models import (
    Activity,
    Deal,
    DealStageChange,
    Pipeline,
    Stage,
    Team,
    TeamMembership,
    User,
)
from goalgraph.db.session import create_engine, create_session_factory
from goalgraph.rates import set_rates
from goalgraph.runtime import open_runtime
from goalgraph.settings import Settings

POSTGRES_URL = os.environ.get("GOALGRAPH_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
TIME_ZONE = "Europe/Oslo"
USERS = 300
TEAMS = 30
TEAM_SIZE = 10
GOALS = 200
MONTHS = 12
#: Hours after a period ends before it is frozen, for the "live" variant: no period ever counts as
#: closed. (Far beyond this, ``period.end + grace`` overflows ``datetime``: 1e9 hours would crash.)
LIVE_GRACE_HOURS = 1e7
CHUNK = 50_000
SEED = 20240601

PIPELINES = (
    # external id, name, stages (name, probability)
    ("p1", "New business", (("Lead", 10), ("Qualified", 25), ("Proposal", 50), ("Negotiation", 75), ("Closing", 90))),
    ("p2", "Renewals", (("Contacted", 20), ("Offer", 60), ("Signed", 90))),
)
ACTIVITY_TYPES = (("call", 35), ("email", 30), ("meeting", 15), ("task", 15), ("lunch", 5))
SALE_TYPES = ("new", "upsell", "renewal")

QUERY = "{ goals(first: 200) { nodes { id title periods { label target actual ratio status pending } } } }"
CREATE = """
mutation Create($input: GoalInput!) {
  createGoal(input: $input) {
    __typename
    ... on GoalSuccess { goal { id } }
    ... on ValidationError { message fieldErrors { path message code } }
  }
}
"""


def log(message: str) -> None:
    print(message, flush=True)


# -- calendar ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Month:
    """One of the 12 monthly periods: local first day, and its bounds as UTC instants and local dates."""

    index: int
    label: str
    start: datetime
    end: datetime
    start_date: date
    end_date: date  # exclusive


def months_until(now: datetime) -> list[Month]:
    tz = ZoneInfo(TIME_ZONE)
    local = now.astimezone(tz)
    y, m = local.year, local.month - (MONTHS - 1)
    while m < 1:
        y, m = y - 1, m + 12
    out = []
    for i in range(MONTHS):
        ny, nm = (y + 1, 1) if m == 12 else (y, m + 1)
        first, nxt = date(y, m, 1), date(ny, nm, 1)
        out.append(Month(
            i, f"{y:04d}-{m:02d}",
            datetime(y, m, 1, tzinfo=tz).astimezone(timezone.utc), datetime(ny, nm, 1, tzinfo=tz).astimezone(timezone.utc),
            first, nxt,
        ))
        y, m = ny, nm
    return out


# -- facts ---------------------------------------------------------------------------------------
@dataclass
class World:
    """The generated data set's shape (ids are assigned here, 1-based)."""

    now: datetime
    deals: int
    activities: int
    start: datetime = field(init=False)
    stage_ids: dict[str, list[int]] = field(default_factory=dict)  # pipeline external id -> stage ids
    stage_prob: dict[int, int] = field(default_factory=dict)
    owner_cum: list[float] = field(default_factory=list)
    stage_changes: int = 0

    def __post_init__(self) -> None:
        self.start = self.now - timedelta(days=730)
        sid = 0
        for ext, _, stages in PIPELINES:
            ids = []
            for _, prob in stages:
                sid += 1
                ids.append(sid)
                self.stage_prob[sid] = prob
            self.stage_ids[ext] = ids
        rnd = random.Random(SEED)
        weights = [rnd.lognormvariate(0, 0.5) for _ in range(USERS)]
        total = 0.0
        for w in weights:
            total += w
            self.owner_cum.append(total)


def reference_rows(world: World) -> dict[Any, list[dict[str, Any]]]:
    t0 = world.start
    users = [{"id": u, "external_id": f"u{u}", "name": f"User {u}", "email": f"user{u}@example.com", "active": True,
              "source_updated_at": t0} for u in range(1, USERS + 1)]
    teams = [{"id": t, "external_id": f"t{t}", "name": f"Team {t}", "source_updated_at": t0} for t in range(1, TEAMS + 1)]
    members = [{"team_id": t, "user_id": (t - 1) * TEAM_SIZE + k + 1, "is_leader": k == 0}
               for t in range(1, TEAMS + 1) for k in range(TEAM_SIZE)]
    pipelines, stages = [], []
    for p, (ext, name, stage_list) in enumerate(PIPELINES, start=1):
        pipelines.append({"id": p, "external_id": ext, "name": name, "source_updated_at": t0})
        for pos, ((sname, prob), sid) in enumerate(zip(stage_list, world.stage_ids[ext])):
            stages.append({"id": sid, "external_id": f"{ext}s{pos + 1}", "pipeline_id": p, "name": sname,
                           "position": pos, "probability": prob, "source_updated_at": t0})
    return {User: users, Team: teams, TeamMembership: members, Pipeline: pipelines, Stage: stages}


DEAL_COLUMNS = ("id", "external_id", "title", "value", "currency", "cost", "owner_id", "pipeline_id", "stage_id",
                "status", "added_at", "won_at", "lost_at", "expected_close_date", "attributes", "source_updated_at")
CHANGE_COLUMNS = ("id", "deal_id", "pipeline_id", "stage_id", "owner_id", "entered_at")
ACTIVITY_COLUMNS = ("id", "external_id", "type", "subject", "owner_id", "deal_id", "added_at", "due_at", "done_at",
                    "attributes", "source_updated_at")

_CENT = Decimal("0.01")


def _moment(rnd: random.Random, world: World) -> datetime:
    # Growth: more facts recently (density rises linearly over the two years).
    span = (world.now - world.start).total_seconds()
    return world.start + timedelta(seconds=int(span * math.sqrt(rnd.random())))


def deal_chunks(world: World) -> Iterator[tuple[list[tuple], list[tuple]]]:
    """(deal rows, stage-change rows) in chunks; deterministic."""
    rnd = random.Random(SEED + 1)
    users = list(range(1, USERS + 1))
    now = world.now
    change_id = 0
    deals: list[tuple] = []
    changes: list[tuple] = []
    for i in range(1, world.deals + 1):
        ext, _, stage_list = PIPELINES[0] if rnd.random() < 0.7 else PIPELINES[1]
        pipeline = 1 if ext == "p1" else 2
        stage_ids = world.stage_ids[ext]
        owner = rnd.choices(users, cum_weights=world.owner_cum)[0]
        added = _moment(rnd, world)
        age = (now - added).total_seconds()
        roll = rnd.random()
        if age < 30 * 86400:
            status = "OPEN" if roll < 0.85 else ("WON" if roll < 0.93 else "LOST")
        else:
            status = "WON" if roll < 0.35 else ("LOST" if roll < 0.70 else ("OPEN" if roll < 0.90 else "STALLED"))
        won_at = lost_at = None
        end = now
        if status in ("WON", "LOST"):
            closed = added + timedelta(seconds=rnd.randint(3600, max(3601, int(min(age, 120 * 86400)))))
            end = closed
            if status == "WON":
                won_at = closed
            else:
                lost_at = closed
        if status == "WON":
            reached = len(stage_ids) - 1
        else:
            reached = min(len(stage_ids) - 1, int(rnd.expovariate(0.9)))
        expected = None
        if status in ("OPEN", "STALLED"):
            expected = (added + timedelta(days=rnd.randint(14, 200))).date()
        elif won_at is not None:
            expected = won_at.date()
        currency = "EUR" if rnd.random() < 0.85 else "NOK"
        cents = rnd.randint(50_000, 3_000_000) * (10 if currency == "NOK" else 1)
        value = Decimal(cents) * _CENT
        cost = Decimal(cents * rnd.randint(0, 60) // 100) * _CENT
        deals.append((
            i, f"d{i}", f"Deal {i}", value, currency, cost, owner, pipeline, stage_ids[reached], status, added,
            won_at, lost_at, expected, {"sale_type": SALE_TYPES[i % 3]}, end if end < now else added,
        ))
        # Stage history: entered the first stage when added, the later ones spread until it closed.
        span = max(1, int((end - added).total_seconds()))
        offsets = sorted(rnd.randrange(span) for _ in range(reached))
        for k in range(reached + 1):
            change_id += 1
            when = added if k == 0 else added + timedelta(seconds=offsets[k - 1] + 1)
            credited = owner if rnd.random() < 0.95 else rnd.randint(1, USERS)
            changes.append((change_id, i, pipeline, stage_ids[k], credited, when))
        if len(deals) >= CHUNK:
            yield deals, changes
            deals, changes = [], []
    world.stage_changes = change_id
    if deals:
        yield deals, changes


def activity_chunks(world: World) -> Iterator[list[tuple]]:
    rnd = random.Random(SEED + 2)
    users = list(range(1, USERS + 1))
    types = [t for t, _ in ACTIVITY_TYPES]
    type_cum = list(itertools.accumulate(w for _, w in ACTIVITY_TYPES))
    now = world.now
    rows: list[tuple] = []
    for i in range(1, world.activities + 1):
        kind = rnd.choices(types, cum_weights=type_cum)[0]
        owner = rnd.choices(users, cum_weights=world.owner_cum)[0]
        added = _moment(rnd, world)
        due = added + timedelta(seconds=rnd.randint(0, 14 * 86400))
        done = None
        if due < now:
            if rnd.random() < 0.8:
                done = min(now - timedelta(seconds=1), due + timedelta(seconds=rnd.randint(-4 * 3600, 8 * 3600)))
                done = max(done, added)
        elif rnd.random() < 0.2:
            done = added + timedelta(seconds=rnd.randint(0, max(0, int((now - added).total_seconds()))))
        deal = rnd.randint(1, world.deals) if world.deals and rnd.random() < 0.4 else None
        rows.append((i, f"a{i}", kind, f"{kind} {i}", owner, deal, added, due, done, {}, done or added))
        if len(rows) >= CHUNK:
            yield rows
            rows = []
    if rows:
        yield rows


def rate_rows(world: World) -> list[dict[str, Any]]:
    """NOK→EUR on the first of every month, from before the first fact until now."""
    out = []
    y, m = world.start.year, world.start.month - 1
    if m < 1:
        y, m = y - 1, 12
    k = 0
    while date(y, m, 1) <= world.now.date():
        rate = (Decimal("0.0870") + Decimal(int(40 * math.sin(k / 3))) / Decimal(10000)).quantize(Decimal("0.000001"))
        out.append({"currency": "NOK", "quote_currency": "EUR", "valid_from": date(y, m, 1).isoformat(),
                    "rate": str(rate)})
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        k += 1
    return out


class Progress:
    """Prints a line now and then while rows go in."""

    def __init__(self, what: str, total: int) -> None:
        self.what, self.total, self.done, self.t0, self.last = what, total, 0, time.perf_counter(), 0.0

    def add(self, n: int) -> None:
        self.done += n
        t = time.perf_counter()
        if t - self.last > 5 or self.done >= self.total:
            self.last = t
            rate = self.done / max(t - self.t0, 1e-9)
            log(f"    {self.what}: {self.done:,}/{self.total:,}  ({rate:,.0f} rows/s)")


def _sq_ts(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")


def _sq_money(amount: Decimal) -> int:
    return int(amount.scaleb(4))


def _sqlite_deal(r: tuple) -> tuple:
    return (r[0], r[1], r[2], _sq_money(r[3]), r[4], _sq_money(r[5]), r[6], r[7], r[8], r[9], _sq_ts(r[10]),
            _sq_ts(r[11]), _sq_ts(r[12]), r[13].isoformat() if r[13] else None, json.dumps(r[14]),
            _sq_ts(r[15]))


def _sqlite_change(r: tuple) -> tuple:
    return (r[0], r[1], r[2], r[3], r[4], _sq_ts(r[5]))


def _sqlite_activity(r: tuple) -> tuple:
    return (r[0], r[1], r[2], r[3], r[4], r[5], _sq_ts(r[6]), _sq_ts(r[7]), _sq_ts(r[8]), json.dumps(r[9]),
            _sq_ts(r[10]))


async def load_facts(engine: AsyncEngine, kind: str, schema: str | None, world: World) -> None:
    """Generated facts straight into the tables. Foreign keys are not checked row by row while
    loading (the data is consistent by construction): that check, not COPY, would be the bottleneck."""
    async with engine.connect() as conn:
        if kind == "sqlite":  # the loader's own engine: this connection is discarded afterwards
            for pragma in ("foreign_keys=OFF", "cache_size=-500000", "synchronous=OFF"):  # 500 MB page cache
                await conn.execute(text(f"PRAGMA {pragma}"))
            await conn.commit()
        async with conn.begin():
            await _load(conn, kind, schema, world)
    async with create_session_factory(engine)() as session:
        await set_rates(session, rate_rows(world))
        await session.commit()


async def _load(conn: Any, kind: str, schema: str | None, world: World) -> None:
    if kind == "postgres":
        try:
            async with conn.begin_nested():
                await conn.execute(text("SET LOCAL session_replication_role = replica"))
        except Exception as exc:  # noqa: BLE001 - not a superuser: load with the checks
            log(f"    (foreign keys checked while loading: {type(exc).__name__})")
    for model, rows in reference_rows(world).items():
        await conn.execute(insert(model.__table__), rows)
    if kind == "postgres":
        raw = await conn.get_raw_connection()
        apg = raw.driver_connection

        async def copy(table: str, columns: Sequence[str], rows: list[tuple]) -> None:
            await apg.copy_records_to_table(table, records=rows, columns=list(columns), schema_name=schema)

        def js(value: Any) -> Any:
            return orjson.dumps(value).decode()
    else:
        # Stored as SQLAlchemy's types store them on SQLite (goalgraph.db.types): UTC timestamps as
        # naive "YYYY-MM-DD HH:MM:SS.ffffff" text, money as integer 1/10,000 units, dates as ISO text.
        # Converting here instead of through the bind processors makes the load ~2× faster.
        convert = {"deals": _sqlite_deal, "deal_stage_changes": _sqlite_change, "activities": _sqlite_activity}

        async def copy(table: str, columns: Sequence[str], rows: list[tuple]) -> None:
            sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"
            await conn.exec_driver_sql(sql, [convert[table](r) for r in rows])

        def js(value: Any) -> Any:
            return value

    # The next chunk is generated while the database writes the previous one.
    pending: asyncio.Future[None] | None = None

    async def write(*parts: tuple[str, Sequence[str], list[tuple]], progress: Progress, n: int) -> None:
        for table, columns, rows in parts:
            await copy(table, columns, rows)
        progress.add(n)

    async def submit(coro: Any) -> None:
        nonlocal pending
        try:
            if pending is not None:
                await pending
        except BaseException:
            coro.close()
            raise
        pending = asyncio.ensure_future(coro)

    p_deals = Progress("deals", world.deals)
    changes_total = 0
    for deals, changes in deal_chunks(world):
        deals = [(*r[:14], js(r[14]), r[15]) for r in deals]
        changes_total += len(changes)
        await submit(write(("deals", DEAL_COLUMNS, deals), ("deal_stage_changes", CHANGE_COLUMNS, changes),
                           progress=p_deals, n=len(deals)))
    p_acts = Progress("activities", world.activities)
    for rows in activity_chunks(world):
        rows = [(*r[:9], js(r[9]), r[10]) for r in rows]
        await submit(write(("activities", ACTIVITY_COLUMNS, rows), progress=p_acts, n=len(rows)))
    if pending is not None:
        await pending
    log(f"    deal stage changes: {changes_total:,}")
    if kind == "postgres":
        for table in ("users", "teams", "pipelines", "stages", "deals", "deal_stage_changes", "activities"):
            await conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                    f"(SELECT coalesce(max(id), 1) FROM {table}))"))


async def vacuum_analyze(settings: Settings) -> None:
    engine = create_async_engine(settings.database_url, isolation_level="AUTOCOMMIT",
                                 connect_args={"server_settings": {"search_path": settings.database_schema or "public"}})
    try:
        async with engine.connect() as conn:
            for table in ("users", "teams", "team_memberships", "pipelines", "stages", "deals", "deal_stage_changes",
                          "activities", "exchange_rates"):
                await conn.execute(text(f"VACUUM ANALYZE {table}"))
    finally:
        await engine.dispose()


# -- goals ---------------------------------------------------------------------------------------
def goal_inputs(months: list[Month]) -> list[dict[str, Any]]:
    """200 goals of mixed types, measures, filters and assignees; 12 monthly periods each."""
    rnd = random.Random(SEED + 3)
    last = months[-1].end_date - timedelta(days=1)
    # (goal type, measure, currency, per-user monthly target, how many, filters(rnd) -> list)
    p1_stages = [f"p1s{k}" for k in range(2, 6)]
    p2_stages = [f"p2s{k}" for k in range(2, 4)]

    def pipelines(r: random.Random) -> list[dict[str, Any]]:
        return [{"key": "pipelines", "values": [r.choice(["p1", "p2"])]}] if r.random() < 0.4 else []

    def stage(r: random.Random) -> list[dict[str, Any]]:
        if r.random() < 0.7:
            s = r.choice(p1_stages)
            extra = [{"key": "pipelines", "values": ["p1"]}] if r.random() < 0.3 else []
        else:
            s = r.choice(p2_stages)
            extra = []
        return [{"key": "stage", "values": [s]}, *extra]

    def activity_types(r: random.Random) -> list[dict[str, Any]]:
        if r.random() < 0.2:
            return []
        return [{"key": "activity_types", "values": r.sample(["call", "email", "meeting", "task", "lunch"],
                                                            r.choice([1, 1, 2]))}]

    plan: list[tuple[str, str, str | None, float, int, Any]] = [
        ("DEALS_WON", "VALUE", "EUR", 400_000, 35, pipelines),
        ("DEALS_WON", "VALUE", "NOK", 4_000_000, 5, pipelines),
        ("DEALS_WON", "GROSS_PROFIT", "EUR", 300_000, 10, pipelines),
        ("DEALS_WON", "COUNT", None, 25, 25, pipelines),
        ("DEALS_ADDED", "COUNT", None, 70, 30, pipelines),
        ("DEALS_PROGRESSED", "COUNT", None, 40, 25, stage),
        ("DEALS_PROGRESSED", "VALUE", "EUR", 500_000, 5, stage),
        ("ACTIVITIES_COMPLETED", "COUNT", None, 60, 45, activity_types),
        ("REVENUE_FORECAST", "WEIGHTED_VALUE", "EUR", 600_000, 20, pipelines),
    ]
    assert sum(p[4] for p in plan) == GOALS
    out = []
    n = 0
    for goal_type, measure, currency, per_user, count, filters in plan:
        for _ in range(count):
            slot = n % 10
            if slot < 6:
                user = rnd.randint(1, USERS)
                assignee, scale, who = {"kind": "USER", "id": f"u{user}"}, 1, f"user {user}"
            elif slot < 9:
                team = rnd.randint(1, TEAMS)
                assignee, scale, who = {"kind": "TEAM", "id": f"t{team}"}, TEAM_SIZE, f"team {team}"
            else:
                assignee, scale, who = {"kind": "COMPANY"}, USERS, "company"
            target = Decimal(int(per_user * scale * rnd.uniform(0.7, 1.4)))
            item: dict[str, Any] = {
                "title": f"{goal_type} {measure} {who} #{n}", "goalType": goal_type, "measure": measure,
                "assignee": assignee, "interval": "MONTHLY", "startDate": months[0].start_date.isoformat(),
                "endDate": last.isoformat(), "targetForAll": str(target),
            }
            if currency:
                item["currency"] = currency
            chosen = filters(rnd)
            if chosen:
                item["filters"] = chosen
            out.append(item)
            n += 1
    return out


# -- the floor -----------------------------------------------------------------------------------
def _ts(kind: str, moment: datetime) -> str:
    utc = moment.astimezone(timezone.utc)
    if kind == "postgres":
        return f"TIMESTAMPTZ '{utc.isoformat()}'"
    return f"'{utc.replace(tzinfo=None).strftime('%Y-%m-%d %H:%M:%S.%f')}'"


def _d(kind: str, day: date) -> str:
    return f"DATE '{day.isoformat()}'" if kind == "postgres" else f"'{day.isoformat()}'"


def floor_sql(kind: str, months: list[Month]) -> str:
    """One hand-written statement: actual per (goal, month) for every goal, in the goal's currency.

    Each fact source is scanned once over the 12-month window; every fact gets its month (local,
    Europe/Oslo) and its rate epoch (the latest exchange-rate date on or before it, via a day → epoch
    table) by expression and hash join, no range joins; facts are aggregated per month, owner, the
    dimensions goals filter on (pipeline, stage, activity type), currency and epoch. Goals then pick
    their buckets: user and team goals through their members, company goals from a roll-up over
    owners; filters match by pipeline / stage / activity type; money is converted per bucket at the
    epoch's rate (direct, or inverse — the newer wins), as the engine does.
    """
    pg = kind == "postgres"
    lo, hi = _ts(kind, months[0].start), _ts(kind, months[-1].end)
    lo_d, hi_d = _d(kind, months[0].start_date), _d(kind, months[-1].end_date)
    day0 = months[0].start_date - timedelta(days=1)  # a local month can start on the previous UTC day
    if pg:
        base = months[0].start_date.year * 12 + months[0].start_date.month
        local = f"AT TIME ZONE '{TIME_ZONE}'"

        def month_at(col: str) -> str:  # grouped on; turned into the month's index after aggregating
            return f"date_trunc('month', {col}, '{TIME_ZONE}')"

        def month_on(col: str) -> str:
            return f"date_trunc('month', {col})"

        def index_at(key: str) -> str:
            return f"(date_part('year', {key} {local}) * 12 + date_part('month', {key} {local}))::int - {base}"

        def index_on(key: str) -> str:
            return f"(date_part('year', {key}) * 12 + date_part('month', {key}))::int - {base}"

        def day_at(col: str) -> str:  # the rate in force is the one of the fact's local date (docs/concepts.md)
            return f"({col} {local})::date"

        span = (months[-1].end_date - day0).days
        days = f"SELECT {_d(kind, day0)} + k AS day FROM generate_series(0, {span}) k"
        money, rate = "", "r.rate"
        null_int, null_txt, null_num = "NULL::int", "NULL::text", "NULL::numeric"
        pl = ("SELECT g.id, p.id AS v FROM g CROSS JOIN LATERAL json_array_elements_text(g.filters -> 'pipelines') x(v) "
              "JOIN pipelines p ON p.external_id = x.v")
        st = ("SELECT g.id, s.id AS v FROM g CROSS JOIN LATERAL json_array_elements_text(g.filters -> 'stage') x(v) "
              "JOIN stages s ON s.external_id = x.v")
        at = "SELECT g.id, x.v FROM g CROSS JOIN LATERAL json_array_elements_text(g.filters -> 'activity_types') x(v)"
        has = "coalesce(json_array_length(filters -> '{k}'), 0) > 0"
    else:
        def month_at(col: str) -> str:  # UTC text timestamps against the months' UTC bounds
            whens = " ".join(f"WHEN {col} < {_ts(kind, m.end)} THEN {m.index}" for m in months[:-1])
            return f"CASE {whens} ELSE {months[-1].index} END"

        def month_on(col: str) -> str:
            whens = " ".join(f"WHEN {col} < {_d(kind, m.end_date)} THEN {m.index}" for m in months[:-1])
            return f"CASE {whens} ELSE {months[-1].index} END"

        def day_at(col: str) -> str:  # the local date, through the function goalgraph registers on SQLite
            return f"goalgraph_local_date({col}, '{TIME_ZONE}')"

        def index_at(key: str) -> str:
            return key

        index_on = index_at

        days = (f"SELECT {_d(kind, day0)} AS day UNION ALL SELECT date(day, '+1 day') FROM days WHERE day < {hi_d}")
        # Money is an integer of 1/10,000 units: sum exactly, divide once.
        money, rate = " / 10000.0", "CAST(r.rate AS REAL)"
        null_int = null_txt = null_num = "NULL"
        pl = ("SELECT g.id, p.id AS v FROM g, json_each(g.filters, '$.pipelines') x "
              "JOIN pipelines p ON p.external_id = x.value")
        st = "SELECT g.id, s.id AS v FROM g, json_each(g.filters, '$.stage') x JOIN stages s ON s.external_id = x.value"
        at = "SELECT g.id, x.value AS v FROM g, json_each(g.filters, '$.activity_types') x"
        has = "coalesce(json_array_length(filters, '$.{k}'), 0) > 0"

    def rate_date(frm: str, to: str) -> str:
        return (f"(SELECT max(r.valid_from) FROM exchange_rates r WHERE r.currency = {frm} "
                f"AND r.quote_currency = {to} AND r.valid_from <= h.ep)")

    def rate_of(frm: str, to: str, valid: str) -> str:
        return (f"(SELECT {rate} FROM exchange_rates r WHERE r.currency = {frm} AND r.quote_currency = {to} "
                f"AND r.valid_from = {valid})")

    recursive = "" if pg else "RECURSIVE "
    return f"""
WITH {recursive}days AS ({days}),
de AS (SELECT day, (SELECT max(valid_from) FROM exchange_rates r WHERE r.valid_from <= day) AS ep FROM days),
g AS (
  SELECT id, goal_type AS gt, measure, currency AS gcur, assignee_kind AS ak, assignee_user_id AS au,
         assignee_team_id AS atm, filters,
         CASE WHEN {has.format(k='pipelines')} THEN 1 ELSE 0 END AS has_pl,
         CASE WHEN {has.format(k='activity_types')} THEN 1 ELSE 0 END AS has_at
  FROM goals WHERE deleted_at IS NULL
),
gu AS (
  SELECT id, gt, au AS u FROM g WHERE ak = 'USER'
  UNION ALL SELECT g.id, g.gt, tm.user_id FROM g JOIN team_memberships tm ON tm.team_id = g.atm WHERE g.ak = 'TEAM'
),
gpl AS ({pl}),
gst AS ({st}),
gat AS ({at}),
won AS (
  SELECT {index_at('mk')} AS i, u, p, cur, ep, n, v, gp FROM (
    SELECT {month_at('d.won_at')} AS mk, d.owner_id AS u, d.pipeline_id AS p, d.currency AS cur, de.ep,
           count(*) AS n, sum(d.value){money} AS v, sum(d.value - d.cost){money} AS gp
    FROM deals d JOIN de ON de.day = {day_at('d.won_at')}
    WHERE d.status = 'WON' AND d.won_at >= {lo} AND d.won_at < {hi}
    GROUP BY 1, 2, 3, 4, 5) x
),
f AS (
  SELECT 'DEALS_WON' AS gt, i, u, p, {null_int} AS st, {null_txt} AS at, cur, ep, n, v, gp FROM won
  UNION ALL
  SELECT 'REVENUE_FORECAST', i, u, p, NULL, NULL, cur, ep, n, v, {null_num} FROM won
  UNION ALL
  SELECT 'DEALS_ADDED', {index_at('mk')}, u, p, NULL, NULL, cur, ep, n, v, gp FROM (
    SELECT {month_at('d.added_at')} AS mk, d.owner_id AS u, d.pipeline_id AS p, d.currency AS cur, de.ep,
           count(*) AS n, sum(d.value){money} AS v, sum(d.value - d.cost){money} AS gp
    FROM deals d JOIN de ON de.day = {day_at('d.added_at')}
    WHERE d.added_at >= {lo} AND d.added_at < {hi}
    GROUP BY 1, 2, 3, 4, 5) x
  UNION ALL
  SELECT 'DEALS_PROGRESSED', {index_at('mk')}, u, p, st, NULL, cur, ep, n, v, gp FROM (
    SELECT {month_at('c.entered_at')} AS mk, c.owner_id AS u, c.pipeline_id AS p, c.stage_id AS st,
           d.currency AS cur, de.ep, count(*) AS n, sum(d.value){money} AS v, sum(d.value - d.cost){money} AS gp
    FROM deal_stage_changes c JOIN deals d ON d.id = c.deal_id JOIN de ON de.day = {day_at('c.entered_at')}
    WHERE c.entered_at >= {lo} AND c.entered_at < {hi} AND c.stage_id IN (SELECT v FROM gst)
    GROUP BY 1, 2, 3, 4, 5, 6) x
  UNION ALL
  SELECT 'REVENUE_FORECAST', {index_on('mk')}, u, p, NULL, NULL, cur, ep, n, v, NULL FROM (
    SELECT {month_on('d.expected_close_date')} AS mk, d.owner_id AS u, d.pipeline_id AS p, d.currency AS cur, de.ep,
           count(*) AS n, sum(d.value * s.probability){money} / 100 AS v
    FROM deals d JOIN stages s ON s.id = d.stage_id JOIN de ON de.day = d.expected_close_date
    WHERE d.status = 'OPEN' AND d.expected_close_date >= {lo_d} AND d.expected_close_date < {hi_d}
    GROUP BY 1, 2, 3, 4, 5) x
  UNION ALL
  SELECT 'ACTIVITIES_COMPLETED', {index_at('mk')}, u, NULL, NULL, at, NULL, NULL, n, NULL, NULL FROM (
    SELECT {month_at('a.done_at')} AS mk, a.owner_id AS u, a.type AS at, count(*) AS n
    FROM activities a
    WHERE a.done_at >= {lo} AND a.done_at < {hi}
    GROUP BY 1, 2, 3) x
),
fc AS (SELECT gt, i, p, st, at, cur, ep, sum(n) AS n, sum(v) AS v, sum(gp) AS gp FROM f GROUP BY gt, i, p, st, at, cur, ep),
cand AS (
  SELECT g.id, g.gt, g.measure, g.gcur, g.has_pl, g.has_at, f.i, f.p, f.st, f.at, f.cur, f.ep, f.n, f.v, f.gp
  FROM gu JOIN f ON f.gt = gu.gt AND f.u = gu.u JOIN g ON g.id = gu.id
  UNION ALL
  SELECT g.id, g.gt, g.measure, g.gcur, g.has_pl, g.has_at, fc.i, fc.p, fc.st, fc.at, fc.cur, fc.ep, fc.n, fc.v, fc.gp
  FROM g JOIN fc ON fc.gt = g.gt WHERE g.ak = 'COMPANY'
),
h AS (
  SELECT id, measure, gcur, i, cur, ep, sum(n) AS n,
         sum(CASE measure WHEN 'GROSS_PROFIT' THEN gp ELSE v END) AS a
  FROM cand c
  WHERE (c.has_pl = 0 OR EXISTS (SELECT 1 FROM gpl WHERE gpl.id = c.id AND gpl.v = c.p))
    AND (c.gt <> 'DEALS_PROGRESSED' OR EXISTS (SELECT 1 FROM gst WHERE gst.id = c.id AND gst.v = c.st))
    AND (c.has_at = 0 OR EXISTS (SELECT 1 FROM gat WHERE gat.id = c.id AND gat.v = c.at))
  GROUP BY id, measure, gcur, i, cur, ep
),
hr AS (SELECT h.*, {rate_date('h.cur', 'h.gcur')} AS dv, {rate_date('h.gcur', 'h.cur')} AS iv FROM h)
SELECT id, i, sum(n) AS n,
       sum(CASE WHEN measure = 'COUNT' THEN n
                WHEN cur = gcur THEN a
                WHEN dv IS NOT NULL AND (iv IS NULL OR dv >= iv) THEN a * {rate_of('cur', 'gcur', 'dv')}
                WHEN iv IS NOT NULL THEN a / {rate_of('gcur', 'cur', 'iv')} END) AS actual
FROM hr GROUP BY id, i ORDER BY id, i
"""


# -- measuring -----------------------------------------------------------------------------------
@dataclass
class Timing:
    samples: list[float]
    note: str = ""

    @property
    def p50(self) -> float:
        return statistics.median(self.samples)

    @property
    def p95(self) -> float:
        s = sorted(self.samples)
        return s[max(0, math.ceil(0.95 * len(s)) - 1)]


async def timed(fn, runs: int, budget: float, *, warm_up_counts: bool = True) -> Timing:  # type: ignore[no-untyped-def]
    """Warm up once, then time ``runs`` calls — fewer when they would take longer than ``budget`` seconds.

    When the warm-up alone is over budget and ``warm_up_counts`` (it does the same work as a timed
    run), it is the only sample; otherwise at least one run is timed after it.
    """
    t0 = time.perf_counter()
    await fn()
    warm = time.perf_counter() - t0
    n = min(runs, int((budget - warm) / max(warm, 1e-9)))
    if n < 1 and warm_up_counts:
        return Timing([warm], f"1 run only: the warm-up took {warm:.0f}s (> --budget {budget:.0f}s)")
    n = max(n, 1)
    note = f"runs cut to {n} by --budget {budget:.0f}s" if n < runs else ""
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        await fn()
        samples.append(time.perf_counter() - t0)
    return Timing(samples, note)


@dataclass
class Result:
    db: str
    variant: str
    api: Timing
    floor: Timing
    verified: str


def _num(value: Any) -> Decimal:
    return Decimal(str(value)) if value is not None else Decimal(0)


def compare(api_nodes: list[dict[str, Any]], floor_rows: Sequence[Any], months: list[Month],
            money_ids: set[int]) -> str:
    index = {m.label: m.index for m in months}
    floor = {(int(r[0]), int(r[1])): _num(r[3]) for r in floor_rows}
    diffs = []
    checked = 0
    worst = Decimal(0)
    for node in api_nodes:
        gid = int(node["id"])
        labels = [p["label"] for p in node["periods"]]
        if labels != [m.label for m in months]:
            diffs.append(f"goal {gid}: periods {labels[:2]}…{labels[-1:]} ≠ the 12 months")
            continue
        for p in node["periods"]:
            i = index[p["label"]]
            api = Decimal(p["actual"])
            ref = floor.get((gid, i), Decimal(0))
            checked += 1
            if gid in money_ids:
                delta = abs(api - ref)
                worst = max(worst, delta)
                ok = delta <= Decimal("0.01") + abs(ref) * Decimal("1e-12")
            else:
                ok = api == ref
            if not ok:
                diffs.append(f"goal {gid} {p['label']}: API {api} vs floor {ref}")
    if diffs:
        return f"{len(diffs)} DIFFERENCES of {checked} goal-periods, e.g. " + "; ".join(diffs[:8])
    return f"verified ({checked:,} goal-periods; money max |Δ| {worst})"


async def gql(client: httpx.AsyncClient, query: str, **variables: Any) -> dict[str, Any]:
    response = await client.post("/graphql", json={"query": query, "variables": variables or None})
    body = response.json()
    if response.status_code != 200 or body.get("errors"):
        raise RuntimeError(f"GraphQL failed ({response.status_code}): {str(body)[:2000]}")
    return body["data"]


def with_service_token(settings: Settings) -> tuple[Settings, dict[str, str]]:
    """Settings and headers for a service (all-rights) token and an enterprise licence, where the
    installed goalgraph has authentication and licences; unchanged settings and no headers otherwise."""
    try:
        from goalgraph.testing.credentials import system_token, with_credentials
    except ImportError:
        return settings, {}
    settings = with_credentials(settings)
    return settings, {"authorization": f"Bearer {system_token(settings)}"}


@asynccontextmanager
async def http_app(settings: Settings, now: datetime) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    settings, headers = with_service_token(settings)
    async with open_runtime(settings, migrate=False) as runtime:
        runtime.clock = lambda: now
        app = create_app(settings, runtime=runtime)
        tune_for_serving()  # as `goalgraph serve` does (goalgraph.collector)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://goalgraph.bench", timeout=7200,
                                         headers=headers) as c:
                yield c, runtime


@contextmanager
def recording(engine: AsyncEngine) -> Iterator[list[dict[str, Any]]]:
    """The statements ``engine`` runs inside the block, with their parameters and durations."""
    captured: list[dict[str, Any]] = []
    sync_engine = engine.sync_engine

    def before(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        conn.info["bench_t0"] = time.perf_counter()

    def after(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        captured.append({"sql": statement, "params": parameters,
                         "s": time.perf_counter() - conn.info.pop("bench_t0", time.perf_counter())})

    event.listen(sync_engine, "before_cursor_execute", before)
    event.listen(sync_engine, "after_cursor_execute", after)
    try:
        yield captured
    finally:
        event.remove(sync_engine, "before_cursor_execute", before)
        event.remove(sync_engine, "after_cursor_execute", after)


def print_statements(kind: str, what: str, total: float, captured: list[dict[str, Any]]) -> None:
    log(f"  [{kind}] {what}: {total:.3f}s, {len(captured)} statements, "
        f"{sum(c['s'] for c in captured):.3f}s of it in the database:")
    for c in captured:
        log(f"    {c['s']:8.3f}s  {' '.join(c['sql'].split())[:120]}")


async def explain(kind: str, engine: AsyncEngine, captured: list[dict[str, Any]], top: int) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) — runs them again — on PostgreSQL, EXPLAIN QUERY PLAN on SQLite."""
    for c in sorted(captured, key=lambda c: -c["s"])[:top]:
        if c["s"] < 0.05:
            break
        log(f"\n  [{kind}] plan of a {c['s']:.3f}s statement:\n    {' '.join(c['sql'].split())[:300]} …")
        prefix = "EXPLAIN (ANALYZE, BUFFERS) " if kind == "postgres" else "EXPLAIN QUERY PLAN "
        async with engine.connect() as conn:
            rows = (await conn.exec_driver_sql(prefix + c["sql"], c["params"])).all()
        for row in rows:
            log("    " + " | ".join(str(x) for x in row))
    log("")


async def measure(kind: str, settings: Settings, months: list[Month], now: datetime, args: argparse.Namespace,
                  ) -> list[Result]:
    runs, budget = args.runs, args.budget
    sql = floor_sql(kind, months)
    results = []
    floor_rows: list[Any] = []

    async def floor_fn(conn) -> None:  # type: ignore[no-untyped-def]
        nonlocal floor_rows
        if kind == "postgres":
            # The floor is what a person tuning this one query would run: without JIT, whose
            # compile time (seconds for a statement this size) would dwarf the execution.
            await conn.execute(text("SET LOCAL jit = off"))
        floor_rows = (await conn.execute(text(sql))).all()
        await conn.rollback()

    async with http_app(replace(settings, snapshot_grace_hours=LIVE_GRACE_HOURS), now) as (client, runtime):
        money_ids = {int(r[0]) for r in (await _goal_measures(runtime.engine)) if r[1] != "COUNT"}
        await runtime.recompute.stop()  # the bench runs the rounds itself (rebuild below)
        nodes: list[dict[str, Any]] = []
        calls = 0
        captured: list[dict[str, Any]] = []

        async def api_fn(variant: str) -> None:
            nonlocal nodes, calls, captured
            calls += 1
            if args.explain and calls in (1, 2):
                t0 = time.perf_counter()
                with recording(runtime.engine) as captured:
                    nodes = (await gql(client, QUERY))["goals"]["nodes"]
                print_statements(kind, f"one {variant} request", time.perf_counter() - t0, captured)
            else:
                nodes = (await gql(client, QUERY))["goals"]["nodes"]

        async def empty_store() -> None:
            async with runtime.engine.begin() as conn:
                await conn.execute(text("DELETE FROM progress_marks"))
                await conn.execute(text("DELETE FROM progress_store"))

        async def live_fn() -> None:  # every period measured from the facts in the request (an empty store)
            await empty_store()
            await api_fn("live")

        log(f"  [{kind}] timing the floor …")
        async with runtime.engine.connect() as conn:
            floor = await timed(lambda: floor_fn(conn), runs, budget)
        log(f"  [{kind}] timing the API, live (empty store: measured in the request) …")
        api = await timed(live_fn, runs, budget)
        if args.explain and captured:
            await explain(kind, runtime.engine, captured, top=2)
        results.append(_result(kind, "live", api, floor, nodes, floor_rows, months, money_ids))

        log(f"  [{kind}] timing the rebuild of the whole store (goalgraph recompute --all) …")

        async def rebuild_fn() -> None:
            await empty_store()
            await runtime.recompute.rebuild(None)

        rebuild = await timed(rebuild_fn, max(1, min(runs, 3)), budget)
        async with runtime.engine.connect() as conn:
            rows = (await conn.execute(text("SELECT count(*) FROM progress_store"))).scalar_one()
        log(f"  [{kind}] store rows: {rows:,}")
        log(f"  [{kind}] timing the API, stored (reads from the fresh store) …")
        api = await timed(lambda: api_fn("stored"), runs, budget)
        pending = sum(1 for n in nodes for p in n["periods"] if p.get("pending"))
        stored = _result(kind, "stored", api, floor, nodes, floor_rows, months, money_ids)
        if pending:
            stored.verified = f"{pending} periods pending; " + stored.verified
        results.append(_result(kind, "rebuild", rebuild, floor, nodes, floor_rows, months, money_ids))
        results.append(stored)
    return results


def _result(kind: str, variant: str, api: "Timing", floor: "Timing", nodes: list[dict[str, Any]],
            floor_rows: Sequence[Any], months: list[Month], money_ids: set[int]) -> "Result":
    verdict = compare(nodes, floor_rows, months, money_ids)
    if len(nodes) != GOALS:
        verdict = f"API returned {len(nodes)} goals, expected {GOALS}; " + verdict
    log(f"  [{kind}] {variant}: API p50 {api.p50:.3f}s p95 {api.p95:.3f}s | floor p50 {floor.p50:.3f}s "
        f"p95 {floor.p95:.3f}s | {verdict}")
    return Result(kind, variant, api, floor, verdict)


async def _goal_measures(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as conn:
        return (await conn.execute(text("SELECT id, measure FROM goals"))).all()


# -- one database --------------------------------------------------------------------------------
@asynccontextmanager
async def bench_database(kind: str, keep: bool) -> AsyncIterator[Settings]:
    if kind == "sqlite":
        tmp = Path(tempfile.mkdtemp(prefix="goalgraph-bench-"))
        try:
            yield Settings(database_url=f"sqlite+aiosqlite:///{tmp / 'bench.db'}", migrate_on_start=False,
                           strict_plugins=False)
        finally:
            if keep:
                log(f"  kept {tmp / 'bench.db'}")
            else:
                shutil.rmtree(tmp, ignore_errors=True)
        return
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        yield Settings(database_url=POSTGRES_URL, database_schema=schema, migrate_on_start=False, strict_plugins=False)
    finally:
        try:
            if keep:
                log(f"  kept PostgreSQL schema {schema} (GOALGRAPH_DATABASE_SCHEMA={schema})")
            else:
                async with admin.connect() as conn:
                    await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        finally:
            await admin.dispose()


async def run_database(kind: str, args: argparse.Namespace, now: datetime, months: list[Month]) -> tuple[list[Result], dict[str, float]]:
    times: dict[str, float] = {}
    async with bench_database(kind, args.keep) as settings:
        log(f"\n== {kind} ==")
        t0 = time.perf_counter()
        engine = create_engine(settings)
        try:
            await upgrade(engine)
            world = World(now=now, deals=args.deals, activities=args.activities)
            log(f"  loading facts ({args.deals:,} deals, {args.activities:,} activities, {USERS} users, {TEAMS} teams)")
            await load_facts(engine, kind, settings.database_schema, world)
        finally:
            await engine.dispose()
        if kind == "postgres":
            log("  VACUUM ANALYZE …")
            await vacuum_analyze(settings)
        times["facts"] = time.perf_counter() - t0
        log(f"  facts loaded in {times['facts']:.1f}s")

        t0 = time.perf_counter()
        async with http_app(settings, now) as (client, _):
            await gql(client, 'mutation { updateOrganisation(input: {timeZone: "%s"}) { __typename } }' % TIME_ZONE)
            for k, item in enumerate(goal_inputs(months)):
                result = (await gql(client, CREATE, input=item))["createGoal"]
                if result["__typename"] != "GoalSuccess":
                    raise RuntimeError(f"createGoal failed for {item}: {result}")
                if (k + 1) % 50 == 0:
                    log(f"    goals: {k + 1}/{GOALS}")
        times["goals"] = time.perf_counter() - t0
        log(f"  {GOALS} goals created through GraphQL in {times['goals']:.1f}s")

        results = await measure(kind, settings, months, now, args)
    return results, times


def print_table(results: list[Result], build: dict[str, dict[str, float]], args: argparse.Namespace) -> None:
    log("\n" + "=" * 100)
    log(f"dashboard query: {GOALS} goals × {MONTHS} monthly periods; {args.deals:,} deals, {args.activities:,} activities; "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}")
    for kind, t in build.items():
        log(f"build {kind}: facts {t['facts']:.1f}s, goals {t['goals']:.1f}s")
    log(f"{'database':<10} {'variant':<7} {'API p50':>9} {'API p95':>9} {'floor p50':>10} {'floor p95':>10} "
        f"{'ratio p50':>10} {'ratio p95':>10}  runs API/floor")
    for r in results:
        note = f"{len(r.api.samples)}/{len(r.floor.samples)}" + (f"  {r.api.note}" if r.api.note else "")
        log(f"{r.db:<10} {r.variant:<7} {r.api.p50 * 1000:8.0f}ms {r.api.p95 * 1000:8.0f}ms "
            f"{r.floor.p50 * 1000:9.0f}ms {r.floor.p95 * 1000:9.0f}ms {r.api.p50 / r.floor.p50:9.2f}× "
            f"{r.api.p95 / r.floor.p95:9.2f}×  {note}")
    for r in results:
        log(f"  {r.db} {r.variant}: {r.verified}")
    big = args.deals >= 1_000_000
    aims = {"live": {"postgres": 1.2, "sqlite": 1.5},  # issue 12: measured in the request
            "rebuild": {"postgres": 1.2, "sqlite": 1.2},  # issue 13: goalgraph recompute --all
            "stored": {"postgres": 0.02 if big else 0.1, "sqlite": 0.02 if big else 0.1}}  # issue 13
    for r in results:
        aim = aims[r.variant][r.db]
        ok = r.api.p50 / r.floor.p50 <= aim
        log(f"aim ({r.db} {r.variant} within {aim}× of the hand-written SQL): {'MET' if ok else 'NOT MET'} "
            f"(p50 {r.api.p50 / r.floor.p50:.3f}×, p95 {r.api.p95 / r.floor.p95:.3f}×)")
    log(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for r in results:
        log(f"DASHBOARD_{r.db.upper()}_{r.variant.upper()}: api_p50={r.api.p50:.4f}s floor_p50={r.floor.p50:.4f}s "
            f"ratio={r.api.p50 / r.floor.p50:.3f}")


async def main(args: argparse.Namespace) -> int:
    # SIGTERM (and SIGINT, also where a shell ignores it for background jobs) cancel the run, so the
    # databases are still dropped on the way out.
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)  # type: ignore[union-attr]
    now = datetime.now(timezone.utc).replace(microsecond=0)
    months = months_until(now)
    log(f"now {now.isoformat()}; periods {months[0].label} … {months[-1].label} ({TIME_ZONE})")
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    results: list[Result] = []
    build: dict[str, dict[str, float]] = {}
    for kind in kinds:
        r, t = await run_database(kind, args, now, months)
        results += r
        build[kind] = t
    print_table(results, build, args)
    return 0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deals", type=int, default=1_000_000)
    parser.add_argument("--activities", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=20, help="timed runs per measurement (after one warm-up)")
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--budget", type=float, default=300.0,
                        help="seconds per measurement; fewer runs (at least 3) when a run is slower than budget/runs")
    parser.add_argument("--explain", action="store_true",
                        help="print the statements of one live and one stored request, and the slowest ones' plans")
    parser.add_argument("--keep", action="store_true", help="keep the databases (prints where)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(main(parse_args())))
    except (KeyboardInterrupt, asyncio.CancelledError):
        log("interrupted; the benchmark's databases were dropped")
        sys.exit(130)
