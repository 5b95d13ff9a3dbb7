"""Property test: frozen results never outlive a change of the calendar or of the rates in force.

Hypothesis draws an organisation calendar, 1–4 stored goals (deals added counted, deals won valued
in EUR; every interval, fiscal or not, open-ended or not) over 2025–2026, up to 12 deals (EUR or NOK,
most of them near local midnights of month and week ends) and NOK→EUR rates. The goals are read once
at a fixed "now" (which freezes their closed periods), then a random sequence of 1–3 changes is
applied — a new time zone, week start or fiscal-year start, or a NOK rate set or changed from a
random day — and after each the goals are read again. Every period (snapshot or not) must equal a
fresh computation by the engine on the calendar and rates in force: no stored result survives a
change that moves it. It runs on SQLite and PostgreSQL.

``GOALGRAPH_PROPERTY_EXAMPLES`` sets the number of examples per database (default here: 40).
"""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select

from goalgraph.access.gate import unrestricted
from goalgraph.access.viewer import SYSTEM
from goalgraph.db.models import Deal, DealStageChange, ExchangeRate, Goal, Organisation, PeriodSnapshot
from goalgraph.goals.schedule import calendar_of, goal_periods
from goalgraph.goals.service import create_goal
from goalgraph.goals.validation import GoalDraft
from goalgraph.ingest.batch import ingest_batch
from goalgraph.organisation import get_organisation, update_organisation
from goalgraph.progress.engine import compute_actuals, shape_amount
from goalgraph.progress.service import compute_progress, is_money, query_of
from goalgraph.rates import set_rates
from goalgraph.runtime import Runtime

EXAMPLES = int(os.environ.get("GOALGRAPH_PROPERTY_EXAMPLES", "40"))
NOW = datetime(2026, 9, 15, 12, 0, tzinfo=timezone.utc)
ZONES = ("UTC", "Europe/Stockholm", "America/New_York", "Asia/Kolkata", "Pacific/Auckland")
BASE = {"users": [{"id": "u1", "name": "U1"}],
        "pipelines": [{"id": "p", "name": "P", "stages": [{"id": "s", "name": "S", "probability": 50}]}]}

calendars = st.fixed_dictionaries({"time_zone": st.sampled_from(ZONES), "week_start": st.sampled_from((0, 6)),
                                   "fiscal_year_start_month": st.sampled_from((1, 4, 7))})


@st.composite
def moments(draw: Any) -> datetime:
    """Mostly within hours of a local midnight at a month's or week's edge, in any of the zones."""
    day = draw(st.dates(date(2025, 1, 1), date(2026, 9, 10)))
    if draw(st.booleans()):
        day = day.replace(day=1)
    zone = ZoneInfo(draw(st.sampled_from(ZONES)))
    hours = draw(st.sampled_from((0, 0, 1, -1, 13, -13, 6, -6)))
    return (datetime(day.year, day.month, day.day, tzinfo=zone) + timedelta(hours=hours, minutes=1)).astimezone(
        timezone.utc)


@st.composite
def deals(draw: Any) -> list[dict[str, Any]]:
    out = []
    for i in range(draw(st.integers(0, 12))):
        added = draw(moments())
        deal = {"id": f"d{i}", "title": f"d{i}", "value": str(draw(st.sampled_from((100, 250, 1000)))),
                "currency": draw(st.sampled_from(("EUR", "NOK"))), "owner_id": "u1", "stage_id": "s",
                "added_at": added}
        if draw(st.booleans()):
            deal.update(status="WON", won_at=max(added, draw(moments())))
        out.append(deal)
    return out


def rates_from(day: date, rate: str) -> dict[str, Any]:
    return {"currency": "NOK", "quote_currency": "EUR", "rate": rate, "valid_from": day}


rate_values = st.sampled_from(("0.08", "0.09", "0.1", "0.125"))
rate_days = st.dates(date(2024, 12, 1), date(2026, 9, 10))
changes = st.one_of(
    st.tuples(st.just("calendar"), calendars),
    st.tuples(st.just("rate"), st.builds(rates_from, rate_days, rate_values)),
)


@st.composite
def goals(draw: Any) -> list[GoalDraft]:
    out = []
    for i in range(draw(st.integers(1, 4))):
        interval = draw(st.sampled_from(("WEEKLY", "MONTHLY", "QUARTERLY", "YEARLY")))
        start = draw(st.dates(date(2025, 1, 1), date(2025, 12, 31)))
        end = draw(st.one_of(st.none(), st.dates(date(2026, 1, 1), date(2026, 12, 31))))
        if interval == "WEEKLY":  # keep the number of periods small
            start = draw(st.dates(date(2026, 3, 1), date(2026, 8, 1)))
            end = None if end is None else start + timedelta(days=draw(st.integers(0, 120)))
        money = draw(st.booleans())
        out.append(GoalDraft(
            title=f"g{i}", goal_type="DEALS_WON" if money else "DEALS_ADDED", assignee_kind="COMPANY",
            assignee_id=None, measure="VALUE" if money else "COUNT", interval=interval, start_date=start, end_date=end,
            fiscal=interval in ("QUARTERLY", "YEARLY") and draw(st.booleans()), currency="EUR" if money else None,
            target=Decimal(10),
        ))
    return out


async def _read(runtime: Runtime) -> list[str]:
    """Every goal's periods through the store, each compared with a fresh engine computation."""
    problems = []
    async with runtime.sessions() as session, runtime.sessions() as snapshots:
        stored = list((await session.scalars(select(Goal).order_by(Goal.id))).all())
        progress = await compute_progress(session, runtime.registry, stored, NOW, snapshot_session=snapshots)
        await snapshots.commit()
        cal = calendar_of(await get_organisation(session))
        queries = [query_of(g, goal_periods(g, cal, NOW), runtime.registry) for g in stored]
        fresh = await compute_actuals(session, runtime.registry, [q for q in queries if q.periods])
    for goal in stored:
        money = is_money(runtime.registry, goal)
        for p in progress[goal.id].periods:
            want = fresh[(goal.id, p.period.index)]
            if (p.actual, p.facts) != (shape_amount(want.value, money), want.facts):
                problems.append(f"{goal.title} {goal.interval} fiscal={goal.fiscal} {p.period.label} "
                                f"[{p.period.start_date}..{p.period.end_date}]: stored {p.actual} ({p.facts} facts, "
                                f"snapshot {p.snapshot_taken_at}), fresh {want.value} ({want.facts} facts)")
    return problems


@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(calendar=calendars, drafts=goals(), facts=deals(), first_rate=rate_values,
       steps=st.lists(changes, min_size=1, max_size=3))
async def test_stored_results_follow_calendar_and_rate_changes(runtime: Runtime, calendar: dict, drafts: list,
                                                               facts: list, first_rate: str, steps: list) -> None:
    async with runtime.sessions() as session, session.begin():
        for model in (PeriodSnapshot, Goal, DealStageChange, Deal, ExchangeRate, Organisation):
            await session.execute(delete(model))
        await update_organisation(session, **calendar)
        await ingest_batch(session, {**BASE, "deals": facts})
        await set_rates(session, [rates_from(date(2024, 12, 1), first_rate)])
        for draft in drafts:
            await create_goal(session, runtime.registry, draft, viewer=SYSTEM, gate=unrestricted(runtime.registry),
                              now=NOW)
    assert await _read(runtime) == []  # closed periods are frozen now
    async with runtime.sessions() as session:
        frozen = await session.scalar(select(func.count()).select_from(PeriodSnapshot))
    event("snapshots frozen: " + ("none" if not frozen else "some"))
    for kind, change in steps:
        async with runtime.sessions() as session, session.begin():
            if kind == "calendar":
                await update_organisation(session, **change)
            else:
                await set_rates(session, [change])
        problems = await _read(runtime)
        assert not problems, f"after {kind} {change}:\n" + "\n".join(problems)
