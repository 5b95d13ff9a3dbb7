"""A goal's direction over GraphQL: lower-is-better goals read the other way (status, pace, summaries,
revisions, leaderboards, hierarchies); measures say their default direction and aggregation."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

import pytest

from goalgraph.ingest.batch import ingest_batch
from goalgraph.registry import Measure

NOW = datetime(2026, 4, 15, 12, 0, tzinfo=timezone.utc)

FACTS = {
    "users": [{"id": "ann", "name": "Ann"}, {"id": "bob", "name": "Bob"}],
    "teams": [{"id": "t1", "name": "Team 1", "member_ids": ["ann", "bob"]}],
    "pipelines": [{"id": "p1", "name": "P1", "stages": [{"id": "s1", "name": "S1", "probability": 50}]}],
}
FIELDS = """
  id version direction measure
  goalType { measures { key aggregation defaultDirection lowerIsBetter } }
  currentPeriod { target actual ratio status pace { expectedByNow projectedAtEnd status } }
  summary { target actual ratio status }
  revisions { version changes { field old new } }
"""
CREATE = """
mutation Create($input: GoalInput!) { createGoal(input: $input) {
  __typename ... on GoalSuccess { goal { %s } } ... on ValidationError { message fieldErrors { path message code } } } }
""" % FIELDS
UPDATE = """
mutation Update($id: ID!, $version: Int!, $input: GoalUpdateInput!) { updateGoal(id: $id, version: $version, input: $input) {
  __typename ... on GoalSuccess { goal { %s } } ... on ValidationError { message fieldErrors { path message code } }
  ... on LockedError { message } } }
""" % FIELDS
READ = "query Read($id: ID!) { goal(id: $id) { %s } }" % FIELDS


def deals_won(n: int, first: int = 0, owner: str = "ann", value: str = "100") -> dict:
    return {"deals": [{"id": f"d{i}", "title": f"D{i}", "value": value, "currency": "EUR", "owner_id": owner,
                       "stage_id": "s1", "status": "WON", "added_at": "2026-04-02T10:00:00+00:00",
                       "won_at": "2026-04-03T10:00:00+00:00"} for i in range(first, first + n)]}


@pytest.fixture
async def seeded(runtime):  # type: ignore[no-untyped-def]
    runtime.clock = lambda: NOW
    async with runtime.sessions() as session, session.begin():
        await ingest_batch(session, FACTS)
    return runtime


async def ingest(runtime, batch: dict) -> None:  # type: ignore[no-untyped-def]
    async with runtime.sessions() as session, session.begin():
        await ingest_batch(session, batch)


def april(**over):  # type: ignore[no-untyped-def]
    base = {"title": "Deals won", "goalType": "DEALS_WON", "measure": "COUNT", "assignee": {"kind": "COMPANY"},
            "interval": "MONTHLY", "startDate": "2026-04-01", "endDate": "2026-04-30", "targetForAll": "3"}
    return base | over


async def test_measures_say_their_default_direction_and_aggregation(seeded, gql) -> None:  # type: ignore[no-untyped-def]
    data = await gql('{ goalTypes { key measures { key aggregation defaultDirection lowerIsBetter cumulative } } }')
    won = {m["key"]: m for t in data["goalTypes"] if t["key"] == "DEALS_WON" for m in t["measures"]}
    assert won["COUNT"] == {"key": "COUNT", "aggregation": "COUNT", "defaultDirection": "HIGHER_IS_BETTER",
                            "lowerIsBetter": False, "cumulative": True}
    assert won["VALUE"]["aggregation"] == "SUM"


async def test_a_lower_is_better_count_reads_the_other_way(seeded, gql) -> None:  # type: ignore[no-untyped-def]
    cap = (await gql(CREATE, input=april(title="At most 3", direction="LOWER_IS_BETTER")))["createGoal"]
    quota = (await gql(CREATE, input=april(title="At least 3")))["createGoal"]
    assert cap["__typename"] == quota["__typename"] == "GoalSuccess", (cap, quota)
    cap, quota = cap["goal"], quota["goal"]
    assert (cap["direction"], quota["direction"]) == ("LOWER_IS_BETTER", "HIGHER_IS_BETTER")  # default: the measure's
    # Nothing won yet: the cap is on track, the quota at risk; both under way.
    assert cap["currentPeriod"]["status"] == quota["currentPeriod"]["status"] == "IN_PROGRESS"
    assert cap["currentPeriod"]["pace"]["status"] == "ON_TRACK"
    assert quota["currentPeriod"]["pace"]["status"] == "AT_RISK"
    assert cap["currentPeriod"]["pace"]["expectedByNow"] == quota["currentPeriod"]["pace"]["expectedByNow"]

    await ingest(seeded, deals_won(2))  # 2 of 3: under the cap, short of the quota
    cap = (await gql(READ, id=cap["id"]))["goal"]
    quota = (await gql(READ, id=quota["id"]))["goal"]
    assert cap["currentPeriod"]["actual"] == "2" and cap["currentPeriod"]["ratio"] == "0.6667"
    assert cap["currentPeriod"]["status"] == "IN_PROGRESS"  # a cap is judged at the end (unless broken)
    assert quota["currentPeriod"]["status"] == "IN_PROGRESS"

    await ingest(seeded, deals_won(2, first=2))  # 4 of 3: the cap is broken at once, the quota exceeded
    cap = (await gql(READ, id=cap["id"]))["goal"]
    quota = (await gql(READ, id=quota["id"]))["goal"]
    assert cap["currentPeriod"]["status"] == "MISSED" and cap["currentPeriod"]["pace"]["status"] == "AT_RISK"
    assert quota["currentPeriod"]["status"] == "EXCEEDED" and quota["currentPeriod"]["pace"]["status"] == "ON_TRACK"
    assert cap["summary"]["status"] == "MISSED" and quota["summary"]["status"] == "EXCEEDED"
    assert cap["currentPeriod"]["ratio"] == quota["currentPeriod"]["ratio"] == "1.3333"  # the ratio is the same


async def test_changing_the_direction_is_a_recorded_definition_change(seeded, gql) -> None:  # type: ignore[no-untyped-def]
    await ingest(seeded, deals_won(4))
    goal = (await gql(CREATE, input=april()))["createGoal"]["goal"]
    assert goal["currentPeriod"]["status"] == "EXCEEDED"
    changed = (await gql(UPDATE, id=goal["id"], version=goal["version"],
                         input={"direction": "LOWER_IS_BETTER"}))["updateGoal"]
    assert changed["__typename"] == "GoalSuccess", changed
    goal = changed["goal"]
    assert goal["direction"] == "LOWER_IS_BETTER" and goal["version"] == 2
    assert goal["currentPeriod"]["status"] == "MISSED" and goal["currentPeriod"]["pace"]["status"] == "AT_RISK"
    assert goal["revisions"][0]["changes"] == [{"field": "direction", "old": "HIGHER_IS_BETTER",
                                                "new": "LOWER_IS_BETTER"}]
    # Other edits keep it (a new measure too).
    kept = (await gql(UPDATE, id=goal["id"], version=2, input={"title": "Renamed", "measure": "VALUE"}))["updateGoal"]
    assert kept["goal"]["direction"] == "LOWER_IS_BETTER" and kept["goal"]["measure"] == "VALUE"
    # null is refused, naming the field.
    refused = (await gql(UPDATE, id=goal["id"], version=3, input={"direction": None}))["updateGoal"]
    assert refused["__typename"] == "ValidationError"
    assert refused["fieldErrors"] == [{"path": ["input", "direction"], "message": "cannot be null", "code": "REQUIRED"}]
    # Locked targets lock the direction too: it turns "at least" into "at most".
    locked = await gql('mutation { lockGoal(id: "%s", version: 3) { __typename ... on GoalSuccess { goal { version } } } }'
                       % goal["id"])
    assert locked["lockGoal"]["__typename"] == "GoalSuccess"
    flip = (await gql(UPDATE, id=goal["id"], version=4, input={"direction": "HIGHER_IS_BETTER"}))["updateGoal"]
    assert flip["__typename"] == "LockedError", flip
    # The status watch saw what the new direction turned: the period's last status is MISSED.
    await seeded.recompute.settled()
    from sqlalchemy import select

    from goalgraph.db.models import GoalStatusMark

    async with seeded.sessions() as session:
        marks = (await session.scalars(select(GoalStatusMark.status).where(
            GoalStatusMark.goal_id == int(goal["id"])))).all()
    assert marks == ["MISSED"]


async def test_an_unknown_direction_is_refused_clearly(seeded, gql_raw) -> None:  # type: ignore[no-untyped-def]
    body = await gql_raw(CREATE, {"input": april(direction="SIDEWAYS")})
    assert body.get("data") is None
    message = body["errors"][0]["message"]
    assert "SIDEWAYS" in message and "GoalDirection" in message, message


async def test_leaderboards_rank_the_goals_of_their_direction(seeded, gql) -> None:  # type: ignore[no-untyped-def]
    await ingest(seeded, deals_won(1, owner="ann"))
    await ingest(seeded, deals_won(3, first=1, owner="bob"))
    for who in ("ann", "bob"):
        for direction in ("LOWER_IS_BETTER", "HIGHER_IS_BETTER"):
            made = await gql(CREATE, input=april(title=f"{who} {direction}", assignee={"kind": "USER", "id": who},
                                                 direction=direction))
            assert made["createGoal"]["__typename"] == "GoalSuccess"
    board = '{ leaderboard(goalType: "DEALS_WON", measure: "COUNT", on: "2026-04-10", rankBy: ATTAINMENT%s) ' \
            '{ direction lowerIsBetter entrants entries { rank name ratio } } }'
    higher = (await gql(board % ""))["leaderboard"]
    assert (higher["direction"], higher["lowerIsBetter"], higher["entrants"]) == ("HIGHER_IS_BETTER", False, 2)
    assert [(e["rank"], e["name"]) for e in higher["entries"]] == [(1, "Bob"), (2, "Ann")]
    lower = (await gql(board % ", direction: LOWER_IS_BETTER"))["leaderboard"]
    assert (lower["direction"], lower["lowerIsBetter"], lower["entrants"]) == ("LOWER_IS_BETTER", True, 2)
    assert [(e["rank"], e["name"]) for e in lower["entries"]] == [(1, "Ann"), (2, "Bob")]
    by_actual = (await gql('{ leaderboard(goalType: "DEALS_WON", measure: "COUNT", on: "2026-04-10", '
                           'direction: LOWER_IS_BETTER) { entries { rank name actual } } }'))["leaderboard"]
    assert [e["name"] for e in by_actual["entries"]] == ["Ann", "Bob"]


async def test_a_child_shares_its_parents_direction(seeded, gql) -> None:  # type: ignore[no-untyped-def]
    parent = (await gql(CREATE, input=april(direction="LOWER_IS_BETTER")))["createGoal"]["goal"]
    child = (await gql(CREATE, input=april(assignee={"kind": "TEAM", "id": "t1"}, parentId=parent["id"])))["createGoal"]
    assert child["__typename"] == "ValidationError"
    assert "direction is LOWER_IS_BETTER" in child["fieldErrors"][0]["message"]
    ok = (await gql(CREATE, input=april(assignee={"kind": "TEAM", "id": "t1"}, parentId=parent["id"],
                                        direction="LOWER_IS_BETTER")))["createGoal"]
    assert ok["__typename"] == "GoalSuccess"


async def test_an_average_summarises_as_the_mean_over_its_facts(seeded, gql) -> None:  # type: ignore[no-untyped-def]
    """Two months of an average: the summary is the mean over all facts, not the sum of the months' means;
    a lower-is-better average is a level judged at the end, and pace does not extrapolate it."""
    won = seeded.registry.goal_types["DEALS_WON"]
    mean = Measure("AVERAGE_VALUE", "Average deal value", column="value", money=True, average=True)
    seeded.registry.add_goal_type(replace(won, key="AVERAGE_WON_DEAL", label="Average won deal", measures=(mean,)),
                                  "test")
    march = deals_won(1, value="400")["deals"]
    march[0] |= {"added_at": "2026-03-02T10:00:00+00:00", "won_at": "2026-03-03T10:00:00+00:00"}
    await ingest(seeded, {"deals": march + deals_won(3, first=1, value="200")["deals"]})
    goal = (await gql(CREATE, input=april(goalType="AVERAGE_WON_DEAL", measure="AVERAGE_VALUE", currency="EUR",
                                          startDate="2026-03-01", targetForAll="250",
                                          direction="LOWER_IS_BETTER")))["createGoal"]
    assert goal["__typename"] == "GoalSuccess", goal
    goal = goal["goal"]
    measures = goal["goalType"]["measures"]
    assert measures == [{"key": "AVERAGE_VALUE", "aggregation": "AVERAGE", "defaultDirection": "HIGHER_IS_BETTER",
                         "lowerIsBetter": False}]
    current = goal["currentPeriod"]
    assert current["actual"] == "200.0000" and current["status"] == "IN_PROGRESS"
    assert current["pace"] == {"expectedByNow": "250.0000", "projectedAtEnd": "200.0000", "status": "ON_TRACK"}
    # (400 + 3 × 200) / 4 = 250 against a mean target of 250; under way: the current period decides.
    assert goal["summary"] == {"target": "250.0000", "actual": "250.0000", "ratio": "1.0000", "status": "IN_PROGRESS"}
    past = await gql('{ goal(id: "%s") { summary(to: "2026-03-31") { actual status } } }' % goal["id"])
    assert past["goal"]["summary"] == {"actual": "400.0000", "status": "MISSED"}


async def test_a_cap_has_no_milestones_but_its_pace_is_told(seeded, gql) -> None:  # type: ignore[no-untyped-def]
    from goalgraph.db.models import Goal
    from goalgraph.notifications import rules
    from goalgraph.progress.service import compute_progress

    await ingest(seeded, deals_won(4))  # 4 of 3: 133 %
    ids = [(await gql(CREATE, input=april(direction=d)))["createGoal"]["goal"]["id"]
           for d in ("LOWER_IS_BETTER", "HIGHER_IS_BETTER")]
    async with seeded.sessions() as session:
        goals = [await session.get(Goal, int(i)) for i in ids]
        progress = await compute_progress(session, seeded.registry, goals, NOW)
    settings = rules.NotificationSettings()
    kinds = [sorted({(e.kind, e.payload.get("pace")) for e in rules.events_of(
        g, settings, progress[g.id].periods, NOW, progress[g.id].rules.lower_is_better)}) for g in goals]
    assert kinds[0] == [(rules.PACE, "AT_RISK")]  # the broken cap: no "100 % reached"
    assert kinds[1] == [(rules.MILESTONE, None)]  # the quota: its milestones, on track


async def test_cascaded_children_take_their_parents_direction(seeded, gql) -> None:  # type: ignore[no-untyped-def]
    cascade = """mutation($id: ID!) { cascadeGoal(id: $id, split: EVEN, level: USERS) {
      __typename ... on CascadeSuccess { children { direction target } } } }"""
    parent = (await gql(CREATE, input=april(targetForAll="4", direction="LOWER_IS_BETTER")))["createGoal"]["goal"]
    done = (await gql(cascade, id=parent["id"]))["cascadeGoal"]
    assert done["__typename"] == "CascadeSuccess"
    assert {(c["direction"], c["target"]) for c in done["children"]} == {("LOWER_IS_BETTER", "2")}
    flipped = (await gql(UPDATE, id=parent["id"], version=parent["version"],
                         input={"direction": "HIGHER_IS_BETTER"}))["updateGoal"]
    assert flipped["__typename"] == "GoalSuccess"
    again = (await gql(cascade, id=parent["id"]))["cascadeGoal"]
    assert {c["direction"] for c in again["children"]} == {"HIGHER_IS_BETTER"}
