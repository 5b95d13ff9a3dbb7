"""Every kind of bad input gets an error naming the field, and nothing of the batch is written."""

from __future__ import annotations

import pytest

from factsets import BASE, INGEST, T0, deal


async def _counts(gql) -> dict:  # type: ignore[no-untyped-def]
    return await gql("{ users { totalCount } deals { totalCount } activities { totalCount } }")


BAD_DEALS = [
    ({"value": "-5"}, "value", "INVALID", "negative"),
    ({"value": "1e15"}, "value", "INVALID", "larger than the largest accepted amount"),
    ({"value": "12.345678"}, "value", "INVALID", "more than 4 decimal places"),
    ({"cost": "-1"}, "cost", "INVALID", "negative"),
    ({"currency": "XYZ"}, "currency", "UNKNOWN_CURRENCY", "not an ISO 4217 currency code"),
    ({"currency": "eur1"}, "currency", "UNKNOWN_CURRENCY", "not an ISO 4217"),
    ({"ownerId": "nobody"}, "ownerId", "UNKNOWN_REFERENCE", "no user with id 'nobody'"),
    ({"stageId": "nostage"}, "stageId", "UNKNOWN_REFERENCE", "no stage with id 'nostage'"),
    ({"pipelineId": "nopipe"}, "pipelineId", "UNKNOWN_REFERENCE", "no pipeline with id 'nopipe'"),
    ({"addedAt": "1901-01-01T00:00:00Z"}, "addedAt", "INVALID", "outside the accepted range"),
    ({"status": "WON"}, "wonAt", "REQUIRED", "required when status is WON"),
    ({"status": "LOST"}, "lostAt", "REQUIRED", "required when status is LOST"),
    ({"status": "WON", "wonAt": "2025-01-01T00:00:00Z"}, "wonAt", "INVALID", "before added_at"),
    ({"title": "   "}, "title", "REQUIRED", "is required"),
    ({"title": "x" * 301}, "title", "INVALID", "at most 300"),
    ({"id": "i" * 129}, "id", "INVALID", "at most 128"),
    ({"attributes": ["not", "an", "object"]}, "attributes", "INVALID", "must be an object"),
    ({"attributes": {"nested": {"a": 1}}}, "attributes", "INVALID", "string, number or boolean"),
    ({"expectedCloseDate": "2300-01-01"}, "expectedCloseDate", "INVALID", "outside the accepted range"),
]


@pytest.mark.parametrize(("override", "field", "code", "words"), BAD_DEALS, ids=[b[1] + ":" + b[3][:20] for b in BAD_DEALS])
async def test_bad_deal_refuses_the_whole_batch(gql, override, field, code, words) -> None:  # type: ignore[no-untyped-def]
    result = (await gql(INGEST, input={**BASE, "deals": [deal("ok"), {**deal("bad"), **override}]}))["ingestFacts"]
    assert result["__typename"] == "ValidationError", result
    assert result["code"] == "VALIDATION"
    matching = [e for e in result["fieldErrors"] if e["path"] == ["input", "deals", "1", field]]
    assert matching, result["fieldErrors"]
    assert matching[0]["code"] == code
    assert words in matching[0]["message"]
    assert field in result["message"]
    assert await _counts(gql) == {"users": {"totalCount": 0}, "deals": {"totalCount": 0}, "activities": {"totalCount": 0}}


async def test_stage_of_another_pipeline_is_refused(gql) -> None:  # type: ignore[no-untyped-def]
    pipelines = BASE["pipelines"] + [{"id": "p2", "name": "Renewals", "stages": [{"id": "r1", "name": "Due", "probability": 50}]}]
    result = (await gql(INGEST, input={**BASE, "pipelines": pipelines, "deals": [deal(pipelineId="p2")]}))["ingestFacts"]
    assert result["fieldErrors"][0]["path"] == ["input", "deals", "0", "stageId"]
    assert "is not in pipeline 'p2'" in result["fieldErrors"][0]["message"]


async def test_bad_team_member_and_activity_references(gql) -> None:  # type: ignore[no-untyped-def]
    bad = {
        **BASE,
        "teams": [{"id": "t9", "name": "Ghosts", "memberIds": ["u1", "ghost"], "leaderIds": ["boss"]}],
        "activities": [{"id": "a1", "type": "call", "ownerId": "u1", "dealId": "nodeal", "addedAt": T0}],
    }
    result = (await gql(INGEST, input=bad))["ingestFacts"]
    paths = {tuple(e["path"]): e["message"] for e in result["fieldErrors"]}
    assert paths[("input", "teams", "0", "memberIds")] == "no user with id 'ghost'"
    assert paths[("input", "teams", "0", "leaderIds")] == "no user with id 'boss'"
    assert paths[("input", "activities", "0", "dealId")] == "no deal with id 'nodeal'"
    assert (await _counts(gql))["users"]["totalCount"] == 0


async def test_invalid_stage_probability_and_activity_dates(gql) -> None:  # type: ignore[no-untyped-def]
    bad = {
        "users": BASE["users"],
        "pipelines": [{"id": "p", "name": "P", "stages": [{"id": "s", "name": "S", "probability": 140}]}],
        "activities": [{"id": "a", "type": "call", "ownerId": "u1", "addedAt": T0, "doneAt": "2020-01-01T00:00:00Z"}],
    }
    result = (await gql(INGEST, input=bad))["ingestFacts"]
    paths = {tuple(e["path"]): e["message"] for e in result["fieldErrors"]}
    assert paths[("input", "pipelines", "0", "stages", "0", "probability")] == "140 is outside 0–100"
    assert "before added_at" in paths[("input", "activities", "0", "doneAt")]


async def test_graphql_level_errors_name_the_problem(gql_raw) -> None:  # type: ignore[no-untyped-def]
    body = await gql_raw("{ deals { totalCount ")
    assert "Syntax Error" in body["errors"][0]["message"]
    body = await gql_raw(INGEST, input={"deals": [deal(value="abc")]})
    assert "value" in body["errors"][0]["message"] and "Decimal" in body["errors"][0]["message"]
    body = await gql_raw(INGEST, input={"deals": [deal(addedAt="yesterday")]})
    assert "addedAt" in body["errors"][0]["message"]
    body = await gql_raw(INGEST, input={"deals": [deal(status="MAYBE")]})
    assert "status" in body["errors"][0]["message"] and "MAYBE" in body["errors"][0]["message"]
    body = await gql_raw("{ nosuchfield }")
    assert "Cannot query field 'nosuchfield'" in body["errors"][0]["message"]


async def test_page_size_cap_and_bad_cursor(gql_raw) -> None:  # type: ignore[no-untyped-def]
    body = await gql_raw("{ deals(first: 100000) { totalCount } }")
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "page size cap" in body["errors"][0]["message"]
    body = await gql_raw('{ deals(after: "garbage") { totalCount } }')
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_oversized_batch_is_refused(gql) -> None:  # type: ignore[no-untyped-def]
    users = [{"id": f"u{i}", "name": f"U{i}"} for i in range(5001)]
    result = (await gql(INGEST, input={"users": users}))["ingestFacts"]
    assert result["__typename"] == "ValidationError"
    assert "at most 5000" in result["message"]
    assert (await _counts(gql))["users"]["totalCount"] == 0


async def test_duplicate_ids_in_one_batch_keep_the_newest(gql) -> None:  # type: ignore[no-untyped-def]
    result = (await gql(INGEST, input={**BASE, "deals": [
        deal(value="3", updatedAt="2026-02-01T00:00:00Z"),
        deal(value="1", updatedAt="2026-01-15T00:00:00Z"),
    ]}))["ingestFacts"]
    assert result["deals"] == {"created": 1, "updated": 0, "ignored": 1}
    assert (await gql('{ deal(id: "d1") { value { amount } } }'))["deal"]["value"]["amount"] == "3.0000"
