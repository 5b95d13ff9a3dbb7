"""uvicorn serving the real app in the test's own event loop (for websocket and fuzz tests)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn

from goalgraph.app import create_app
from goalgraph.testing.servers import free_port



@asynccontextmanager
async def serving(settings: Any, runtime: Any) -> AsyncIterator[str]:
    """``async with serving(settings, runtime) as url``: the app on a free port until the block ends."""
    app = create_app(settings, runtime=runtime)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical", lifespan="on"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
        assert not task.done(), task
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
