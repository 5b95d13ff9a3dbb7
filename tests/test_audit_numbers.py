"""Numbers a sales team can trust: the items of the outside audit (issue 10), through the real API.

Each test states the behaviour a correct service has and fails on the code the audit ran against.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from factsets import INGEST

NOW = datetime(2026, 4, 15, 12, 0, tzinfo=timezone.utc)

CREATE = """
mutation Create($input: GoalInput!) {
  createGoal(input: $input) {
    __typename
    ... on GoalSuccess { goal { id filters { key values }
      periods { label target actual ratio status facts unconverted { currency facts }
                pace { expectedByNow projectedAtEnd } }
      summary { target actual ratio status } } }
    ... on ValidationError { message fieldErrors { path message code } }
  }
}
"""
UPDATE = """
mutation Update($id: ID!, $version: Int!, $input: GoalUpdateInput!) {
  updateGoal(id: $id, version: $version, input: $input) {
    __typename
    ... on GoalSuccess { goal { id filters { key values } } }
    ... on ValidationError { message fieldErrors { path message code } }
  }
}
"""
RATES = """
mutation($rates: [ExchangeRateInput!]!) { setExchangeRates(rates: $rates) { __typename } }
"""
USERS = [{"id": u, "name": u.title()} for u in ("alice", "bob")]
PIPELINES = [{"id": "p", "name": "P", "stages": [
    {"id": "lead", "name": "Lead", "probability": 10}, {"id": "offer", "name": "Offer", "probability": 50}]}]


@pytest.fixture
async def org(runtime, gql):  # type: ignore[no-untyped-def]
    runtime.clock = lambda: NOW

    async def setup(time_zone: str = "UTC", **facts):  # type: ignore[no-untyped-def]
        zone = await gql('mutation { updateOrganisation(input: {timeZone: "%s", defaultCurrency: "EUR"}) '
                         '{ __typename } }' % time_zone)
        assert zone["updateOrganisation"]["__typename"] == "UpdateOrganisationSuccess", zone
        batch = {"users": USERS, "pipelines": PIPELINES, **facts}
        result = (await gql(INGEST, input=batch))["ingestFacts"]
        assert result["__typename"] == "IngestFactsResult", result
        return runtime

    return setup


def goal(**over):  # type: ignore[no-untyped-def]
    base = {"title": "G", "goalType": "DEALS_WON", "measure": "VALUE", "currency": "EUR",
            "assignee": {"kind": "COMPANY"}, "interval": "MONTHLY", "startDate": "2026-01-01",
            "endDate": "2026-03-31", "targetForAll": "1000"}
    base.update(over)
    return base


def won(id_: str, value: str, currency: str, at: str, **over):  # type: ignore[no-untyped-def]
    return {"id": id_, "title": id_, "value": value, "currency": currency, "ownerId": "alice", "stageId": "offer",
            "status": "WON", "addedAt": "2026-01-02T10:00:00Z", "wonAt": at, **over}


# 1. Activity-type filters match whatever their case; a value that matches nothing is named.


async def test_activity_type_filters_match_whatever_their_case(org, gql) -> None:  # type: ignore[no-untyped-def]
    await org(activities=[
        {"id": "a1", "type": "Call", "subject": "x", "ownerId": "alice", "addedAt": "2026-02-02T10:00:00Z"},
        {"id": "a2", "type": "meeting", "subject": "x", "ownerId": "alice", "addedAt": "2026-02-03T10:00:00Z"},
        {"id": "a3", "type": "email", "subject": "x", "ownerId": "alice", "addedAt": "2026-02-04T10:00:00Z"},
    ])
    created = (await gql(CREATE, input=goal(goalType="ACTIVITIES_ADDED", measure="COUNT", currency=None,
                                            filters=[{"key": "activity_types", "values": ["CALL", "Meeting"]}])))
    created = created["createGoal"]
    assert created["__typename"] == "GoalSuccess", created
    assert created["goal"]["filters"] == [{"key": "activity_types", "values": ["call", "meeting"]}]
    assert [p["actual"] for p in created["goal"]["periods"]] == ["0", "2", "0"]
    # An update is normalised alike.
    updated = (await gql(UPDATE, id=created["goal"]["id"], version=1,
                         input={"filters": [{"key": "activity_types", "values": [" EMAIL "]}]}))["updateGoal"]
    assert updated["goal"]["filters"] == [{"key": "activity_types", "values": ["email"]}], updated
    # The activities list matches the same way.
    listed = await gql('{ activities(filter: { type: " CALL " }) { totalCount } }')
    assert listed["activities"]["totalCount"] == 1


@pytest.mark.parametrize(("goal_type", "filters", "path", "words"), [
    ("ACTIVITIES_ADDED", [{"key": "activity_types", "values": ["  "]}], "activityTypes", "at least one value"),
    # Dimension values are the CRM's texts as they are: one that is no element is named, not measured as 0.
    ("DEALS_WON", [{"key": "sale_type", "values": ["new business"]}], "saleType", "not an element"),
    ("DEALS_WON", [{"key": "pipelines", "values": ["P"]}], "pipelines", "no pipeline with id 'P'"),
])
async def test_a_filter_value_that_matches_nothing_is_refused(org, gql, goal_type, filters, path, words) -> None:  # type: ignore[no-untyped-def]
    await org()
    result = (await gql(CREATE, input=goal(goalType=goal_type, measure="COUNT", currency=None,
                                           filters=filters)))["createGoal"]
    assert result["__typename"] == "ValidationError", result
    assert any(e["path"][1:] == ["filters", path] and words in e["message"]
               for e in result["fieldErrors"]), result["fieldErrors"]


async def test_unknown_reference_filter_values_are_refused_on_update(org, gql) -> None:  # type: ignore[no-untyped-def]
    await org()
    gid = (await gql(CREATE, input=goal()))["createGoal"]["goal"]["id"]
    result = (await gql(UPDATE, id=gid, version=1,
                        input={"filters": [{"key": "pipelines", "values": ["P"]}]}))["updateGoal"]
    assert result["__typename"] == "ValidationError", result
    assert any(e["path"][1:] == ["filters", "pipelines"] and e["code"] == "UNKNOWN_REFERENCE"
               for e in result["fieldErrors"]), result["fieldErrors"]


# 2. The exchange rate in force is the one on the fact's local date.


async def test_rate_follows_the_local_date_that_places_the_fact(org, gql) -> None:  # type: ignore[no-untyped-def]
    # 31 March 22:00 UTC is 1 April (00:00) in Stockholm: an April fact, converted at April's rate.
    await org("Europe/Stockholm", deals=[won("d1", "1000", "SEK", "2026-03-31T22:00:00Z"),
                                         won("d2", "1000", "SEK", "2026-03-31T21:59:59Z")])
    rates = await gql(RATES, rates=[
        {"currency": "SEK", "quoteCurrency": "EUR", "rate": "0.1", "validFrom": "2026-03-01"},
        {"currency": "SEK", "quoteCurrency": "EUR", "rate": "0.2", "validFrom": "2026-04-01"},
    ])
    assert rates["setExchangeRates"]["__typename"] == "SetExchangeRatesSuccess", rates
    periods = (await gql(CREATE, input=goal(startDate="2026-03-01", endDate="2026-04-30")))["createGoal"]["goal"]["periods"]
    assert [(p["label"], p["actual"]) for p in periods] == [("2026-03", "100.0000"), ("2026-04", "200.0000")]


async def test_rate_follows_the_local_date_west_of_utc(org, gql) -> None:  # type: ignore[no-untyped-def]
    # 1 April 03:00 UTC is still 31 March in New York: March's rate, though the UTC date has April's.
    await org("America/New_York", deals=[won("d1", "1000", "SEK", "2026-04-01T03:00:00Z")])
    await gql(RATES, rates=[
        {"currency": "SEK", "quoteCurrency": "EUR", "rate": "0.1", "validFrom": "2026-03-01"},
        {"currency": "SEK", "quoteCurrency": "EUR", "rate": "0.2", "validFrom": "2026-04-01"},
    ])
    periods = (await gql(CREATE, input=goal(startDate="2026-03-01", endDate="2026-04-30")))["createGoal"]["goal"]["periods"]
    assert [(p["label"], p["actual"]) for p in periods] == [("2026-03", "100.0000"), ("2026-04", "0.0000")]


# 3. `facts` is the number of facts in `actual`; unconverted facts are only under `unconverted`.


async def test_facts_count_only_what_the_actual_is_made_of(org, gql) -> None:  # type: ignore[no-untyped-def]
    await org(deals=[won("d1", "100", "EUR", "2026-02-02T10:00:00Z"), won("d2", "200", "EUR", "2026-02-03T10:00:00Z"),
                     won("d3", "300", "NOK", "2026-02-04T10:00:00Z")])
    created = (await gql(CREATE, input=goal()))["createGoal"]["goal"]
    feb = created["periods"][1]
    assert (feb["actual"], feb["facts"], feb["unconverted"]) == ("300.0000", 2, [{"currency": "NOK", "facts": 1}])
    drill = await gql('{ goal(id: "%s") { periods(from: "2026-02-01", to: "2026-02-01") { '
                      'contributions { totalCount nodes { amount deal { id } } } } } }' % created["id"])
    page = drill["goal"]["periods"][0]["contributions"]
    # The drill-down lists every fact behind the period, the unconverted one with a null amount.
    assert page["totalCount"] == 3
    assert sorted((n["deal"]["id"], n["amount"]) for n in page["nodes"]) == [
        ("d1", "100.0000"), ("d2", "200.0000"), ("d3", None)]


# 8. Zero targets: ratio null, ACHIEVED (never EXCEEDED), pace expects 0 — in periods and summaries alike.


async def test_zero_targets_have_no_percentage_and_are_achieved(org, gql) -> None:  # type: ignore[no-untyped-def]
    await org(deals=[won("d1", "20", "EUR", "2026-01-05T10:00:00Z"), won("d2", "80000", "EUR", "2026-02-02T10:00:00Z")])
    closed = (await gql(CREATE, input=goal(targetForAll="0")))["createGoal"]["goal"]
    assert [(p["ratio"], p["status"]) for p in closed["periods"]] == [(None, "ACHIEVED")] * 3
    assert closed["summary"] == {"target": "0.0000", "actual": "80020.0000", "ratio": None, "status": "ACHIEVED"}
    running = (await gql(CREATE, input=goal(targetForAll="0", startDate="2026-04-01", endDate=None)))["createGoal"]["goal"]
    april = running["periods"][0]
    assert (april["ratio"], april["status"], april["pace"]["expectedByNow"]) == (None, "ACHIEVED", "0.0000")
    assert running["summary"]["status"] == "ACHIEVED" and running["summary"]["ratio"] is None
    exceeded = await gql("{ goals(filter: {status: EXCEEDED}) { totalCount } }")
    assert exceeded["goals"]["totalCount"] == 0
    ordered = await gql("{ goals(orderBy: PROGRESS_DESC) { nodes { id } } }")
    assert len(ordered["goals"]["nodes"]) == 2


async def test_a_zero_target_period_adds_its_actual_to_the_span(org, gql) -> None:  # type: ignore[no-untyped-def]
    """How the audit's "15985 %" arose: the summary is the span's actual over the span's target; a period
    with target 0 adds its €80,000 but no target, so against January's €500.47 the span stands at 159.89 ×
    (EXCEEDED) while February itself has no ratio and is ACHIEVED. Not a division by zero."""
    await org(deals=[won("d1", "20", "EUR", "2026-01-05T10:00:00Z"), won("d2", "80000", "EUR", "2026-02-02T10:00:00Z")])
    seasonal = (await gql(CREATE, input=goal(targetForAll=None, periodTargets=[
        {"periodStart": "2026-01-01", "target": "500.47"}, {"periodStart": "2026-02-01", "target": "0"},
        {"periodStart": "2026-03-01", "target": "0"}])))["createGoal"]["goal"]
    assert [(p["ratio"], p["status"]) for p in seasonal["periods"]] == [
        ("0.0400", "MISSED"), (None, "ACHIEVED"), (None, "ACHIEVED")]
    assert seasonal["summary"] == {"target": "500.4700", "actual": "80020.0000", "ratio": "159.8897",
                                   "status": "EXCEEDED"}


# 7. Drill-down pages by the fact's own key: a deal entering a stage twice is listed twice, paged or not.

DRILL = """
query($id: ID!, $first: Int!, $after: String) { goal(id: $id) { periods(from: "2026-02-01", to: "2026-02-01") {
  actual facts contributions(first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } nodes { occurredAt deal { id } } } } } }
"""


async def drill_all(gql, gid: str, first: int) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    seen, after = [], None
    for _ in range(10):
        page = (await gql(DRILL, id=gid, first=first, after=after))["goal"]["periods"][0]["contributions"]
        seen += [(n["deal"]["id"], n["occurredAt"]) for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            return seen
        after = page["pageInfo"]["endCursor"]
    raise AssertionError("paging does not end")


async def test_drill_down_paging_keeps_every_stage_entry(org, gql) -> None:  # type: ignore[no-untyped-def]
    deal = lambda id_, at, history: {  # noqa: E731
        "id": id_, "title": id_, "value": "10", "currency": "EUR", "ownerId": "alice", "stageId": "offer",
        "addedAt": at, "stageHistory": history}
    await org(deals=[
        # d1 enters Offer on 2 Feb, falls back to Lead, enters Offer again on 9 Feb; d2 once in between.
        deal("d1", "2026-02-02T10:00:00Z", [{"stageId": "lead", "enteredAt": "2026-02-05T10:00:00Z"},
                                            {"stageId": "offer", "enteredAt": "2026-02-09T10:00:00Z"}]),
        deal("d2", "2026-02-03T10:00:00Z", []),
    ])
    gid = (await gql(CREATE, input=goal(goalType="DEALS_PROGRESSED", measure="COUNT", currency=None,
                                        filters=[{"key": "stage", "values": ["offer"]}])))["createGoal"]["goal"]["id"]
    one_page = await drill_all(gql, gid, 50)
    assert sorted(one_page) == [("d1", "2026-02-02T10:00:00+00:00"), ("d1", "2026-02-09T10:00:00+00:00"),
                                ("d2", "2026-02-03T10:00:00+00:00")]
    assert await drill_all(gql, gid, 1) == one_page
    assert await drill_all(gql, gid, 2) == one_page


# 10. A contribution's fact follows the visibility of every fact read: hidden, its deal is null.


async def test_drill_down_redacts_a_deal_the_viewer_may_not_see(org, gql) -> None:  # type: ignore[no-untyped-def]
    deal = {"id": "d1", "title": "Secret", "value": "10", "currency": "EUR", "ownerId": "alice", "stageId": "offer",
            "addedAt": "2026-02-02T10:00:00Z", "updatedAt": "2026-02-02T10:00:00Z"}
    await org(deals=[deal])
    # Handed to bob later: alice keeps the credit for entering Offer, but may no longer see the deal.
    moved = await gql(INGEST, input={"deals": [{**deal, "ownerId": "bob", "updatedAt": "2026-03-01T10:00:00Z"}]})
    assert moved["ingestFacts"]["deals"]["updated"] == 1, moved
    gid = (await gql(CREATE, input=goal(goalType="DEALS_PROGRESSED", measure="VALUE", assignee={"kind": "USER", "id": "alice"},
                                        filters=[{"key": "stage", "values": ["offer"]}])))["createGoal"]["goal"]["id"]
    query = ('{ deal(id: "d1") { id } goal(id: "%s") { periods(from: "2026-02-01", to: "2026-02-01") { actual '
             'contributions { totalCount nodes { amount occurredAt deal { id title owner { id } } } } } } }' % gid)
    mine = await gql(query, as_user="alice")
    assert mine["deal"] is None
    feb = mine["goal"]["periods"][0]
    assert feb["actual"] == "10.0000" and feb["contributions"]["totalCount"] == 1
    assert feb["contributions"]["nodes"] == [{"amount": "10.0000", "occurredAt": "2026-02-02T10:00:00+00:00", "deal": None}]
    # Who may see the deal gets it.
    admin = await gql(query)
    assert admin["goal"]["periods"][0]["contributions"]["nodes"][0]["deal"] == {
        "id": "d1", "title": "Secret", "owner": {"id": "bob"}}


# 9. Stage.dealCount / dealValues: open deals by default — and the docs say so.


async def test_stage_totals_default_to_open_deals_as_documented(org, gql) -> None:  # type: ignore[no-untyped-def]
    stage_deal = lambda id_, status, value: {  # noqa: E731
        "id": id_, "title": id_, "value": value, "currency": "EUR", "ownerId": "alice", "stageId": "offer",
        "status": status, "addedAt": "2026-02-02T10:00:00Z",
        **({"wonAt": "2026-02-03T10:00:00Z"} if status == "WON" else {}),
        **({"lostAt": "2026-02-03T10:00:00Z"} if status == "LOST" else {})}
    await org(deals=[stage_deal("d1", "OPEN", "10"), stage_deal("d2", "WON", "20"), stage_deal("d3", "LOST", "40")])
    data = await gql('{ pipelines { stages { id dealCount dealValues { amount } all: dealCount(status: null) '
                     'allValues: dealValues(status: null) { amount } won: dealCount(status: WON) } } }')
    offer = next(s for s in data["pipelines"][0]["stages"] if s["id"] == "offer")
    assert offer == {"id": "offer", "dealCount": 1, "dealValues": [{"amount": "10.0000"}], "all": 3,
                     "allValues": [{"amount": "70.0000"}], "won": 1}
    from pathlib import Path

    docs = Path(__file__).parent.parent / "docs"
    for name in ("getting-started.md", "graphql.md"):
        text = " ".join((docs / name).read_text().split())
        assert "open deals" in text or "**open** deals" in text, name
        for wrong in ("cover **every deal whose current stage this is, whatever its status**",
                      "count every deal currently in the stage, won and lost ones included",
                      "`dealValues` includes won and lost deals"):
            assert wrong not in text, (name, wrong)
