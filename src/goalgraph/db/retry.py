"""The one retry policy for transactions that lost a race: deadlocks, serialisation failures, a busy SQLite.

Such a failure rolled the whole transaction back, so running it again is safe and usually
succeeds; when it still fails after a few tries, callers answer a typed, retryable error
(code ``RETRYABLE``, see docs/errors.md) — never a masked internal one.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from collections.abc import Iterator
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Tries per transaction (the first one included).
ATTEMPTS = 6
#: Backoff before retry n is uniform in [0, min(MAX_DELAY, BASE_DELAY * 2**n)] seconds ("full jitter").
BASE_DELAY = 0.02
MAX_DELAY = 1.0
#: What a client is told to wait before sending again when the retries ran out.
RETRY_AFTER_SECONDS = 1.0

#: PostgreSQL: serialization_failure, deadlock_detected, lock_not_available.
_PG_TRANSIENT = {"40001", "40P01", "55P03"}
#: PostgreSQL: admin_shutdown (pg_terminate_backend), crash_shutdown, cannot_connect_now.
_PG_GONE = {"57P01", "57P02", "57P03"}
#: SQLite: another connection holds the write lock beyond busy_timeout, or a read snapshot went stale.
_SQLITE_TRANSIENT = ("database is locked", "database table is locked", "database schema has changed")


class RetriesExhausted(Exception):
    """A transaction kept failing transiently; nothing it did was committed. Try again later."""

    def __init__(self, attempts: int, last: BaseException) -> None:
        super().__init__(f"the database was busy ({_describe(last)}); nothing was changed after "
                         f"{attempts} attempts — try again")
        self.attempts = attempts
        self.retry_after = RETRY_AFTER_SECONDS


def _describe(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    cause = orig.__cause__ if orig.__cause__ is not None else orig
    return type(cause).__name__


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and the errors it wraps (SQLAlchemy's ``orig``, causes, contexts)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = getattr(current, "orig", None) or current.__cause__ or current.__context__


def is_disconnect(exc: BaseException) -> bool:
    """Whether the database connection was lost (terminated, server restarted, network gone)."""
    for current in _chain(exc):
        if getattr(current, "connection_invalidated", False):
            return True
        state = getattr(current, "sqlstate", None) or ""
        if state.startswith("08") or state in _PG_GONE:
            return True
        name = type(current).__name__
        if name in {"ConnectionDoesNotExistError", "ConnectionResetError", "ConnectionRefusedError"}:
            return True
        if name == "InterfaceError" and "connection is closed" in str(current):
            return True
        # asyncpg's state after its connection was cut mid-operation: unusable, like a closed one.
        if name == "InternalClientError" and "another operation" in str(current):
            return True
    return False


def is_transient(exc: BaseException, *, disconnects: bool = False) -> bool:
    """Whether ``exc`` (a SQLAlchemy / driver error, or one it wraps) is a lost race worth retrying;
    with ``disconnects``, a lost connection too (for idempotent work such as ingest)."""
    if disconnects and is_disconnect(exc):
        return True
    for current in _chain(exc):
        if getattr(current, "sqlstate", None) in _PG_TRANSIENT:
            return True
        if type(current).__module__.startswith("sqlite3") or "sqlite" in type(current).__module__:
            text = str(current).lower()
            if any(marker in text for marker in _SQLITE_TRANSIENT):
                return True
    return False


async def retrying(work: Callable[[], Awaitable[T]], *, what: str = "transaction",
                   attempts: int = ATTEMPTS, disconnects: bool = False) -> T:
    """``await work()`` (one whole transaction), again after a transient failure, with jittered backoff.

    ``disconnects=True`` also retries after a lost connection — only for work that is safe to
    repeat whether or not the lost attempt committed (idempotent upserts).
    Raises :class:`RetriesExhausted` when every attempt failed transiently; other errors pass through.
    """
    for attempt in range(1, attempts + 1):
        try:
            return await work()
        except Exception as exc:
            if not is_transient(exc, disconnects=disconnects):
                raise
            if attempt == attempts:
                log.warning("%s: still failing after %d attempts (%s); answered RETRYABLE",
                            what, attempts, _describe(exc))
                raise RetriesExhausted(attempts, exc) from exc
            delay = random.uniform(0, min(MAX_DELAY, BASE_DELAY * 2 ** attempt))
            log.info("%s: %s on attempt %d; retrying in %.0f ms", what, _describe(exc), attempt, delay * 1000)
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover
