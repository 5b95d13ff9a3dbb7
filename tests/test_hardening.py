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


# --- query cost (issue 10 item 13) -----------------------------------------------------------------

ATTACK = "{ " + " ".join(
    f"a{i}: goals(first: 500) {{ nodes {{ periods {{ contributions(first: 500) {{ nodes {{ amount "
    "deal { stageHistory { enteredAt owner { teams { members { id name } } } } } } } } } }"
    for i in range(30)) + " }"


async def test_costly_query_is_refused_before_it_runs(gql_raw) -> None:  # type: ignore[no-untyped-def]
    import time

    started = time.perf_counter()
    body = await gql_raw(ATTACK, as_user="nobody")
    elapsed = time.perf_counter() - started
    error = body["errors"][0]
    assert error["extensions"]["code"] == "QUERY_TOO_COSTLY", body
    assert error["extensions"]["limit"] == 200_000 and error["extensions"]["cost"] > 200_000
    assert "first" in error["message"] and body.get("data") is None
    assert elapsed < 2, elapsed
    one = "{ goals(first: 500) { nodes { periods { contributions(first: 500) { nodes { amount } } } } } }"
    assert (await gql_raw(one))["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"


async def test_cost_follows_first_from_variables_and_defaults(gql_raw) -> None:  # type: ignore[no-untyped-def]
    query = "query($n: Int!) { goals(first: $n) { nodes { periods { contributions(first: $n) { nodes { amount } } } } } }"
    assert (await gql_raw(query, n=500))["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"
    assert "errors" not in await gql_raw(query, n=20)
    assert "errors" not in await gql_raw("{ users { nodes { teams { members { id } } } } }")  # 50 × 10 × 10


async def test_cost_limit_setting(settings, runtime) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    assert Settings.from_env({"GOALGRAPH_MAX_QUERY_COST": "1000"}).max_query_cost == 1000
    assert Settings.from_env({"GOALGRAPH_MAX_QUERY_COST": ""}).max_query_cost == 200_000
    for limit, refused in ((100, True), (0, False)):
        small = replace(settings, max_query_cost=limit)
        app = create_app(small, runtime=replace(runtime, settings=small))
        headers = {"authorization": f"Bearer {system_token(small)}"}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t", headers=headers) as c:
            body = (await c.post("/graphql", json={"query": "{ users(first: 200) { nodes { id } } }"})).json()
            assert ("errors" in body and body["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY") is refused, body


def test_dashboard_operations_and_introspection_stay_under_the_default_limit() -> None:
    """Every operation of the example dashboard, with the largest variables it sends, and GraphiQL's introspection."""
    import re

    from graphql import get_introspection_query, parse

    from goalgraph.graphql.cost import estimate_cost
    from goalgraph.graphql.schema import build_schema

    source = (Path(__file__).resolve().parents[1] / "examples/dashboard/src/api/operations.ts").read_text()
    blocks = re.findall(r"graphql\(`(.*?)`\)", source, re.S)
    fragments = [b for b in blocks if b.strip().startswith("fragment")]
    operations = [b for b in blocks if not b.strip().startswith("fragment")]
    assert len(operations) >= 8
    schema = build_schema()._schema
    limit = Settings().max_query_cost
    variables = {"first": 100, "goalIds": ["1"], "id": "1", "from": "2026-01-01", "to": "2026-12-31"}
    costs = {}
    for op in operations:
        document = parse(op + "\n".join(fragments))  # unused fragments do not count
        name = re.search(r"(?:query|mutation|subscription) (\w+)", op).group(1)
        costs[name] = estimate_cost(schema, document, None, variables, max_page_size=500, limit=limit)
    assert max(costs.values()) < limit / 4, costs
    intro = estimate_cost(schema, parse(get_introspection_query()), None, None, max_page_size=500, limit=limit)
    assert intro < limit, intro


def test_answers_always_encode() -> None:
    """The safety net behind the input rules: what orjson refuses (big ints, lone surrogates) still encodes."""
    import json

    from goalgraph.app import GoalgraphGraphQL

    view = GoalgraphGraphQL.__new__(GoalgraphGraphQL)
    assert json.loads(view.encode_json({"n": 2**70, "s": "\ud800"})) == {"n": 2**70, "s": "\ud800"}
    assert view.encode_json({"a": 1}) == '{"a":1}'


async def test_a_nested_session_use_fails_fast_instead_of_hanging(runtime) -> None:  # type: ignore[no-untyped-def]
    """ctx.db() inside ctx.db() by one task would wait for itself forever (a hung request); it raises."""
    import pytest

    from goalgraph.graphql.context import Context

    ctx = Context(runtime=runtime)
    async with ctx.db():
        with pytest.raises(RuntimeError, match="inside Context.db"):
            await ctx.today()  # the same task: fails at once (before the fix it hung)
    assert await ctx.today()  # usable again afterwards
    await ctx.close()
