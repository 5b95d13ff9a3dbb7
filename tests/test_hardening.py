"""Unexpected failures do not leak internals; health tells an unmigrated database apart."""

from __future__ import annotations

from pathlib import Path

import httpx

from goalgraph.app import create_app
from goalgraph.runtime import open_runtime
from goalgraph.settings import Settings
from goalgraph.testing.credentials import system_token, with_credentials


async def test_unexpected_errors_are_masked_and_health_reports_unmigrated(tmp_path: Path) -> None:
    settings = with_credentials(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}",
                                         migrate_on_start=False))
    async with open_runtime(settings) as runtime:
        app = create_app(settings, runtime=runtime)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            body = (await client.post("/graphql", json={"query": "{ users { totalCount } }"},
                                      headers={"authorization": f"Bearer {system_token(settings)}"})).json()
            assert body["errors"][0]["message"] == "Internal error: see the server log."
            assert "no such table" not in str(body) and "sqlite" not in str(body).lower()
            health = await client.get("/healthz")
            assert health.status_code == 503 and health.json()["status"] == "unmigrated"


async def test_expected_query_errors_keep_their_message(gql_raw) -> None:  # type: ignore[no-untyped-def]
    body = await gql_raw("{ deals(first: -1) { totalCount } }")
    assert "first: -1" in body["errors"][0]["message"]
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_depth_and_alias_limits(gql_raw) -> None:  # type: ignore[no-untyped-def]
    deep = "{ users { nodes " + "{ teams { members " * 10 + "{ id }" + " } }" * 10 + " } }"
    body = await gql_raw(deep)
    assert "exceeds maximum operation depth" in body["errors"][0]["message"]
    aliases = "{ " + " ".join(f"a{i}: organisation {{ name }}" for i in range(40)) + " }"
    body = await gql_raw(aliases)
    assert "aliases" in body["errors"][0]["message"].lower()


async def test_body_size_limit_and_introspection_switch(settings, runtime) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    small = replace(settings, max_body_bytes=2000, introspection=False)
    app = create_app(small, runtime=replace(runtime, settings=small))
    headers = {"authorization": f"Bearer {system_token(small)}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t", headers=headers) as c:
        big = await c.post("/graphql", json={"query": "{ organisation { name } }", "variables": {"x": "y" * 5000}})
        assert big.status_code == 413 and "larger than 2000 bytes" in big.json()["errors"][0]["message"]

        async def chunks():  # type: ignore[no-untyped-def]
            for _ in range(10):
                yield b" " * 500

        streamed = await c.post("/graphql", content=chunks(), headers={"content-type": "application/json"})
        assert streamed.status_code == 413
        ok = (await c.post("/graphql", json={"query": "{ organisation { name } }"})).json()
        assert ok["data"]["organisation"]["name"]
        intro = (await c.post("/graphql", json={"query": "{ __schema { queryType { name } } }"})).json()
        assert "introspection" in intro["errors"][0]["message"].lower()
