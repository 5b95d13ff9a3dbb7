"""Organisation settings are stored and readable through GraphQL."""

from __future__ import annotations

ORG = "{ organisation { name defaultCurrency timeZone weekStart fiscalYearStartMonth updatedAt } }"
UPDATE = """
mutation Update($input: OrganisationInput!) {
  updateOrganisation(input: $input) {
    __typename
    ... on UpdateOrganisationSuccess { organisation { name defaultCurrency timeZone weekStart fiscalYearStartMonth } }
    ... on ValidationError { message fieldErrors { path message code } }
  }
}
"""


async def test_defaults_then_update(gql) -> None:  # type: ignore[no-untyped-def]
    assert (await gql(ORG))["organisation"] == {
        "name": "My organisation", "defaultCurrency": "EUR", "timeZone": "UTC", "weekStart": "MONDAY",
        "fiscalYearStartMonth": 1, "updatedAt": None,
    }
    result = (await gql(UPDATE, input={"name": "Nordlys AS", "defaultCurrency": "NOK", "timeZone": "Europe/Oslo",
                                       "weekStart": "SUNDAY", "fiscalYearStartMonth": 4}))["updateOrganisation"]
    assert result["organisation"] == {"name": "Nordlys AS", "defaultCurrency": "NOK", "timeZone": "Europe/Oslo",
                                      "weekStart": "SUNDAY", "fiscalYearStartMonth": 4}
    partial = (await gql(UPDATE, input={"name": "Nordlys Software AS"}))["updateOrganisation"]
    assert partial["organisation"]["timeZone"] == "Europe/Oslo"
    stored = (await gql(ORG))["organisation"]
    assert stored["name"] == "Nordlys Software AS" and stored["updatedAt"] is not None


async def test_invalid_settings_are_refused_and_nothing_changes(gql) -> None:  # type: ignore[no-untyped-def]
    result = (await gql(UPDATE, input={"defaultCurrency": "ABC", "timeZone": "Mars/Olympus",
                                       "fiscalYearStartMonth": 13, "name": "Changed"}))["updateOrganisation"]
    assert result["__typename"] == "ValidationError"
    paths = {e["path"][-1]: e["message"] for e in result["fieldErrors"]}
    assert set(paths) == {"defaultCurrency", "timeZone", "fiscalYearStartMonth"}
    assert "Mars/Olympus" in paths["timeZone"]
    assert (await gql(ORG))["organisation"]["name"] == "My organisation"


# --- Changes that move period bounds or conversions drop the frozen results they affect ------------------------

from datetime import datetime, timezone  # noqa: E402

from factsets import INGEST  # noqa: E402

LATER = datetime(2026, 6, 15, 12, 0, tzinfo=timezone.utc)
CREATE = """mutation($i: GoalInput!) { createGoal(input: $i) { __typename ... on GoalSuccess { goal { id } } } }"""
PERIODS = """query($id: ID!) { goal(id: $id) { periods { startDate endDate actual snapshotTakenAt }
  summary { actual } } }"""
RATES = """mutation($r: [ExchangeRateInput!]!) { setExchangeRates(rates: $r) { __typename } }"""


def _added(id_: str, at: str, **over: str) -> dict:
    return {"id": id_, "title": id_, "value": "1", "currency": "EUR", "ownerId": "anna", "stageId": "s",
            "addedAt": at, **over}


async def _setup(runtime, gql, deals: list[dict], **goal: object) -> str:  # type: ignore[no-untyped-def]
    runtime.clock = lambda: LATER
    batch = {"users": [{"id": "anna", "name": "Anna"}],
             "pipelines": [{"id": "p", "name": "P", "stages": [{"id": "s", "name": "S", "probability": 10}]}],
             "deals": deals}
    assert (await gql(INGEST, input=batch))["ingestFacts"]["__typename"] == "IngestFactsResult"
    created = await gql(CREATE, i={"title": "g", "goalType": "DEALS_ADDED", "measure": "COUNT", "targetForAll": "10",
                                   "assignee": {"kind": "USER", "id": "anna"}, **goal})
    return created["createGoal"]["goal"]["id"]


async def _read(gql, goal_id: str) -> dict:  # type: ignore[no-untyped-def]
    """The goal's periods once the progress store has caught up with every change."""
    await gql.runtime.recompute.settled()
    return (await gql(PERIODS, id=goal_id))["goal"]


async def _periods(gql, goal_id: str) -> tuple[list[tuple[str, str, str]], str]:  # type: ignore[no-untyped-def]
    goal = await _read(gql, goal_id)
    assert all(p["snapshotTakenAt"] for p in goal["periods"]), "closed periods are frozen"
    return [(p["startDate"], p["endDate"], p["actual"]) for p in goal["periods"]], goal["summary"]["actual"]


async def test_fiscal_start_change_drops_frozen_results(runtime, gql) -> None:  # type: ignore[no-untyped-def]
    goal_id = await _setup(runtime, gql, [_added(f"d{m}", f"2024-0{m}-10T12:00:00Z") for m in (6, 7, 8)],
                           interval="YEARLY", fiscal=True, startDate="2024-01-01", endDate="2025-12-31")
    assert await _periods(gql, goal_id) == ([("2024-01-01", "2024-12-31", "3"), ("2025-01-01", "2025-12-31", "0")], "3")
    assert (await gql(UPDATE, input={"fiscalYearStartMonth": 4}))["updateOrganisation"]["__typename"] \
        == "UpdateOrganisationSuccess"
    assert await _periods(gql, goal_id) == ([("2024-01-01", "2024-03-31", "0"), ("2024-04-01", "2025-03-31", "3"),
                                             ("2025-04-01", "2025-12-31", "0")], "3")


async def test_time_zone_and_week_start_changes_drop_frozen_results(runtime, gql) -> None:  # type: ignore[no-untyped-def]
    # Sunday 31 May 20:00 UTC is Monday 1 June 08:00 in Auckland.
    goal_id = await _setup(runtime, gql, [_added("d1", "2026-05-31T20:00:00Z")],
                           interval="WEEKLY", startDate="2026-05-25", endDate="2026-06-07")
    assert (await _periods(gql, goal_id))[0] == [("2026-05-25", "2026-05-31", "1"), ("2026-06-01", "2026-06-07", "0")]
    await gql(UPDATE, input={"timeZone": "Pacific/Auckland"})
    assert (await _periods(gql, goal_id))[0] == [("2026-05-25", "2026-05-31", "0"), ("2026-06-01", "2026-06-07", "1")]
    # Weeks from Sunday: 31 May (Sunday) in Auckland is 1 June, the second week's start is 31 May.
    await gql(UPDATE, input={"timeZone": "UTC", "weekStart": "SUNDAY"})
    assert (await _periods(gql, goal_id))[0] == [("2026-05-25", "2026-05-30", "0"), ("2026-05-31", "2026-06-06", "1"),
                                                 ("2026-06-07", "2026-06-07", "0")]
    # A change that moves no bounds keeps them.
    before = (await _read(gql, goal_id))["periods"]
    runtime.clock = lambda: LATER.replace(day=16)
    await gql(UPDATE, input={"name": "Renamed", "weekStart": "SUNDAY"})
    assert (await _read(gql, goal_id))["periods"] == before


async def test_rate_change_drops_frozen_money_results_from_its_day(runtime, gql) -> None:  # type: ignore[no-untyped-def]
    won = [_added(f"d{m}", f"2025-0{m}-05T12:00:00Z", currency="SEK", value="1000", status="WON",
                  wonAt=f"2025-0{m}-10T12:00:00Z") for m in (1, 2, 3)]
    goal_id = await _setup(runtime, gql, won, goalType="DEALS_WON", measure="VALUE", currency="EUR",
                           interval="MONTHLY", startDate="2025-01-01", endDate="2025-03-31")
    count = await _setup(runtime, gql, [], interval="MONTHLY", startDate="2025-01-01", endDate="2025-03-31")
    sek = {"currency": "SEK", "quoteCurrency": "EUR", "validFrom": "2025-01-01"}
    assert (await gql(RATES, r=[{**sek, "rate": "0.1"}]))["setExchangeRates"]["__typename"] == "SetExchangeRatesSuccess"
    first = (await _read(gql, goal_id))["periods"]
    assert [p["actual"] for p in first] == ["100.0000", "100.0000", "100.0000"]
    counted = (await _read(gql, count))["periods"]
    runtime.clock = lambda: LATER.replace(day=16)
    await gql(RATES, r=[{**sek, "rate": "0.1"}])  # unchanged: nothing moves, nothing dropped
    assert (await _read(gql, goal_id))["periods"] == first
    await gql(RATES, r=[{**sek, "rate": "0.2", "validFrom": "2025-03-01"}])
    after = (await _read(gql, goal_id))["periods"]
    assert [p["actual"] for p in after] == ["100.0000", "100.0000", "200.0000"]
    assert after[0] == first[0], "January ended before the new rate: still frozen"
    assert after[2]["snapshotTakenAt"] != first[2]["snapshotTakenAt"]
    assert (await _read(gql, count))["periods"] == counted, "counts do not depend on rates"
