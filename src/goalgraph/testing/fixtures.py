"""pytest fixtures (a pytest plugin, loaded through the ``pytest11`` entry point).

* ``db_kind`` — ``sqlite`` and ``postgres``: every test using the fixtures below runs on both.
  PostgreSQL tests skip when the server is down, except with ``CI=true``, where they fail.
* ``settings`` — Settings for a fresh, migrated, isolated database.
* ``runtime`` — an opened :class:`goalgraph.runtime.Runtime` on it.
* ``client`` — an ``httpx.AsyncClient`` talking to the real ASGI app.
* ``gql`` — ``await gql(query, **variables)`` returning ``data`` and failing on errors.

For plugin authors (helpers in :mod:`goalgraph.testing.plugin_helpers`):

* ``register_plugin`` — ``app = await register_plugin(MyPlugin())`` (or ``("name", obj)``, or a
  module) opens goalgraph on the test's fresh database with the installed plugins plus yours, for
  this test only; the database is migrated with your plugin's migrations too. ``app.gql``,
  ``app.gql_raw``, ``app.client``, ``app.runtime`` and ``app.sessions`` talk to it. A plugin named
  like an installed one (or the very module an installed entry point loads) replaces it.
* ``seed_facts`` — ``await seed_facts({"users": [...], "deals": [...]})`` (or keywords
  ``users=[...]``) ingests CRM facts with snake_case keys into the test's database in one
  transaction. The database must be migrated first: request ``runtime``/``client``/``gql``, or
  call ``register_plugin`` before seeding.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest

from goalgraph.app import create_app
from goalgraph.testing import plugin_helpers
from goalgraph.runtime import Runtime, open_runtime
from goalgraph.settings import Settings
from goalgraph.testing.credentials import system_token, user_token
from goalgraph.testing.databases import fresh_database, migrated_postgres, migrated_sqlite, postgres_available

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
    # A copy of a database migrated once per session (the upgrade below then finds it at head).
    await migrated_sqlite(settings)
    await migrated_postgres(settings)
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
def gql_raw(client: httpx.AsyncClient, settings: Settings, runtime: Runtime) -> Callable[..., Awaitable[dict[str, Any]]]:
    """POST a GraphQL operation; returns the whole JSON response (data and errors).

    Sent with a service token unless ``as_user="<CRM id>"`` (a user's token) or ``token=…`` is given
    (``token=None`` sends no Authorization header). ``gql_raw.runtime`` is the app's runtime
    (``await gql.runtime.recompute.settled()`` waits until the progress store is fresh).
    """

    async def run(query: str, variables: dict[str, Any] | None = None, *, as_user: str | None = None,
                  token: Any = ..., **kw: Any) -> dict[str, Any]:
        if token is ...:
            token = user_token(settings, as_user) if as_user else system_token(settings)
        headers = {"authorization": f"Bearer {token}"} if token else {}
        response = await client.post("/graphql", json={"query": query, "variables": variables or kw or None},
                                     headers=headers)
        return response.json()

    run.runtime = runtime  # type: ignore[attr-defined]
    return run


@pytest.fixture
def gql(gql_raw: Callable[..., Awaitable[dict[str, Any]]]) -> GQL:
    """POST a GraphQL operation and return ``data``; fails the test on GraphQL errors."""

    async def run(query: str, variables: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
        body = await gql_raw(query, variables, **kw)
        assert "errors" not in body, body["errors"]
        return body["data"]

    run.runtime = gql_raw.runtime  # type: ignore[attr-defined]
    return run


@pytest.fixture
async def register_plugin(settings: Settings) -> AsyncIterator[Callable[..., Awaitable[plugin_helpers.PluginApp]]]:
    """``await register_plugin(plugin, ...)`` → a :class:`~goalgraph.testing.plugin_helpers.PluginApp`."""
    async with AsyncExitStack() as stack:

        async def register(*plugins: Any, strict: bool | None = None) -> plugin_helpers.PluginApp:
            return await stack.enter_async_context(plugin_helpers.plugin_app(settings, *plugins, strict=strict))

        yield register


@pytest.fixture
async def seed_facts(settings: Settings) -> AsyncIterator[Callable[..., Awaitable[Any]]]:
    """``await seed_facts(batch)`` ingests a snake_case batch of CRM facts; returns the counts."""
    from goalgraph.db.session import create_engine, create_session_factory

    engine = None

    async def seed(batch: Any = None, *, received_at: Any = None, **kinds: Any) -> Any:
        nonlocal engine
        if engine is None:
            engine = create_engine(settings)
        return await plugin_helpers.seed_facts(create_session_factory(engine), batch, received_at=received_at, **kinds)

    try:
        yield seed
    finally:
        if engine is not None:
            await engine.dispose()
