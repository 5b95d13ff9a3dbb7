"""Helpers for plugin authors' tests (the ``register_plugin`` and ``seed_facts`` fixtures use them).

* :func:`plugins_with` — the installed plugins plus plugin objects of your own, as the service
  would load them. An extra plugin whose name (or module) matches an installed entry point
  *replaces* it, so a plugin's tests can register the code under test even when the plugin is
  also installed.
* :func:`plugin_app` — an opened runtime and an HTTP client on the real ASGI app, built with
  those plugins, on a database migrated with their migrations (``goalgraph_register_migrations``).
* :func:`seed_facts` — ingest a raw batch of CRM facts (snake_case keys, the shape of
  :func:`goalgraph.ingest.batch.ingest_batch`) in one transaction.

Outside pytest they work the same; inside, prefer the fixtures in :mod:`goalgraph.testing.fixtures`.
"""

from __future__ import annotations

import types
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from goalgraph.db.migrate import upgrade
from goalgraph.plugins import ENTRY_POINT_GROUP, Plugins, load_plugins
from goalgraph.runtime import Runtime, open_runtime
from goalgraph.settings import Settings

if TYPE_CHECKING:
    from goalgraph.ingest.upsert import IngestSummary

__all__ = ["PluginApp", "graphql", "graphql_raw", "plugin_app", "plugins_with", "seed_facts"]

#: A plugin to register: ``(name, object)``, or the object alone (a module or an instance).
PluginSpec = Any


def _installed() -> list[EntryPoint]:
    return list(entry_points(group=ENTRY_POINT_GROUP))


def _name_of(spec: PluginSpec, installed: Sequence[EntryPoint]) -> tuple[str, Any]:
    if isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[0], str):
        return spec[0], spec[1]
    if isinstance(spec, types.ModuleType):
        same = next((ep for ep in installed if ep.value == spec.__name__), None)
        return (same.name if same is not None else spec.__name__), spec
    return type(spec).__name__, spec


def plugins_with(*extra: PluginSpec, strict: bool = True) -> Plugins:
    """The installed plugins plus ``extra``, loaded as the service loads them.

    Each extra is ``(name, plugin)`` or a plugin alone: a module (named like the installed entry
    point pointing at it, else after the module) or an object with ``@hookimpl`` methods (named
    after its class). An extra named like an installed entry point, or the very module an installed
    entry point loads, replaces that entry point. Raises :class:`goalgraph.plugins.PluginError` on
    duplicate keys, and in strict mode (the default) on any plugin that fails to load.
    """
    installed = _installed()
    named = [_name_of(spec, installed) for spec in extra]
    replaced_names = {name for name, _ in named}
    replaced_modules = {obj.__name__ for _, obj in named if isinstance(obj, types.ModuleType)}
    kept = [ep for ep in installed if ep.name not in replaced_names and ep.value not in replaced_modules]
    return load_plugins(strict=strict, entry_points_=kept, extra=named)


def _auth_headers(settings: Settings, as_user: str | None, token: Any) -> dict[str, str]:
    if token is ...:
        from goalgraph.testing.credentials import system_token, user_token

        token = user_token(settings, as_user) if as_user else system_token(settings)
    return {"authorization": f"Bearer {token}"} if token else {}


async def graphql_raw(
    client: httpx.AsyncClient, query: str, variables: Mapping[str, Any] | None = None, *,
    headers: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """POST a GraphQL operation to ``/graphql``; the whole JSON response (``data`` and ``errors``)."""
    response = await client.post("/graphql", json={"query": query, "variables": dict(variables) if variables else None},
                                 headers=dict(headers or {}))
    return response.json()


async def graphql(
    client: httpx.AsyncClient, query: str, variables: Mapping[str, Any] | None = None, *,
    headers: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """POST a GraphQL operation and return ``data``; raises ``AssertionError`` on GraphQL errors."""
    body = await graphql_raw(client, query, variables, headers=headers)
    assert "errors" not in body, body["errors"]
    return body["data"]


@dataclass
class PluginApp:
    """A running goalgraph with the plugins asked for: its runtime, an HTTP client, and the plugins.

    ``gql``/``gql_raw`` authenticate like the ``gql`` fixture: a service token, a user's token with
    ``as_user="<CRM id>"``, or ``token=...`` (``None`` sends no Authorization header).
    """

    runtime: Runtime
    client: httpx.AsyncClient
    plugins: Plugins

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        """Database sessions on the app's database (``async with app.sessions() as s, s.begin(): …``)."""
        return self.runtime.sessions

    async def gql_raw(self, query: str, variables: Mapping[str, Any] | None = None, *, as_user: str | None = None,
                      token: Any = ..., **kw: Any) -> dict[str, Any]:
        """The whole JSON response of a GraphQL operation. Variables as a dict or as keywords."""
        headers = _auth_headers(self.runtime.settings, as_user, token)
        return await graphql_raw(self.client, query, variables or kw or None, headers=headers)

    async def gql(self, query: str, variables: Mapping[str, Any] | None = None, *, as_user: str | None = None,
                  token: Any = ..., **kw: Any) -> dict[str, Any]:
        """``data`` of a GraphQL operation; fails on GraphQL errors."""
        body = await self.gql_raw(query, variables, as_user=as_user, token=token, **kw)
        assert "errors" not in body, body["errors"]
        return body["data"]

    async def ingest(self, batch: Mapping[str, Any], *, received_at: datetime | None = None) -> "IngestSummary":
        """Write facts of any kind (``{"quotes": [...]}``, snake_case keys) through the core's fact pipeline in a
        transaction of its own, as ``ingestFacts`` does: stale marks, announcements, the facts-ingested hook.
        A bad batch raises :class:`goalgraph.errors.IngestRejected` naming every problem, and writes nothing."""
        from goalgraph.ingest.batch import apply_batch

        return await apply_batch(self.runtime, batch, received_at=received_at)


@asynccontextmanager
async def plugin_app(settings: Settings, *extra: PluginSpec, strict: bool | None = None) -> AsyncIterator[PluginApp]:
    """Open goalgraph on ``settings``' database with the installed plugins plus ``extra``.

    The database is migrated first with the core's and every one of these plugins' migrations
    (so a plugin under test that owns tables gets them even when it is not installed).
    """
    plugins = plugins_with(*extra, strict=settings.strict_plugins if strict is None else strict)
    from goalgraph.app import create_app

    async with open_runtime(settings, migrate=False, plugins=plugins) as runtime:
        await upgrade(runtime.engine, plugins=plugins)
        app = create_app(settings, runtime=runtime)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://goalgraph.test") as client:
                yield PluginApp(runtime=runtime, client=client, plugins=plugins)


async def seed_facts(
    sessions: async_sessionmaker[AsyncSession],
    batch: Mapping[str, Sequence[Mapping[str, Any]] | None] | None = None,
    *,
    received_at: datetime | None = None,
    **kinds: Sequence[Mapping[str, Any]],
) -> "IngestSummary":
    """Ingest CRM facts in one committed transaction; returns the created/updated/ignored counts.

    ``batch`` maps ``users``, ``teams``, ``pipelines`` (with ``stages``), ``deals`` and
    ``activities`` to lists of facts with snake_case keys (``owner_id``, ``added_at`` …); the same
    lists may be given as keywords. A bad batch raises
    :class:`goalgraph.errors.IngestRejected` naming every problem, and writes nothing.
    """
    from goalgraph.ingest.batch import ingest_batch

    raw: dict[str, Any] = dict(batch or {})
    raw.update(kinds)
    async with sessions() as session, session.begin():
        return await ingest_batch(session, raw, received_at=received_at)
