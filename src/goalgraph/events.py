"""Fire event hooks without blocking the request: in the background, errors logged."""

from __future__ import annotations

import asyncio
import inspect
import logging
from typing import Any

import pluggy

log = logging.getLogger(__name__)
_background: set[asyncio.Task[None]] = set()


async def _run(manager: pluggy.PluginManager, hook_name: str, kwargs: dict[str, Any]) -> None:
    hook = getattr(manager.hook, hook_name)
    for impl in hook.get_hookimpls():
        try:
            # Sync implementations run in a thread so a slow one cannot stall the event loop.
            result = await asyncio.to_thread(impl.function, **{a: kwargs[a] for a in impl.argnames})
            if inspect.isawaitable(result):
                await result
        except Exception:  # noqa: BLE001 - a plugin's failure must not affect the request
            log.exception("plugin %r failed in %s", impl.plugin_name, hook_name)


def fire(manager: pluggy.PluginManager, hook_name: str, **kwargs: Any) -> asyncio.Task[None]:
    """Schedule ``hook_name`` for every implementing plugin and return at once."""
    task = asyncio.get_running_loop().create_task(_run(manager, hook_name, kwargs))
    _background.add(task)
    task.add_done_callback(_background.discard)
    return task


async def drain() -> None:
    """Wait for scheduled event hooks (shutdown, tests)."""
    while _background:
        await asyncio.gather(*list(_background), return_exceptions=True)
