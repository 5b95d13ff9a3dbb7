"""Apply one mixed batch of facts atomically (the GraphQL ingest mutation)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from goalgraph import clock
from goalgraph.db.retry import is_disconnect, retrying
from goalgraph.errors import FactError, IngestRejected, Path
from goalgraph.ingest.kinds import parse_record, write_records
from goalgraph.ingest.upsert import IngestSummary, Ingestor, UpsertCounts
from goalgraph.ingest.validate import PARSERS, Kind
from goalgraph.live.broker import FactsChanged
from goalgraph.live.changes import FactEffect, facts_committed, mark_effect, stored_effect, touches_everyone
from goalgraph.registry import FactKind

if TYPE_CHECKING:
    from goalgraph.registry import Registry
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


@dataclass
class Parsed:
    """A batch validated: clean records of the core's kinds and of plugin kinds, each with its path."""

    core: dict[Kind, list[tuple[Path, dict[str, Any]]]]
    plugin: dict[str, list[tuple[Path, dict[str, Any]]]] = field(default_factory=dict)


def _sources(raw: Mapping[str, Any], registry: "Registry | None", errors: list[FactError],
             ) -> list[tuple[Path, Kind | FactKind, Sequence[Any]]]:
    """Where the batch's records are: the core's batch keys, plugin kinds' batch keys (``tickets``) and
    ``facts`` entries naming their kind (``{"kind": "ticket", "records": [...]}``), in apply order."""
    kinds = {k.plural: k for k in registry.fact_kinds.values()} if registry is not None else {}
    found: list[tuple[Path, Kind | FactKind, Sequence[Any]]] = []
    for key, kind in BATCH_KEYS:
        if raw.get(key):
            found.append(((key,), kind, raw[key]))
    for key, items in raw.items():
        if key in kinds and items and not kinds[key].builtin:
            found.append(((key,), kinds[key], items))
    for i, entry in enumerate(raw.get("facts") or ()):
        name = entry.get("kind") if isinstance(entry, Mapping) else None
        records = entry.get("records") if isinstance(entry, Mapping) else None
        kind = registry.fact_kind_by_name(name) if registry is not None and isinstance(name, str) else None
        if kind is None:
            known = ", ".join(sorted(registry.fact_kinds)) if registry is not None else "none"
            errors.append(FactError(("facts", i, "kind"), f"{name!r} is not a kind of fact (known: {known})",
                                    "UNKNOWN_KIND"))
            continue
        if not isinstance(records, Sequence) or isinstance(records, (str, bytes)):
            errors.append(FactError(("facts", i, "records"), "must be a list of records"))
            continue
        found.append((("facts", i, "records"), Kind.parse(kind.key) if kind.builtin else kind, records))
    order = {kind: n for n, (_, kind) in enumerate(BATCH_KEYS)}
    return sorted(found, key=lambda s: order.get(s[1], len(order)) if isinstance(s[1], Kind) else len(order))


def parse_batch(
    raw: Mapping[str, Any], received_at: datetime, registry: "Registry | None" = None,
) -> tuple[Parsed, list[FactError]]:
    """Validate every fact of a batch; returns the clean records per kind and all errors."""
    errors: list[FactError] = []
    parsed = Parsed({kind: [] for kind in Kind})
    for prefix, kind, items in _sources(raw, registry, errors):
        for i, item in enumerate(items):
            path: Path = (*prefix, i)
            if isinstance(kind, FactKind):
                rec = parse_record(kind, item, path, errors, received_at)
                if rec is not None:
                    parsed.plugin.setdefault(kind.key, []).append((path, rec))
                continue
            if not isinstance(item, Mapping):
                errors.append(FactError(path, f"must be an object, got {type(item).__name__}"))
                continue
            rec = PARSERS[kind](item, path, errors, received_at)
            if rec is None:
                continue
            if kind is Kind.PIPELINE:
                pipeline, stages = rec
                parsed.core[Kind.PIPELINE].append((path, pipeline))
                parsed.core[Kind.STAGE].extend(((*path, "stages", j), s) for j, s in enumerate(stages))
            else:
                parsed.core[kind].append((path, rec))
    return parsed, errors


def needed_features(raw: Mapping[str, Any], registry: "Registry") -> set[str]:
    """The licence features the batch's fact kinds need (the gate decides whether they are enabled)."""
    kinds = [registry.fact_kind_by_name(e["kind"]) for e in raw.get("facts") or ()
             if isinstance(e, Mapping) and isinstance(e.get("kind"), str)]
    kinds += [k for k in registry.fact_kinds.values() if raw.get(k.plural)]
    return {k.feature for k in kinds if k is not None and k.feature is not None}


def core_raw(raw: Mapping[str, Any], registry: "Registry | None") -> dict[str, Any]:
    """The batch's records of the core's kinds by batch key (``facts`` entries of deals and activities
    included), for the effect read of stored deals and activities."""
    out: dict[str, list[Any]] = {key: list(raw.get(key) or ()) for key, _ in BATCH_KEYS}
    for entry in raw.get("facts") or ():
        kind = registry.fact_kind_by_name(entry.get("kind", "")) if registry is not None and isinstance(entry, Mapping) \
            and isinstance(entry.get("kind"), str) else None
        if kind is not None and kind.builtin:
            out[kind.plural].extend(r for r in entry.get("records") or () if isinstance(r, Mapping))
    return out


async def ingest_batch(
    session: AsyncSession,
    raw: Mapping[str, Any],
    *,
    received_at: datetime | None = None,
    registry: "Registry | None" = None,
) -> IngestSummary:
    """Validate and upsert a batch inside the caller's transaction, marking the stored progress it
    moves stale in the same transaction (its facts' owners and days, before and after).

    ``raw`` holds the core's batch keys (``users`` … ``activities``), plugin kinds' batch keys
    (``tickets``) and ``facts`` entries naming their kind; plugin kinds need ``registry``.
    Raises :class:`IngestRejected` listing every problem; the caller rolls back, so a
    rejected batch writes nothing.
    """
    parsed, errors = parse_batch(raw, received_at or clock.now(), registry)
    if errors:
        raise IngestRejected(errors)
    core = core_raw(raw, registry)
    before = await stored_effect(session, core)
    ingestor = Ingestor(session)
    summary = IngestSummary()
    for kind in Kind:
        counts, changes, kind_errors = await ingestor.apply(kind, parsed.core[kind])
        summary.counts[kind].add(counts)
        summary.stage_changes += changes
        errors.extend(kind_errors)
    plugin_effect = FactEffect()
    for key, records in parsed.plugin.items():
        assert registry is not None
        written = await write_records(session, registry, registry.fact_kinds[key], records, errors)
        summary.plugin_counts[key] = UpsertCounts(written.created, written.updated, written.ignored)
        if written.written:
            plugin_effect = plugin_effect | FactEffect(frozenset(written.owners), set(written.days))
    if errors:
        raise IngestRejected(errors)
    if any(c.written for c in summary.counts.values()):
        await mark_effect(session, before | await stored_effect(session, core))
    if plugin_effect.owners:
        await mark_effect(session, plugin_effect)
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
                summary = await ingest_batch(session, raw, received_at=received_at, registry=runtime.registry)
                if touches_everyone(core_raw(raw, runtime.registry)):  # who may see what changed: every subscriber checks again now
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
