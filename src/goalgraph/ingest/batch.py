"""Apply one mixed batch of facts atomically (the GraphQL ingest mutation)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from goalgraph import clock
from goalgraph.ingest.errors import FactError, IngestRejected, Path
from goalgraph.ingest.upsert import IngestSummary, Ingestor
from goalgraph.ingest.validate import PARSERS, Kind

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
    """Validate and upsert a batch inside the caller's transaction.

    Raises :class:`IngestRejected` listing every problem; the caller rolls back, so a
    rejected batch writes nothing.
    """
    parsed, errors = parse_batch(raw, received_at or clock.now())
    if errors:
        raise IngestRejected(errors)
    ingestor = Ingestor(session)
    summary = IngestSummary()
    for kind in Kind:
        counts, changes, kind_errors = await ingestor.apply(kind, parsed[kind])
        summary.counts[kind].add(counts)
        summary.stage_changes += changes
        errors.extend(kind_errors)
    if errors:
        raise IngestRejected(errors)
    return summary
