"""The targets plan: the yearly grid, setting many cells atomically, copying a year scaled."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from factsets import ENGINE_BATCH
from goalgraph.ingest.batch import ingest_batch

KEY = {"year": 2026, "goalType": "DEALS_ADDED", "measure": "COUNT", "interval": "QUARTERLY"}
PLAN = """
query Plan($key: PlanKeyInput!) {
  targetsPlan(key: $key) {
    periods { label startDate }
    rows { assignee { kind user { id } team { id } } goal { id title } targets actuals memberTargets }
  }
}
"""
SET = """
mutation Set($key: PlanKeyInput!, $cells: [PlanCellInput!]!) {
  setPlanTargets(key: $key, cells: $cells) {
    __typename ... on PlanSaved { goalsChanged } ... on ValidationError { fieldErrors { path message } }
    ... on LockedError { message }
  }
}
"""
COPY = """
mutation Copy($key: PlanKeyInput!, $to: Int!, $scale: Decimal!) {
  copyTargetsPlan(key: $key, toYear: $to, scalePercent: $scale) { __typename ... on PlanSaved { goalsChanged } }
}
"""


@pytest.fixture
async def seeded(runtime, gql):  # type: ignore[no-untyped-def]
    runtime.clock = lambda: datetime(2026, 4, 15, tzinfo=timezone.utc)
    async with runtime.sessions() as session, session.begin():
        await ingest_batch(session, ENGINE_BATCH)
    await gql('mutation { updateOrganisation(input: {timeZone: "Europe/Oslo"}) { __typename } }')
    return runtime


def cell(kind, id, start, target):  # type: ignore[no-untyped-def]
    return {"assignee": {"kind": kind, **({"id": id} if id else {})}, "periodStart": start, "target": target}


def row(plan, kind, id=None):  # type: ignore[no-untyped-def]
    for r in plan["rows"]:
        a = r["assignee"]
        if a["kind"] == kind and (id is None or (a["user"] or a["team"])["id"] == id):
            return r
    raise AssertionError((kind, id))


async def test_grid_cells_and_copy(seeded, gql) -> None:  # type: ignore[no-untyped-def]
    plan = (await gql(PLAN, key=KEY))["targetsPlan"]
    assert [p["label"] for p in plan["periods"]] == ["2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4"]
    assert [r["assignee"]["kind"] for r in plan["rows"]] == ["COMPANY", "TEAM", "USER", "USER", "USER"]
    assert row(plan, "COMPANY")["actuals"] == ["4", "0", "0", "0"]
    assert row(plan, "USER", "alice")["targets"] == [None] * 4 and row(plan, "USER", "alice")["goal"] is None

    saved = (await gql(SET, key=KEY, cells=[
        cell("COMPANY", None, "2026-01-01", "20"), cell("COMPANY", None, "2026-04-01", "25"),
        cell("USER", "alice", "2026-01-01", "3"), cell("USER", "bob", "2026-01-01", "4"),
        cell("TEAM", "north", "2026-01-01", "8"),
    ]))["setPlanTargets"]
    assert saved == {"__typename": "PlanSaved", "goalsChanged": 4}
    plan = (await gql(PLAN, key=KEY))["targetsPlan"]
    assert row(plan, "COMPANY")["targets"] == ["20", "25", "0", "0"]
    assert row(plan, "TEAM", "north")["memberTargets"] == ["7", "0", "0", "0"]
    assert row(plan, "USER", "alice")["actuals"] == ["2", "0", "0", "0"]
    assert row(plan, "USER", "carl")["goal"] is None

    again = (await gql(SET, key=KEY, cells=[cell("USER", "alice", "2026-07-01", "5")]))["setPlanTargets"]
    assert again["goalsChanged"] == 1
    assert row((await gql(PLAN, key=KEY))["targetsPlan"], "USER", "alice")["targets"] == ["3", "0", "5", "0"]

    copied = (await gql(COPY, key=KEY, to=2027, scale="110"))["copyTargetsPlan"]
    assert copied["goalsChanged"] == 4
    next_year = (await gql(PLAN, key={**KEY, "year": 2027}))["targetsPlan"]
    assert row(next_year, "COMPANY")["targets"] == ["22", "27.5000", "0", "0"]
    assert row(next_year, "USER", "alice")["targets"] == ["3.3000", "0", "5.5000", "0"]


async def test_bad_cells_change_nothing(seeded, gql) -> None:  # type: ignore[no-untyped-def]
    result = (await gql(SET, key=KEY, cells=[cell("USER", "alice", "2026-01-01", "3"),
                                             cell("USER", "alice", "2026-02-01", "3")]))["setPlanTargets"]
    assert result["__typename"] == "ValidationError"
    assert "does not start a period of 2026" in result["fieldErrors"][0]["message"]
    ghost = (await gql(SET, key=KEY, cells=[cell("USER", "alice", "2026-01-01", "3"),
                                            cell("USER", "ghost", "2026-01-01", "3")]))["setPlanTargets"]
    assert ghost["__typename"] == "ValidationError"
    assert "no user with id 'ghost'" in ghost["fieldErrors"][0]["message"]
    plan = (await gql(PLAN, key=KEY))["targetsPlan"]
    assert all(r["goal"] is None for r in plan["rows"]), "a refused batch leaves no plan goal behind"


async def test_bad_plan_key_is_a_clear_error(seeded, gql_raw) -> None:  # type: ignore[no-untyped-def]
    body = await gql_raw(PLAN, key={**KEY, "goalType": "NOPE"})
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "'NOPE' is not a goal type" in body["errors"][0]["message"]


SET_AS = """
mutation Set($key: PlanKeyInput!, $cells: [PlanCellInput!]!) {
  setPlanTargets(key: $key, cells: $cells) { __typename ... on UserError { code message } }
}
"""


async def test_hidden_rows_answer_alike_with_or_without_a_goal(seeded, gql) -> None:  # type: ignore[no-untyped-def]
    """A regular user setting cells of rows they may not see: same answer whether a plan goal exists or not."""
    assert (await gql(SET, key=KEY, cells=[cell("USER", "carl", "2026-01-01", "5")]))["setPlanTargets"][
        "__typename"] == "PlanSaved"
    with_goal = (await gql(SET_AS, key=KEY, cells=[cell("USER", "carl", "2026-01-01", "6")], as_user="bob"))
    without = (await gql(SET_AS, key=KEY, cells=[cell("USER", "alice", "2026-01-01", "6")], as_user="bob"))
    assert with_goal == without == {"setPlanTargets": {"__typename": "ForbiddenError", "code": "FORBIDDEN",
                                                      "message": "you may not set targets for this user"}}
    team = (await gql(SET_AS, key=KEY, cells=[cell("TEAM", "north", "2026-01-01", "6")], as_user="bob"))
    assert team["setPlanTargets"]["message"] == "you may not set targets for this team"
    own = (await gql(SET_AS, key=KEY, cells=[cell("USER", "bob", "2026-01-01", "6")], as_user="bob"))
    assert own["setPlanTargets"]["__typename"] == "PlanSaved"


async def test_targets_right_gates_the_plan(seeded, gql, gql_raw) -> None:  # type: ignore[no-untyped-def]
    await gql('mutation { setUserAccess(userId: "bob", input: {useTargets: false}) { __typename } }')
    body = await gql_raw(PLAN, {"key": KEY}, as_user="bob")
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN" and "Targets" in body["errors"][0]["message"]
    own = (await gql(SET_AS, key=KEY, cells=[cell("USER", "bob", "2026-01-01", "6")], as_user="bob"))
    assert own["setPlanTargets"]["code"] == "FORBIDDEN" and "Targets" in own["setPlanTargets"]["message"]


TREE = """
query Plan($key: PlanKeyInput!) {
  targetsPlan(key: $key) {
    rows { key parentKey depth childKeys hasChildren targets actuals childrenTargets childrenActuals targetMismatch
           memberTargets }
  }
}
"""


async def test_rows_form_the_hierarchy_with_childrens_sums(seeded, gql) -> None:  # type: ignore[no-untyped-def]
    """company → teams (and users in no team) → members; each parent beside its children's sums and mismatches."""
    await gql(SET, key=KEY, cells=[cell("COMPANY", None, "2026-01-01", "20"), cell("COMPANY", None, "2026-04-01", "25"),
                                   cell("USER", "alice", "2026-01-01", "3"), cell("USER", "bob", "2026-01-01", "4"),
                                   cell("TEAM", "north", "2026-01-01", "8")])
    rows = {r["key"]: r for r in (await gql(TREE, key=KEY))["targetsPlan"]["rows"]}
    assert [(k, r["parentKey"], r["depth"], r["childKeys"]) for k, r in rows.items()] == [
        ("COMPANY", None, 0, ["TEAM:north", "USER:carl"]),
        ("TEAM:north", "COMPANY", 1, ["USER:alice", "USER:bob"]),
        ("USER:alice", "TEAM:north", 2, []), ("USER:bob", "TEAM:north", 2, []), ("USER:carl", "COMPANY", 1, [])]
    company, north, alice = rows["COMPANY"], rows["TEAM:north"], rows["USER:alice"]
    assert company["hasChildren"] and not alice["hasChildren"]
    # The company's children: the team's 8 and carl, who has no target (no plan goal).
    assert company["childrenTargets"] == ["8", "0", "0", "0"]
    assert company["targetMismatch"] == [True, True, False, False]
    assert north["childrenTargets"] == north["memberTargets"] == ["7", "0", "0", "0"]
    assert north["targetMismatch"] == [True, False, False, False]
    assert north["childrenActuals"] == [str(int(alice["actuals"][i]) + int(rows["USER:bob"]["actuals"][i]))
                                        for i in range(4)]
    assert alice["childrenTargets"] is None and alice["childrenActuals"] is None
    assert alice["targetMismatch"] == [False] * 4

    # A user in two teams sits under both (parentKey names the first); carl is now in a team.
    async with seeded.sessions() as session, session.begin():
        await ingest_batch(session, {"teams": [{"id": "south", "name": "South", "member_ids": ["bob", "carl"],
                                                "leader_ids": ["carl"]}]})
    rows = {r["key"]: r for r in (await gql(TREE, key=KEY))["targetsPlan"]["rows"]}
    assert rows["COMPANY"]["childKeys"] == ["TEAM:north", "TEAM:south"]
    assert rows["TEAM:south"]["childKeys"] == ["USER:bob", "USER:carl"]
    assert (rows["USER:bob"]["parentKey"], rows["USER:carl"]["parentKey"]) == ("TEAM:north", "TEAM:south")
    assert rows["TEAM:south"]["childrenTargets"] == ["4", "0", "0", "0"]
    assert rows["TEAM:south"]["targetMismatch"] == [False] * 4, "no own target: nothing to compare"

    # Alice leads North (without the company statistics): her team is a top row, its members under it.
    led = (await gql(TREE, key=KEY, as_user="alice"))["targetsPlan"]["rows"]
    assert [(r["key"], r["parentKey"], r["depth"], r["childKeys"]) for r in led] == [
        ("TEAM:north", None, 0, ["USER:alice", "USER:bob"]), ("USER:alice", "TEAM:north", 1, []),
        ("USER:bob", "TEAM:north", 1, [])]

    # Bob sees only his own row: it is a top row.
    mine = (await gql(TREE, key=KEY, as_user="bob"))["targetsPlan"]["rows"]
    assert [(r["key"], r["parentKey"], r["depth"], r["childKeys"]) for r in mine] == [("USER:bob", None, 0, [])]
