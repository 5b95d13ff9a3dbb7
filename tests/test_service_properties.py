"""The engine's service goals against a plain-Python reference, over random tickets, goals and calendars.

Counts and averages (the mean of the tickets' hours, lower is better) are computed by the batched SQL
engine (goalgraph.progress.engine.compute_actuals) from tickets written through the core's fact
pipeline, and the slow, obvious way here: a loop over the tickets. Both databases.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from goalgraph.db.models import Team, User
from goalgraph.ingest.batch import ingest_batch
from goalgraph.periods import Calendar, Interval, periods_for
from goalgraph.progress.engine import Assignee, AssigneeKind, GoalQuery, compute_actuals
from goalgraph.runtime import Runtime
from goalgraph_service import Ticket

EXAMPLES = max(10, int(os.environ.get("GOALGRAPH_PROPERTY_EXAMPLES", "150")) // 3)
BASE = datetime(2026, 1, 1, tzinfo=timezone.utc)
USERS = ("u1", "u2", "u3")
TEAM = ("u1", "u2")
PIPELINES = ("support", "billing")
PRIORITIES = ("LOW", "MEDIUM", "HIGH", "URGENT", None)
ZONES = ("UTC", "Europe/Oslo", "America/New_York", "Pacific/Auckland")
GOAL_TYPES = {"TICKETS_CREATED": "COUNT", "TICKETS_CLOSED": "COUNT", "TIME_TO_FIRST_RESPONSE": "AVERAGE_HOURS",
              "TIME_TO_CLOSE": "AVERAGE_HOURS"}
#: Spans in seconds: zero, sub-second-free small ones, whole hours, days.
SPANS = st.one_of(st.just(0), st.integers(1, 3600), st.integers(1, 72).map(lambda h: h * 3600),
                  st.integers(1, 20 * 86400))


@dataclass(frozen=True)
class RefTicket:
    id: str
    owner: str
    pipeline: str
    priority: str | None
    created: datetime
    answered: datetime | None
    closed: datetime | None
    status: str


@st.composite
def tickets(draw: st.DrawFn) -> list[RefTicket]:
    out = []
    for n in range(draw(st.integers(0, 60) | st.integers(20, 60))):
        created = BASE + timedelta(seconds=draw(st.integers(0, 75 * 86400)))
        answered = created + timedelta(seconds=draw(SPANS)) if draw(st.booleans()) else None
        closed = (answered or created) + timedelta(seconds=draw(SPANS)) if draw(st.booleans()) else None
        status = "CLOSED" if closed is not None and draw(st.integers(0, 4)) else draw(st.sampled_from(("OPEN", "PENDING")))
        out.append(RefTicket(f"t{n}", draw(st.sampled_from(USERS)), draw(st.sampled_from(PIPELINES)),
                             draw(st.sampled_from(PRIORITIES)), created, answered, closed, status))
    return out


GOAL = st.fixed_dictionaries({
    "goal_type": st.sampled_from(sorted(GOAL_TYPES)),
    "assignee": st.sampled_from((("USER", "u1"), ("USER", "u3"), ("TEAM", "team"), ("COMPANY", None), ("COMPANY", None))),
    "interval": st.sampled_from((Interval.WEEKLY, Interval.MONTHLY, Interval.QUARTERLY)),
    "start": st.integers(0, 45).map(lambda d: date(2026, 1, 1) + timedelta(days=d)),
    "days": st.integers(0, 120) | st.integers(28, 75),
    "fiscal": st.booleans(),
    "pipelines": st.one_of(st.just(()), st.lists(st.sampled_from(PIPELINES), min_size=1, max_size=2, unique=True)),
    "priority": st.one_of(st.just(()), st.lists(st.sampled_from(("LOW", "medium", "High", "URGENT")), min_size=1,
                                                max_size=3, unique=True)),
})
CALENDAR = st.builds(Calendar, st.sampled_from(ZONES), st.integers(0, 6), st.integers(1, 12))


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


async def load(runtime: Runtime, ticket_list: list[RefTicket]) -> tuple[dict[str, int], dict[str, int]]:
    """Replace the tickets with these, through the fact pipeline (the people and pipelines stay)."""
    records = [{k: v for k, v in {
        "id": t.id, "subject": t.id, "owner_id": t.owner, "pipeline_id": t.pipeline, "priority": t.priority,
        "created_at": _iso(t.created), "first_response_at": _iso(t.answered), "closed_at": _iso(t.closed),
        "status": t.status}.items() if v is not None} for t in ticket_list]
    async with runtime.sessions() as session, session.begin():
        await session.execute(delete(Ticket))
        if not await session.scalar(select(User.id).limit(1)):
            await ingest_batch(session, {
                "users": [{"id": u, "name": u} for u in USERS],
                "teams": [{"id": "team", "name": "Team", "member_ids": list(TEAM), "leader_ids": []}],
                "pipelines": [{"id": p, "name": p, "stages": [{"id": f"{p}-s", "name": "S", "probability": 0}]}
                              for p in PIPELINES]})
        if records:
            await ingest_batch(session, {"tickets": records}, registry=runtime.registry)
    async with runtime.sessions() as session:
        users = dict((await session.execute(select(User.external_id, User.id))).all())
        teams = dict((await session.execute(select(Team.external_id, Team.id))).all())
    return users, teams


def hours(start: datetime, end: datetime) -> Decimal:
    return (Decimal((end - start) // timedelta(microseconds=1)) / Decimal(3_600_000_000)).quantize(Decimal("0.0001"))


def reference(goal_type: str, g: dict[str, Any], period: Any, ticket_list: list[RefTicket]) -> tuple[Decimal, int]:
    """(actual, facts) of one period, the obvious way."""
    members = {"USER": {g["assignee"][1]}, "TEAM": set(TEAM), "COMPANY": set(USERS)}[g["assignee"][0]]
    wanted = {p.upper() for p in g["priority"]}
    values = []
    for t in ticket_list:
        if goal_type == "TICKETS_CREATED":
            moment, amount = t.created, None
        elif goal_type == "TIME_TO_FIRST_RESPONSE":
            moment, amount = t.answered, t.answered and hours(t.created, t.answered)
        else:  # closed tickets: TICKETS_CLOSED, TIME_TO_CLOSE
            moment = t.closed if t.status == "CLOSED" else None
            amount = moment and hours(t.created, moment)
        if moment is None or not period.start <= moment < period.end or t.owner not in members:
            continue
        if (g["pipelines"] and t.pipeline not in g["pipelines"]) or (wanted and t.priority not in wanted):
            continue
        values.append(amount)
    if GOAL_TYPES[goal_type] == "COUNT":
        return Decimal(len(values)), len(values)
    mean = sum(values, Decimal(0)) / len(values) if values else Decimal(0)
    return mean.quantize(Decimal("0.0001")), len(values)


@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large])
@given(ticket_list=tickets(), goal_specs=st.lists(GOAL, min_size=1, max_size=5), cal=CALENDAR)
async def test_service_goals_match_the_reference(runtime: Runtime, ticket_list: list[RefTicket],
                                                 goal_specs: list[dict[str, Any]], cal: Calendar) -> None:
    users, teams = await load(runtime, ticket_list)
    goals = []
    for i, g in enumerate(goal_specs):
        kind, ref = g["assignee"]
        assignee = Assignee(AssigneeKind(kind), None if ref is None else (users if kind == "USER" else teams)[ref])
        filters = {k: list(g[k]) for k in ("pipelines", "priority") if g[k]}
        periods = periods_for(cal, g["interval"], g["start"], g["start"] + timedelta(days=g["days"]), fiscal=g["fiscal"])
        goals.append(GoalQuery(key=i, goal_type=g["goal_type"], measure=GOAL_TYPES[g["goal_type"]], assignee=assignee,
                               periods=periods, filters=filters, currency=None))
    async with runtime.sessions() as session:
        actuals = await compute_actuals(session, runtime.registry, goals)
    problems = []
    for goal, g in zip(goals, goal_specs):
        for period in goal.periods:
            got = actuals[(goal.key, period.index)]
            want = reference(goal.goal_type, g, period, ticket_list)
            if (got.value, got.facts) != want:
                problems.append(f"{goal.goal_type} {g['assignee']} filters={goal.filters} {period.label} "
                                f"[{period.start.isoformat()}, {period.end.isoformat()}): engine {got.value} over "
                                f"{got.facts}, reference {want[0]} over {want[1]}")
    assert not problems, "engine and reference disagree:\n" + "\n".join(problems)
    counted = sum(a.facts for a in actuals.values())
    event("facts counted: " + ("none" if not counted else "1-9" if counted < 10 else "10+"))
    if any(a.facts > 1 for (key, _), a in actuals.items() if GOAL_TYPES[goals[key].goal_type] == "AVERAGE_HOURS"):
        event("an average over several tickets")
