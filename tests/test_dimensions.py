"""Custom dimensions: listed with elements, admin-managed, filtering goals and splitting them per element."""

from __future__ import annotations

import copy
from datetime import datetime, timezone

import pytest
from sqlalchemy import delete, event

from factsets import ENGINE_BATCH
from goalgraph.db.models import StoredProgress
from goalgraph.ingest.batch import ingest_batch
from test_goals_api import CREATE, won_value

SALE_TYPES = {"d1": "New business", "d2": "Upsell", "d3": "New business", "d4": "Partner"}
ELEMENTS = """
mutation Set($key: String!, $elements: [String!]!) {
  setDimensionElements(key: $key, elements: $elements) {
    __typename ... on SetDimensionElementsSuccess { elements } ... on ValidationError { fieldErrors { path message } }
  }
}
"""


@pytest.fixture
async def seeded(runtime, gql):  # type: ignore[no-untyped-def]
    runtime.clock = lambda: datetime(2026, 4, 15, 12, tzinfo=timezone.utc)
    batch = copy.deepcopy(ENGINE_BATCH)
    for deal in batch["deals"]:
        deal["attributes"] = {"sale_type": SALE_TYPES[deal["id"]], "company_category": "SMB"}
    async with runtime.sessions() as session, session.begin():
        await ingest_batch(session, batch)
    await gql('mutation { updateOrganisation(input: {timeZone: "Europe/Oslo"}) { __typename } }')
    return runtime


async def test_dimensions_are_listed_and_admins_add_elements(seeded, gql) -> None:  # type: ignore[no-untyped-def]
    dims = {d["key"]: d for d in (await gql("{ dimensions { key label attribute appliesTo elements customElements plugin } }"))["dimensions"]}
    assert dims["sale_type"]["elements"] == ["New business", "Upsell", "Renewal"]
    assert dims["sale_type"]["plugin"] == "dimensions" and dims["sale_type"]["appliesTo"] == ["DEAL", "ACTIVITY"]
    saved = (await gql(ELEMENTS, key="sale_type", elements=["Partner", "Upsell"]))["setDimensionElements"]
    assert saved == {"__typename": "SetDimensionElementsSuccess", "elements": ["New business", "Upsell", "Renewal", "Partner"]}
    bad = (await gql(ELEMENTS, key="colour", elements=["x", "x", " "]))["setDimensionElements"]
    messages = {tuple(e["path"]): e["message"] for e in bad["fieldErrors"]}
    assert "'colour' is not a dimension" in messages[("key",)]
    assert messages[("elements", "1")] == "'x' is listed twice" and "1–200" in messages[("elements", "2")]
    types = {t["key"]: t for t in (await gql("{ goalTypes { key filters { key dimension } } }"))["goalTypes"]}
    assert {"key": "sale_type", "dimension": "sale_type"} in types["DEALS_WON"]["filters"]


async def test_dimension_filter_narrows_a_goal(seeded, gql) -> None:  # type: ignore[no-untyped-def]
    result = (await gql(CREATE, input=won_value(goalType="DEALS_ADDED", measure="COUNT", currency=None,
                                                filters=[{"key": "sale_type", "values": ["New business"]}])))
    goal = result["createGoal"]["goal"]
    assert [p["actual"] for p in goal["periods"]] == ["1", "1", "0"]
    assert goal["filters"] == [{"key": "sale_type", "values": ["New business"]}]
    refused = (await gql(CREATE, input=won_value(filters=[{"key": "sale_type", "values": ["Barter"]}])))["createGoal"]
    assert "'Barter' is not an element of dimension sale_type" in refused["fieldErrors"][0]["message"]


SPLIT_FIELDS = "id splitBy elementTargets { element target } periods { label target actual elements { element target actual facts ratio status } }"


async def test_split_goal_has_targets_and_actuals_per_element(seeded, gql) -> None:  # type: ignore[no-untyped-def]
    query = CREATE.replace("id title version", SPLIT_FIELDS + " title version", 1)
    result = (await gql(query, input=won_value(
        goalType="DEALS_ADDED", measure="COUNT", currency=None, targetForAll=None, splitBy="sale_type",
        elementTargets=[{"element": "New business", "target": "2"}, {"element": "Upsell", "target": "1"}],
    )))["createGoal"]
    assert result["__typename"] == "GoalSuccess", result
    goal = result["goal"]
    assert goal["splitBy"] == "sale_type"
    assert goal["elementTargets"] == [{"element": "New business", "target": "2"}, {"element": "Upsell", "target": "1"}]
    jan, feb = goal["periods"][0], goal["periods"][1]
    assert jan["target"] == "3" and jan["actual"] == "2"
    assert jan["elements"] == [
        {"element": "New business", "target": "2", "actual": "1", "facts": 1, "ratio": "0.5000", "status": "MISSED"},
        {"element": "Upsell", "target": "1", "actual": "1", "facts": 1, "ratio": "1.0000", "status": "ACHIEVED"},
    ]
    assert [(e["element"], e["actual"], e["target"]) for e in feb["elements"]] == [
        ("New business", "1", "2"), ("Upsell", "0", "1"), ("Partner", "1", None)]
    again = await gql('{ goal(id: "%s") { periods { elements { element actual } contributions { nodes { element deal { id } } } } } }' % goal["id"])
    assert again["goal"]["periods"][0]["elements"][0] == {"element": "New business", "actual": "1"}, "snapshots keep elements"
    assert again["goal"]["periods"][0]["contributions"]["nodes"] == [
        {"element": "New business", "deal": {"id": "d1"}}, {"element": "Upsell", "deal": {"id": "d2"}}]


@pytest.mark.parametrize(("over", "field", "words"), [
    ({"splitBy": "colour", "elementTargets": [{"element": "x", "target": "1"}]}, "splitBy", "cannot be split by 'colour'"),
    ({"splitBy": "sale_type", "elementTargets": [{"element": "Barter", "target": "1"}]}, "elementTargets", "not an element"),
    ({"elementTargets": [{"element": "Upsell", "target": "1"}]}, "elementTargets", "need splitBy"),
    ({"splitBy": "sale_type"}, "elementTargets", "at least one element"),
    ({"splitBy": "sale_type", "elementTargets": [{"element": "Upsell", "target": "1"}],
      "periodTargets": [{"periodStart": "2026-01-01", "target": "1"}]}, "periodTargets", "not per period"),
])
async def test_invalid_splits_are_refused(seeded, gql, over, field, words) -> None:  # type: ignore[no-untyped-def]
    result = (await gql(CREATE, input=won_value(**over)))["createGoal"]
    assert result["__typename"] == "ValidationError", result
    assert any(e["path"][1] == field and words in e["message"] for e in result["fieldErrors"]), result["fieldErrors"]


async def test_split_goals_share_the_batched_statement(seeded, gql) -> None:  # type: ignore[no-untyped-def]
    for i in range(5):
        await gql(CREATE, input=won_value(title=f"plain {i}", goalType="DEALS_ADDED", measure="COUNT", currency=None,
                                          endDate=None))
        await gql(CREATE, input=won_value(title=f"split {i}", goalType="DEALS_ADDED", measure="COUNT", currency=None,
                                          endDate=None, targetForAll=None, splitBy="company_category",
                                          elementTargets=[{"element": "SMB", "target": "1"}]))
    # The recompute worker's rounds run statements of their own: stop it and run them here, before counting.
    await seeded.recompute.stop()
    await seeded.recompute.settled()
    statements: list[str] = []
    listener = lambda *a: statements.append(a[2])  # noqa: E731
    event.listen(seeded.engine.sync_engine, "before_cursor_execute", listener)
    try:
        await gql("{ goals { nodes { periods(from: \"2026-04-01\") { actual elements { actual } } } } }")
    finally:
        event.remove(seeded.engine.sync_engine, "before_cursor_execute", listener)
    # The store holds the periods from April on: no aggregate at all; measured in the request, one for all.
    assert len([s for s in statements if "GROUP BY" in s]) == 0, [s[:300] for s in statements if "GROUP BY" in s]
    async with seeded.sessions() as session, session.begin():
        await session.execute(delete(StoredProgress))
    statements.clear()
    event.listen(seeded.engine.sync_engine, "before_cursor_execute", listener)
    try:
        await gql("{ goals { nodes { periods(from: \"2026-04-01\") { actual elements { actual } } } } }")
    finally:
        event.remove(seeded.engine.sync_engine, "before_cursor_execute", listener)
    assert len([s for s in statements if "GROUP BY" in s]) == 1, [s[:300] for s in statements if "GROUP BY" in s]


async def test_adding_elements_needs_the_custom_dimensions_feature(seeded, settings, gql) -> None:  # type: ignore[no-untyped-def]
    from test_licences import client_with

    query = ELEMENTS.replace("... on ValidationError", "... on LicenceRequiredError { code feature } ... on ValidationError")
    async with client_with(settings, seeded, licence=None) as free:
        refused = (await free(query, key="sale_type", elements=["Partner"]))["setDimensionElements"]
        assert refused == {"__typename": "LicenceRequiredError", "code": "LICENCE_REQUIRED", "feature": "CUSTOM_DIMENSIONS"}
        dims = {d["key"]: d for d in (await free("{ dimensions { key customElements } }"))["dimensions"]}
        assert dims["sale_type"]["customElements"] == []
    await gql('mutation { setFeatureEnabled(key: "CUSTOM_DIMENSIONS", enabled: false) { __typename } }')
    off = (await gql(query, key="sale_type", elements=["Partner"]))["setDimensionElements"]
    assert off["feature"] == "CUSTOM_DIMENSIONS"
