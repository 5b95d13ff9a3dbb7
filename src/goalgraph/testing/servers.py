"""Helpers for tests and benchmarks that run a real server process: a free port, waiting for health."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import httpx


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def wait_until_healthy(http: httpx.AsyncClient, *, seconds: float = 60, log: Path | None = None) -> None:
    """Poll ``/healthz`` until it answers 200; SystemExit with the server's log when it never does."""
    for _ in range(int(seconds / 0.2)):
        try:
            if (await http.get("/healthz")).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.2)
    raise SystemExit(log.read_text() if log is not None and log.exists() else "the server never became healthy")
