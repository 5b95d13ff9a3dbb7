"""Property test: the progress store equals a fresh engine computation once the worker drained, and a
read never returns a stale value without saying so.

Hypothesis draws an organisation calendar, 1–4 goals (user, team and company; deals added counted,
deals won valued in EUR; weekly to yearly, fiscal or not, open-ended or not) and a random sequence of
changes: deals ingested through the real write path (new, updated with another owner, stage, status or
timestamps, and older versions arriving late), goal edits (definition and targets), team membership,
NOK→EUR rates, calendar changes and the team-goals feature switched off and on. Between changes the
worker runs rounds at random points, concurrently with the background worker, and reads check that
every period served as fresh (``pending`` false) equals a fresh computation. At the end the store
must equal fresh computations for every goal and period.

Two regimes: without freezing (grace time beyond the data: every row follows every change) and with
freezing (the default 24 hours; only changes that thaw frozen rows are drawn then: calendar, rates,
goal definitions). Runs on SQLite and PostgreSQL.

``GOALGRAPH_PROPERTY_EXAMPLES`` sets the number of examples per database (default here: 15).
"""

from __future__ import annotations

import dataclasses
import os
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from goalgraph.access.admin import set_feature_enabled
from goalgraph.access.gate import load_gate, unrestricted
from goalgraph.access.viewer import SYSTEM
from goalgraph.db.models import (
    Deal, DealStageChange, ExchangeRate, FeatureToggle, Goal, GoalStatusMark, Organisation, ProgressMark,
    StoredProgress, Team, TeamMembership, User,
)
from goalgraph.features import TEAM_GOALS
from goalgraph.goals.schedule import calendar_of, goal_periods
from goalgraph.goals.service import create_goal, draft_of, update_goal
from goalgraph.goals.validation import GoalDraft
from goalgraph.ingest.batch import apply_batch
from goalgraph.organisation import get_organisation, update_organisation
from goalgraph.progress.engine import compute_actuals, shape_amount
from goalgraph.progress.service import compute_progress, is_money, query_of
from goalgraph.rates import set_rates
from goalgraph.runtime import Runtime

EXAMPLES = int(os.environ.get("GOALGRAPH_PROPERTY_EXAMPLES", "15"))
NOW = datetime(2026, 9, 15, 12, 0, tzinfo=timezone.utc)
ZONES = ("UTC", "Europe/Stockholm", "America/New_York", "Pacific/Auckland")
USERS = ("u1", "u2", "u3")
BASE = {"users": [{"id": u, "name": u.upper()} for u in USERS],
        "teams": [{"id": "t1", "name": "T1", "member_ids": ["u1", "u2"]}],
        "pipelines": [{"id": "p", "name": "P", "stages": [{"id": "s1", "name": "S1", "probability": 20},
                                                         {"id": "s2", "name": "S2", "probability": 60}]}]}

calendars = st.fixed_dictionaries({"time_zone": st.sampled_from(ZONES), "week_start": st.sampled_from((0, 6)),
                                   "fiscal_year_start_month": st.sampled_from((1, 4, 7))})


@st.composite
def moments(draw: Any) -> datetime:
    """Mostly within hours of a local midnight at a month's or week's edge."""
    day = draw(st.dates(date(2025, 6, 1), date(2026, 9, 14)))
    if draw(st.booleans()):
        day = day.replace(day=1)
    zone = ZoneInfo(draw(st.sampled_from(ZONES)))
    hours = draw(st.sampled_from((0, 1, -1, 13, -13)))
    moment = datetime(day.year, day.month, day.day, tzinfo=zone) + timedelta(hours=hours, minutes=1)
    return min(moment.astimezone(timezone.utc), NOW - timedelta(hours=1))


@st.composite
def deal_versions(draw: Any) -> dict[str, Any]:
    """One version of one of six deals (a later draw of the same id is an update, or an older version)."""
    added = draw(moments())
    deal = {"id": f"d{draw(st.integers(0, 5))}", "title": "d", "value": str(draw(st.sampled_from((100, 250, 1000)))),
            "currency": draw(st.sampled_from(("EUR", "NOK"))), "owner_id": draw(st.sampled_from(USERS)),
            "stage_id": draw(st.sampled_from(("s1", "s2"))), "added_at": added.isoformat(),
            "updated_at": (NOW - timedelta(days=draw(st.integers(0, 30)))).isoformat()}
    if draw(st.booleans()):
        deal.update(status="WON", won_at=max(added, draw(moments())).isoformat())
    return deal


def rates_from(day: date, rate: str) -> dict[str, Any]:
    return {"currency": "NOK", "quote_currency": "EUR", "rate": rate, "valid_from": day}


rate_values = st.sampled_from(("0.08", "0.09", "0.1", "0.125"))
thawing = st.one_of(
    st.tuples(st.just("calendar"), calendars),
    st.tuples(st.just("rate"), st.builds(rates_from, st.dates(date(2025, 5, 1), date(2026, 9, 10)), rate_values)),
    st.tuples(st.just("edit"), st.tuples(st.integers(0, 3), st.sampled_from(("interval", "assignee", "target")))),
)
any_change = st.one_of(
    thawing,
    st.tuples(st.just("facts"), st.lists(deal_versions(), min_size=1, max_size=4)),
    st.tuples(st.just("members"), st.lists(st.sampled_from(USERS), max_size=3, unique=True)),
    st.tuples(st.just("feature"), st.booleans()),
)


@st.composite
def goals(draw: Any) -> list[GoalDraft]:
    out = []
    for i in range(draw(st.integers(1, 4))):
        interval = draw(st.sampled_from(("WEEKLY", "MONTHLY", "QUARTERLY", "YEARLY")))
        start = draw(st.dates(date(2025, 6, 1), date(2026, 3, 31)))
        end = draw(st.one_of(st.none(), st.dates(date(2026, 4, 1), date(2026, 12, 31))))
        if interval == "WEEKLY":  # keep the number of periods small
            start = draw(st.dates(date(2026, 5, 1), date(2026, 8, 1)))
            end = None if end is None else start + timedelta(days=draw(st.integers(0, 120)))
        money = draw(st.booleans())
        kind, who = draw(st.sampled_from((("USER", "u1"), ("TEAM", "t1"), ("COMPANY", None))))
        out.append(GoalDraft(
            title=f"g{i}", goal_type="DEALS_WON" if money else "DEALS_ADDED", assignee_kind=kind, assignee_id=who,
            measure="VALUE" if money else "COUNT", interval=interval, start_date=start, end_date=end,
            fiscal=interval in ("QUARTERLY", "YEARLY") and draw(st.booleans()), currency="EUR" if money else None,
            target=Decimal(10)))
    return out


async def _fresh(session: Any, runtime: Runtime, goals_: list[Goal]) -> dict[tuple[int, date], tuple[Decimal, int]]:
    """A fresh engine computation of every period of these goals."""
    cal = calendar_of(await get_organisation(session))
    queries = [query_of(g, goal_periods(g, cal, NOW), runtime.registry) for g in goals_]
    actuals = await compute_actuals(session, runtime.registry, [q for q in queries if q.periods])
    return {(q.key, p.start_date): (shape_amount(actuals[(q.key, p.index)].value, is_money(runtime.registry, g)),
                                    actuals[(q.key, p.index)].facts)
            for q, g in zip(queries, goals_) for p in q.periods}


async def _read_checks(runtime: Runtime, inline_facts: int) -> list[str]:
    """Read every goal as a dashboard does; periods served as fresh must equal a fresh computation."""
    problems = []
    async with runtime.sessions() as session, runtime.sessions() as fill:
        stored = list((await session.scalars(select(Goal).where(Goal.deleted_at.is_(None)).order_by(Goal.id))).all())
        org = await get_organisation(session)
        gate = await load_gate(session, runtime.settings, runtime.registry, NOW.date())
        lapsed = frozenset(g.id for g in stored if gate.lapsed(g))
        progress = await compute_progress(session, runtime.registry, stored, NOW, fill_session=fill, lapsed=lapsed,
                                          organisation=org, inline_facts=inline_facts,
                                          inline_pairs=64 if inline_facts else 0)
        await fill.commit()
        fresh = await _fresh(session, runtime, stored)
    for goal in stored:
        for p in progress[goal.id].periods:
            if p.pending or p.snapshot_taken_at is not None:
                continue
            want = fresh[(goal.id, p.period.start_date)]
            if (p.actual, p.facts) != want:
                problems.append(f"read: {goal.title} {p.period.label}: served fresh {p.actual} ({p.facts}), "
                                f"fresh {want[0]} ({want[1]})")
    return problems


async def _store_checks(runtime: Runtime, freezing: bool) -> list[str]:
    """After draining: every stored row of a measured goal equals a fresh computation (frozen ones too
    when only thawing changes were made), and no mark is left."""
    problems = []
    async with runtime.sessions() as session:
        stored = list((await session.scalars(select(Goal).where(Goal.deleted_at.is_(None)).order_by(Goal.id))).all())
        gate = await load_gate(session, runtime.settings, runtime.registry, NOW.date())
        measured = [g for g in stored if not gate.lapsed(g)]
        fresh = await _fresh(session, runtime, measured)
        rows = {(r.goal_id, r.period_start): r for r in await session.scalars(select(StoredProgress))}
        left = (await session.scalars(select(ProgressMark.id))).all()
    if left:
        problems.append(f"{len(left)} marks left after draining")
    for key, (value, facts) in fresh.items():
        row = rows.get(key)
        if row is None:
            problems.append(f"store: goal {key[0]} period {key[1]}: no row")
        elif (row.actual, row.facts) != (value, facts):
            problems.append(f"store: goal {key[0]} period {key[1]}: stored {row.actual} ({row.facts}, frozen "
                            f"{row.frozen_at is not None}), fresh {value} ({facts})")
    return problems


async def _apply(runtime: Runtime, kind: str, change: Any) -> None:
    registry = runtime.registry
    if kind == "facts":
        await apply_batch(runtime, {"deals": change}, received_at=NOW)
        return
    if kind == "members":
        await apply_batch(runtime, {"teams": [{"id": "t1", "name": "T1", "member_ids": change}]}, received_at=NOW)
        return
    async with runtime.sessions() as session, session.begin():
        if kind == "calendar":
            await update_organisation(session, **change)
        elif kind == "rate":
            await set_rates(session, [change])
        elif kind == "feature":
            await set_feature_enabled(session, runtime.settings, registry, TEAM_GOALS, change, actor="test", now=NOW)
        elif kind == "edit":
            which, what = change
            rows = list((await session.scalars(select(Goal).order_by(Goal.id))).all())
            goal = rows[which % len(rows)]
            draft = await draft_of(session, goal)
            changes: dict[str, Any] = {}
            if what == "interval":
                changes = {"interval": "MONTHLY" if draft.interval != "MONTHLY" else "QUARTERLY", "fiscal": False}
            elif what == "assignee":
                changes = {"assignee_kind": "USER", "assignee_id": "u2" if draft.assignee_id != "u2" else "u3"}
            else:
                changes = {"target": (draft.target or Decimal(0)) + 1}
            await update_goal(session, registry, goal.id, goal.version, changes, viewer=SYSTEM,
                              gate=unrestricted(registry), now=NOW)
        runtime.recompute.wake()


@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(calendar=calendars, drafts=goals(), first=st.lists(deal_versions(), max_size=6), freezing=st.booleans(),
       inline_facts=st.sampled_from((0, 20_000)), data=st.data())
async def test_store_follows_every_change(runtime: Runtime, calendar: dict, drafts: list, first: list, freezing: bool,
                                          inline_facts: int, data: Any) -> None:
    runtime.clock = lambda: NOW
    runtime.settings = dataclasses.replace(runtime.settings, snapshot_grace_hours=24.0 if freezing else 1e6)
    await runtime.recompute.stop()  # nothing left over from the last example runs while we reset
    runtime.recompute._stopping = False
    async with runtime.sessions() as session, session.begin():
        for model in (ProgressMark, StoredProgress, GoalStatusMark, Goal, DealStageChange, Deal, ExchangeRate,
                      TeamMembership, Team, User, FeatureToggle, Organisation):
            await session.execute(delete(model))
        await update_organisation(session, **calendar)
        await set_rates(session, [rates_from(date(2025, 1, 1), "0.1")])
    await apply_batch(runtime, BASE, received_at=NOW)
    if first:
        await apply_batch(runtime, {"deals": first}, received_at=NOW)
    async with runtime.sessions() as session, session.begin():
        for draft in drafts:
            await create_goal(session, runtime.registry, draft, viewer=SYSTEM, gate=unrestricted(runtime.registry),
                              now=NOW)
    steps = data.draw(st.lists(thawing if freezing else any_change, min_size=1, max_size=5), label="steps")
    if freezing:
        await runtime.recompute.settled()  # closed periods are frozen before the changes
    for kind, change in steps:
        await _apply(runtime, kind, change)
        if data.draw(st.booleans(), label="round"):
            await runtime.recompute.round()
        problems = await _read_checks(runtime, inline_facts)
        assert not problems, f"after {kind} {change}:\n" + "\n".join(problems)
    await runtime.recompute.settled()
    problems = await _store_checks(runtime, freezing)
    event("freezing" if freezing else "live")
    assert not problems, f"after {steps}:\n" + "\n".join(problems)
