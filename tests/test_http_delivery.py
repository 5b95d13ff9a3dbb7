"""How the HTTP app delivers: GraphiQL from the package, compression, cache headers."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import brotli
import httpx

from goalgraph.app import create_app
from goalgraph.settings import Settings


def _app(tmp_path: Path, **overrides: object):  # type: ignore[no-untyped-def]
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'g.db'}", migrate_on_start=True, **overrides)
    return create_app(settings)


class Raw:
    """A response with the body as it went over the wire (httpx would decode it)."""

    def __init__(self, response: httpx.Response, raw: bytes) -> None:
        self.status_code, self.headers, self.content = response.status_code, response.headers, raw
        self.text = raw.decode("utf-8", "replace")


async def _get(app, path: str, **headers: str) -> Raw:  # type: ignore[no-untyped-def]
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        request = c.build_request("GET", path, headers={"accept-encoding": "identity", **headers})
        response = await c.send(request, stream=True)
        raw = b"".join([chunk async for chunk in response.aiter_raw()])
        await response.aclose()
        return Raw(response, raw)


async def test_graphiql_page_and_assets_come_from_the_server(tmp_path: Path) -> None:
    app = _app(tmp_path)
    page = await _get(app, "/graphql", accept="text/html")
    assert page.status_code == 200
    html = page.text
    assert "unpkg.com" not in html and not re.search(r'(src|href)="https?://', html), "GraphiQL must not use a CDN"
    assets = re.findall(r'(?:src|href)="(/graphql/ide/[^"]+)"', html)
    assert len(assets) == 7, assets
    for path in assets:
        response = await _get(app, path)
        assert response.status_code == 200, path
        assert len(response.content) > 500, path
        assert response.headers["content-type"].split(";")[0] in {"text/javascript", "application/javascript", "text/css"}
        assert response.headers["cache-control"] == "no-cache" and "etag" in response.headers


async def test_graphiql_assets_are_not_served_when_graphiql_is_off(tmp_path: Path) -> None:
    app = _app(tmp_path, graphiql=False)
    assert (await _get(app, "/graphql/ide/graphiql.min.js")).status_code in {404, 405}


async def test_responses_are_compressed_by_accept_encoding(tmp_path: Path) -> None:
    app = _app(tmp_path)
    plain = await _get(app, "/graphql/ide/graphiql.min.js")
    assert "content-encoding" not in plain.headers
    br = await _get(app, "/graphql/ide/graphiql.min.js", **{"accept-encoding": "gzip, deflate, br"})
    assert br.headers["content-encoding"] == "br" and "accept-encoding" in br.headers["vary"].lower()
    assert brotli.decompress(br.content) == plain.content and len(br.content) < len(plain.content) / 4
    gz = await _get(app, "/graphql/ide/graphiql.min.js", **{"accept-encoding": "gzip"})
    assert gz.headers["content-encoding"] == "gzip" and gzip.decompress(gz.content) == plain.content
    refused = await _get(app, "/graphql/ide/graphiql.min.js", **{"accept-encoding": "br;q=0, gzip"})
    assert refused.headers["content-encoding"] == "gzip"
    # Small bodies are not worth compressing.
    health = await _get(app, "/healthz", **{"accept-encoding": "br"})
    assert "content-encoding" not in health.headers


async def test_graphql_answers_are_compressed_too(tmp_path: Path) -> None:
    from goalgraph.access.tokens import mint_token

    app = _app(tmp_path)
    transport = httpx.ASGITransport(app=app)
    query = "{ __schema { types { name description fields { name description } } } }"
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        token = mint_token(app.state.settings, "integration", system=True)
        request = c.build_request("POST", "/graphql", json={"query": query},
                                  headers={"accept-encoding": "gzip", "authorization": f"Bearer {token}"})
        response = await c.send(request, stream=True)
        raw = b"".join([chunk async for chunk in response.aiter_raw()])
        await response.aclose()
    assert response.status_code == 200 and response.headers["content-encoding"] == "gzip"
    assert b'"__schema"' in gzip.decompress(raw) and len(raw) < 1024 * 64


async def test_dashboard_assets_hashed_are_immutable_and_index_revalidates(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text('<div id="root"></div>' + "x" * 2000)
    (dist / "assets" / "index-Ck3BgxV-.js").write_text("console.log(1);" * 200)
    (dist / "favicon.svg").write_text("<svg/>")
    app = _app(tmp_path, dashboard_dir=str(dist))
    asset = await _get(app, "/assets/index-Ck3BgxV-.js", **{"accept-encoding": "br"})
    assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert asset.headers["content-encoding"] == "br"
    index = await _get(app, "/")
    assert index.status_code == 200 and index.headers["cache-control"] == "no-cache"
    assert (await _get(app, "/favicon.svg")).headers["cache-control"] == "no-cache"
