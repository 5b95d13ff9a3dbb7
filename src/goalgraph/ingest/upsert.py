"""Idempotent, order-tolerant upserts of validated facts.

A fact is matched on its CRM ``external_id``. Sending it again updates it; a version
whose ``source_updated_at`` is older than the stored one is ignored (counted, not
applied). The check happens twice: in Python to count created / updated / ignored,
and in the ``ON CONFLICT … DO UPDATE … WHERE`` clause so two concurrent writers
cannot regress a row either.

On PostgreSQL each batch of a kind is binary-COPied into a temporary staging table on the raw
asyncpg connection, then a single ``INSERT … SELECT … ON CONFLICT DO UPDATE … WHERE`` with
data-modifying CTEs compares against the rows as they were before the statement (created /
updated / ignored), writes, and records stage changes. A deal batch can be *prepared* for that
(:meth:`Ingestor.prepare`: references from the id caches, deduplicated, in COPY layout) without
the database, by another thread, while the previous batch is written. The rules are the same as
the portable path (SQLite), which the tests run too.

:class:`Ingestor` works inside the caller's transaction; it never commits.
"""

from __future__ import annotations

import enum
import hashlib
import operator
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone
from typing import Any

import orjson
from sqlalchemy import Column, Date, Enum, Table, delete, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from goalgraph.db.dialect import conflict_insert
from goalgraph.db.models import (
    Activity,
    Deal,
    DealStageChange,
    Pipeline,
    Stage,
    Team,
    TeamMembership,
    User,
)
from goalgraph.errors import FactError
from goalgraph.ingest.validate import Kind

#: Most external ids cached per kind; a bulk import of millions of rows must not grow without bound.
CACHE_LIMIT = 50_000

MODELS: dict[Kind, Any] = {
    Kind.USER: User,
    Kind.TEAM: Team,
    Kind.PIPELINE: Pipeline,
    Kind.STAGE: Stage,
    Kind.DEAL: Deal,
    Kind.ACTIVITY: Activity,
}


@dataclass
class UpsertCounts:
    """What one kind of fact did in a batch."""

    created: int = 0
    updated: int = 0
    #: Older than the stored version (out-of-order delivery): not applied.
    ignored: int = 0
    #: Refused because of a bad reference (lenient mode only).
    rejected: int = 0

    def add(self, other: "UpsertCounts") -> None:
        self.created += other.created
        self.updated += other.updated
        self.ignored += other.ignored
        self.rejected += other.rejected

    @property
    def written(self) -> int:
        return self.created + self.updated


@dataclass
class IngestSummary:
    """Counts per kind plus the stage changes recorded into deal history."""

    counts: dict[Kind, UpsertCounts] = field(default_factory=lambda: {k: UpsertCounts() for k in Kind})
    stage_changes: int = 0
    #: Plugin fact kinds (by key) written in the batch.
    plugin_counts: dict[str, UpsertCounts] = field(default_factory=dict)

    def as_dict(self) -> dict[str, dict[str, int]]:
        """Plain counts per kind (the core's and plugin kinds' keys), for event hooks and reports."""
        every = {kind.value: c for kind, c in self.counts.items()} | self.plugin_counts
        return {kind: {"created": c.created, "updated": c.updated, "ignored": c.ignored, "rejected": c.rejected}
                for kind, c in every.items()}

    def add(self, other: "IngestSummary") -> None:
        for kind, counts in other.counts.items():
            self.counts[kind].add(counts)
        for key, counts in other.plugin_counts.items():
            self.plugin_counts.setdefault(key, UpsertCounts()).add(counts)
        self.stage_changes += other.stage_changes


@dataclass
class BatchEffect:
    """What the facts written in one transaction touched, for work that must happen in that same
    transaction (the progress store marks the rows they affect stale).

    Collected by :class:`Ingestor` as it writes (:meth:`Ingestor.take_effect`). ``owners`` and
    ``first``/``last`` cover every deal and activity *written* (created or updated; an ignored
    older version changed nothing), with their values both before and after the change: the internal
    ids of the users they are credited to, and the earliest and latest of their timestamps (deals:
    ``added_at``, ``won_at``, ``lost_at``, ``expected_close_date`` (as UTC midnight),
    ``source_updated_at`` and the stage history's ``entered_at``; activities: ``added_at``, ``due_at``,
    ``done_at``, ``source_updated_at``). ``owners`` is None when it is not known (a user, team,
    pipeline or stage was written: treat every user as affected).
    """

    #: Kinds with at least one row created or updated.
    kinds: set[Kind] = field(default_factory=set)
    owners: set[int] | None = field(default_factory=set)
    first: datetime | None = None
    last: datetime | None = None

    @property
    def written(self) -> bool:
        return bool(self.kinds)

    def add(self, kind: Kind, owners: Iterable[int] | None, first: datetime | None, last: datetime | None) -> None:
        """Record ``kind`` rows written, credited to ``owners`` (None: unknown), timestamps in [first, last]."""
        self.kinds.add(kind)
        if owners is None:
            self.owners = None
        elif self.owners is not None:
            self.owners.update(owners)
        if first is not None and (self.first is None or first < self.first):
            self.first = first
        if last is not None and (self.last is None or last > self.last):
            self.last = last

    def merge(self, other: "BatchEffect") -> None:
        for kind in other.kinds:
            self.add(kind, other.owners, other.first, other.last)


#: The columns a written fact's effect is read from: its owner and its timestamps (see BatchEffect).
EFFECT_COLUMNS: dict[Kind, tuple[str, tuple[str, ...]]] = {
    Kind.DEAL: ("owner_id", ("added_at", "won_at", "lost_at", "expected_close_date", "source_updated_at")),
    Kind.ACTIVITY: ("owner_id", ("added_at", "due_at", "done_at", "source_updated_at")),
}


def _moment(value: date | datetime) -> datetime:
    """A timestamp, or a date as UTC midnight."""
    return value if isinstance(value, datetime) else datetime.combine(value, time(), timezone.utc)


def _effect_of(rows: Iterable[dict[str, Any] | tuple[Any, ...]], owner: Any, times: Sequence[Any],
               ) -> tuple[set[int], datetime | None, datetime | None]:
    """(owners, first, last) of rows, reading ``owner`` and ``times`` with the given keys or indexes."""
    owners: set[int] = set()
    moments: list[datetime] = []
    for row in rows:
        owners.add(row[owner])
        moments.extend(_moment(v) for k in times if (v := row[k]) is not None)
    return owners, (min(moments) if moments else None), (max(moments) if moments else None)


def _dedupe(records: Sequence[tuple[int, dict[str, Any]]]) -> list[tuple[int, dict[str, Any]]]:
    """Keep one record per external id: the newest; the later one on a tie.

    Sorted by external id: every batch takes its row locks in this one global order (kinds in
    ``Kind`` order, then external ids), so concurrent batches of the same facts queue instead of
    deadlocking.
    """
    best: dict[str, tuple[int, dict[str, Any]]] = {}
    for pos, rec in records:
        key = rec["external_id"]
        kept = best.get(key)
        if kept is None or rec["source_updated_at"] >= kept[1]["source_updated_at"]:
            best[key] = (pos, rec)
    return [best[key] for key in sorted(best)]


DEAL_COLUMNS = ("title", "value", "currency", "cost", "owner_id", "pipeline_id", "stage_id", "status",
                "added_at", "won_at", "lost_at", "expected_close_date", "attributes")


def _deal_row(rec: dict[str, Any], users: dict[str, Any], stages: dict[str, Any]) -> dict[str, Any]:
    """The deals-table row of a validated deal record whose references resolved."""
    stage_id, pipeline_id = stages[rec["stage_ref"]]
    return {
        "external_id": rec["external_id"], "title": rec["title"], "value": rec["value"],
        "currency": rec["currency"], "cost": rec["cost"], "owner_id": users[rec["owner_ref"]],
        "pipeline_id": pipeline_id, "stage_id": stage_id, "status": rec["status"],
        "added_at": rec["added_at"], "won_at": rec["won_at"], "lost_at": rec["lost_at"],
        "expected_close_date": rec["expected_close_date"], "attributes": rec["attributes"],
        "source_updated_at": rec["source_updated_at"],
    }


# -- PostgreSQL: COPY the batch in, then one statement -------------------------------------------
_PG_TYPES = {"VARCHAR": "text", "TEXT": "text", "INTEGER": "int4", "SMALLINT": "int2", "BIGINT": "int8",
             "BOOLEAN": "bool", "NUMERIC": "numeric", "DATE": "date", "JSON": "text", "JSONB": "text",
             "TIMESTAMP WITH TIME ZONE": "timestamptz"}
_pg_dialect = postgresql.dialect()


def _pg_type(column: Column[Any]) -> str:
    """The type of ``column``'s value in the staging table (JSON travels as text)."""
    compiled = column.type.compile(dialect=_pg_dialect)
    return _PG_TYPES[compiled.split("(")[0].strip()]


def _is_json(column: Column[Any]) -> bool:
    return column.type.compile(dialect=_pg_dialect).startswith("JSON")


def _pg_converter(column: Column[Any]) -> Any:
    """How a record's value becomes something asyncpg's binary COPY encodes for ``column``."""
    if _is_json(column):
        return lambda v: None if v is None else orjson.dumps(v).decode()
    if isinstance(column.type, Enum):
        return lambda v: v.value if isinstance(v, enum.Enum) else v
    return None


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class _PgPlan:
    """How one kind's batch is written on PostgreSQL: a staging table and the upsert statement."""

    staging: str
    create: str
    sql: str
    columns: tuple[str, ...]
    converters: tuple[tuple[str, Any], ...]
    #: The kind the table holds (for the batch's effect).
    kind: Kind | None = None
    #: Every foreign key the statement writes, checked for the whole batch at once (see
    #: Ingestor._check_references): (record indexes, parameter indexes) per referenced table, and the
    #: statement locking the referenced rows, which switches the per-row checks off when all exist.
    references: tuple[tuple[tuple[int, ...], tuple[int, ...]], ...] = ()
    lock_sql: str | None = None


_PG_PLANS: dict[tuple[str, tuple[str, ...], bool], _PgPlan] = {}


def _pg_plan(table: Table, columns: Sequence[str], deal_history: bool = False) -> _PgPlan:
    key = (table.name, tuple(columns), deal_history)
    plan = _PG_PLANS.get(key)
    if plan is None:
        plan = _PG_PLANS[key] = _build_pg_plan(table, tuple(columns), deal_history)
    return plan


def _build_pg_plan(table: Table, columns: tuple[str, ...], deal_history: bool) -> _PgPlan:
    """The batch is COPied (binary) into a temporary staging table, truncated before each batch
    (a ``DELETE`` would leave dead rows that no autovacuum ever removes from a temporary table).

    ``prev`` reads the target as it was before the statement (every part of one statement sees
    the same snapshot), so it tells created from updated and, for deals, the stage before.
    ``up`` writes only rows at least as new as the stored version. The statement returns
    (written, created, stage changes recorded, owners, first, last): the last three are the
    :class:`BatchEffect` of the rows written (old and new values), NULL for kinds without owners.
    """
    cols = [table.c[c] for c in columns]
    all_columns = (*columns, "stage_entered_at") if deal_history else columns
    types = [_pg_type(c) for c in cols] + (["timestamptz"] if deal_history else [])
    definition = ", ".join(f"{_q(n)} {t}" for n, t in zip(all_columns, types))
    # The name carries a digest of the layout, so a pooled connection never reuses a stale one.
    digest = hashlib.sha1(definition.encode()).hexdigest()[:8]
    staging = f"_goalgraph_in_{table.name}_{digest}"
    create = (f"CREATE TEMPORARY TABLE IF NOT EXISTS {_q(staging)} ({definition}); "
              f"TRUNCATE pg_temp.{_q(staging)}")
    name = _q(table.name)
    select_list = ", ".join(f"i.{_q(c.name)}::json" if _is_json(c) else f"i.{_q(c.name)}" for c in cols)
    updates = ", ".join(f"{_q(c)} = EXCLUDED.{_q(c)}" for c in columns if c != "external_id")
    kind = next((k for k, m in MODELS.items() if m.__table__ is table), None)
    effect = EFFECT_COLUMNS.get(kind) if kind is not None else None  # type: ignore[arg-type]
    effect_cols = [effect[0], *effect[1]] if effect is not None else []
    prev_cols = ", ".join(["t.external_id", *(["t.stage_id"] if deal_history else []),
                           *(f"t.{_q(c)}" for c in effect_cols)])
    returning = ", ".join([f"{name}.external_id",
                           *([f"{name}.id", f"{name}.pipeline_id", f"{name}.stage_id"] if deal_history else []),
                           *(f"{name}.{_q(c)}" for c in effect_cols if not (deal_history and c == "owner_id")),
                           *([f"{name}.owner_id"] if deal_history else [])])
    sql = (
        f"WITH i AS MATERIALIZED (SELECT * FROM pg_temp.{_q(staging)}),\n"
        f"prev AS MATERIALIZED (SELECT {prev_cols} FROM {name} t JOIN i ON t.external_id = i.external_id),\n"
        f"up AS (INSERT INTO {name} ({', '.join(_q(c) for c in columns)}) SELECT {select_list} FROM i"
        " ORDER BY i.external_id\n"  # one global lock order (see _dedupe)
        f"  ON CONFLICT (external_id) DO UPDATE SET {updates}\n"
        f"  WHERE {name}.source_updated_at <= EXCLUDED.source_updated_at\n"
        f"  RETURNING {returning})\n"
    )
    if effect is not None:
        def span(alias: str) -> str:
            moments = ", ".join(f"({alias}.{_q(c)}::timestamp AT TIME ZONE 'UTC')"
                                if isinstance(table.c[c].type, Date) else f"{alias}.{_q(c)}" for c in effect[1])
            return f"{alias}.{_q(effect[0])}, LEAST({moments}), GREATEST({moments})"
        sql += (f", e(o, t0, t1) AS (SELECT {span('up')} FROM up UNION ALL SELECT {span('prev')}"
                " FROM prev JOIN up ON prev.external_id = up.external_id)\n")
        owners = "(SELECT array_agg(DISTINCT e.o) FROM e)"
        first, last = "(SELECT min(e.t0) FROM e)", "(SELECT max(e.t1) FROM e)"
    else:
        owners, first, last = "NULL::int4[]", "NULL::timestamptz", "NULL::timestamptz"
    created = ("(SELECT count(*) FROM up LEFT JOIN prev ON prev.external_id = up.external_id"
               " WHERE prev.external_id IS NULL)")
    if not deal_history:
        sql += f"SELECT (SELECT count(*) FROM up), {created}, 0, {owners}, {first}, {last}"
    else:
        sql += (
            ", h AS (SELECT * FROM unnest($1::text[], $2::int4[], $3::int4[], $4::timestamptz[])"
            " AS h(external_id, stage_id, pipeline_id, entered_at)),\n"
            "hist AS (INSERT INTO deal_stage_changes (deal_id, pipeline_id, stage_id, owner_id, entered_at)\n"
            # Sorted, so history rows too are locked in one order (after all of the batch's deals).
            "  SELECT * FROM (SELECT up.id, up.pipeline_id, up.stage_id, up.owner_id,\n"
            "         COALESCE(i.stage_entered_at, CASE WHEN prev.external_id IS NULL THEN i.added_at"
            " ELSE i.source_updated_at END)\n"
            "  FROM up JOIN i ON i.external_id = up.external_id LEFT JOIN prev ON prev.external_id = up.external_id\n"
            "  WHERE prev.external_id IS NULL OR prev.stage_id <> up.stage_id\n"
            "  UNION ALL\n"
            "  SELECT up.id, h.pipeline_id, h.stage_id, up.owner_id, h.entered_at"
            " FROM h JOIN up ON up.external_id = h.external_id) AS c(deal_id, pipeline_id, stage_id, owner_id,"
            " entered_at)\n"
            "  ORDER BY c.deal_id, c.stage_id, c.entered_at\n"
            "  ON CONFLICT (deal_id, stage_id, entered_at) DO NOTHING\n"
            "  RETURNING entered_at)\n"
            f"SELECT (SELECT count(*) FROM up), {created}, (SELECT count(*) FROM hist), {owners},"
            f" LEAST({first}, (SELECT min(entered_at) FROM hist)), GREATEST({last}, (SELECT max(entered_at) FROM hist))"
        )
    converters = tuple((c.name, conv) for c in cols if (conv := _pg_converter(c)) is not None)
    references, lock_sql = _pg_references(table, cols, deal_history)
    return _PgPlan(staging, create, sql, all_columns, converters, kind, references, lock_sql)


def _pg_references(table: Table, cols: list[Column[Any]], deal_history: bool,
                   ) -> tuple[tuple[tuple[tuple[int, ...], tuple[int, ...]], ...], str | None]:
    """The referenced tables of a plan's statement, where their ids are, and the statement that locks
    them ``FOR KEY SHARE`` (what each row's foreign-key trigger would do) and — only if every one
    exists — turns the triggers off for the rest of the transaction (``session_replication_role``;
    :meth:`Ingestor._pg_copy_run` turns them on again after the statement)."""
    where: dict[tuple[str, str], tuple[list[int], list[int]]] = {}
    for i, column in enumerate(cols):
        for fk in column.foreign_keys:
            where.setdefault((fk.column.table.name, fk.column.name), ([], []))[0].append(i)
    if deal_history:
        # The history rows take the deal's owner, stage and pipeline (checked above), the stage-history
        # parameters' stages ($2) and pipelines ($3), and the deal written by the same statement.
        where.setdefault(("stages", "id"), ([], []))[1].append(1)
        where.setdefault(("pipelines", "id"), ([], []))[1].append(2)
        history = DealStageChange.__table__
        covered = {t for t, _ in where} | {table.name}
        assert {fk.column.table.name for fk in history.foreign_keys} <= covered
    if not where:
        return (), None
    ctes = ", ".join(f"r{n} AS (SELECT 1 FROM {_q(t)} WHERE {_q(c)} = ANY(${n + 1}::int4[]) ORDER BY {_q(c)}"
                     " FOR KEY SHARE)" for n, (t, c) in enumerate(where))
    found = " AND ".join(f"(SELECT count(*) FROM r{n}) = ${len(where) + n + 1}::int8" for n in range(len(where)))
    lock_sql = (f"WITH {ctes} SELECT CASE WHEN {found} THEN"
                " set_config('session_replication_role', 'replica', true) = 'replica' ELSE false END")
    return tuple((tuple(i), tuple(p)) for i, p in where.values()), lock_sql


@dataclass
class Prepared:
    """A batch of one kind made ready for its statement (references resolved, deduplicated, in
    COPY layout) by :meth:`Ingestor.prepare`, which needs no database: a bulk import prepares the
    next batch while the database runs the current one. Valid while the id caches it read from are
    unchanged (``generation``)."""

    kind: Kind
    generation: int
    plan: "_PgPlan"
    records: list[tuple[Any, ...]]
    params: tuple[list[Any], ...]
    #: Records refused for a bad reference (strict mode: nothing is written when there are any).
    errors: list[FactError]
    rejected: int
    #: Valid records dropped because a newer copy of the same fact is in the batch.
    duplicates: int


#: The deals statement's COPY layout, as :meth:`Ingestor._prepare_deals` builds its tuples.
DEAL_COPY_COLUMNS = ("external_id", *DEAL_COLUMNS, "source_updated_at")


def _DEAL_PLAN() -> _PgPlan:  # noqa: N802 - reads as the constant it caches
    plan = _pg_plan(Deal.__table__, DEAL_COPY_COLUMNS, deal_history=True)
    assert plan.columns == (*DEAL_COPY_COLUMNS, "stage_entered_at")
    return plan


class IdCaches:
    """External id → internal id caches an :class:`Ingestor` fills as it resolves references, which
    several Ingestors (one per connection of a bulk import) can share."""

    def __init__(self, copy_path: bool | None) -> None:
        self.ids: dict[Kind, dict[str, Any]] = {k: {} for k in Kind}
        #: Changes whenever a cache does, so a batch prepared from the caches knows it is still valid.
        self.generation = 0
        #: PostgreSQL: whether batches go through COPY + one statement (needs the TEMP privilege).
        self.copy_path = copy_path
        #: PostgreSQL: whether the role may set session_replication_role (see _pg_references).
        self.batch_references: bool | None = None


class Ingestor:
    """Applies batches of validated records within one session (one transaction).

    Lookups of referenced ids are cached for the Ingestor's life, so a bulk import
    resolves each owner or stage once; pass another Ingestor's :attr:`caches` to share them
    (Ingestors on other connections: ids seen by one are not looked up again by another).
    What the writes touched accumulates in :attr:`effect` until :meth:`take_effect`.
    """

    def __init__(self, session: AsyncSession, *, lenient: bool = False, caches: IdCaches | None = None) -> None:
        self.session = session
        self.lenient = lenient
        self.dialect = session.bind.dialect.name
        self.caches = caches or IdCaches(None if self.dialect == "postgresql" else False)
        #: Called just before each upsert statement is sent (a bulk import's reader starts its next chunk).
        self.on_statement: Callable[[], None] | None = None
        #: What the rows written since the last :meth:`take_effect` touched.
        self.effect = BatchEffect()

    @property
    def _ids(self) -> dict[Kind, dict[str, Any]]:
        return self.caches.ids

    @property
    def _generation(self) -> int:
        return self.caches.generation

    @_generation.setter
    def _generation(self, value: int) -> None:
        self.caches.generation = value

    @property
    def _copy_path(self) -> bool | None:
        return self.caches.copy_path

    @_copy_path.setter
    def _copy_path(self, value: bool | None) -> None:
        self.caches.copy_path = value

    def take_effect(self) -> BatchEffect:
        """What the rows written since the last call touched (call it once per transaction, before
        its commit; start each transaction with a call, too, after a rollback)."""
        effect, self.effect = self.effect, BatchEffect()
        return effect

    def forget(self) -> None:
        """Drop cached ids (after a rollback: ids created by the undone transaction do not exist)."""
        # New dicts rather than cleared ones: a write on another connection sharing the caches may be
        # using the ones it resolved (they stay complete for it).
        self.caches.ids = {k: {} for k in Kind}
        self._generation += 1
        self.effect = BatchEffect()

    # -- helpers -------------------------------------------------------------
    def _insert(self, table: Table):  # type: ignore[no-untyped-def]
        return conflict_insert(self.dialect, table)

    async def _resolve(self, kind: Kind, refs: Iterable[str], *cols: Any) -> dict[str, Any]:
        """external id → internal id (or a row of ``(id, *cols)``) for known refs."""
        cache = self._ids[kind]
        if len(cache) > CACHE_LIMIT:
            cache = self._ids[kind] = {}  # a new dict: see forget
            self._generation += 1
        missing = {r for r in refs if r is not None and r not in cache}
        if missing:
            self._generation += 1
            model = MODELS[kind]
            rows = await self.session.execute(
                select(model.external_id, model.id, *cols).where(model.external_id.in_(missing))
            )
            for ext, *rest in rows:
                cache[ext] = rest[0] if not cols else tuple(rest)
        return cache

    async def _existing(self, kind: Kind, keys: list[str], *cols: Any) -> dict[str, tuple[Any, ...]]:
        model = MODELS[kind]
        out: dict[str, tuple[Any, ...]] = {}
        for start in range(0, len(keys), 5000):
            chunk = keys[start : start + 5000]
            rows = await self.session.execute(
                select(model.external_id, model.id, model.source_updated_at, *cols).where(model.external_id.in_(chunk))
            )
            for ext, *rest in rows:
                out[ext] = tuple(rest)
        return out

    async def _write(
        self, kind: Kind, rows: list[dict[str, Any]], update_cols: Sequence[str]
    ) -> dict[str, int]:
        """Upsert ``rows`` (already filtered to the newer ones); external id → id."""
        if not rows:
            return {}
        model = MODELS[kind]
        table = model.__table__
        stmt = self._insert(table)
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.external_id],
            set_={c: stmt.excluded[c] for c in update_cols},
            where=table.c.source_updated_at <= stmt.excluded.source_updated_at,
        ).returning(table.c.external_id, table.c.id)
        result = await self.session.execute(stmt, rows)
        ids = {ext: id_ for ext, id_ in result}
        cache = self._ids[kind]
        if len(cache) > CACHE_LIMIT:
            cache = self._ids[kind] = {}  # a new dict: see forget
        cache.update(ids)
        self._generation += 1
        return ids

    async def _classify(
        self, kind: Kind, records: list[tuple[int, dict[str, Any]]], *cols: Any
    ) -> tuple[list[tuple[int, dict[str, Any], tuple[Any, ...] | None]], UpsertCounts]:
        """Split deduped records into the ones to write (with their stored row) and count."""
        counts = UpsertCounts()
        unique = _dedupe(records)
        counts.ignored += len(records) - len(unique)
        existing = await self._existing(kind, [r["external_id"] for _, r in unique], *cols)
        keep: list[tuple[int, dict[str, Any], tuple[Any, ...] | None]] = []
        for pos, rec in unique:
            stored = existing.get(rec["external_id"])
            if stored is None:
                counts.created += 1
            elif stored[1] > rec["source_updated_at"]:
                counts.ignored += 1
                continue
            else:
                counts.updated += 1
            keep.append((pos, rec, stored))
        return keep, counts

    def _reject(self, errors: list[FactError], path: tuple[str | int, ...], field_name: str, kind: str, ref: str) -> None:
        errors.append(FactError((*path, field_name), f"no {kind} with id {ref!r}", "UNKNOWN_REFERENCE"))

    # -- PostgreSQL fast path ------------------------------------------------------------
    async def _use_copy_path(self) -> bool:
        """PostgreSQL 11+ and the right to create temporary tables; else the portable path."""
        if self._copy_path is None:
            raw = await self._asyncpg()
            self._copy_path = raw.get_server_version() >= (11, 0) and bool(
                await raw.fetchval("SELECT has_database_privilege(current_database(), 'TEMPORARY')"))
        return self._copy_path

    async def _check_references(self, raw: Any, plan: _PgPlan, records: list[tuple[Any, ...]],
                                params: Sequence[list[Any]]) -> bool:
        """Check the batch's foreign keys at once, instead of a trigger per row and key: lock every
        referenced row ``FOR KEY SHARE`` (as each trigger would) and, when all of them exist, switch
        the triggers off until the statement has run. True when they are off. Needs the right to set
        ``session_replication_role`` (a superuser, or PostgreSQL 15's ``GRANT SET ON PARAMETER``);
        without it, or when a reference is missing, the triggers check (and report) as usual."""
        if plan.lock_sql is None or not records:
            return False
        if self.caches.batch_references is None:
            allowed = await raw.fetchval("SELECT current_setting('is_superuser') = 'on'")
            if not allowed and raw.get_server_version() >= (15, 0):
                allowed = await raw.fetchval("SELECT has_parameter_privilege('session_replication_role', 'SET')")
            self.caches.batch_references = bool(allowed)
        if not self.caches.batch_references:
            return False
        keys: list[list[int]] = []
        for indexes, param_indexes in plan.references:
            ids: set[int] = set()
            for i in indexes:
                ids.update(r[i] for r in records)
            for p in param_indexes:
                ids.update(params[p])
            ids.discard(None)  # type: ignore[arg-type]
            keys.append(sorted(ids))
        return bool(await raw.fetchval(plan.lock_sql, *keys, *(len(k) for k in keys)))

    async def _asyncpg(self) -> Any:
        """The asyncpg connection under the session, inside the session's transaction."""
        conn = await self.session.connection()
        raw = (await conn.get_raw_connection()).driver_connection
        if not raw.is_in_transaction():
            await self.session.execute(text("SELECT 1"))  # SQLAlchemy begins its transaction lazily
        return raw

    async def _pg_run(self, plan: _PgPlan, rows: list[dict[str, Any]], *params: list[Any]) -> tuple[int, int, int]:
        """COPY ``rows`` into the plan's staging table and run its upsert statement."""
        for name, convert in plan.converters:
            for row in rows:
                row[name] = convert(row[name])
        get = operator.itemgetter(*plan.columns)
        records = [get(row) for row in rows] if len(plan.columns) > 1 else [(get(row),) for row in rows]
        return await self._pg_copy_run(plan, records, *params)

    async def _pg_copy_run(self, plan: _PgPlan, records: list[tuple[Any, ...]],
                           *params: list[Any]) -> tuple[int, int, int]:
        """COPY ``records`` (tuples in ``plan.columns`` order, values as COPY takes them) into the
        plan's staging table and run its upsert statement: (written, created, stage changes)."""
        raw = await self._asyncpg()
        try:
            # jit: the planner cannot estimate the staging table and may JIT-compile every batch for
            # tens of milliseconds. LOCAL settings end with the transaction (pooled connections unaffected).
            await raw.execute(f"SET LOCAL jit = off; {plan.create}")  # create if missing, truncate
            await raw.copy_records_to_table(plan.staging, records=records, columns=plan.columns,
                                            schema_name="pg_temp")
            if self.on_statement is not None:
                self.on_statement()
            unchecked = await self._check_references(raw, plan, records, params)
            written, created, recorded, owners, first, last = await raw.fetchrow(plan.sql, *params)
            if unchecked:
                await raw.execute("SET LOCAL session_replication_role TO DEFAULT")
        except Exception as exc:  # asyncpg's errors, surfaced like the portable path's
            if isinstance(exc, DBAPIError):
                raise
            import asyncpg

            broken = raw.is_closed() or (isinstance(exc, (asyncpg.InterfaceError, asyncpg.InternalClientError))
                                          and not isinstance(exc, asyncpg.PostgresError))
            if broken:
                # E.g. the server terminated the connection mid-COPY: asyncpg's state is left unusable
                # ("another operation is in progress"), so close it for the pool to replace.
                raw.terminate()
            raise DBAPIError(plan.sql, None, exc, connection_invalidated=broken) from exc
        if written and plan.kind is not None:
            self.effect.add(plan.kind, owners if plan.kind in EFFECT_COLUMNS else None, first, last)
        return written, created, recorded

    async def _pg_upsert(self, kind: Kind, columns: Sequence[str], rows: list[dict[str, Any]]) -> UpsertCounts:
        """Upsert deduplicated rows of ``kind`` in one statement; counts created / updated / ignored."""
        if not rows:
            return UpsertCounts()
        written, created, _ = await self._pg_run(_pg_plan(MODELS[kind].__table__, columns), rows)
        return UpsertCounts(created=created, updated=written - created, ignored=len(rows) - written)

    def _prepare_deals(self, records: Sequence[tuple[tuple[str | int, ...], dict[str, Any]]], *,
                       speculative: bool, resolved: tuple[dict[str, Any], ...] | None = None) -> Prepared | None:
        """Deals in the PostgreSQL statement's COPY layout, from the id caches alone.

        ``speculative``: a reference not in the caches may only be not looked up yet, so give up
        (None) instead of rejecting the row. Otherwise the references were resolved first and a
        missing one is the row's error. Also returns None when the caches change meanwhile (another
        thread: see :meth:`prepare`). ``resolved``: the (users, stages, pipelines) caches as the
        references were looked up in (another connection sharing the caches may have dropped them since)."""
        generation = self._generation
        users, stages, pipelines = resolved or (self._ids[Kind.USER], self._ids[Kind.STAGE], self._ids[Kind.PIPELINE])
        errors: list[FactError] = []
        newest: dict[str, dict[str, Any]] = {}
        valid = 0
        for path, rec in records:
            stage = stages.get(rec["stage_ref"])
            pipeline_ref = rec["pipeline_ref"]
            if (rec["owner_ref"] not in users or stage is None
                    or (pipeline_ref and pipelines.get(pipeline_ref) != stage[1])
                    or (rec["stage_history"] and any(ref not in stages for ref, _ in rec["stage_history"]))):
                if speculative:
                    return None
                self._deal_errors(path, rec, users, stages, pipelines, errors)
                continue
            valid += 1
            # One record per external id: the newest, the later one on a tie (as _dedupe).
            key = rec["external_id"]
            kept = newest.get(key)
            if kept is None or rec["source_updated_at"] >= kept["source_updated_at"]:
                newest[key] = rec
        rows: list[tuple[Any, ...]] = []
        history: tuple[list[Any], ...] = ([], [], [], [])
        dumps = orjson.dumps
        for key in sorted(newest):  # one global lock order (see _dedupe)
            rec = newest[key]
            stage_id, pipeline_id = stages[rec["stage_ref"]]
            status = rec["status"]
            attributes = rec["attributes"]
            rows.append((key, rec["title"], rec["value"], rec["currency"], rec["cost"], users[rec["owner_ref"]],
                         pipeline_id, stage_id, status.value if isinstance(status, enum.Enum) else status,
                         rec["added_at"], rec["won_at"], rec["lost_at"], rec["expected_close_date"],
                         None if attributes is None else dumps(attributes).decode(), rec["source_updated_at"],
                         rec["stage_entered_at"]))
            for ref, entered in rec["stage_history"]:
                sid, pid = stages[ref]
                history[0].append(key)
                history[1].append(sid)
                history[2].append(pid)
                history[3].append(entered)
        if generation != self._generation:
            return None
        return Prepared(Kind.DEAL, generation, _DEAL_PLAN(), rows, history, errors,
                        rejected=len(records) - valid, duplicates=valid - len(newest))

    def _deal_errors(self, path: tuple[str | int, ...], rec: dict[str, Any], users: dict[str, Any],
                     stages: dict[str, Any], pipelines: dict[str, Any], errors: list[FactError]) -> None:
        """Why a deal's references do not resolve, field by field."""
        if rec["owner_ref"] not in users:
            self._reject(errors, path, "owner_id", "user", rec["owner_ref"])
        stage = stages.get(rec["stage_ref"])
        if stage is None:
            self._reject(errors, path, "stage_id", "stage", rec["stage_ref"])
        elif rec["pipeline_ref"]:
            if rec["pipeline_ref"] not in pipelines:
                self._reject(errors, path, "pipeline_id", "pipeline", rec["pipeline_ref"])
            elif pipelines[rec["pipeline_ref"]] != stage[1]:
                errors.append(FactError((*path, "stage_id"),
                                        f"stage {rec['stage_ref']!r} is not in pipeline {rec['pipeline_ref']!r}"))
        for i, (ref, _) in enumerate(rec["stage_history"]):
            if ref not in stages:
                self._reject(errors, (*path, "stage_history", i), "stage_id", "stage", ref)

    async def _run_prepared(self, prepared: Prepared) -> tuple[UpsertCounts, int, list[FactError]]:
        """Write a prepared batch (nothing in strict mode when it has reference errors)."""
        if prepared.errors and not self.lenient:
            return UpsertCounts(), 0, prepared.errors
        counts = UpsertCounts(ignored=prepared.duplicates, rejected=prepared.rejected)
        if prepared.records:
            written, created, recorded = await self._pg_copy_run(prepared.plan, prepared.records, *prepared.params)
            counts.created += created
            counts.updated += written - created
            counts.ignored += len(prepared.records) - written
        else:
            recorded = 0
        return counts, recorded, prepared.errors

    def prepare(self, kind: Kind, records: Sequence[tuple[tuple[str | int, ...], dict[str, Any]]]) -> Prepared | None:
        """Make a batch ready for :meth:`apply` without touching the database, or None when it
        cannot be (a kind without a prepared form, the portable path, a reference not cached yet).

        Safe to call from another thread while this Ingestor writes another batch: it only reads
        the caches, and :meth:`apply` ignores a batch prepared from caches that changed since.
        """
        if kind is not Kind.DEAL or self._copy_path is not True or not records:
            return None
        return self._prepare_deals(records, speculative=True)

    # -- kinds -------------------------------------------------------------
    async def apply(
        self, kind: Kind, records: Sequence[tuple[tuple[str | int, ...], dict[str, Any]]],
        prepared: Prepared | None = None,
    ) -> tuple[UpsertCounts, int, list[FactError]]:
        """Upsert records of one kind. Returns counts, stage changes recorded and reference errors.

        ``records`` pairs each record with its path (for error messages). In strict mode the
        caller rolls back on any error; in lenient mode rows with bad references are skipped.
        ``prepared`` is what :meth:`prepare` made of these records, used when still valid.
        """
        if not records:
            return UpsertCounts(), 0, []
        if prepared is not None and prepared.kind is kind and prepared.generation == self._generation:
            return await self._run_prepared(prepared)
        handler = {
            Kind.USER: self._users,
            Kind.TEAM: self._teams,
            Kind.PIPELINE: self._pipelines,
            Kind.STAGE: self._stages,
            Kind.DEAL: self._deals,
            Kind.ACTIVITY: self._activities,
        }[kind]
        return await handler(list(records))

    async def _simple(self, kind: Kind, records, columns: Sequence[str]):  # type: ignore[no-untyped-def]
        if await self._use_copy_path():
            names = ("external_id", *columns, "source_updated_at")
            unique = _dedupe(list(enumerate(r for _, r in records)))
            counts = await self._pg_upsert(kind, names, [{c: rec[c] for c in names} for _, rec in unique])
            counts.ignored += len(records) - len(unique)
            return counts, 0, []
        keep, counts = await self._classify(kind, list(enumerate(r for _, r in records)), *self._effect_columns(kind))
        rows = [{c: rec[c] for c in ("external_id", *columns, "source_updated_at")} for _, rec, _ in keep]
        ids = await self._write(kind, rows, [*columns, "source_updated_at"])
        self._note_written(kind, ids, rows, [stored for _, _, stored in keep], 2)
        return counts, 0, []

    def _effect_columns(self, kind: Kind) -> list[Any]:
        """The stored columns the portable path reads for a kind's effect (owner, then timestamps)."""
        if kind not in EFFECT_COLUMNS:
            return []
        owner, times = EFFECT_COLUMNS[kind]
        model = MODELS[kind]
        return [getattr(model, c) for c in (owner, *times)]

    def _note_written(self, kind: Kind, ids: dict[str, Any], rows: list[dict[str, Any]],
                      stored: list[tuple[Any, ...] | None], offset: int, moments: Iterable[datetime] = ()) -> None:
        """Add the portable path's writes to :attr:`effect`: ``rows`` (new values) that ``ids`` says were
        written, with their ``stored`` rows (the owner and timestamps from index ``offset`` on)."""
        if not ids:
            return
        if kind not in EFFECT_COLUMNS:
            self.effect.add(kind, None, None, None)
            return
        owner, times = EFFECT_COLUMNS[kind]
        written = [(row, old) for row, old in zip(rows, stored) if row["external_id"] in ids]
        width = len(times) + 1
        olds = [old[offset:offset + width] for _, old in written if old is not None]
        owners, first, last = _effect_of([row for row, _ in written], owner, times)
        old_owners, old_first, old_last = _effect_of(olds, 0, range(1, width))
        moments = list(moments)
        self.effect.add(kind, owners | old_owners, min([m for m in (first, old_first, *moments) if m is not None],
                                                       default=None),
                        max([m for m in (last, old_last, *moments) if m is not None], default=None))

    async def _users(self, records):  # type: ignore[no-untyped-def]
        return await self._simple(Kind.USER, records, ("name", "email", "active"))

    async def _pipelines(self, records):  # type: ignore[no-untyped-def]
        return await self._simple(Kind.PIPELINE, records, ("name",))

    async def _teams(self, records):  # type: ignore[no-untyped-def]
        errors: list[FactError] = []
        users = await self._resolve(Kind.USER, {u for _, r in records for u in r["member_ids"]})
        valid = []
        rejected = 0
        for path, rec in records:
            bad = [u for u in rec["member_ids"] if u not in users]
            for u in bad:
                field_name = "leader_ids" if u in rec["leader_ids"] else "member_ids"
                self._reject(errors, path, field_name, "user", u)
            if bad:
                rejected += 1
            else:
                valid.append(rec)
        if errors and not self.lenient:
            return UpsertCounts(), 0, errors
        keep, counts = await self._classify(Kind.TEAM, list(enumerate(valid)))
        counts.rejected = rejected
        ids = await self._write(
            Kind.TEAM, [{c: rec[c] for c in ("external_id", "name", "source_updated_at")} for _, rec, _ in keep],
            ["name", "source_updated_at"],
        )
        self._note_written(Kind.TEAM, ids, [], [], 0)
        if ids:
            await self.session.execute(delete(TeamMembership).where(TeamMembership.team_id.in_(list(ids.values()))))
            members = sorted((
                {"team_id": ids[rec["external_id"]], "user_id": users[u], "is_leader": u in rec["leader_ids"]}
                for _, rec, _ in keep
                if rec["external_id"] in ids
                for u in rec["member_ids"]
            ), key=lambda m: (m["team_id"], m["user_id"]))
            if members:
                await self.session.execute(TeamMembership.__table__.insert(), members)
        return counts, 0, errors

    async def _stages(self, records):  # type: ignore[no-untyped-def]
        errors: list[FactError] = []
        pipelines = await self._resolve(Kind.PIPELINE, {r["pipeline_ref"] for _, r in records})
        valid = []
        for path, rec in records:
            if rec["pipeline_ref"] not in pipelines:
                self._reject(errors, path, "pipeline_id", "pipeline", rec["pipeline_ref"])
            else:
                valid.append({**rec, "pipeline_id": pipelines[rec["pipeline_ref"]]})
        if errors and not self.lenient:
            return UpsertCounts(), 0, errors
        counts, _, _ = await self._simple(
            Kind.STAGE, [(None, r) for r in valid], ("pipeline_id", "name", "position", "probability")
        )
        counts.rejected = len(records) - len(valid)
        self._ids[Kind.STAGE] = {}  # cached (id, pipeline) pairs may have moved
        self._generation += 1
        return counts, 0, errors

    async def _deals(self, records):  # type: ignore[no-untyped-def]
        users = await self._resolve(Kind.USER, {r["owner_ref"] for _, r in records})
        stage_refs = {r["stage_ref"] for _, r in records} | {s for _, r in records for s, _ in r["stage_history"]}
        stages = await self._resolve(Kind.STAGE, stage_refs, Stage.pipeline_id)
        pipelines = await self._resolve(Kind.PIPELINE, {r["pipeline_ref"] for _, r in records if r["pipeline_ref"]})
        if await self._use_copy_path():
            prepared = self._prepare_deals(records, speculative=False, resolved=(users, stages, pipelines))
            assert prepared is not None  # only another thread changes the caches meanwhile, and none does here
            return await self._run_prepared(prepared)
        errors: list[FactError] = []
        valid: list[dict[str, Any]] = []
        for path, rec in records:
            start = len(errors)
            self._deal_errors(path, rec, users, stages, pipelines, errors)
            if len(errors) == start:
                valid.append(rec)
        if errors and not self.lenient:
            return UpsertCounts(), 0, errors
        keep, counts = await self._classify(Kind.DEAL, list(enumerate(valid)), Deal.stage_id,
                                            *self._effect_columns(Kind.DEAL))
        counts.rejected = len(records) - len(valid)
        rows = [_deal_row(rec, users, stages) for _, rec, _ in keep]
        ids = await self._write(Kind.DEAL, rows, [*DEAL_COLUMNS, "source_updated_at"])
        history: list[dict[str, Any]] = []
        for (_, rec, stored), row in zip(keep, rows):
            deal_id = ids.get(rec["external_id"])
            if deal_id is None:  # lost a race to a newer version
                continue
            owner = row["owner_id"]
            if stored is None or stored[2] != row["stage_id"]:
                entered = rec["stage_entered_at"] or (rec["added_at"] if stored is None else rec["source_updated_at"])
                history.append({"deal_id": deal_id, "pipeline_id": row["pipeline_id"], "stage_id": row["stage_id"],
                                "owner_id": owner, "entered_at": entered})
            for ref, entered in rec["stage_history"]:
                sid, pid = stages[ref]
                history.append({"deal_id": deal_id, "pipeline_id": pid, "stage_id": sid, "owner_id": owner,
                                 "entered_at": entered})
        self._note_written(Kind.DEAL, ids, rows, [stored for _, _, stored in keep], 3,
                           (h["entered_at"] for h in history))
        recorded = 0
        history.sort(key=lambda h: (h["deal_id"], h["stage_id"], h["entered_at"]))  # one lock order
        if history:
            table = DealStageChange.__table__
            stmt = self._insert(table).on_conflict_do_nothing(
                index_elements=[table.c.deal_id, table.c.stage_id, table.c.entered_at]
            ).returning(table.c.id)
            recorded = len((await self.session.execute(stmt, history)).all())
        return counts, recorded, errors

    async def _activities(self, records):  # type: ignore[no-untyped-def]
        errors: list[FactError] = []
        users = await self._resolve(Kind.USER, {r["owner_ref"] for _, r in records})
        deals = await self._resolve(Kind.DEAL, {r["deal_ref"] for _, r in records if r["deal_ref"]})
        valid = []
        for path, rec in records:
            start = len(errors)
            if rec["owner_ref"] not in users:
                self._reject(errors, path, "owner_id", "user", rec["owner_ref"])
            if rec["deal_ref"] and rec["deal_ref"] not in deals:
                self._reject(errors, path, "deal_id", "deal", rec["deal_ref"])
            if len(errors) == start:
                valid.append({**rec, "owner_id": users[rec["owner_ref"]],
                              "deal_id": deals[rec["deal_ref"]] if rec["deal_ref"] else None})
        if errors and not self.lenient:
            return UpsertCounts(), 0, errors
        counts, _, _ = await self._simple(
            Kind.ACTIVITY, [(None, r) for r in valid],
            ("type", "subject", "owner_id", "deal_id", "added_at", "due_at", "done_at", "attributes"),
        )
        counts.rejected = len(records) - len(valid)
        return counts, 0, errors
