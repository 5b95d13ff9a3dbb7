"""The HTTP app: self-migrating embedded start, health, GraphiQL."""

from __future__ import annotations

from pathlib import Path

import httpx

from goalgraph.access.tokens import mint_token
from goalgraph.app import create_app
from goalgraph.settings import Settings


async def _client(app):  # type: ignore[no-untyped-def]
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://goalgraph.test")


async def test_embedded_default_migrates_itself_and_reports_health(tmp_path: Path) -> None:
    settings = Settings.from_env({"GOALGRAPH_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"})
    assert settings.migrate_on_start
    app = create_app(settings)
    async with app.router.lifespan_context(app), await _client(app) as client:
        health = await client.get("/healthz")
        assert health.status_code == 200
        body = health.json()
        assert body["status"] == "ok" and body["database"]["dialect"] == "sqlite"
        assert body["database"]["revision"] is not None
        page = await client.get("/graphql", headers={"accept": "text/html"})
        assert page.status_code == 200 and "graphiql" in page.text.lower()
        anonymous = (await client.post("/graphql", json={"query": "{ organisation { name } }"})).json()
        assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        token = mint_token(settings, "integration", system=True)  # secret kept beside the SQLite file
        assert (tmp_path / "fresh.db.secret").exists()
        data = (await client.post("/graphql", json={"query": "{ organisation { name } }"},
                                  headers={"authorization": f"Bearer {token}"})).json()
        assert data == {"data": {"organisation": {"name": "My organisation"}}}


async def test_health_reports_an_unreachable_database(tmp_path: Path) -> None:
    settings = Settings(database_url="postgresql+asyncpg://nobody@127.0.0.1:1/none", migrate_on_start=False,
                        jwt_secret="unreachable-test")  # a secret: without one start-up stops
    app = create_app(settings)
    async with app.router.lifespan_context(app), await _client(app) as client:
        health = await client.get("/healthz")
        assert health.status_code == 503
        assert health.json()["status"] == "unavailable"
        assert "error" in health.json()["database"]


async def test_health_on_both_databases(client) -> None:  # type: ignore[no-untyped-def]
    body = (await client.get("/healthz")).json()
    assert body["status"] == "ok"


async def test_a_built_dashboard_is_served_at_root(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><title>goalgraph dashboard</title>")
    (dist / "assets" / "app.js").write_text("console.log('hi')")
    settings = Settings.from_env({"GOALGRAPH_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'd.db'}",
                                  "GOALGRAPH_DASHBOARD_DIR": str(dist)})
    app = create_app(settings)
    async with app.router.lifespan_context(app), await _client(app) as client:
        page = await client.get("/")
        assert page.status_code == 200 and "goalgraph dashboard" in page.text
        assert (await client.get("/assets/app.js")).status_code == 200
        assert (await client.get("/healthz")).json()["status"] == "ok"
    without = create_app(Settings.from_env({"GOALGRAPH_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'e.db'}",
                                           "GOALGRAPH_DASHBOARD_DIR": str(tmp_path / "missing")}))
    async with without.router.lifespan_context(without), await _client(without) as client:
        assert (await client.get("/")).status_code == 307
