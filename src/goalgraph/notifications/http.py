"""The HTTP client of webhook POSTs: HTTP/1.1 (h11) over asyncio streams, kept-alive connections per origin.

Delivery shares the serving process with ingest, so a POST must cost little CPU there: httpx spends
2–3 ms per POST on its pool, anyio and models, this client about 0.3 ms (bench/README.md,
"notify_ingest_bench.py"). It does what a webhook needs and no more: no redirects (a 3xx is an
answer), one deadline for connecting, sending and reading, TLS verified against the system's and
certifi's roots. A URL that a proxy from the environment covers (``HTTPS_PROXY``, ``HTTP_PROXY``,
``ALL_PROXY``, minus ``NO_PROXY``) goes through httpx, which honours it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

import h11
import httpx

#: Idle connections kept per origin, and for how long (below common servers' keep-alive timeouts, 5 s+).
MAX_IDLE = 16
IDLE_SECONDS = 4.0
#: Most of an answer's body kept (for the error of a failed attempt).
MAX_BODY = 64 * 1024


class ConnectError(Exception):
    """The endpoint could not be reached."""


class RemoteProtocolError(Exception):
    """The endpoint closed the connection or broke HTTP/1.1."""


class Timeout(Exception):
    """No complete answer within the deadline."""


@dataclass(frozen=True)
class Answer:
    status_code: int
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


@dataclass
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    idle_since: float = 0.0

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


Origin = tuple[str, str, int]


class WebhookClient:
    """POSTs with connections kept alive per origin; one per dispatcher, closed with :meth:`aclose`."""

    def __init__(self) -> None:
        self._idle: dict[Origin, list[_Connection]] = {}
        self._ssl: ssl.SSLContext | None = None
        self._proxied: httpx.AsyncClient | None = None
        self._proxies = urllib.request.getproxies()  # read once: the environment's proxies

    async def post(self, url: str, body: bytes, headers: dict[str, str], timeout: float) -> Answer:
        """POST ``body``; the answer (any status), or ConnectError, Timeout or RemoteProtocolError."""
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ConnectError(f"not an http(s) URL: {url[:100]!r}")
        if (self._proxies.get(parts.scheme) or self._proxies.get("all")) and not urllib.request.proxy_bypass(
                parts.hostname):
            return await self._via_proxy(url, body, headers, timeout)
        origin = (parts.scheme, parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host = parts.netloc.rpartition("@")[2]
        lines = [f"POST {target} HTTP/1.1", f"host: {host}", f"content-length: {len(body)}",
                 *(f"{name}: {value}" for name, value in headers.items())]
        head = "".join(line + "\r\n" for line in lines) + "\r\n"
        if " " in target or not head.isascii() or any(c in line for line in lines for c in "\0\r\n"):
            raise ConnectError(f"not a URL or header that HTTP/1.1 can carry: {url[:100]!r}")
        request = head.encode() + body  # built by hand: h11's validation cost more than the rest
        deadline = time.monotonic() + timeout
        while True:
            conn, reused = self._take(origin), True
            if conn is None:
                conn, reused = await self._connect(origin, deadline), False
            received = [False]
            try:
                async with asyncio.timeout(max(deadline - time.monotonic(), 0.001)):
                    answer, keep = await self._exchange(conn, request, received)
            except TimeoutError:
                conn.close()
                raise Timeout(f"no answer within {timeout:g} s") from None
            except (OSError, h11.ProtocolError, RemoteProtocolError) as exc:
                conn.close()
                if reused and not received[0]:  # the server had closed the idle connection: a fresh one
                    continue
                raise RemoteProtocolError(str(exc) or type(exc).__name__) from exc
            except BaseException:  # cancelled mid-exchange: the connection is in an unknown state
                conn.close()
                raise
            if keep:
                self._give_back(origin, conn)
            else:
                conn.close()
            return answer

    async def aclose(self) -> None:
        for conns in self._idle.values():
            for conn in conns:
                conn.close()
        self._idle.clear()
        if self._proxied is not None:
            await self._proxied.aclose()
            self._proxied = None

    def _take(self, origin: Origin) -> _Connection | None:
        conns = self._idle.get(origin)
        now = time.monotonic()
        while conns:
            conn = conns.pop()
            if now - conn.idle_since < IDLE_SECONDS and not conn.reader.at_eof() and not conn.writer.is_closing():
                return conn
            conn.close()
        return None

    def _give_back(self, origin: Origin, conn: _Connection) -> None:
        conns = self._idle.setdefault(origin, [])
        if len(conns) >= MAX_IDLE:
            conn.close()
            return
        conn.idle_since = time.monotonic()
        conns.append(conn)

    async def _connect(self, origin: Origin, deadline: float) -> _Connection:
        scheme, host, port = origin
        tls = self._context() if scheme == "https" else None
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port, ssl=tls, server_hostname=host if tls else None),
                max(deadline - time.monotonic(), 0.001))
        except asyncio.TimeoutError:
            raise Timeout("no connection within the deadline") from None
        except (OSError, ssl.SSLError) as exc:
            raise ConnectError(str(exc) or type(exc).__name__) from exc
        return _Connection(reader, writer)

    @staticmethod
    async def _exchange(conn: _Connection, request: bytes, received: list[bool]) -> tuple[Answer, bool]:
        """Send the request's bytes; read the answer with h11 (a client that has sent its request)."""
        http = h11.Connection(h11.CLIENT)
        http.send(h11.Request(method="POST", target="/", headers=[("host", "-"), ("content-length", "0")]))
        http.send(h11.EndOfMessage())
        conn.writer.write(request)
        await conn.writer.drain()
        status, chunks, size = 0, [], 0
        while True:
            event = http.next_event()
            if event is h11.NEED_DATA:
                data = await conn.reader.read(65536)
                received[0] = received[0] or bool(data)
                http.receive_data(data)
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                if size < MAX_BODY:
                    chunks.append(bytes(event.data))
                size += len(event.data)
            elif isinstance(event, h11.EndOfMessage):
                keep = http.our_state is h11.DONE and http.their_state is h11.DONE
                return Answer(status, b"".join(chunks)[:MAX_BODY]), keep
            elif isinstance(event, h11.ConnectionClosed):
                raise RemoteProtocolError("the server closed the connection without an answer")

    def _context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = ssl.create_default_context()
            with contextlib.suppress(ImportError, OSError):
                import certifi

                self._ssl.load_verify_locations(certifi.where())
        return self._ssl

    async def _via_proxy(self, url: str, body: bytes, headers: dict[str, str], timeout: float) -> Answer:
        if self._proxied is None:
            self._proxied = httpx.AsyncClient(follow_redirects=False)
        try:
            answer = await self._proxied.post(url, content=body, headers=headers, timeout=timeout)
        except httpx.TimeoutException as exc:
            raise Timeout(f"{type(exc).__name__}: {exc}") from exc
        except httpx.ConnectError as exc:
            raise ConnectError(str(exc)) from exc
        except httpx.HTTPError as exc:
            raise RemoteProtocolError(f"{type(exc).__name__}: {exc}") from exc
        return Answer(answer.status_code, answer.content[:MAX_BODY])

