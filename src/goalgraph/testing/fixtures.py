"""pytest fixtures (a pytest plugin, loaded through the ``pytest11`` entry point).

* ``db_kind`` — ``sqlite`` and ``postgres``: every test using the fixtures below runs on both.
  PostgreSQL tests skip when the server is down, except with ``CI=true``, where they fail.
* ``settings`` — Settings for a fresh, migrated, isolated database.
* ``runtime`` — an opened :class:`goalgraph.runtime.Runtime` on it.
* ``client`` — an ``httpx.AsyncClient`` talking to the real ASGI app.
* ``gql`` — ``await gql(query, **variables)`` returning ``data`` and failing on errors.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from goalgraph.app import create_app
from goalgraph.runtime import Runtime, open_runtime
from goalgraph.settings import Settings
from goalgraph.testing.databases import fresh_database, postgres_available

_pg_state: dict[str, str | None] = {}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_kind(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
async def settings(db_kind: str, tmp_path: Any) -> AsyncIterator[Settings]:
    if db_kind == "postgres":
        if "reason" not in _pg_state:
            _pg_state["reason"] = await postgres_available()
        reason = _pg_state["reason"]
        if reason is not None:
            if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
                pytest.fail(f"PostgreSQL is required in CI but unavailable: {reason}")
            pytest.skip(f"PostgreSQL unavailable: {reason}")
    async with fresh_database(db_kind, tmp_path) as s:
        yield s


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    async with open_runtime(settings, migrate=True) as rt:
        yield rt


@pytest.fixture
async def client(settings: Settings, runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, runtime=runtime)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://goalgraph.test") as c:
            yield c


GQL = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
def gql_raw(client: httpx.AsyncClient) -> Callable[..., Awaitable[dict[str, Any]]]:
    """POST a GraphQL operation; returns the whole JSON response (data and errors)."""

    async def run(query: str, variables: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
        response = await client.post("/graphql", json={"query": query, "variables": variables or kw or None})
        return response.json()

    return run


@pytest.fixture
def gql(gql_raw: Callable[..., Awaitable[dict[str, Any]]]) -> GQL:
    """POST a GraphQL operation and return ``data``; fails the test on GraphQL errors."""

    async def run(query: str, variables: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
        body = await gql_raw(query, variables, **kw)
        assert "errors" not in body, body["errors"]
        return body["data"]

    return run
