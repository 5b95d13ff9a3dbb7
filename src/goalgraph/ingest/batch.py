"""Apply one mixed batch of facts atomically (the GraphQL ingest mutation)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from goalgraph import clock
from goalgraph.db.retry import is_disconnect, retrying
from goalgraph.errors import FactError, IngestRejected, Path
from goalgraph.ingest.upsert import IngestSummary, Ingestor
from goalgraph.ingest.validate import PARSERS, Kind
from goalgraph.live.broker import FactsChanged
from goalgraph.live.changes import facts_committed, mark_effect, stored_effect, touches_everyone

if TYPE_CHECKING:
    from goalgraph.runtime import Runtime

#: Batch keys in the order they are applied (references point backwards).
BATCH_KEYS: tuple[tuple[str, Kind], ...] = (
    ("users", Kind.USER),
    ("teams", Kind.TEAM),
    ("pipelines", Kind.PIPELINE),
    ("stages", Kind.STAGE),
    ("deals", Kind.DEAL),
    ("activities", Kind.ACTIVITY),
)


def parse_batch(
    raw: Mapping[str, Sequence[Mapping[str, Any]] | None], received_at: datetime
) -> tuple[dict[Kind, list[tuple[Path, dict[str, Any]]]], list[FactError]]:
    """Validate every fact of a batch; returns the clean records per kind and all errors."""
    errors: list[FactError] = []
    parsed: dict[Kind, list[tuple[Path, dict[str, Any]]]] = {kind: [] for kind in Kind}
    for key, kind in BATCH_KEYS:
        for i, item in enumerate(raw.get(key) or ()):
            path: Path = (key, i)
            rec = PARSERS[kind](item, path, errors, received_at)
            if rec is None:
                continue
            if kind is Kind.PIPELINE:
                pipeline, stages = rec
                parsed[Kind.PIPELINE].append((path, pipeline))
                parsed[Kind.STAGE].extend(((*path, "stages", j), s) for j, s in enumerate(stages))
            else:
                parsed[kind].append((path, rec))
    return parsed, errors


async def ingest_batch(
    session: AsyncSession,
    raw: Mapping[str, Sequence[Mapping[str, Any]] | None],
    *,
    received_at: datetime | None = None,
) -> IngestSummary:
    """Validate and upsert a batch inside the caller's transaction, marking the stored progress it
    moves stale in the same transaction (its facts' owners and days, before and after).

    Raises :class:`IngestRejected` listing every problem; the caller rolls back, so a
    rejected batch writes nothing.
    """
    parsed, errors = parse_batch(raw, received_at or clock.now())
    if errors:
        raise IngestRejected(errors)
    before = await stored_effect(session, raw)
    ingestor = Ingestor(session)
    summary = IngestSummary()
    for kind in Kind:
        counts, changes, kind_errors = await ingestor.apply(kind, parsed[kind])
        summary.counts[kind].add(counts)
        summary.stage_changes += changes
        errors.extend(kind_errors)
    if errors:
        raise IngestRejected(errors)
    if any(c.written for c in summary.counts.values()):
        await mark_effect(session, before | await stored_effect(session, raw))
    return summary


async def apply_batch(runtime: "Runtime", raw: Mapping[str, Sequence[Mapping[str, Any]] | None], *,
                      received_at: datetime | None = None) -> IngestSummary:
    """Validate, write and announce a batch in one transaction of its own, then tell this process.

    A transaction that lost a race (deadlock, serialisation failure, busy SQLite) or its connection
    is run again (:func:`goalgraph.db.retry.retrying`; upserts are idempotent); when the tries run
    out, :class:`~goalgraph.db.retry.RetriesExhausted` says nothing was committed. The change is
    announced inside the transaction (see :meth:`Broker.announce`), so a committed batch is never
    reported as failed. Raises :class:`IngestRejected` (nothing written) for bad input.
    """
    received_at = received_at or clock.now()
    pg = runtime.engine.dialect.name == "postgresql"

    async def attempt() -> IngestSummary:
        xid: int | None = None
        try:
            async with runtime.sessions() as session, session.begin():
                summary = await ingest_batch(session, raw, received_at=received_at)
                if touches_everyone(raw):  # who may see what changed: every subscriber checks again now
                    await runtime.broker.announce(session, FactsChanged(None))
                if pg:
                    xid = await session.scalar(text("SELECT txid_current()"))
        except Exception as exc:
            # The connection died while committing: ask the database whether the commit happened.
            if xid is not None and is_disconnect(exc) and await _committed(runtime.engine, xid):
                return summary
            raise
        return summary

    summary = await retrying(attempt, what="ingestFacts", disconnects=True)
    facts_committed(runtime, summary)
    return summary


async def _committed(engine: AsyncEngine, xid: int) -> bool:
    """Whether PostgreSQL transaction ``xid`` committed (waits briefly while it is still finishing)."""
    for _ in range(50):
        try:
            async with engine.connect() as conn:
                status = await conn.scalar(text("SELECT txid_status(:xid)"), {"xid": xid})
        except Exception:  # noqa: BLE001 - cannot tell: treat as not committed (the caller retries)
            return False
        if status != "in progress":
            return status == "committed"
        await asyncio.sleep(0.1)
    return False
