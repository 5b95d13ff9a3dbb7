"""Facts of plugin kinds (:class:`goalgraph.registry.FactKind`): read a record by its declared fields,
upsert it idempotently and out of order, and say what it moved.

The same rules as the core's own facts (and the same :class:`~goalgraph.ingest.validate.FieldReader`,
so messages and codes read alike): a record is matched on its CRM id; re-sending it updates it; a
version older than the stored one is ignored (counted, not applied), in Python to count and in the
``ON CONFLICT … WHERE`` clause so concurrent writers cannot regress a row. References are resolved
in one query per referenced kind. :mod:`goalgraph.ingest.batch` calls this inside the batch's
transaction and marks the stored progress the writes move.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from goalgraph.db.dialect import conflict_insert
from goalgraph.db.models import Pipeline, Stage, Team, User
from goalgraph.errors import FactError, Path
from goalgraph.ingest.validate import FieldReader
from goalgraph.live.changes import utc_day
from goalgraph.registry import FactField, FactKind, FieldType, Registry

_CORE_MODELS: dict[str, Any] = {"user": User, "team": Team, "pipeline": Pipeline, "stage": Stage}
_CHUNK = 5000
_INT64 = 2**63


def reference_model(registry: Registry, target: str) -> Any:
    """The model a REFERENCE field's ``references`` names (a core thing or a fact kind)."""
    return _CORE_MODELS.get(target) or registry.fact_kinds[target].model


def _read(row: FieldReader, spec: FactField) -> Any:
    """One declared field, typed, or None (with the problem recorded)."""
    kind, name, required = spec.type, spec.key, spec.required
    if kind is FieldType.TEXT:
        return row.string(name, required=required, max_length=spec.max_length)
    if kind is FieldType.INTEGER:
        return row.integer(name, low=-_INT64, high=_INT64 - 1, required=required, default=spec.default)
    if kind is FieldType.DECIMAL:
        return row.amount(name, required=required, default=spec.default)
    if kind is FieldType.BOOLEAN:
        return row.boolean(name, bool(spec.default))
    if kind is FieldType.TIMESTAMP:
        return row.timestamp(name, required=required)
    if kind is FieldType.DATE:
        return row.day(name, required=required)
    if kind is FieldType.CURRENCY:
        return row.currency(name, required=required)
    if kind is FieldType.REFERENCE:
        return row.external_id(name, required=required)
    if kind is FieldType.ATTRIBUTES:
        return row.attributes(name)
    # CHOICE
    text = row.string(name, required=required, max_length=64)
    if text is None:
        return spec.default
    value = text.upper()
    if value not in spec.choices:
        row.fail(name, f"{text!r} is not one of {', '.join(spec.choices)}")
        return None
    return value


def parse_record(kind: FactKind, raw: Mapping[str, Any], path: Path, errors: list[FactError],
                 received_at: datetime) -> dict[str, Any] | None:
    """One record of ``kind`` as a clean dict (field keys; references still CRM ids), or None with
    every problem appended to ``errors``."""
    start = len(errors)
    if not isinstance(raw, Mapping):
        errors.append(FactError(path, f"a {kind.label.lower()} must be an object, got {type(raw).__name__}"))
        return None
    row = FieldReader(raw, path, errors)
    rec: dict[str, Any] = {"external_id": row.external_id(kind.external_id)}
    for spec in kind.fields:
        rec[spec.key] = _read(row, spec)
    rec["source_updated_at"] = row.timestamp(kind.version) or received_at
    if kind.check is not None and len(errors) == start:
        for problem in kind.check(rec):
            row.fail(*problem)  # (field, message) or (field, message, code)
    row.finish()
    return rec if len(errors) == start else None


@dataclass
class KindWrite:
    """What writing one batch of a kind did: counts, and whose facts on which days it moved."""

    created: int = 0
    updated: int = 0
    ignored: int = 0
    owners: set[int] = field(default_factory=set)
    days: set[date] = field(default_factory=set)

    @property
    def written(self) -> int:
        return self.created + self.updated


async def _ids(session: AsyncSession, model: Any, refs: set[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    ordered = sorted(refs)
    for start in range(0, len(ordered), _CHUNK):
        chunk = ordered[start:start + _CHUNK]
        found.update((ext, id_) for ext, id_ in await session.execute(
            select(model.external_id, model.id).where(model.external_id.in_(chunk))))
    return found


async def write_records(session: AsyncSession, registry: Registry, kind: FactKind,
                        records: Sequence[tuple[Path, dict[str, Any]]], errors: list[FactError]) -> KindWrite:
    """Upsert clean records of ``kind`` in the caller's transaction; unknown references are appended to
    ``errors`` (the caller then rolls back: nothing of the batch is kept)."""
    result = KindWrite()
    if not records:
        return result
    # The newest version of each fact in the batch (a later one wins a tie, as re-sending would).
    newest: dict[str, tuple[Path, dict[str, Any]]] = {}
    for path, rec in records:
        kept = newest.get(rec["external_id"])
        if kept is None or rec["source_updated_at"] >= kept[1]["source_updated_at"]:
            newest[rec["external_id"]] = (path, rec)
    result.ignored += len(records) - len(newest)

    references = [f for f in kind.fields if f.type is FieldType.REFERENCE]
    resolved: dict[str, dict[str, int]] = {}
    for spec in references:
        wanted = {rec[spec.key] for _, rec in newest.values() if rec[spec.key] is not None}
        resolved[spec.key] = await _ids(session, reference_model(registry, spec.references), wanted) if wanted else {}

    model = kind.model
    owner_attr = kind.field(kind.owner).attr  # type: ignore[union-attr]
    stamp_attrs = [kind.field(t).attr for t in kind.timestamps]  # type: ignore[union-attr]
    stored: dict[str, tuple[Any, ...]] = {}
    keys = sorted(newest)
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start:start + _CHUNK]
        for ext, updated_at, owner, *stamps in await session.execute(
                select(model.external_id, model.source_updated_at, getattr(model, owner_attr),
                       *(getattr(model, a) for a in stamp_attrs)).where(model.external_id.in_(chunk))):
            stored[ext] = (updated_at, owner, *stamps)

    rows: list[dict[str, Any]] = []
    for ext in keys:
        path, rec = newest[ext]
        values: dict[str, Any] = {"external_id": ext, "source_updated_at": rec["source_updated_at"]}
        bad = False
        for spec in kind.fields:
            value = rec[spec.key]
            if spec.type is FieldType.REFERENCE and value is not None:
                internal = resolved[spec.key].get(value)
                if internal is None:
                    errors.append(FactError((*path, spec.key), f"no {spec.references} with id {value!r}",
                                            "UNKNOWN_REFERENCE"))
                    bad = True
                    continue
                value = internal
            values[spec.attr] = value
        if bad:
            continue
        if kind.derive is not None:
            values.update(kind.derive(rec))
        old = stored.get(ext)
        if old is not None and old[0] > rec["source_updated_at"]:
            result.ignored += 1  # an older version arriving late
            continue
        if old is None:
            result.created += 1
        else:
            result.updated += 1
            result.owners.add(old[1])
            result.days.update(d for d in map(utc_day, old[2:]) if d is not None)
        result.owners.add(values[owner_attr])
        result.days.update(d for d in (utc_day(values.get(a)) for a in stamp_attrs) if d is not None)
        rows.append(values)
    if errors or not rows:
        return result
    table = model.__table__
    columns = sorted({c for row in rows for c in row})
    rows = [{c: row.get(c) for c in columns} for row in rows]
    stmt = conflict_insert(session.bind.dialect.name, table)
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.external_id],
        set_={c: stmt.excluded[c] for c in columns if c != "external_id"},
        where=table.c.source_updated_at <= stmt.excluded.source_updated_at,
    )
    for start in range(0, len(rows), _CHUNK):
        await session.execute(stmt, rows[start:start + _CHUNK])
    return result

