"""Manual goals end to end over GraphQL: entries, corrections, deletions, sum / last / average per period,
who may enter values, the progress store's freshness, drill-down and bad input."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, event, insert, select

from factsets import BASE, INGEST, T0, T1, T2, deal
from goalgraph.db.models import Goal, GoalEntry
from goalgraph.hookspecs import hookimpl
from goalgraph.periods import Calendar, Interval, periods_for
from goalgraph.progress.engine import Assignee, AssigneeKind, GoalQuery, compute_actuals
from goalgraph.registry import Category, FactKind, GoalType, Measure

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=timezone.utc)
CREATE = """mutation($i: GoalInput!) { createGoal(input: $i) { __typename ... on GoalSuccess { goal { id version } }
  ... on ValidationError { fieldErrors { path message } } } }"""
RESULT = """__typename
  ... on GoalEntrySuccess { entry { id on value note enteredBy current replacesId } goal { id } }
  ... on ValidationError { code message fieldErrors { path message code } }
  ... on NotFoundError { code missingId } ... on ForbiddenError { code message }"""
ADD = "mutation($g: ID!, $on: Date!, $v: Decimal!, $note: String) { addGoalEntry(goalId: $g, on: $on, value: $v, " \
      "note: $note) { %s } }" % RESULT
CORRECT = "mutation($e: ID!, $v: Decimal!, $note: String, $on: Date) { correctGoalEntry(entryId: $e, value: $v, " \
          "note: $note, on: $on) { %s } }" % RESULT
DELETE = "mutation($e: ID!) { deleteGoalEntry(entryId: $e) { %s } }" % RESULT
PERIODS = """query($id: ID!) { goal(id: $id) { periods { label actual facts pending } } }"""
ACCESS = """mutation($id: ID!, $input: AccessInput!) { setUserAccess(userId: $id, input: $input) { __typename } }"""


def manual(measure: str, **over: object) -> dict[str, object]:
    base = {"title": f"Manual {measure}", "goalType": "MANUAL", "measure": measure, "interval": "MONTHLY",
            "startDate": "2026-01-01", "endDate": "2026-04-30", "targetForAll": "10",
            "assignee": {"kind": "USER", "id": "u2"}}
    return {**base, **over}


@pytest.fixture
async def org(runtime, gql):  # type: ignore[no-untyped-def]
    runtime.clock = lambda: NOW
    assert (await gql(INGEST, input=BASE))["ingestFacts"]["__typename"] == "IngestFactsResult"
    return runtime


async def _goal(gql, measure: str, **over: object) -> str:  # type: ignore[no-untyped-def]
    made = (await gql(CREATE, i=manual(measure, **over)))["createGoal"]
    assert made["__typename"] == "GoalSuccess", made
    return made["goal"]["id"]


async def _add(gql, goal: str, on: str, value: str, note: str | None = None, **kw: object) -> dict:  # type: ignore[no-untyped-def]
    return (await gql(ADD, g=goal, on=on, v=value, note=note, **kw))["addGoalEntry"]


async def _actuals(gql, goal: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {p["label"]: p["actual"] for p in (await gql(PERIODS, id=goal))["goal"]["periods"]}


async def test_sum_last_and_average_per_period_with_corrections_and_deletions(org, gql) -> None:  # type: ignore[no-untyped-def]
    goals = {m: await _goal(gql, m) for m in ("SUM", "LAST", "AVERAGE")}
    ids: dict[str, dict[str, str]] = {m: {} for m in goals}
    for name, on, value in (("a", "2026-01-10", "5"), ("b", "2026-01-10", "7"), ("c", "2026-01-20", "3"),
                            ("d", "2026-02-01", "4"), ("e", "2026-03-05", "9.5")):
        for m, goal in goals.items():
            done = await _add(gql, goal, on, value, note=f"entry {name}")
            assert done["__typename"] == "GoalEntrySuccess", done
            ids[m][name] = done["entry"]["id"]
    assert await _actuals(gql, goals["SUM"]) == {"2026-01": "15", "2026-02": "4", "2026-03": "9.5000", "2026-04": "0"}
    assert await _actuals(gql, goals["LAST"]) == {"2026-01": "3", "2026-02": "4", "2026-03": "9.5000", "2026-04": "0"}
    assert await _actuals(gql, goals["AVERAGE"]) == {"2026-01": "5", "2026-02": "4", "2026-03": "9.5000", "2026-04": "0"}
    # A correction replaces the value and keeps the entry's place among the day's entries.
    for m in goals:
        fixed = (await gql(CORRECT, e=ids[m]["c"], v="6", note="typo"))["correctGoalEntry"]
        assert fixed["__typename"] == "GoalEntrySuccess" and fixed["entry"]["replacesId"] == ids[m]["c"], fixed
        assert fixed["entry"]["on"] == "2026-01-20" and fixed["entry"]["note"] == "typo"
        ids[m]["c"] = fixed["entry"]["id"]
        first = (await gql(CORRECT, e=ids[m]["a"], v="1"))["correctGoalEntry"]  # a stays before b on the 10th
        ids[m]["a"] = first["entry"]["id"]
    assert (await _actuals(gql, goals["SUM"]))["2026-01"] == "14"
    assert (await _actuals(gql, goals["LAST"]))["2026-01"] == "6"
    assert (await _actuals(gql, goals["AVERAGE"]))["2026-01"] == "4.6667"
    # Deleting the 20th's entry: the last value is the later of the two on the 10th (b, entered after a).
    for m in goals:
        assert (await gql(DELETE, e=ids[m]["c"]))["deleteGoalEntry"]["__typename"] == "GoalEntrySuccess"
    assert (await _actuals(gql, goals["SUM"]))["2026-01"] == "8"
    assert (await _actuals(gql, goals["LAST"]))["2026-01"] == "7"
    assert (await _actuals(gql, goals["AVERAGE"]))["2026-01"] == "4"
    # A corrected or deleted entry cannot be corrected or deleted again.
    old = (await gql(CORRECT, e=ids["SUM"]["c"], v="1"))["correctGoalEntry"]
    assert old["__typename"] == "NotFoundError" and old["missingId"] == ids["SUM"]["c"]
    # The worker stores what the reads computed.
    await org.recompute.settled()
    stored = (await gql(PERIODS, id=goals["LAST"]))["goal"]["periods"]
    assert [(p["actual"], p["facts"], p["pending"]) for p in stored] == [
        ("7", 2, False), ("4", 1, False), ("9.5000", 1, False), ("0", 0, False)]


async def test_entries_outside_the_goals_periods_count_nowhere(org, gql) -> None:  # type: ignore[no-untyped-def]
    goal = await _goal(gql, "SUM")
    before = await _add(gql, goal, "2025-12-31", "5")
    assert before["__typename"] == "ValidationError" and before["fieldErrors"][0]["path"] == ["on"], before
    after = await _add(gql, goal, "2026-05-01", "5")
    assert after["__typename"] == "ValidationError" and "after the goal's end" in after["message"]
    assert (await _add(gql, goal, "2026-01-31", "2"))["__typename"] == "GoalEntrySuccess"
    assert (await _add(gql, goal, "2026-02-01", "3"))["__typename"] == "GoalEntrySuccess"
    # The goal starts later now: January's entry is in none of its periods.
    version = (await gql("query($id: ID!) { goal(id: $id) { version } }", id=goal))["goal"]["version"]
    moved = await gql("""mutation($id: ID!, $v: Int!) { updateGoal(id: $id, version: $v,
        input: {startDate: "2026-02-01"}) { __typename } }""", id=goal, v=version)
    assert moved["updateGoal"]["__typename"] == "GoalSuccess"
    assert await _actuals(gql, goal) == {"2026-02": "3", "2026-03": "0", "2026-04": "0"}
    await org.recompute.settled()
    assert await _actuals(gql, goal) == {"2026-02": "3", "2026-03": "0", "2026-04": "0"}


async def test_who_may_enter_values(org, gql) -> None:  # type: ignore[no-untyped-def]
    goal = await _goal(gql, "SUM")  # u2's goal; u1 leads u2's team without the statistics rights
    mine = await _add(gql, goal, "2026-03-01", "1", as_user="u2")
    assert mine["__typename"] == "GoalEntrySuccess" and mine["entry"]["enteredBy"] == "u2"
    leader = await _add(gql, goal, "2026-03-01", "1", as_user="u1")
    assert leader["__typename"] == "ForbiddenError" and leader["code"] == "FORBIDDEN"
    stranger = await _add(gql, goal, "2026-03-01", "1", as_user="u3")
    assert stranger["__typename"] == "NotFoundError"  # a hidden goal answers as a missing one
    entry = mine["entry"]["id"]
    assert (await gql(CORRECT, e=entry, v="2", as_user="u3"))["correctGoalEntry"]["__typename"] == "NotFoundError"
    assert (await gql(DELETE, e=entry, as_user="u1"))["deleteGoalEntry"]["__typename"] == "ForbiddenError"
    # An admin may.
    assert (await gql(ACCESS, id="u3", input={"admin": True}))["setUserAccess"]["__typename"] != "ForbiddenError"
    fixed = (await gql(CORRECT, e=entry, v="2", as_user="u3"))["correctGoalEntry"]
    assert fixed["__typename"] == "GoalEntrySuccess" and fixed["entry"]["enteredBy"] == "u3"
    # A team goal: its leader enters values; a member sees no team goal.
    team = await _goal(gql, "LAST", assignee={"kind": "TEAM", "id": "t1"})
    assert (await _add(gql, team, "2026-03-02", "40", as_user="u1"))["__typename"] == "GoalEntrySuccess"
    assert (await _add(gql, team, "2026-03-02", "40", as_user="u2"))["__typename"] == "NotFoundError"
    can = "query($id: ID!) { goal(id: $id) { viewerCan { edit enterValues } } }"
    assert (await gql(can, id=team, as_user="u1"))["goal"]["viewerCan"] == {"edit": False, "enterValues": True}
    assert (await gql(can, id=goal, as_user="u1"))["goal"]["viewerCan"] == {"edit": False, "enterValues": False}
    assert (await _actuals(gql, goal))["2026-03"] == "2"
    assert (await _actuals(gql, team))["2026-03"] == "40"


async def test_bad_input_is_refused_with_the_field_named(org, gql, gql_raw) -> None:  # type: ignore[no-untyped-def]
    goal = await _goal(gql, "SUM")
    missing = await _add(gql, "999999", "2026-03-01", "1")
    assert missing["__typename"] == "NotFoundError" and missing["missingId"] == "999999"
    assert (await _add(gql, "not-an-id", "2026-03-01", "1"))["__typename"] == "NotFoundError"
    crm = (await gql(CREATE, i={**manual("COUNT"), "goalType": "DEALS_ADDED"}))["createGoal"]["goal"]["id"]
    wrong = await _add(gql, crm, "2026-03-01", "1")
    assert wrong["__typename"] == "ValidationError" and wrong["fieldErrors"][0]["path"] == ["goalId"]
    assert wrong["fieldErrors"][0]["code"] == "NOT_MANUAL" and "DEALS_ADDED" in wrong["message"]
    fine = await _add(gql, goal, "2026-03-01", "1.00001")
    assert fine["__typename"] == "ValidationError" and fine["fieldErrors"][0]["path"] == ["value"]
    future = await _add(gql, goal, "2026-03-21", "1")  # "now" is 2026-03-20
    assert future["__typename"] == "ValidationError" and "in the future" in future["fieldErrors"][0]["message"]
    long = await _add(gql, goal, "2026-03-01", "1", note="x" * 501)
    assert long["__typename"] == "ValidationError" and long["fieldErrors"][0]["path"] == ["note"]
    bad_day = await gql_raw(ADD, {"g": goal, "on": "2026-02-30", "v": "1"})
    assert "errors" in bad_day and "2026-02-30" in bad_day["errors"][0]["message"]
    assert (await gql(CORRECT, e="12345", v="1"))["correctGoalEntry"]["__typename"] == "NotFoundError"
    assert (await gql(DELETE, e="x"))["deleteGoalEntry"]["__typename"] == "NotFoundError"
    assert await _actuals(gql, goal) == {"2026-01": "0", "2026-02": "0", "2026-03": "0", "2026-04": "0"}, \
        "nothing refused was kept"


async def test_the_store_is_marked_in_the_entrys_transaction(org, gql) -> None:  # type: ignore[no-untyped-def]
    goal = await _goal(gql, "SUM")
    await org.recompute.settled()
    assert (await _actuals(gql, goal))["2026-03"] == "0"
    await org.recompute.stop()  # hold the worker; reads never recompute: the mark alone says pending
    org.settings = dataclasses.replace(org.settings, inline_recompute_facts=0)
    assert (await _add(gql, goal, "2026-03-03", "4"))["__typename"] == "GoalEntrySuccess"
    periods = {p["label"]: p for p in (await gql(PERIODS, id=goal))["goal"]["periods"]}
    assert periods["2026-03"]["pending"] is True and periods["2026-03"]["actual"] == "0"
    assert periods["2026-01"]["pending"] is False, "only the entry's period is marked"
    org.recompute.start()
    await org.recompute.settled()
    periods = {p["label"]: p for p in (await gql(PERIODS, id=goal))["goal"]["periods"]}
    assert (periods["2026-03"]["actual"], periods["2026-03"]["pending"]) == ("4", False)


async def test_entries_history_and_drill_down(org, gql) -> None:  # type: ignore[no-untyped-def]
    goal = await _goal(gql, "LAST", title="NPS score", assignee={"kind": "COMPANY"})
    first = (await _add(gql, goal, "2026-03-02", "31", note="survey 1"))["entry"]["id"]
    await _add(gql, goal, "2026-03-16", "38", note="survey 2", as_user=None)
    fixed = (await gql(CORRECT, e=first, v="33", note="recount"))["correctGoalEntry"]["entry"]["id"]
    history = await gql("""query($id: ID!) { goal(id: $id) { entries(first: 2) { totalCount pageInfo { hasNextPage endCursor }
      nodes { id value note current replacesId supersededById enteredBy enteredByUser { id } } } } }""", id=goal)
    page = history["goal"]["entries"]
    assert page["totalCount"] == 3 and page["pageInfo"]["hasNextPage"] is True
    assert [n["id"] for n in page["nodes"]][0] == fixed and page["nodes"][0]["replacesId"] == first
    rest = await gql("""query($id: ID!, $after: String) { goal(id: $id) { entries(first: 5, after: $after) {
      nodes { id value current supersededById } } } }""", id=goal, after=page["pageInfo"]["endCursor"])
    assert rest["goal"]["entries"]["nodes"] == [{"id": first, "value": "31", "current": False, "supersededById": fixed}]
    current = await gql("query($id: ID!) { goal(id: $id) { entries(history: false) { totalCount } } }", id=goal)
    assert current["goal"]["entries"]["totalCount"] == 2
    drill = await gql("""query($id: ID!) { goal(id: $id) { currentPeriod { actual contributions { totalCount
      nodes { amount occurredAt entry { value note enteredBy } } } } } }""", id=goal)
    period = drill["goal"]["currentPeriod"]
    assert period["actual"] == "38" and period["contributions"]["totalCount"] == 2
    assert [n["entry"]["note"] for n in period["contributions"]["nodes"]] == ["survey 2", "recount"] or \
        sorted(n["entry"]["note"] for n in period["contributions"]["nodes"]) == ["recount", "survey 2"]
    assert {n["amount"] for n in period["contributions"]["nodes"]} == {"33.0000", "38.0000"}


class _LatestDeal:
    """A goal type with a LAST measure over user-credited facts: the value of the latest deal added."""

    @staticmethod
    def source(_):  # type: ignore[no-untyped-def]
        from sqlalchemy import select

        from goalgraph.db.models import Deal

        return select(Deal.id.label("fact_id"), Deal.owner_id.label("user_id"), Deal.added_at.label("occurred_at"),
                      Deal.value.label("value"))

    @hookimpl
    def goalgraph_register_goal_types(self):  # type: ignore[no-untyped-def]
        return [GoalType(key="LATEST_DEAL", label="Latest deal", category=Category.DEAL, fact_kind=FactKind.DEAL,
                         description="The value of the latest deal added.", source=self.source,
                         measures=(Measure("LAST", "Latest value", column="value", last=True),))]


async def test_last_values_of_user_team_and_company_goals_in_one_batch(register_plugin) -> None:  # type: ignore[no-untyped-def]
    """The engine's LAST over user-credited facts: per user, through a team's members, rolled up for the
    company — one batch, the latest fact by time and, at the same instant, by the greater fact id."""
    app = await register_plugin(_LatestDeal())
    app.runtime.clock = lambda: NOW
    deals = [deal("d1", ownerId="u1", value="100", addedAt=T0), deal("d2", ownerId="u2", value="200", addedAt=T1),
             deal("d4", ownerId="u2", value="300", addedAt=T1), deal("d3", ownerId="u3", value="50", addedAt=T2),
             deal("d5", ownerId="u1", value="70", addedAt="2026-02-03T09:00:00+00:00")]
    assert (await app.gql(INGEST, input={**BASE, "deals": deals}))["ingestFacts"]["__typename"] == "IngestFactsResult"
    for who in ({"kind": "USER", "id": "u1"}, {"kind": "TEAM", "id": "t1"}, {"kind": "COMPANY"}):
        made = (await app.gql(CREATE, i=manual("LAST", goalType="LATEST_DEAL", assignee=who)))["createGoal"]
        assert made["__typename"] == "GoalSuccess", made
    await app.runtime.recompute.settled()
    listed = (await app.gql("""{ goals(first: 10) { nodes { assignee { kind }
        periods { label actual facts } } } }"""))["goals"]["nodes"]
    got = {g["assignee"]["kind"]: [(p["actual"], p["facts"]) for p in g["periods"][:2]] for g in listed}
    assert got == {"USER": [("100", 1), ("70", 1)], "TEAM": [("300", 3), ("70", 1)], "COMPANY": [("50", 4), ("70", 1)]}


async def test_two_corrections_of_one_entry_at_once_keep_one_current_value(org, gql) -> None:  # type: ignore[no-untyped-def]
    """The goal is locked before the entry is read again: the second correction finds it corrected."""
    goal = await _goal(gql, "SUM")
    entry = (await _add(gql, goal, "2026-03-02", "5"))["entry"]["id"]
    both = await asyncio.gather(gql(CORRECT, e=entry, v="6"), gql(CORRECT, e=entry, v="7"))
    kinds = sorted(b["correctGoalEntry"]["__typename"] for b in both)
    assert kinds == ["GoalEntrySuccess", "NotFoundError"], both
    winner = next(b["correctGoalEntry"]["entry"]["value"] for b in both
                  if b["correctGoalEntry"]["__typename"] == "GoalEntrySuccess")
    assert (await _actuals(gql, goal))["2026-03"] == winner
    current = await gql("query($id: ID!) { goal(id: $id) { entries(history: false) { totalCount } } }", id=goal)
    assert current["goal"]["entries"]["totalCount"] == 1


# --- The engine against a plain-Python reference, on random entries -------------------------------------

_CAL = Calendar("Europe/Oslo", 0, 1)
_MONTHS = periods_for(_CAL, Interval.MONTHLY, date(2026, 1, 1), date(2026, 3, 31))
_WEEKS = periods_for(_CAL, Interval.WEEKLY, date(2026, 1, 5), date(2026, 2, 22))
#: (goal index, day offset from 2025-12-25, value, correction of an earlier row (index or None), retired, deleted)
#: Days often shared (one day's several entries: the last is the one entered last), sometimes outside the periods.
_DAYS = st.one_of(st.integers(0, 110), st.sampled_from([7, 20, 21, 38, 45, 59]))
_ROWS = st.lists(st.tuples(st.integers(0, 2), _DAYS, st.integers(-100, 100),
                           st.one_of(st.none(), st.integers(0, 30)), st.booleans(), st.booleans()), max_size=40)


def _expected(rows: list[dict], goal_id: int, measure: str, periods) -> dict[int, Decimal]:  # type: ignore[no-untyped-def]
    """Per period index: the sum, the mean or the value of the latest (day, first version's id) current entry."""
    out = {}
    for p in periods:
        mine = [r for r in rows if r["goal_id"] == goal_id and r["superseded_at"] is None and r["deleted_at"] is None
                and p.start_date <= r["occurred_on"] <= p.end_date]
        values = [Decimal(r["value"]) for r in mine]
        if measure == "SUM":
            out[p.index] = sum(values, Decimal(0))
        elif measure == "AVERAGE":
            out[p.index] = (sum(values, Decimal(0)) / len(values)).quantize(Decimal("0.0001")) if values else Decimal(0)
        else:
            latest = max(mine, key=lambda r: (r["occurred_on"], r["origin_id"] or r["id"]), default=None)
            out[p.index] = Decimal(latest["value"]) if latest else Decimal(0)
    return out


@settings(max_examples=40, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(drawn=_ROWS)
async def test_sum_last_and_average_match_a_reference_in_one_statement(runtime, drawn) -> None:  # type: ignore[no-untyped-def]
    async with runtime.sessions() as session, session.begin():
        await session.execute(delete(GoalEntry))
        goal_ids = list((await session.scalars(select(Goal.id).order_by(Goal.id))).all())
        if not goal_ids:
            for i in range(3):
                session.add(Goal(title=f"g{i}", goal_type="MANUAL", assignee_kind="COMPANY", filters={}, measure="SUM",
                                 interval="MONTHLY", start_date=date(2026, 1, 1), target=Decimal(1),
                                 created_at=NOW, updated_at=NOW))
            await session.flush()
            goal_ids = list((await session.scalars(select(Goal.id).order_by(Goal.id))).all())
        rows = []
        for n, (g, offset, value, corrects, retired, deleted) in enumerate(drawn):
            origin = None
            if corrects is not None and corrects < n:
                earlier = rows[corrects]
                origin = earlier["origin_id"] or earlier["id"]
            rows.append({"id": 1000 + n, "goal_id": goal_ids[g], "occurred_on": date(2025, 12, 25) + timedelta(days=offset),
                         "value": Decimal(value), "entered_by": "test", "entered_at": NOW, "origin_id": origin,
                         "superseded_at": NOW if retired else None, "deleted_at": NOW if deleted and not retired else None})
        if rows:
            await session.execute(insert(GoalEntry), rows)
    queries = [GoalQuery(key=(g, m, len(ps)), goal_type="MANUAL", measure=m, goal_id=g, periods=ps,
                         assignee=Assignee(AssigneeKind.USER, 1) if g == goal_ids[1] else Assignee(AssigneeKind.COMPANY))
               for g in goal_ids for m in ("SUM", "LAST", "AVERAGE") for ps in (_MONTHS, _WEEKS)]
    statements: list[str] = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(runtime.engine.sync_engine, "before_cursor_execute", listener)
    try:
        async with runtime.sessions() as session:
            actuals = await compute_actuals(session, runtime.registry, queries)
    finally:
        event.remove(runtime.engine.sync_engine, "before_cursor_execute", listener)
    assert len(statements) == 1, "one statement for every manual goal, measure and period"
    for q in queries:
        want = _expected(rows, q.goal_id, q.measure, q.periods)
        got = {p.index: actuals[(q.key, p.index)].value for p in q.periods}
        assert got == want, (q.key, [(r["goal_id"], r["occurred_on"], r["value"]) for r in rows])


async def test_an_entered_value_is_pushed_to_the_goals_subscribers(settings, gql, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A real server process: anna follows her manual goal; the value she enters there is pushed to her."""
    import httpx

    from goalgraph.testing.credentials import user_token
    from test_live import _next_goals, _subscribe, server

    assert (await gql(INGEST, input={"users": [{"id": "anna", "name": "Anna"}]}))["ingestFacts"]["__typename"] \
        == "IngestFactsResult"
    today = datetime.now(timezone.utc).date()
    goal = await _goal(gql, "SUM", assignee={"kind": "USER", "id": "anna"}, startDate=f"{today.year}-01-01",
                       endDate=f"{today.year}-12-31")
    await gql.runtime.recompute.settled()
    with server(settings, tmp_path) as port:
        ws = await _subscribe(port, user_token(settings, "anna"), goal)
        reason, goals = await _next_goals(ws)
        assert reason == "INITIAL" and goals[0]["currentPeriod"]["actual"] == "0"
        async with httpx.AsyncClient() as client:
            body = (await client.post(f"http://127.0.0.1:{port}/graphql", headers={
                "authorization": f"Bearer {user_token(settings, 'anna')}"}, json={
                "query": ADD, "variables": {"g": goal, "on": today.isoformat(), "v": "3", "note": "booked"}})).json()
        assert body["data"]["addGoalEntry"]["__typename"] == "GoalEntrySuccess", body
        actual = None
        for _ in range(3):  # the change's own push, then the stored figure's
            _, goals = await _next_goals(ws)
            actual = goals[0]["currentPeriod"]["actual"]
            if actual == "3":
                break
        assert actual == "3"
        await ws.close()
