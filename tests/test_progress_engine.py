"""The progress engine computes every first-party goal type in the database, batched."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from sqlalchemy import event, select

from factsets import ENGINE_BATCH as BATCH
from factsets import ENGINE_RATES as RATES
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


async def test_statement_text_does_not_change_with_the_data(runtime: Runtime) -> None:
    """Goals, periods and filter values are parameters: the same shape of request sends the same SQL text
    (so SQLAlchemy's compiled cache and the server's prepared statements are reused), and the batch
    travels as a handful of parameters, not one per goal and period."""
    ids = await _seed(runtime)
    statements: list[tuple[str, int]] = []

    def listener(_conn, _cursor, statement, parameters, _context, _many):  # type: ignore[no-untyped-def]
        statements.append((statement, len(parameters)))

    q2 = periods_for(CAL, Interval.QUARTERLY, date(2025, 1, 1), date(2026, 12, 31))

    def batch(n: int, periods) -> list[GoalQuery]:  # type: ignore[no-untyped-def]
        out = []
        for i in range(n):
            who = Assignee(AssigneeKind.USER, ids["alice"]) if i % 2 else Assignee(AssigneeKind.TEAM, ids["north"])
            out.append(GoalQuery(key=("won", i), goal_type="DEALS_WON", measure="VALUE", assignee=who, periods=periods,
                                 filters={"pipelines": ["sales"] if i % 3 else ["sales", "renew"]}, currency="EUR"))
            out.append(GoalQuery(key=("calls", i), goal_type="ACTIVITIES_COMPLETED", measure="COUNT", assignee=who,
                                 periods=periods, filters={"activity_types": ["call"]}))
        return out

    event.listen(runtime.engine.sync_engine, "before_cursor_execute", listener)
    try:
        async with runtime.sessions() as session:
            await compute_actuals(session, runtime.registry, batch(2, MONTHS))
            first = list(statements)
            statements.clear()
            await compute_actuals(session, runtime.registry, batch(40, q2))
            second = list(statements)
    finally:
        event.remove(runtime.engine.sync_engine, "before_cursor_execute", listener)
    assert [s for s, _ in first] == [s for s, _ in second]
    # 2 goals × 3 months and 40 goals × 8 quarters: as many parameters each time
    assert [n for _, n in first] == [n for _, n in second]
    assert max(n for _, n in second) < 80


async def test_average_measures_are_the_mean_of_the_converted_facts(runtime: Runtime) -> None:
    """An average measure (core feature, any goal type) is Σ converted amounts ÷ facts converted, from the same
    batched statement; a period without facts averages 0; pace treats it as a level."""
    from dataclasses import replace

    from goalgraph.progress.status import Rules, pace
    from goalgraph.registry import GoalType, Measure

    ids = await _seed(runtime)
    async with runtime.sessions() as session, session.begin():
        await ingest_batch(session, {"deals": [
            {"id": "d5", "title": "E", "value": "600", "currency": "EUR", "owner_id": "bob", "stage_id": "closing",
             "status": "WON", "added_at": "2026-03-01T10:00:00+01:00", "won_at": "2026-03-05T10:00:00+01:00"}]})
    won = runtime.registry.goal_types["DEALS_WON"]
    mean = Measure("AVERAGE_VALUE", "Average deal value", column="value", money=True, average=True)
    assert mean.cumulative is False
    runtime.registry.add_goal_type(replace(won, key="AVERAGE_WON_DEAL", label="Average won deal", measures=(mean,)),
                                   "test")
    values, actuals = await _run(runtime, [
        goal("avg", "AVERAGE_WON_DEAL", "AVERAGE_VALUE", currency="EUR"),
        goal("avg_bob", "AVERAGE_WON_DEAL", "AVERAGE_VALUE", Assignee(AssigneeKind.USER, ids["bob"]), "EUR"),
        goal("sum", "DEALS_WON", "VALUE", currency="EUR"),
    ])
    # February: d1 1000 EUR alone; March: d3 10000 NOK × 0.08 = 800 and d5 600 → 700.
    assert values["avg"] == [Decimal("0.0000"), Decimal("1000.0000"), Decimal("700.0000")]
    assert values["sum"] == [Decimal(0), Decimal("1000"), Decimal("1400")]
    assert values["avg_bob"] == [Decimal("0.0000"), Decimal("0.0000"), Decimal("600.0000")]
    assert actuals[("avg", 2)].facts == 2
    march = MONTHS[2]
    p = pace(Decimal(700), Decimal(1000), march, march.start + (march.end - march.start) / 10, Rules(cumulative=False))
    assert p is not None and p.projected == Decimal(700) and p.expected_by_now == Decimal(1000)
