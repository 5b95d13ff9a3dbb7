"""The progress engine computes every first-party goal type in the database, batched."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from sqlalchemy import event, select

from goalgraph.db.models import Team, User
from goalgraph.ingest.batch import ingest_batch
from goalgraph.periods import Calendar, Interval, periods_for
from goalgraph.progress.engine import Assignee, AssigneeKind, EngineError, GoalQuery, compute_actuals
from goalgraph.rates import set_rates
from goalgraph.runtime import Runtime

UTC = timezone.utc
CAL = Calendar("Europe/Oslo", 0, 1)
NOW = datetime(2026, 4, 15, tzinfo=UTC)
MONTHS = periods_for(CAL, Interval.MONTHLY, date(2026, 1, 1), date(2026, 3, 31))

BATCH = {
    "users": [{"id": u, "name": u} for u in ("alice", "bob", "carl")],
    "teams": [{"id": "north", "name": "North", "member_ids": ["alice", "bob"], "leader_ids": ["alice"]}],
    "pipelines": [
        {"id": "sales", "name": "Sales", "stages": [
            {"id": "lead", "name": "Lead", "probability": 10},
            {"id": "offer", "name": "Offer", "probability": 50},
            {"id": "closing", "name": "Closing", "probability": 90},
        ]},
        {"id": "renew", "name": "Renewals", "stages": [{"id": "due", "name": "Due", "probability": 60}]},
    ],
    "deals": [
        # January (Oslo): added by alice, won in February
        {"id": "d1", "title": "A", "value": "1000", "cost": "400", "currency": "EUR", "owner_id": "alice",
         "stage_id": "closing", "status": "WON", "added_at": "2026-01-05T10:00:00+01:00",
         "won_at": "2026-02-10T10:00:00+01:00",
         "stage_history": [{"stage_id": "offer", "entered_at": "2026-01-20T10:00:00+01:00"}]},
        # 31 Jan 23:30 in Oslo is still January locally though 22:30 UTC
        {"id": "d2", "title": "B", "value": "500", "currency": "EUR", "owner_id": "bob", "stage_id": "lead",
         "added_at": "2026-01-31T22:30:00+00:00", "expected_close_date": "2026-03-20"},
        # NOK deal by carl (not in team North), won in March
        {"id": "d3", "title": "C", "value": "10000", "cost": "1000", "currency": "NOK", "owner_id": "carl",
         "stage_id": "due", "status": "WON", "added_at": "2026-02-01T09:00:00+01:00",
         "won_at": "2026-03-03T09:00:00+01:00"},
        # 1 Feb 00:30 Oslo = 31 Jan 23:30 UTC: February locally
        {"id": "d4", "title": "D", "value": "200", "currency": "USD", "owner_id": "alice", "stage_id": "offer",
         "added_at": "2026-01-31T23:30:00+00:00", "expected_close_date": "2026-03-31"},
    ],
    "activities": [
        {"id": "a1", "type": "call", "owner_id": "alice", "added_at": "2026-01-02T09:00:00Z", "done_at": "2026-01-03T09:00:00Z"},
        {"id": "a2", "type": "meeting", "owner_id": "bob", "added_at": "2026-01-10T09:00:00Z", "done_at": "2026-02-03T09:00:00Z"},
        {"id": "a3", "type": "call", "owner_id": "carl", "added_at": "2026-02-10T09:00:00Z"},
    ],
}
RATES = [
    {"currency": "NOK", "quote_currency": "EUR", "rate": "0.09", "valid_from": "2026-01-01"},
    {"currency": "NOK", "quote_currency": "EUR", "rate": "0.08", "valid_from": "2026-03-01"},
]


async def _seed(runtime: Runtime) -> dict[str, int]:
    async with runtime.sessions() as session, session.begin():
        await ingest_batch(session, BATCH)
        await set_rates(session, RATES)
    async with runtime.sessions() as session:
        users = dict((await session.execute(select(User.external_id, User.id))).all())
        teams = dict((await session.execute(select(Team.external_id, Team.id))).all())
    return {**users, **teams}


def goal(key, goal_type, measure="COUNT", assignee=Assignee(AssigneeKind.COMPANY), currency=None, **filters):  # type: ignore[no-untyped-def]
    return GoalQuery(key=key, goal_type=goal_type, measure=measure, assignee=assignee, periods=MONTHS,
                     filters=filters, currency=currency)


async def _run(runtime: Runtime, goals):  # type: ignore[no-untyped-def]
    async with runtime.sessions() as session:
        actuals = await compute_actuals(session, runtime.registry, goals)
    return {g.key: [actuals[(g.key, p.index)].value for p in g.periods] for g in goals}, actuals


async def test_every_first_party_goal_type(runtime: Runtime) -> None:
    ids = await _seed(runtime)
    alice, north = Assignee(AssigneeKind.USER, ids["alice"]), Assignee(AssigneeKind.TEAM, ids["north"])
    goals = [
        goal("added", "DEALS_ADDED"),
        goal("added_alice", "DEALS_ADDED", assignee=alice),
        goal("added_north_value", "DEALS_ADDED", "VALUE", north, "EUR"),
        goal("won_value_eur", "DEALS_WON", "VALUE", currency="EUR"),
        goal("won_gp_eur", "DEALS_WON", "GROSS_PROFIT", currency="EUR"),
        goal("won_renewals", "DEALS_WON", pipelines=["renew"]),
        goal("progressed_offer", "DEALS_PROGRESSED", stage=["offer"]),
        goal("progressed_closing_sales", "DEALS_PROGRESSED", stage=["closing"], pipelines=["sales"]),
        goal("acts_added", "ACTIVITIES_ADDED"),
        goal("calls_done", "ACTIVITIES_COMPLETED", activity_types=["call"]),
        goal("done_any", "ACTIVITIES_COMPLETED", activity_types=["call", "meeting"]),
        goal("forecast", "REVENUE_FORECAST", "WEIGHTED_VALUE", currency="EUR"),
    ]
    values, actuals = await _run(runtime, goals)
    D = Decimal
    assert values["added"] == [2, 2, 0]                     # d1,d2 | d3,d4 (local months)
    assert values["added_alice"] == [1, 1, 0]
    assert values["added_north_value"] == [D("1500"), D(0), D(0)]  # d4 is USD: no rate → unconverted
    assert actuals[("added_north_value", 1)].unconverted == {"USD": 1}
    assert values["won_value_eur"] == [D(0), D("1000"), D("800")]  # 10000 NOK × 0.08 (rate from March)
    assert values["won_gp_eur"] == [D(0), D("600"), D("720")]
    assert values["won_renewals"] == [0, 0, 1]
    assert values["progressed_offer"] == [1, 1, 0]          # d1 in Jan (history), d4 added into offer in Feb
    assert values["progressed_closing_sales"] == [1, 0, 0]  # d1 entered closing when added (Jan 5)
    assert values["acts_added"] == [2, 1, 0]
    assert values["calls_done"] == [1, 0, 0]
    assert values["done_any"] == [1, 1, 0]
    # forecast: won d1 (Feb, 1000) + won d3 (Mar, 800) + open d2 500 × 10 % (Mar); d4 USD has no rate
    assert values["forecast"] == [D(0), D("1000"), D("850")]
    assert actuals[("forecast", 2)].unconverted == {"USD": 1}


async def test_inverse_and_newest_rates(runtime: Runtime) -> None:
    await _seed(runtime)
    async with runtime.sessions() as session, session.begin():
        await set_rates(session, [{"currency": "EUR", "quote_currency": "USD", "rate": "1.25", "valid_from": "2025-12-01"}])
    values, actuals = await _run(runtime, [goal("v", "DEALS_ADDED", "VALUE", currency="EUR")])
    # d3 10000 NOK × 0.09 (February rate) + d4 200 USD / 1.25
    assert values["v"] == [Decimal("1500"), Decimal("1060"), Decimal(0)]
    assert all(not a.unconverted for a in actuals.values())


@pytest.mark.parametrize("count", [1, 100])
async def test_statement_count_does_not_grow_with_goals(runtime: Runtime, count: int) -> None:
    ids = await _seed(runtime)
    statements: list[str] = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(runtime.engine.sync_engine, "before_cursor_execute", listener)
    try:
        goals = []
        for i in range(count):
            goals += [
                goal(("won", i), "DEALS_WON", "VALUE", Assignee(AssigneeKind.USER, ids["alice"]), "EUR", pipelines=["sales"]),
                goal(("added", i), "DEALS_ADDED", "COUNT", Assignee(AssigneeKind.TEAM, ids["north"])),
                goal(("calls", i), "ACTIVITIES_COMPLETED", activity_types=["call"]),
            ]
        values, _ = await _run(runtime, goals)
    finally:
        event.remove(runtime.engine.sync_engine, "before_cursor_execute", listener)
    aggregate = [s for s in statements if "GROUP BY" in s]
    assert len(aggregate) == 3, "one aggregate statement per goal type"
    assert len(statements) <= 4, statements  # plus at most one for exchange rates
    assert values[("won", count - 1)] == [0, Decimal("1000"), 0]
    assert values[("added", count - 1)] == [2, 1, 0]


async def test_bad_goal_queries_are_refused(runtime: Runtime) -> None:
    with pytest.raises(EngineError, match="unknown goal type 'NOPE'"):
        await _run(runtime, [goal("x", "NOPE")])
    with pytest.raises(EngineError, match="has no measure 'VALUE'"):
        await _run(runtime, [goal("x", "ACTIVITIES_ADDED", "VALUE")])
    with pytest.raises(EngineError, match="needs a currency"):
        await _run(runtime, [goal("x", "DEALS_WON", "VALUE")])
