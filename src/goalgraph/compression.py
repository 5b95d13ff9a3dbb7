"""Response compression (an ASGI middleware): brotli where the client accepts it, else gzip.

Starlette's GZip responder does the buffering and header work; brotli reuses it with another
compressor. Small bodies, already-encoded bodies and binary media stay as they are; websockets pass
through untouched.
"""

from __future__ import annotations

import brotli
from starlette.datastructures import Headers
from starlette.middleware.gzip import GZipResponder, IdentityResponder
from starlette.types import ASGIApp, Receive, Scope, Send

#: Bodies smaller than this go out as they are (compression would not pay for its headers).
MINIMUM_SIZE = 1024
#: Moderate levels: responses are compressed per request, so CPU matters more than the last percent.
GZIP_LEVEL = 6
BROTLI_QUALITY = 5


class BrotliResponder(IdentityResponder):
    """Starlette's responder with a brotli stream instead of gzip."""

    content_encoding = "br"

    def __init__(self, app: ASGIApp, minimum_size: int) -> None:
        super().__init__(app, minimum_size)
        self._compressor: brotli.Compressor | None = None

    async def apply_compression(self, body: bytes, *, more_body: bool) -> bytes:
        if self._compressor is None:
            self._compressor = brotli.Compressor(quality=BROTLI_QUALITY)
        out = self._compressor.process(body)
        return out + (self._compressor.flush() if more_body else self._compressor.finish())


def _accepts(header: str, coding: str) -> bool:
    """Whether ``Accept-Encoding`` lists ``coding`` without refusing it (``;q=0``)."""
    for part in header.split(","):
        name, _, params = part.strip().partition(";")
        if name.strip().lower() == coding:
            return params.replace(" ", "").lower() not in {"q=0", "q=0.0", "q=0.00", "q=0.000"}
    return False


class Compression:
    """Compress HTTP responses by the request's ``Accept-Encoding``: ``br``, then ``gzip``."""

    def __init__(self, app: ASGIApp, minimum_size: int = MINIMUM_SIZE) -> None:
        self.app = app
        self.minimum_size = minimum_size

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        accept = Headers(scope=scope).get("accept-encoding", "")
        if _accepts(accept, "br"):
            responder: IdentityResponder = BrotliResponder(self.app, self.minimum_size)
        elif _accepts(accept, "gzip"):
            responder = GZipResponder(self.app, self.minimum_size, compresslevel=GZIP_LEVEL)
        else:
            responder = IdentityResponder(self.app, self.minimum_size)
        await responder(scope, receive, send)
