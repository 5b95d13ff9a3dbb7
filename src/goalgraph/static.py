"""Static files with cache headers: the built dashboard and the bundled GraphiQL page.

Content-hashed build outputs (``assets/index-Ck3BgxV-.js``) never change under their name, so they are
cached for a year as immutable; everything else (``index.html``, GraphiQL's assets, which change only
with a goalgraph release) is revalidated by ETag.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles

#: Vite's output names: ``name-<8+ url-safe base64 chars>.ext`` under ``assets/``.
_HASHED = re.compile(r"(^|/)assets/[^/]+-[A-Za-z0-9_-]{8,}\.[a-z0-9]+$")
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"

#: GraphiQL's page and assets, shipped in the package so /graphql works without internet.
GRAPHIQL_DIR = Path(__file__).resolve().parent / "graphql" / "ide"


class CachedStaticFiles(StaticFiles):
    """``StaticFiles`` that marks hashed assets immutable and asks browsers to revalidate the rest."""

    def file_response(self, full_path: Any, stat_result: Any, scope: Any, status_code: int = 200) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        relative = str(scope.get("path", "")).lstrip("/")
        response.headers["cache-control"] = IMMUTABLE if _HASHED.search(relative) else REVALIDATE
        return response


@cache
def graphiql_html() -> str:
    """The GraphiQL page, loading React and GraphiQL from ``/graphql/ide/`` (see scripts/vendor-graphiql.sh)."""
    return (GRAPHIQL_DIR / "index.html").read_text(encoding="utf-8")


def graphiql_response() -> HTMLResponse:
    return HTMLResponse(graphiql_html(), headers={"cache-control": REVALIDATE})
