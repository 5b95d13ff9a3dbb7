"""Goal hierarchies: parents and children that measure the same, sums and mismatch flags, cascading down."""

from __future__ import annotations

from test_goals_api import seeded  # noqa: F401 - the fixture

CREATE = """mutation($input: GoalInput!) { createGoal(input: $input) {
  __typename ... on GoalSuccess { goal { id version } } ... on ValidationError { fieldErrors { path message } } } }"""
CASCADE = """mutation($id: ID!, $split: CascadeSplit!, $level: CascadeLevel!, $shares: [CascadeShareInput!]) {
  cascadeGoal(id: $id, split: $split, level: $level, shares: $shares) {
    __typename ... on CascadeSuccess { children { id target assignee { user { id } team { id } } parent { id } } }
    ... on ValidationError { fieldErrors { path message } } ... on ForbiddenError { message } } }"""
TREE = """query($id: ID!) { goal(id: $id) { hierarchy { targetMismatch children { id }
  periods { startDate target childrenTarget actual childrenActual targetMismatch } } } }"""
UPDATE = """mutation($id: ID!, $version: Int!, $input: GoalUpdateInput!) { updateGoal(id: $id, version: $version, input: $input) {
  __typename } }"""
VERSION = "query($id: ID!) { goal(id: $id) { version } }"


def goal(**over):  # type: ignore[no-untyped-def]
    base = {"title": "Deals added", "goalType": "DEALS_ADDED", "measure": "COUNT", "interval": "MONTHLY",
            "startDate": "2026-01-01", "endDate": "2026-03-31", "targetForAll": "10", "assignee": {"kind": "COMPANY"}}
    return {**base, **over}


async def test_cascade_evenly_to_users_then_flag_a_mismatch(seeded, gql) -> None:  # type: ignore[no-untyped-def]
    parent = (await gql(CREATE, input=goal()))["createGoal"]["goal"]["id"]
    done = (await gql(CASCADE, id=parent, split="EVEN", level="USERS"))["cascadeGoal"]
    assert done["__typename"] == "CascadeSuccess", done
    targets = {c["assignee"]["user"]["id"]: c["target"] for c in done["children"]}
    assert targets == {"alice": "3.3334", "bob": "3.3333", "carl": "3.3333"}  # adds up to 10 exactly
    assert {c["parent"]["id"] for c in done["children"]} == {parent}
    tree = (await gql(TREE, id=parent))["goal"]["hierarchy"]
    assert len(tree["children"]) == 3 and tree["targetMismatch"] is False
    jan = tree["periods"][0]
    assert (jan["target"], jan["childrenTarget"], jan["actual"], jan["childrenActual"]) == ("10", "10", "2", "2")
    # Again: the same children are updated, not duplicated.
    again = (await gql(CASCADE, id=parent, split="EVEN", level="USERS"))["cascadeGoal"]
    assert sorted(c["id"] for c in again["children"]) == sorted(c["id"] for c in done["children"])
    # A child's own change makes the sums differ: flagged, allowed.
    alice = next(c["id"] for c in done["children"] if c["assignee"]["user"]["id"] == "alice")
    version = (await gql(VERSION, id=alice))["goal"]["version"]
    assert (await gql(UPDATE, id=alice, version=version, input={"targetForAll": "5"}))["updateGoal"]["__typename"] == "GoalSuccess"
    assert (await gql(TREE, id=parent))["goal"]["hierarchy"]["targetMismatch"] is True


async def test_team_goals_cascade_to_members_by_shares_and_last_year(seeded, gql) -> None:  # type: ignore[no-untyped-def]
    team = (await gql(CREATE, input=goal(assignee={"kind": "TEAM", "id": "north"}, targetForAll="100")))["createGoal"]["goal"]["id"]
    shares = [{"assigneeId": "alice", "share": "30"}, {"assigneeId": "bob", "share": "70"}]
    done = (await gql(CASCADE, id=team, split="SHARES", level="TEAMS", shares=shares))["cascadeGoal"]
    assert {c["assignee"]["user"]["id"]: c["target"] for c in done["children"]} == {"alice": "30", "bob": "70"}
    stranger = (await gql(CASCADE, id=team, split="SHARES", level="TEAMS",
                          shares=[{"assigneeId": "carl", "share": "1"}]))["cascadeGoal"]
    assert stranger["__typename"] == "ValidationError" and "carl" in stranger["fieldErrors"][0]["message"]
    # Nothing a year earlier: LAST_YEAR splits evenly.
    even = (await gql(CASCADE, id=team, split="LAST_YEAR", level="TEAMS"))["cascadeGoal"]
    assert {c["target"] for c in even["children"]} == {"50"}


async def test_children_must_measure_what_their_parent_measures(seeded, gql) -> None:  # type: ignore[no-untyped-def]
    parent = (await gql(CREATE, input=goal()))["createGoal"]["goal"]["id"]
    for over, words in (({"measure": "VALUE", "currency": "EUR"}, "measure"),
                        ({"interval": "QUARTERLY"}, "interval"),
                        ({"filters": [{"key": "pipelines", "values": ["sales"]}]}, "filters"),
                        ({"assignee": {"kind": "COMPANY"}}, "team or user goals")):
        refused = (await gql(CREATE, input=goal(**{"parentId": parent, "assignee": {"kind": "USER", "id": "alice"},
                                                   **over})))["createGoal"]
        assert refused["__typename"] == "ValidationError", (over, refused)
        assert refused["fieldErrors"][0]["path"] == ["input", "parentId"] and words in refused["fieldErrors"][0]["message"]
    team = (await gql(CREATE, input=goal(assignee={"kind": "TEAM", "id": "north"})))["createGoal"]["goal"]["id"]
    outsider = (await gql(CREATE, input=goal(parentId=team, assignee={"kind": "USER", "id": "carl"})))["createGoal"]
    assert "not a member" in outsider["fieldErrors"][0]["message"]
    unknown = (await gql(CREATE, input=goal(parentId="999999", assignee={"kind": "USER", "id": "alice"})))["createGoal"]
    assert "no goal with id" in unknown["fieldErrors"][0]["message"]
    ok = (await gql(CREATE, input=goal(parentId=team, assignee={"kind": "USER", "id": "alice"})))["createGoal"]
    assert ok["__typename"] == "GoalSuccess"
    # A goal cannot become its own ancestor.
    version = (await gql(VERSION, id=team))["goal"]["version"]
    loop = await gql(UPDATE, id=team, version=version, input={"parentId": ok["goal"]["id"]})
    assert loop["updateGoal"]["__typename"] == "ValidationError"


async def test_a_cascade_one_may_not_complete_changes_nothing(seeded, gql) -> None:  # type: ignore[no-untyped-def]
    """Alice leads North but lacks the statistics rights to set Bob's goal: the cascade is refused as a whole."""
    team = (await gql(CREATE, input=goal(assignee={"kind": "TEAM", "id": "north"})))["createGoal"]["goal"]["id"]
    refused = (await gql(CASCADE, id=team, split="EVEN", level="TEAMS", as_user="alice"))["cascadeGoal"]
    assert refused["__typename"] == "ForbiddenError", refused
    assert (await gql(TREE, id=team))["goal"]["hierarchy"] is None  # not even Alice's own child was kept
