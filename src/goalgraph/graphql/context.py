"""Per-request context: one database session, used by one task at a time.

strawberry resolves sibling fields concurrently, and an ``AsyncSession`` must never be
used by two tasks at once, so every use goes through :meth:`Context.db`, which holds a
lock for the duration.
"""

from __future__ import annotations

import asyncio
import logging
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from goalgraph import clock
from goalgraph.access.gate import Gate, load_gate
from goalgraph.access.tokens import AuthError, bearer_token, verify_token
from goalgraph.access.viewer import SYSTEM, Viewer, load_viewer
from goalgraph.db.retry import RetriesExhausted, is_disconnect, retrying
from goalgraph.graphql.errors import ErrorCode, query_error
from goalgraph.graphql.loaders import Loaders
from goalgraph.organisation import OrganisationSettings, get_organisation
from goalgraph.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass
class Context:
    """What every resolver gets as ``info.context``."""

    runtime: Runtime
    request: Any = None
    response: Any = None
    _session: AsyncSession | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    #: The task inside ``db()``: a nested use from the same task would wait for itself forever.
    _holder: asyncio.Task | None = None
    loaders: Loaders = field(init=False)
    #: One "now" for the whole request, so every field agrees.
    now: datetime = field(init=False)

    _viewer: Viewer | None = None
    _gate: Gate | None = None
    _organisation: OrganisationSettings | None = None
    #: The ``jti`` of the request's token (what an admin revokes), when it has one.
    token_id: str | None = None
    #: graphql-transport-ws connection_init payload (websockets carry the token there).
    connection_params: dict[str, Any] | None = None
    #: Subscription pushes share progress computed for the same event (see Broker.shared).
    share_progress: bool = False

    def __post_init__(self) -> None:
        self.loaders = Loaders(self)
        self.now = self.runtime.clock()

    async def viewer(self) -> Viewer:
        """Who is asking, from the bearer token; a GraphQL error with code UNAUTHENTICATED otherwise.

        Subscription pushes (``share_progress``) share the load of one subject within one event.
        """
        if self._viewer is None:
            if not self.runtime.settings.auth:
                self._viewer = SYSTEM
            else:
                headers = getattr(self.request, "headers", None) or {}
                params = {k.lower(): v for k, v in (self.connection_params or {}).items() if isinstance(v, str)}
                header = params.get("authorization") or headers.get("authorization")
                try:
                    claims = verify_token(self.runtime.settings, bearer_token(header))
                    self.token_id = claims.token_id

                    async def load() -> Viewer:
                        async with self.db() as session:
                            viewer = await load_viewer(session, claims)
                            # Give the connection back: a request that then writes in a transaction of
                            # its own (ingest) must not hold a second, idle one (pools run dry under load).
                            if session.in_transaction():
                                await session.commit()
                            return viewer

                    async def load_retrying() -> Viewer:
                        # A read, safe to repeat: a connection lost since its last use is not the client's fault.
                        return await retrying(load, what="loading the viewer", attempts=3, disconnects=True)

                    if self.share_progress:
                        self._viewer = await self.runtime.broker.shared(("viewer", claims.subject, claims.system),
                                                                        load_retrying)
                    else:
                        self._viewer = await load_retrying()
                except AuthError as exc:
                    raise query_error(f"not authenticated: {exc}", ErrorCode.UNAUTHENTICATED) from None
                except RetriesExhausted:
                    raise query_error("the database is unavailable right now; send the request again",
                                      ErrorCode.RETRYABLE) from None
        return self._viewer

    async def organisation(self) -> OrganisationSettings:
        """The organisation's settings, read once per request (or push)."""
        if self._organisation is None:
            async with self.db() as session:
                self._organisation = await get_organisation(session)
        return self._organisation

    async def today(self) -> date:
        """The organisation's local date at this request's "now" (see goalgraph.clock)."""
        return clock.today(await self.organisation(), self.now)

    def forget_gate(self) -> None:
        """Re-read licence and feature switches on next use (after an admin changed them)."""
        self._gate = None

    async def gate(self) -> Gate:
        """The licence gate for this request."""
        if self._gate is None:
            viewer = await self.viewer()
            today = await self.today()
            async with self.db() as session:
                self._gate = await load_gate(session, self.runtime.settings, self.runtime.registry, today, viewer)
        return self._gate

    @asynccontextmanager
    async def db(self) -> AsyncIterator[AsyncSession]:
        """The request's session, exclusively for the duration of the block (reads)."""
        if self._holder is not None and self._holder is asyncio.current_task():
            raise RuntimeError("Context.db() used inside Context.db() by the same task; read what you need first")
        async with self._lock:
            self._holder = asyncio.current_task()
            if self._session is None:
                self._session = self.runtime.sessions()
            session = self._session
            try:
                yield session
            except BaseException as exc:
                # A failed or cancelled use (e.g. a subscription cancelled mid-query) must not leave a
                # broken session for the next one on this connection: drop it.
                self._session = None
                # A lost or broken connection must not go back to the pool for the next request.
                end = session.invalidate if isinstance(exc, Exception) and is_disconnect(exc) else session.close
                with contextlib.suppress(Exception):
                    await asyncio.shield(end())
                raise
            finally:
                self._holder = None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session in a fresh transaction: committed on success, rolled back on any error."""
        async with self.db() as session:
            if session.in_transaction():
                await session.commit()
            async with session.begin():
                yield session

    async def refresh(self) -> None:
        """Start afresh for a new push of a long-lived subscription: new loaders, new "now", and the
        viewer, settings and licence read again (rights change, users are deactivated, tokens expire)."""
        await self.close()
        self.loaders = Loaders(self)
        self.now = self.runtime.clock()
        self.share_progress = False
        self._viewer = None
        self._gate = None
        self._organisation = None

    async def close(self) -> None:
        """Release the session at the end of the operation (waiting for a use in progress to end)."""
        async with self._lock:
            session, self._session = self._session, None
            if session is not None:
                try:
                    await session.close()
                except Exception:  # noqa: BLE001
                    # Its connection died (e.g. terminated by the server) after the work was done: what
                    # the operation committed stands, and its answer must say so; the pool drops it.
                    log.warning("closing a request's database session failed", exc_info=True)
