"""Property test: the batched progress engine agrees with a plain-Python reference.

Hypothesis draws an organisation calendar (time zone, week start, fiscal-year start), 1–6 goals
of every first-party goal type (random measure, assignee, pipeline / stage / activity-type /
dimension filters, split by a dimension, currency, interval, fiscal alignment, start and end) and
then a small CRM around them: 3–4 users in 1–2 teams, two pipelines, up to 30 deals (statuses,
EUR / NOK / USD amounts, costs, stage history, expected close dates, custom attributes) and up to
20 activities, plus up to 4 dated exchange rates. Instants land mostly on the goals' period
bounds — exactly at local midnight, a microsecond to hours either side, or at UTC midnight of the
same day — and rates start on the days facts happen (their local date, and their UTC date where
that differs, near local midnight), because that is where the bugs live. Activity-type filters are
typed as people type them (``"CALL"``, ``"Meeting"``, ``" Email "``).

Each example wipes the fact tables, ingests through :func:`goalgraph.ingest.batch.ingest_batch`
and :func:`goalgraph.rates.set_rates`, runs :func:`compute_actuals` and compares every
(goal, period) — value, fact count (the facts in the value: unconverted ones only under
``unconverted``), unconverted facts and each split element — with
:func:`goalgraph.testing.reference.reference_actuals`. It runs on SQLite and PostgreSQL.

``GOALGRAPH_PROPERTY_EXAMPLES`` sets the number of examples per database (default 150, about
20 s per database on an idle two-core machine; above ~1000 pass ``--timeout=0``, since
pytest-timeout allows a test 300 s). ``pytest --hypothesis-show-statistics`` shows what the
examples exercised. A failure shrinks to a small scenario, which can take minutes.

A second, database-free property holds status, ratio and pace against one rule over random actuals
and targets, zero targets included. Below the properties, two small tests pin discrepancies found
while building them: PostgreSQL's
session time zone moving the start of exchange rates (fixed: a regression test), and booleans in
custom attributes reading differently on SQLite (a strict xfail there until fixed).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from itertools import product
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select, text

from goalgraph.db.models import (
    Activity,
    Deal,
    DealStageChange,
    ExchangeRate,
    Pipeline,
    Stage,
    Team,
    TeamMembership,
    User,
)
from goalgraph.ingest.batch import ingest_batch
from goalgraph.periods import Calendar, Interval, periods_for
from goalgraph.progress.engine import Assignee, AssigneeKind, GoalQuery, PeriodActual, compute_actuals
from goalgraph.rates import set_rates
from goalgraph.runtime import Runtime
from goalgraph.testing.reference import (
    World,
    RefActivity,
    RefDeal,
    RefRate,
    RefStage,
    RefStageChange,
    ReferenceActual,
    counted,
    rate_day,
    reference_actuals,
)

UTC = timezone.utc
EXAMPLES = int(os.environ.get("GOALGRAPH_PROPERTY_EXAMPLES", "150"))

ZONES = (
    "UTC", "Europe/Oslo", "Europe/Amsterdam", "America/New_York", "America/Los_Angeles",
    "Asia/Kolkata", "Pacific/Auckland", "Australia/Sydney", "America/Sao_Paulo",
)
CURRENCIES = ("EUR", "NOK", "USD")
USERS = ("u1", "u2", "u3", "u4")
PIPELINES = {"p1": ("p1s1", "p1s2", "p1s3"), "p2": ("p2s1", "p2s2")}
STAGES = tuple(s for stages in PIPELINES.values() for s in stages)
STAGE_PIPELINE = {s: p for p, stages in PIPELINES.items() for s in stages}
ACTIVITY_TYPES = ("call", "meeting", "email")
ACTIVITY_FILTER_VALUES = (*ACTIVITY_TYPES, "CALL", "Meeting", " Email ")
STATUSES = ("OPEN", "WON", "LOST", "STALLED", "OPEN", "WON")  # open and won deals count most
#: The first-party dimensions (plugin goalgraph_dimensions): key = attribute → elements (and one more).
DIMENSIONS = {
    "sale_type": ("New business", "Upsell", "Renewal"),
    "company_category": ("SMB", "Mid-market", "Enterprise", "Public sector"),
}
DIMENSION_ATTRIBUTES = {key: key for key in DIMENSIONS}
_MISSING = object()
#: Custom attributes of a fact: each dimension's attribute missing, null or one of its values.
ATTRIBUTE_SETS = tuple(
    {k: v for k, v in zip(DIMENSIONS, values) if v is not _MISSING}
    for values in product(*((_MISSING, None, *elements) for elements in DIMENSIONS.values()))
)

#: Goals start round a base date in these years.
GOAL_FIRST, GOAL_LAST = date(2024, 1, 1), date(2026, 12, 31)

GOAL_TYPES = {
    "DEALS_ADDED": ("COUNT", "VALUE", "GROSS_PROFIT"),
    "DEALS_WON": ("COUNT", "VALUE", "GROSS_PROFIT"),
    "DEALS_PROGRESSED": ("COUNT", "VALUE", "GROSS_PROFIT"),
    "ACTIVITIES_ADDED": ("COUNT",),
    "ACTIVITIES_COMPLETED": ("COUNT",),
    "REVENUE_FORECAST": ("WEIGHTED_VALUE",),
}
#: Largest goal span in days per interval: about 30 periods (fewer for long intervals).
MAX_SPAN = {
    Interval.WEEKLY: 30 * 7,
    Interval.MONTHLY: 30 * 31,
    Interval.QUARTERLY: 16 * 92,
    Interval.YEARLY: 5 * 366,
    Interval.CUSTOM: 800,
}

_us = timedelta(microseconds=1)
_s = timedelta(seconds=1)
_min = timedelta(minutes=1)
_h = timedelta(hours=1)
#: Offsets from a midnight: mostly the edge itself, else a little either side.
NEAR = (0 * _s, 0 * _s, 0 * _s, _us, -_us, _s, -_s, -_min, 30 * _min, -30 * _min, _h, -_h, 2 * _h, -2 * _h)
#: Where an instant lies relative to its day: (which midnight, offset); "anywhere": a random second.
MOMENTS = (
    *(("local", o) for o in NEAR * 3),
    *(("utc", o) for o in NEAR * 2),
    *(("local", m * _min) for m in range(-300, 301, 20)),
    *(("anywhere", None),) * 10,
)
#: Day shifts from a period bound: mostly none (first days), else the day before (last days) or after.
SHIFTS = (0, 0, 0, 0, -1, 1)
CLOSE_SHIFTS = (0, 0, -1, -1, 1)  # expected close dates are placed by date: last days matter as much


# --------------------------------------------------------------------------
# Strategies
# --------------------------------------------------------------------------
# Every draw costs (hypothesis spends more per draw than the database per fact), so each deal and
# activity is one draw of bytes, decoded by :class:`Unpack`; all-zero bytes (what shrinking aims
# for) decode to the simplest fact: first kind, nothing optional, exactly at a goal's first period
# bound at local midnight. Strategies are built once, at import.
# Goals are drawn first; facts then cluster on their period bounds (local midnights, the UTC
# midnights of the same days, a day either side) because that is where bugs live.

#: Day codes (see :meth:`Days.day`): a period bound ± a shift, or (1 in 4) any day near the goals.
DAY_CODES = 4 * 6 * 10_000
#: Packed positions within a day (see :meth:`Days.instant`).
MOMENT_CODES = len(MOMENTS) * 3 * 86400
#: (stage, status, currency, owner, says its pipeline, a non-won deal keeps a won_at).
DEAL_KINDS = tuple(product(STAGES, STATUSES, CURRENCIES, range(4), (False, True), (False,) * 9 + (True,)))
#: (type, owner, done).
ACTIVITY_KINDS = tuple(product(ACTIVITY_TYPES + ("Call",), range(4), (False, True)))


class Unpack:
    """Small integers read from drawn bytes; zeros once the bytes run out."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> int:
        """An integer in ``range(n)`` (from one byte more than ``n`` needs, to keep the modulo fair)."""
        size = ((n - 1).bit_length() + 7) // 8 + 1
        chunk = self.data[self.pos : self.pos + size]
        self.pos += size
        return int.from_bytes(chunk, "big") % n

    def instant(self) -> tuple[int, int]:
        return self.take(DAY_CODES), self.take(MOMENT_CODES)


def _deal_spec(data: bytes) -> dict[str, Any]:
    u = Unpack(data)
    stage, status, currency, owner, with_pipeline, reopened = DEAL_KINDS[u.take(len(DEAL_KINDS))]
    cost = u.take(3001)
    close = u.take(4 * DAY_CODES)
    return {
        "stage": stage, "status": status, "currency": currency, "owner": owner, "with_pipeline": with_pipeline,
        "reopened_won_at": reopened,
        "value": Decimal(u.take(1_000_001)) / 100,
        # Cost as a share of the value in 1/1000, now and then above it (negative gross profit).
        "cost": cost // 2 if cost <= 2000 else 1000 + 2 * (cost - 2000),
        "times": (u.instant(), u.instant()),
        "expected_close": None if close % 4 == 0 else close // 4,
        "stage_entered_at": u.instant() if u.take(4) == 3 else None,
        "history": [(STAGES[u.take(len(STAGES))], u.instant()) for _ in range(u.take(4))],
        "attributes": ATTRIBUTE_SETS[u.take(len(ATTRIBUTE_SETS))],
    }


def _activity_spec(data: bytes) -> dict[str, Any]:
    u = Unpack(data)
    type_, owner, done = ACTIVITY_KINDS[u.take(len(ACTIVITY_KINDS))]
    return {"type": type_, "owner": owner, "done": done, "times": (u.instant(), u.instant()),
            "attributes": ATTRIBUTE_SETS[u.take(len(ATTRIBUTE_SETS))]}


DEAL = st.binary(min_size=80, max_size=80).map(_deal_spec)
ACTIVITY = st.binary(min_size=24, max_size=24).map(_activity_spec)
#: A rate: (where it starts, which one, the other way round, rate, and now and then a rate for the
#: inverse pair from the same day — a tie). It starts on a day code, so many days before the goals
#: (valid for everything), or — for the currencies of a fact a money goal counts and of that goal —
#: on the day the fact's rate is taken — its local date in the organisation's time zone ("counted";
#: "midnight": of a fact at exactly local midnight or placed by date; "utc_day": the fact's UTC date
#: where that is another day than its local one, near local midnight) — or the day after: a rate
#: starting just as a fact happens, where an off-by-one in its validity or the wrong day shows.
RATE = st.tuples(
    st.sampled_from(("counted", "midnight", "utc_day", "day", "early", "counted")),
    st.integers(0, DAY_CODES - 1),
    st.booleans(),
    st.integers(1, 200_000).map(lambda r: Decimal(r) / 10_000),
    st.one_of(st.none(), st.none(), st.none(), st.integers(1, 200_000).map(lambda r: Decimal(r) / 10_000)),
)
PAIRS = tuple((a, b) for a in CURRENCIES for b in CURRENCIES if a != b)
GOAL = st.fixed_dictionaries({
    "goal_type": st.sampled_from(sorted(GOAL_TYPES)),
    "measure": st.integers(0, 2),
    "currency": st.sampled_from(("EUR", "NOK")),
    "assignee": st.sampled_from(("COMPANY", "USER", "TEAM")),
    "who": st.integers(0, 3),
    "pipelines": st.one_of(st.none(), st.lists(st.sampled_from(("p1", "p2", "nope")), unique=True, max_size=2)),
    "stage": st.one_of(st.none(), st.sampled_from(STAGES), st.sampled_from(STAGES), st.sampled_from(STAGES)),
    # Filter values as a person types them: upper and mixed case match the lower-case stored types.
    "activity_types": st.one_of(st.none(), st.lists(st.sampled_from(ACTIVITY_FILTER_VALUES), unique=True, max_size=2)),
    "dimension": st.one_of(
        st.none(), st.none(),
        *(st.tuples(st.just(k), st.lists(st.sampled_from(v), unique=True, max_size=2)) for k, v in DIMENSIONS.items()),
    ),
    "split_by": st.sampled_from((None, None, None, *DIMENSIONS)),
    "interval": st.sampled_from((Interval.WEEKLY, Interval.MONTHLY, Interval.QUARTERLY, Interval.YEARLY,
                                 Interval.WEEKLY, Interval.MONTHLY, Interval.CUSTOM)),
    "fiscal": st.booleans(),
    # Days from the example's base date; "month": the first of that day's month.
    "start": st.tuples(st.sampled_from(("day", "month")), st.integers(-90, 90)),
    "span": st.integers(0, 10_000),
})
TEAM = st.tuples(st.lists(st.integers(0, 3), unique=True, max_size=4), st.lists(st.integers(0, 3), max_size=1))
#: How many of a thing, 0..n, about uniformly. Hypothesis' own list sizes favour short lists, and it
#: draws the first and last choices often: those are 1 and n, so examples shrink to one thing, not
#: none, and "none" (in the middle) is drawn as often as any other count.
COUNTS = {n: st.sampled_from((1, *range(2, n // 2), 0, *range(n // 2, n + 1))) for n in (4, 20, 30)}
GOAL_COUNT = st.sampled_from((1, 2, 3, 4, 5, 6, 6, 6))
CALENDAR = st.builds(Calendar, st.sampled_from(ZONES), st.integers(0, 6), st.integers(1, 12))


def local_midnight(tz: ZoneInfo, day: date) -> datetime:
    """Local midnight as a UTC instant (no midnight falls in a DST gap for ZONES in these years)."""
    return datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC)


@dataclass(frozen=True)
class Days:
    """The days an example's facts cluster on: its goals' period bounds and the span they cover."""

    bounds: tuple[date, ...]
    first: date
    last: date

    def day(self, code: int, shifts: tuple[int, ...] = SHIFTS) -> date:
        """Decode a day code (``range(DAY_CODES)``)."""
        how, n = code % 4, code // 4
        if how == 3:
            return self.first + timedelta(n % ((self.last - self.first).days + 1))
        return self.bounds[n // 6 % len(self.bounds)] + timedelta(shifts[n % 6 % len(shifts)])

    def instant(self, spec: tuple[int, int], tz: ZoneInfo) -> datetime:
        """Decode an instant: (day code, packed: where in the day (:data:`MOMENTS`), the second
        for "anywhere", how it is written)."""
        code, packed = spec
        packed, which = divmod(packed, len(MOMENTS))
        anchor, offset = MOMENTS[which]
        representation, seconds = divmod(packed, 86400)
        day = self.day(code)
        if offset is None:
            moment = local_midnight(tz, day) + timedelta(seconds=seconds)
        elif anchor == "local":
            moment = local_midnight(tz, day) + offset
        else:
            moment = datetime(day.year, day.month, day.day, tzinfo=UTC) + offset
        # Some instants arrive in the organisation's offset: ingest must normalise them.
        return moment.astimezone(tz if representation == 2 else UTC)


@dataclass
class Scenario:
    """One example: the calendar, the raw facts to ingest, rates and goal specifications."""

    calendar: Calendar
    batch: dict[str, list[dict[str, Any]]]
    rates: list[dict[str, Any]]
    goals: list[dict[str, Any]]
    #: PostgreSQL's session TimeZone while the engine runs (results must not depend on it).
    session_zone: str


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    cal = draw(CALENDAR)
    n_deals, n_activities, n_rates = draw(COUNTS[30]), draw(COUNTS[20]), draw(COUNTS[4])
    tz = cal.tz
    users = list(USERS[: draw(st.integers(3, 4))])
    teams = []
    for t, (members, leaders) in enumerate(draw(st.lists(TEAM, min_size=1, max_size=2))):
        teams.append({"id": f"t{t + 1}", "name": f"Team {t + 1}",
                      "member_ids": [users[i % len(users)] for i in members],
                      "leader_ids": [users[i % len(users)] for i in leaders]})
    probabilities = iter(draw(st.lists(st.integers(0, 100), min_size=len(STAGES), max_size=len(STAGES))))
    pipelines = [
        {"id": p, "name": p.upper(), "stages": [
            {"id": s, "name": s.upper(), "probability": next(probabilities)} for s in stages
        ]}
        for p, stages in PIPELINES.items()
    ]

    base = draw(st.dates(GOAL_FIRST, GOAL_LAST))
    goals = []
    bounds: set[date] = set()
    for g, spec in enumerate(draw(st.lists(GOAL, min_size=(n := draw(GOAL_COUNT)), max_size=n))):
        goal_type = spec["goal_type"]
        measures = GOAL_TYPES[goal_type]
        measure = measures[spec["measure"] % len(measures)]
        kind = spec["assignee"]
        ref = None
        if kind == "USER":
            ref = users[spec["who"] % len(users)]
        elif kind == "TEAM":
            ref = teams[spec["who"] % len(teams)]["id"]
        filters: dict[str, list[str]] = {}
        if goal_type.startswith("DEALS") or goal_type == "REVENUE_FORECAST":
            if spec["pipelines"] is not None:
                filters["pipelines"] = spec["pipelines"]  # [] means "all pipelines", as left out
        if goal_type == "DEALS_PROGRESSED" and spec["stage"] is not None:
            filters["stage"] = [spec["stage"]]
        if goal_type.startswith("ACTIVITIES") and spec["activity_types"] is not None:
            filters["activity_types"] = spec["activity_types"]
        if spec["dimension"] is not None:
            filters[spec["dimension"][0]] = spec["dimension"][1]
        interval = spec["interval"]
        align, offset = spec["start"]
        start = min(max(base + timedelta(offset), GOAL_FIRST), GOAL_LAST)
        if align == "month":
            start = start.replace(day=1)
        end = start + timedelta(spec["span"] % (MAX_SPAN[interval] + 1))
        fiscal = spec["fiscal"]
        for p in periods_for(cal, interval, start, end, fiscal=fiscal):
            bounds.update((p.start_date, p.end_date + timedelta(1)))
        goals.append({
            "key": f"g{g}", "goal_type": goal_type, "measure": measure,
            "currency": spec["currency"] if measure != "COUNT" else None,
            "assignee": (kind, ref), "filters": filters, "interval": interval, "fiscal": fiscal,
            "start": start, "end": end, "split_by": spec["split_by"],
        })
    days = Days(tuple(sorted(bounds)), min(g["start"] for g in goals) - timedelta(7),
                max(g["end"] for g in goals) + timedelta(7))

    deals = []
    for i, spec in enumerate(draw(st.lists(DEAL, min_size=n_deals, max_size=n_deals))):
        t1, t2 = sorted(days.instant(t, tz) for t in spec["times"])
        value, status = spec["value"], spec["status"]
        deal: dict[str, Any] = {
            "id": f"d{i}", "title": f"Deal {i}", "value": value,
            "cost": (value * spec["cost"] / 1000).quantize(Decimal("0.01")),
            "currency": spec["currency"], "owner_id": users[spec["owner"] % len(users)],
            "stage_id": spec["stage"], "status": status, "added_at": t1,
        }
        if spec["attributes"]:
            deal["attributes"] = spec["attributes"]
        if spec["with_pipeline"]:
            deal["pipeline_id"] = STAGE_PIPELINE[spec["stage"]]
        if status == "WON" or spec["reopened_won_at"]:  # a reopened deal may keep its won_at
            deal["won_at"] = t2
        if status == "LOST":
            deal["lost_at"] = t2
        if spec["expected_close"] is not None:
            deal["expected_close_date"] = days.day(spec["expected_close"], CLOSE_SHIFTS)
        if spec["stage_entered_at"] is not None:
            deal["stage_entered_at"] = days.instant(spec["stage_entered_at"], tz)
        if spec["history"]:
            deal["stage_history"] = [{"stage_id": s, "entered_at": days.instant(at, tz)} for s, at in spec["history"]]
        deals.append(deal)

    activities = []
    for i, spec in enumerate(draw(st.lists(ACTIVITY, min_size=n_activities, max_size=n_activities))):
        t1, t2 = sorted(days.instant(t, tz) for t in spec["times"])
        activity: dict[str, Any] = {
            "id": f"a{i}", "type": spec["type"], "owner_id": users[spec["owner"] % len(users)], "added_at": t1,
        }
        if spec["attributes"]:
            activity["attributes"] = spec["attributes"]
        if spec["done"]:
            activity["done_at"] = t2
        activities.append(activity)

    # Where rates may start: (day, fact currency, goal currency) for facts money goals count.
    batch = {"users": [{"id": u, "name": u.upper()} for u in users], "teams": teams, "pipelines": pipelines,
             "deals": deals, "activities": activities}
    starts: dict[str, list[tuple[date, str, str]]] = {"counted": [], "midnight": [], "utc_day": []}
    draft = Scenario(cal, batch, [], goals, "UTC")
    ids = {u: u for u in users} | {t["id"]: t["id"] for t in teams}
    draft_world = world(draft, ids, ids)
    for goal in goal_queries(draft, ids, ids):
        if goal.currency is None:
            continue
        for _, fact in counted(draft_world, goal, dimensions=DIMENSION_ATTRIBUTES):
            if fact.currency != goal.currency:
                start = (rate_day(fact, cal.time_zone), fact.currency, goal.currency)
                starts["counted"].append(start)
                if fact.occurred_at is None or fact.occurred_at.astimezone(tz).time() == time(0):
                    starts["midnight"].append(start)
                if fact.occurred_at is not None and (utc_day := fact.occurred_at.astimezone(UTC).date()) != start[0]:
                    starts["utc_day"].append((utc_day, fact.currency, goal.currency))
    rates: dict[tuple[str, str, date], Decimal] = {}  # one rate per pair and day
    for how, n, flip, rate, inverse in draw(st.lists(RATE, min_size=n_rates, max_size=n_rates)):
        pair = PAIRS[n % len(PAIRS)]
        if how == "day":
            valid_from = days.day(n)
        elif how == "early":
            valid_from = days.first - timedelta(n % 400)
        elif starts[how]:
            valid_from, *pair = starts[how][n % len(starts[how])]
            valid_from += timedelta(n % 4 == 3)  # now and then the day after
        else:
            valid_from = days.first
        if flip:
            pair = (pair[1], pair[0])
        rates[(pair[0], pair[1], valid_from)] = rate
        if inverse is not None:
            rates[(pair[1], pair[0], valid_from)] = inverse

    raw_rates = [{"currency": c, "quote_currency": q, "valid_from": d, "rate": r} for (c, q, d), r in rates.items()]
    return Scenario(cal, batch, raw_rates, goals, draw(st.sampled_from(ZONES)))


# --------------------------------------------------------------------------
# From a scenario to the database, the engine's goals and the reference's world
# --------------------------------------------------------------------------

#: Children first, so foreign keys never object.
WIPE = (Activity, DealStageChange, Deal, Stage, Pipeline, TeamMembership, Team, User, ExchangeRate)


async def load(runtime: Runtime, scenario: Scenario) -> tuple[dict[str, int], dict[str, int]]:
    """Replace every fact with the scenario's; returns user and team ids by external id."""
    async with runtime.sessions() as session, session.begin():
        for model in WIPE:
            await session.execute(delete(model))
        await ingest_batch(session, scenario.batch)
        await set_rates(session, scenario.rates)
    async with runtime.sessions() as session:
        users = dict((await session.execute(select(User.external_id, User.id))).all())
        teams = dict((await session.execute(select(Team.external_id, Team.id))).all())
    return users, teams


def goal_queries(scenario: Scenario, users: dict[str, int], teams: dict[str, int]) -> list[GoalQuery]:
    out = []
    for g in scenario.goals:
        kind, ref = g["assignee"]
        assignee = Assignee(AssigneeKind(kind), None if ref is None else (users if kind == "USER" else teams)[ref])
        periods = periods_for(scenario.calendar, g["interval"], g["start"], g["end"], fiscal=g["fiscal"])
        out.append(GoalQuery(key=g["key"], goal_type=g["goal_type"], measure=g["measure"], assignee=assignee,
                             periods=periods, filters=g["filters"], currency=g["currency"], split_by=g["split_by"]))
    return out


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def world(scenario: Scenario, users: dict[str, int], teams: dict[str, int]) -> World:
    """The facts as stored, keyed like the engine's goals (users and teams by internal id)."""
    batch = scenario.batch
    stages = {
        s["id"]: RefStage(s["id"], p["id"], s["probability"]) for p in batch["pipelines"] for s in p["stages"]
    }
    deals, changes = [], []
    for d in batch["deals"]:
        owner = users[d["owner_id"]]
        deals.append(RefDeal(
            key=d["id"], owner=owner, pipeline=stages[d["stage_id"]].pipeline, stage=d["stage_id"],
            status=d["status"], currency=d["currency"], value=d["value"], cost=d["cost"],
            added_at=_utc(d["added_at"]), won_at=_utc(d["won_at"]) if "won_at" in d else None,
            expected_close_date=d.get("expected_close_date"), attributes=d.get("attributes", {}),
        ))
        # Ingest records a new deal entering its current stage (when it says, else when added) plus
        # its history; one row per (deal, stage, instant).
        entries = [(d["stage_id"], d.get("stage_entered_at") or d["added_at"])]
        entries += [(h["stage_id"], h["entered_at"]) for h in d.get("stage_history", ())]
        seen = set()
        for stage, at in entries:
            if (stage, _utc(at)) not in seen:
                seen.add((stage, _utc(at)))
                changes.append(RefStageChange(d["id"], stage, stages[stage].pipeline, owner, _utc(at)))
    activities = [
        RefActivity(a["id"], users[a["owner_id"]], a["type"].lower(), _utc(a["added_at"]),
                    _utc(a["done_at"]) if "done_at" in a else None, a.get("attributes", {}))
        for a in batch["activities"]
    ]
    return World(
        teams={teams[t["id"]]: {users[u] for u in [*t["member_ids"], *t["leader_ids"]]} for t in batch["teams"]},
        stages=stages,
        deals=deals,
        stage_changes=changes,
        activities=activities,
        rates=[RefRate(r["currency"], r["quote_currency"], r["valid_from"], r["rate"]) for r in scenario.rates],
    )


async def stored_stage_changes(runtime: Runtime) -> set[tuple[str, str, datetime]]:
    async with runtime.sessions() as session:
        rows = await session.execute(
            select(Deal.external_id, Stage.external_id, DealStageChange.entered_at)
            .join(Deal, Deal.id == DealStageChange.deal_id)
            .join(Stage, Stage.id == DealStageChange.stage_id)
        )
        return {(d, s, at) for d, s, at in rows}


def check_placement(cal: Calendar, goals: list[GoalQuery], ref: World) -> None:
    """Independent of ``Period.contains``: an instant is in a period iff its local date is."""
    tz = cal.tz
    moments = [d.added_at for d in ref.deals] + [d.won_at for d in ref.deals if d.won_at]
    moments += [c.entered_at for c in ref.stage_changes] + [a.added_at for a in ref.activities]
    for goal in goals:
        for p in goal.periods:
            for m in moments:
                local = m.astimezone(tz).date()
                assert p.contains(m) == (p.start_date <= local <= p.end_date), (goal.key, p, m, local)


def disagreements(where: str, got: PeriodActual, want: ReferenceActual) -> list[str]:
    """Differences between the engine's and the reference's actual (division may round: a tolerance)."""
    tolerance = Decimal("0.0001") * want.divided
    if abs(got.value - want.value) <= tolerance and got.facts == want.facts and got.unconverted == want.unconverted:
        return []
    return [
        f"{where}: engine value={got.value} facts={got.facts} unconverted={got.unconverted}; "
        f"reference value={want.value} facts={want.facts} unconverted={want.unconverted} from {want.contributions}"
    ]


# --------------------------------------------------------------------------
# The property
# --------------------------------------------------------------------------


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(scenario=scenarios())
async def test_engine_matches_reference(runtime: Runtime, scenario: Scenario) -> None:
    users, teams = await load(runtime, scenario)
    goals = goal_queries(scenario, users, teams)
    ref_world = world(scenario, users, teams)

    # The reference must describe what was stored.
    assert await stored_stage_changes(runtime) == {(c.deal, c.stage, c.entered_at) for c in ref_world.stage_changes}
    check_placement(scenario.calendar, goals, ref_world)

    async with runtime.sessions() as session:
        if runtime.engine.dialect.name == "postgresql":
            await session.execute(text(f"SET TIME ZONE '{scenario.session_zone}'"))
        actuals = await compute_actuals(session, runtime.registry, goals)
    dimensions = {d.key: d.attribute for d in runtime.registry.dimensions.values()}
    expected = reference_actuals(ref_world, goals, dimensions=dimensions)

    assert set(actuals) == set(expected)
    problems = []
    for goal in goals:
        for period in goal.periods:
            got, want = actuals[(goal.key, period.index)], expected[(goal.key, period.index)]
            where = (
                f"{goal.key} {goal.goal_type}/{goal.measure} {goal.currency or ''} {goal.assignee} "
                f"filters={dict(goal.filters)} split_by={goal.split_by} period {period.index} {period.label} "
                f"[{period.start_date}..{period.end_date}] [{period.start.isoformat()}, {period.end.isoformat()})"
            )
            problems += disagreements(where, got, want)
            if set(got.elements) != set(want.elements):
                problems.append(f"{where}: engine elements {sorted(got.elements)}, reference {sorted(want.elements)}")
            else:
                for element, part in got.elements.items():
                    problems += disagreements(f"{where} element {element!r}", part, want.elements[element])
    assert not problems, "engine and reference disagree:\n" + "\n".join(problems)

    # What the example exercised (pytest --hypothesis-show-statistics).
    cells = list(expected.values())
    counted = sum(a.facts for a in cells)
    event("facts counted: " + ("none" if not counted else "1-9" if counted < 10 else "10+"))
    if any(a.divided for a in cells):
        event("converted by an inverse rate")
    if any(a.unconverted for a in cells):
        event("facts without a rate")
    if any(len(a.elements) > 1 for a in cells):
        event("split into several elements")


# --------------------------------------------------------------------------
# Discrepancies found while building the property, pinned by small tests: each states the behaviour
# the reference expects; a strict xfail marks where the engine does not deliver it yet.
# --------------------------------------------------------------------------

KNOWN = {
    "users": [{"id": "u1", "name": "U1"}],
    "pipelines": [{"id": "p1", "name": "P1", "stages": [{"id": "s1", "name": "S1", "probability": 50}]}],
}
MARCH = periods_for(Calendar("UTC"), Interval.MONTHLY, date(2026, 3, 1), date(2026, 3, 31))


async def test_rate_day_does_not_depend_on_the_postgres_time_zone(
    runtime: Runtime, db_kind: str, request: pytest.FixtureRequest
) -> None:
    """A rate valid from 1 March applies to a fact at 01:00 UTC on 1 March, whatever the server's TimeZone.

    The engine compares ``valid_from`` (a date) with the fact's instant in SQL. PostgreSQL casts a
    date compared with a ``timestamptz`` to midnight in the *session* time zone (the server's
    ``TimeZone`` unless the connection sets one): with America/New_York the rate started at
    05:00 UTC and the fact was left unconverted. (The property also runs each example under a
    random session time zone.)
    """
    if db_kind != "postgres":
        pytest.skip("session time zones are PostgreSQL's")
    batch = {**KNOWN, "deals": [{"id": "d1", "title": "D1", "value": "1000", "currency": "NOK", "owner_id": "u1",
                                 "stage_id": "s1", "added_at": "2026-03-01T01:00:00+00:00"}]}
    async with runtime.sessions() as session, session.begin():
        await ingest_batch(session, batch)
        await set_rates(session, [{"currency": "NOK", "quote_currency": "EUR", "rate": "0.1", "valid_from": "2026-03-01"}])
    goal = GoalQuery("g", "DEALS_ADDED", "VALUE", Assignee(AssigneeKind.COMPANY), MARCH, currency="EUR")
    async with runtime.sessions() as session:
        await session.execute(text("SET TIME ZONE 'America/New_York'"))
        actual = (await compute_actuals(session, runtime.registry, [goal]))[("g", 0)]
    assert (actual.value, actual.unconverted) == (Decimal(100), {})


async def test_boolean_attributes_read_alike_on_both_databases(
    runtime: Runtime, db_kind: str, request: pytest.FixtureRequest
) -> None:
    """A boolean attribute is ``"true"`` / ``"false"`` to dimension filters and splits, as JSON writes it.

    PostgreSQL (``->>``) gives ``true``/``false``; SQLite's JSON_EXTRACT gives 1/0, so there a filter
    on ``"true"`` matches nothing, ``"1"`` matches instead, and a split files the deal under ``"1"``
    (and ``False`` under ``"0"``, together with the number 0).
    """
    if db_kind == "sqlite":
        request.applymarker(pytest.mark.xfail(strict=True, reason="SQLite reads JSON booleans as 1/0"))
    batch = {**KNOWN, "deals": [
        {"id": f"d{i}", "title": "D", "value": "1", "currency": "EUR", "owner_id": "u1", "stage_id": "s1",
         "added_at": "2026-03-02T10:00:00+00:00", "attributes": {"sale_type": value}}
        for i, value in enumerate((True, False, 0))
    ]}
    async with runtime.sessions() as session, session.begin():
        await ingest_batch(session, batch)
    company = Assignee(AssigneeKind.COMPANY)
    goals = [
        GoalQuery("true", "DEALS_ADDED", "COUNT", company, MARCH, filters={"sale_type": ["true"]}),
        GoalQuery("split", "DEALS_ADDED", "COUNT", company, MARCH, split_by="sale_type"),
    ]
    async with runtime.sessions() as session:
        actuals = await compute_actuals(session, runtime.registry, goals)
    assert actuals[("true", 0)].value == 1
    assert {k: v.value for k, v in actuals[("split", 0)].elements.items()} == {"true": 1, "false": 1, "0": 1}


# --------------------------------------------------------------------------
# Status, ratio and pace against a target — zero targets included (no database).
# --------------------------------------------------------------------------

AMOUNTS = st.one_of(st.just(Decimal(0)), st.integers(0, 10_000).map(Decimal),
                    st.integers(0, 10_000_000).map(lambda n: Decimal(n) / 10_000))


@settings(max_examples=EXAMPLES, deadline=None, database=None)
@given(actual=AMOUNTS, target=AMOUNTS, when=st.integers(-2, 40), cal=CALENDAR)
def test_status_ratio_and_pace_follow_one_rule(actual: Decimal, target: Decimal, when: int, cal: Calendar) -> None:
    """ratio = actual / target, null exactly for a zero target; the status agrees with it (EXCEEDED only above
    100 %, a zero target ACHIEVED once started); pace expects target × elapsed; one period's summary is its status."""
    from goalgraph.progress.status import Status, pace, ratio, span_status, status

    period = periods_for(cal, Interval.MONTHLY, date(2026, 3, 1), date(2026, 3, 31))[0]
    now = period.start + timedelta(days=when, hours=7)
    r, s, p = ratio(actual, target), status(actual, target, period, now), pace(actual, target, period, now)
    assert (r is None) == (target == 0)
    if now < period.start:
        assert s is Status.PENDING
    elif target == 0:
        assert s is Status.ACHIEVED
    elif actual > target:
        assert s is Status.EXCEEDED and r is not None and r >= 1
    elif actual == target:
        assert s is Status.ACHIEVED and r == 1
    else:
        assert s is (Status.MISSED if now >= period.end else Status.IN_PROGRESS)
    if p is not None:
        assert p.expected_by_now <= target and (target != 0 or p.expected_by_now == 0)
    current = s if p is not None else None
    assert span_status([s], current, actual, target) is s
