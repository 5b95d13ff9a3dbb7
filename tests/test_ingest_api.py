"""Pushing facts through the ingestFacts mutation, on SQLite and PostgreSQL."""

from __future__ import annotations

from factsets import BASE, INGEST, T0, T1, T2, deal


async def ingest(gql, **batch):  # type: ignore[no-untyped-def]
    return (await gql(INGEST, input=batch))["ingestFacts"]


async def test_base_facts_round_trip(gql) -> None:
    result = await ingest(gql, **BASE, deals=[deal()])
    assert result["__typename"] == "IngestFactsResult", result
    assert result["users"] == {"created": 3, "updated": 0, "ignored": 0}
    assert result["stages"]["created"] == 3
    assert result["deals"]["created"] == 1
    assert result["stageChangesRecorded"] == 1
    data = await gql("""{ deal(id: "d1") { title value { amount currency } owner { name teams { name } }
                        stage { name probability pipeline { name } } status stageHistory { stage { id } enteredAt } }
                        team(id: "t1") { members { id } leaders { id } } }""")
    assert data["deal"]["value"] == {"amount": "1000.5000", "currency": "EUR"}
    assert data["deal"]["owner"]["teams"] == [{"name": "North"}]
    assert data["deal"]["stage"]["pipeline"]["name"] == "New business"
    assert data["deal"]["stageHistory"] == [{"stage": {"id": "s1"}, "enteredAt": "2026-01-10T09:00:00+00:00"}]
    assert data["team"] == {"members": [{"id": "u1"}, {"id": "u2"}], "leaders": [{"id": "u1"}]}


async def test_resend_is_idempotent_and_stale_updates_are_ignored(gql) -> None:
    await ingest(gql, **BASE, deals=[deal(updatedAt=T1)])
    again = await ingest(gql, deals=[deal(updatedAt=T1)])
    assert again["deals"] == {"created": 0, "updated": 1, "ignored": 0}
    newer = await ingest(gql, deals=[deal(stageId="s2", value="2000", updatedAt=T2)])
    assert newer["deals"]["updated"] == 1 and newer["stageChangesRecorded"] == 1
    stale = await ingest(gql, deals=[deal(stageId="s3", value="5", updatedAt=T0)])
    assert stale["deals"] == {"created": 0, "updated": 0, "ignored": 1}
    assert stale["stageChangesRecorded"] == 0
    data = await gql('{ deal(id: "d1") { value { amount } stage { id } stageHistory { stage { id } } } }')
    assert data["deal"]["value"]["amount"] == "2000.0000"
    assert data["deal"]["stage"]["id"] == "s2"
    assert [h["stage"]["id"] for h in data["deal"]["stageHistory"]] == ["s1", "s2"]


async def test_rejected_batch_writes_nothing(gql) -> None:
    result = await ingest(gql, **BASE, deals=[deal(), deal("d2", ownerId="ghost")])
    assert result["__typename"] == "ValidationError"
    assert result["fieldErrors"] == [
        {"path": ["input", "deals", "1", "ownerId"], "message": "no user with id 'ghost'", "code": "UNKNOWN_REFERENCE"}
    ]
    data = await gql("{ users { totalCount } deals { totalCount } pipelines { id } }")
    assert data == {"users": {"totalCount": 0}, "deals": {"totalCount": 0}, "pipelines": []}
