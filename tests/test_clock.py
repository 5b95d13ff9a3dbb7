""""Today" is the organisation's local date, decided in one place (goalgraph.clock), by everything."""

from __future__ import annotations

from datetime import datetime, timezone

from factsets import INGEST
from goalgraph import clock
from goalgraph.organisation import OrganisationSettings
from goalgraph.periods import Calendar

#: 01:00 on 1 April 2026 in Auckland (NZDT, UTC+13) — still 31 March in UTC.
NOW = datetime(2026, 3, 31, 12, 0, tzinfo=timezone.utc)

CREATE = """mutation($i: GoalInput!) { createGoal(input: $i) { __typename ... on GoalSuccess { goal { id } } } }"""
GOALS = """query($f: GoalFilter) { goals(filter: $f) { nodes { title } } }"""


def test_today_is_the_local_date() -> None:
    assert clock.today(OrganisationSettings(time_zone="Pacific/Auckland"), NOW).isoformat() == "2026-04-01"
    assert clock.today(Calendar("America/New_York"), NOW).isoformat() == "2026-03-31"
    assert clock.today(OrganisationSettings(), NOW).isoformat() == "2026-03-31"
    assert clock.now().tzinfo is not None


async def _auckland(runtime, gql) -> dict[str, str]:  # type: ignore[no-untyped-def]
    runtime.clock = lambda: NOW
    await gql('mutation { updateOrganisation(input: {timeZone: "Pacific/Auckland"}) { __typename } }')
    batch = {"users": [{"id": "anna", "name": "Anna"}],
             "pipelines": [{"id": "p", "name": "P", "stages": [{"id": "s", "name": "S", "probability": 10}]}],
             # 00:30 on 1 April in Auckland.
             "deals": [{"id": "d1", "title": "d1", "value": "1", "currency": "EUR", "ownerId": "anna", "stageId": "s",
                        "addedAt": "2026-03-31T11:30:00Z"}]}
    assert (await gql(INGEST, input=batch))["ingestFacts"]["__typename"] == "IngestFactsResult"
    ids = {}
    for title, start, end in (("running", "2026-01-01", None), ("april", "2026-04-01", "2026-04-30"),
                              ("march", "2026-03-01", "2026-03-31")):
        created = await gql(CREATE, i={"title": title, "goalType": "DEALS_ADDED", "measure": "COUNT",
                                       "interval": "MONTHLY", "startDate": start, "endDate": end, "targetForAll": "1",
                                       "assignee": {"kind": "USER", "id": "anna"}})
        ids[title] = created["createGoal"]["goal"]["id"]
    return ids


async def test_current_period_early_on_the_first_in_auckland(runtime, gql) -> None:  # type: ignore[no-untyped-def]
    ids = await _auckland(runtime, gql)
    data = await gql('{ goal(id: "%s") { currentPeriod { label actual status } periods { label isCurrent } } }'
                     % ids["running"])
    assert data["goal"]["currentPeriod"] == {"label": "2026-04", "actual": "1", "status": "ACHIEVED"}
    assert data["goal"]["periods"][-1] == {"label": "2026-04", "isCurrent": True}
    april = await gql('{ goal(id: "%s") { currentPeriod { label } } }' % ids["april"])
    assert april["goal"]["currentPeriod"] == {"label": "2026-04"}
    march = await gql('{ goal(id: "%s") { currentPeriod { label } } }' % ids["march"])
    assert march["goal"]["currentPeriod"] is None


async def test_goal_lists_and_status_watch_agree_on_today(runtime, gql) -> None:  # type: ignore[no-untyped-def]
    await runtime.recompute.stop()  # the status watch is called by hand below, not by the worker's rounds
    ids = await _auckland(runtime, gql)
    titles = {}
    for timeframe in ("ACTIVE", "PAST", "FUTURE"):
        data = await gql(GOALS, f={"timeframe": timeframe})
        titles[timeframe] = sorted(n["title"] for n in data["goals"]["nodes"])
    assert titles == {"ACTIVE": ["april", "running"], "PAST": ["march"], "FUTURE": []}
    # The status watch measures the same current periods: April's, achieved by the deal of 1 April.
    changes = await runtime.status_watch.check(None)
    assert sorted(changes) == sorted([(int(ids["running"]), 3, "IN_PROGRESS", "ACHIEVED"),
                                      (int(ids["april"]), 0, "IN_PROGRESS", "ACHIEVED")])
