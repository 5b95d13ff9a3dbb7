"""Leaderboards rank users or teams by actual or attainment, with ties, direction and the viewer's sight."""

from __future__ import annotations

from decimal import Decimal

from goalgraph.progress.leaderboard import ranked
from test_goals_api import seeded  # noqa: F401 - the fixture

BOARD = """query($type: String!, $measure: String!, $on: Date, $rank: LeaderboardRank!, $who: LeaderboardEntrants!,
                 $filters: [GoalFilterInput!], $currency: String) {
  leaderboard(goalType: $type, measure: $measure, on: $on, rankBy: $rank, entrants: $who, filters: $filters,
              currency: $currency) {
    label startDate entrants lowerIsBetter
    entries { rank userId teamId name actual target ratio isViewer } } }"""
CREATE = """mutation($input: GoalInput!) { createGoal(input: $input) { __typename } }"""
D = Decimal


def test_competition_ranks_ties_direction_and_missing_values() -> None:
    items = [(D(5), "b", {"n": "b"}), (D(7), "a", {"n": "a"}), (D(5), "a", {"n": "a5"}), (None, "z", {"n": "z"}),
             (D(1), "c", {"n": "c"})]
    assert [(r, d["n"]) for r, d in ranked(items, lower_is_better=False)] == [
        (1, "a"), (2, "a5"), (2, "b"), (4, "c"), (5, "z")]
    assert [(r, d["n"]) for r, d in ranked(items, lower_is_better=True)] == [
        (1, "c"), (2, "a5"), (2, "b"), (4, "a"), (5, "z")]


async def board(gql, as_user=None, **over):  # type: ignore[no-untyped-def]
    variables = {"type": "DEALS_ADDED", "measure": "COUNT", "on": "2026-01-15", "rank": "ACTUAL", "who": "USERS", **over}
    return (await gql(BOARD, variables, **({"as_user": as_user} if as_user else {})))["leaderboard"]


async def test_ranked_by_actual_with_ties_and_filters(seeded, gql) -> None:  # type: ignore[no-untyped-def]
    january = await board(gql)
    assert (january["label"], january["startDate"], january["entrants"]) == ("2026-01", "2026-01-01", 3)
    # Alice and Bob added one deal each in January (Oslo time), Carl none: 1, 1, 3.
    assert [(e["rank"], e["userId"], e["actual"]) for e in january["entries"]] == [
        (1, "alice", "1"), (1, "bob", "1"), (3, "carl", "0")]
    renewals = await board(gql, on="2026-02-10", filters=[{"key": "pipelines", "values": ["renew"]}])
    assert [(e["rank"], e["userId"]) for e in renewals["entries"]][0] == (1, "carl")  # d3 is a renewal
    money = await board(gql, measure="VALUE", currency="EUR", on="2026-02-10")
    assert money["entries"][0]["userId"] == "carl" and money["entries"][0]["actual"] == "900.0000"  # 10000 NOK × 0.09
    teams = await board(gql, who="TEAMS")
    assert [(e["rank"], e["teamId"], e["actual"]) for e in teams["entries"]] == [(1, "north", "2")]


async def test_attainment_ranks_goals_by_ratio(seeded, gql) -> None:  # type: ignore[no-untyped-def]
    for user, target in (("alice", "1"), ("bob", "4"), ("carl", "0")):
        made = await gql(CREATE, input={"title": f"{user} adds", "goalType": "DEALS_ADDED", "measure": "COUNT",
                                        "assignee": {"kind": "USER", "id": user}, "interval": "MONTHLY",
                                        "startDate": "2026-01-01", "endDate": "2026-12-31", "targetForAll": target})
        assert made["createGoal"]["__typename"] == "GoalSuccess", made
    result = await board(gql, rank="ATTAINMENT")
    assert [(e["rank"], e["userId"], e["ratio"], e["target"]) for e in result["entries"]] == [
        (1, "alice", "1.0000", "1"), (2, "bob", "0.2500", "4"), (3, "carl", None, "0")]


async def test_a_viewer_without_rights_sees_only_their_own_rank(seeded, gql) -> None:  # type: ignore[no-untyped-def]
    carl = await board(gql, as_user="carl")
    assert carl["entrants"] == 3
    assert [(e["rank"], e["userId"], e["isViewer"]) for e in carl["entries"]] == [(3, "carl", True)]
    # Alice leads North (Alice and Bob): she sees her team's members, not Carl.
    alice = await board(gql, as_user="alice")
    assert {e["userId"] for e in alice["entries"]} == {"alice", "bob"}


async def test_bad_leaderboards_are_refused_by_name(seeded, gql_raw) -> None:  # type: ignore[no-untyped-def]
    for over, words in (({"type": "NOPE"}, "goalType: unknown goal type"),
                        ({"measure": "NOPE"}, "measure: goal type DEALS_ADDED has no measure"),
                        ({"filters": [{"key": "colour", "values": ["red"]}]}, "filters.colour"),
                        ({"type": "DEALS_PROGRESSED"}, "filters.stage: is required")):
        body = await gql_raw(BOARD, {"type": "DEALS_ADDED", "measure": "COUNT", "rank": "ACTUAL", "who": "USERS", **over})
        assert body.get("errors"), body
        assert words in body["errors"][0]["message"], body
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
