"""The one place for dialect-specific SQL: INSERT … ON CONFLICT, UTC wall-clock time, local dates,
bucketing by sorted bounds and rows passed as one JSON parameter."""

from __future__ import annotations

import hashlib
import json
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Sequence
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Date, DateTime, String, Table, bindparam, cast, func, select, type_coerce
from sqlalchemy.sql.elements import ColumnClause
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


def conflict_insert(dialect_name: str, table: Table) -> Any:
    """An ``INSERT`` supporting ``on_conflict_do_update`` / ``on_conflict_do_nothing`` on this dialect."""
    return (postgresql.insert if dialect_name == "postgresql" else sqlite.insert)(table)


class utc_wall_time(FunctionElement):  # noqa: N801 - reads like the SQL function it renders as
    """A timezone-aware timestamp as UTC wall-clock time, whatever the session's TimeZone.

    Comparing a ``date`` with a ``timestamptz`` in PostgreSQL casts the date to midnight in the
    session time zone; comparing with this instead makes dates mean midnight UTC on every database
    (SQLite stores naive UTC already).
    """

    inherit_cache = True
    name = "utc_wall_time"


@compiles(utc_wall_time)
def _utc_default(element: utc_wall_time, compiler: Any, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(utc_wall_time, "postgresql")
def _utc_postgresql(element: utc_wall_time, compiler: Any, **kw: Any) -> str:
    return f"timezone('UTC', {compiler.process(element.clauses, **kw)})"


class local_date(FunctionElement):  # noqa: N801 - reads like the SQL function it renders as
    """The local calendar date of a timezone-aware timestamp in the IANA zone ``zone`` (a column or bind).

    PostgreSQL converts with its own zone database (``timezone(zone, ts)::date``); SQLite has none, so
    :func:`register_sqlite_functions` adds one from Python's (text ``YYYY-MM-DD``, as SQLite keeps
    dates). ``valid_from <= local_date(ts, zone)`` holds from local midnight of ``valid_from`` on,
    whatever the PostgreSQL session's TimeZone.
    """

    inherit_cache = True
    name = "local_date"


_SQLITE_LOCAL_DATE = "goalgraph_local_date"
_ZONES: dict[str, ZoneInfo] = {}


@compiles(local_date)
def _local_default(element: local_date, compiler: Any, **kw: Any) -> str:
    return f"{_SQLITE_LOCAL_DATE}({compiler.process(element.clauses, **kw)})"


@compiles(local_date, "postgresql")
def _local_postgresql(element: local_date, compiler: Any, **kw: Any) -> str:
    moment, zone = list(element.clauses)
    return f"CAST(timezone({compiler.process(zone, **kw)}, {compiler.process(moment, **kw)}) AS DATE)"


@lru_cache(maxsize=65536)
def _local_dates_of_utc_day(zone: str, utc_day: str) -> tuple[str, str, str]:
    """For one UTC day: (the local date at its start, the UTC time of day ``HH:MM:SS`` from which the
    next local date holds — "99" when none does within the day —, that next local date)."""
    tz = _ZONES.get(zone) or _ZONES.setdefault(zone, ZoneInfo(zone))
    start = datetime.fromisoformat(utc_day).replace(tzinfo=timezone.utc)
    first = start.astimezone(tz).date()
    following = first + timedelta(days=1)
    midnight = datetime(following.year, following.month, following.day, tzinfo=tz).astimezone(timezone.utc)
    if midnight < start + timedelta(days=1):  # (a skipped date, as Samoa's 30 Dec 2011, gives the one after)
        return first.isoformat(), midnight.strftime("%H:%M:%S"), midnight.astimezone(tz).date().isoformat()
    return first.isoformat(), "99", following.isoformat()


def _sqlite_local_date(moment: str | None, zone: str | None) -> str | None:
    """SQLite stores UTC wall time as text (``YYYY-MM-DD HH:MM:SS.ffffff``): its date in ``zone``.

    Called for every fact converted, so it works on the text: a UTC day holds at most two local
    dates, split at the one local midnight within it (cached per zone and day).
    """
    if moment is None or zone is None:
        return None
    text = str(moment)
    first, split, following = _local_dates_of_utc_day(zone, text[:10])
    return following if text[11:19] >= split else first


class unindexed(FunctionElement):  # noqa: N801 - reads like the SQL it renders as
    """``expr`` as a value SQLite will not look up through an index (``+expr``); PostgreSQL plans by its
    statistics and gets ``expr`` unchanged.

    SQLite's planner, without statistics, drives a scan by any index a condition allows: a filter
    matching most facts (several stages of a pipeline) then reads each fact through the index and
    its table (0.45 s instead of 0.28 s for 250k stage changes).
    """

    inherit_cache = True
    name = "unindexed"


@compiles(unindexed)
def _unindexed_default(element: unindexed, compiler: Any, **kw: Any) -> str:
    return f"+{compiler.process(element.clauses, **kw)}"


@compiles(unindexed, "postgresql")
def _unindexed_postgresql(element: unindexed, compiler: Any, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


_SQLITE_SLOT = "goalgraph_slot"
#: Sorted bounds by key, for SQLite's slot function (the statement passes a short key, not the bounds).
_BOUNDS: "OrderedDict[str, list[str]]" = OrderedDict()


def _sqlite_text(value: datetime | date) -> str:
    """A bound as SQLite stores the column it is compared with (UTC wall time text, or an ISO date)."""
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value.isoformat()


def _sqlite_slot(value: str | None, key: str) -> int | None:
    if value is None:
        return None
    return bisect_right(_BOUNDS[key], str(value))


def slot(dialect_name: str, value: Any, bounds: Sequence[datetime] | Sequence[date], name: str) -> Any:
    """How many of the sorted ``bounds`` are at or before ``value``: 0 before the first, ``k`` in
    ``[bounds[k-1], bounds[k])``, ``len(bounds)`` from the last on; NULL for NULL.

    PostgreSQL's ``width_bucket(value, array)``; on SQLite a registered function bisecting the bounds,
    which stay in this process under a key derived from them. The statement text does not depend on
    the bounds (they are the bind parameter ``name``), so compiled statements and plans are reused.
    """
    dated = not bounds or not isinstance(bounds[0], datetime)
    return slot_of(dialect_name, value, name, dated=dated, bounds=slot_bounds(dialect_name, bounds))


def slot_bounds(dialect_name: str, bounds: Sequence[datetime] | Sequence[date]) -> Any:
    """The value of :func:`slot_of`'s parameter for these sorted bounds."""
    if dialect_name == "postgresql":
        return list(bounds)
    texts = [_sqlite_text(b) for b in bounds]
    key = hashlib.sha1("\x1f".join(texts).encode()).hexdigest()
    if key in _BOUNDS:
        _BOUNDS.move_to_end(key)
    else:
        _BOUNDS[key] = texts
        while len(_BOUNDS) > 4096:
            _BOUNDS.popitem(last=False)
    return key


def slot_of(dialect_name: str, value: Any, name: str, *, dated: bool, bounds: Any = None) -> Any:
    """:func:`slot` with the bounds as the parameter ``name``: given (:func:`slot_bounds`), or supplied
    when the statement is executed (a statement built once and run with new bounds)."""
    if dialect_name == "postgresql":
        kind = postgresql.ARRAY(Date() if dated else DateTime(timezone=True))
        param = bindparam(name, bounds, type_=kind) if bounds is not None else bindparam(name, type_=kind)
        return func.width_bucket(value, cast(param, kind))
    param = bindparam(name, bounds, type_=String()) if bounds is not None else bindparam(name, type_=String())
    return func.goalgraph_slot(value, param)


def json_rows(dialect_name: str, name: str, columns: Sequence[ColumnClause], rows: Sequence[dict[str, Any]]) -> Any:
    """``rows`` (dicts keyed by the columns' names) as a selectable with typed ``columns``; any number of
    rows, one statement text.

    PostgreSQL: ``unnest`` of one array parameter per column (``<name>_<column>``) — the planner
    then knows how many rows there are, where a JSON function would be guessed at 100 or, once
    filtered, at 1 (and get nested loops over the facts' groups). SQLite: one JSON parameter
    read with ``json_each`` into a materialised CTE.
    """
    return rows_of_params(dialect_name, name, columns, rows_params(dialect_name, name, columns, rows))


def rows_params(dialect_name: str, name: str, columns: Sequence[ColumnClause],
                rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The parameters that carry ``rows`` into :func:`rows_of_params`'s selectable of the same name."""
    if dialect_name == "postgresql":
        return {f"{name}_{c.name}": [r[c.name] for r in rows] for c in columns}
    return {name: json.dumps(list(rows), separators=(",", ":"), default=str)}


def rows_of_params(dialect_name: str, name: str, columns: Sequence[ColumnClause],
                   values: dict[str, Any] | None = None) -> Any:
    """:func:`json_rows`' selectable reading its rows from parameters: ``values`` (from
    :func:`rows_params`), or supplied when the statement is executed."""
    def param(key: str, type_: Any) -> Any:
        return bindparam(key, values[key], type_=type_) if values is not None else bindparam(key, type_=type_)

    if dialect_name == "postgresql":
        arrays = []
        for c in columns:
            kind = postgresql.ARRAY(c.type)
            arrays.append(cast(param(f"{name}_{c.name}", kind), kind))
        return func.unnest(*arrays).table_valued(*(c.name for c in columns)).render_derived(name)
    each = func.json_each(param(name, String())).table_valued("value").alias(f"{name}_each")
    # Materialised, so SQLite reads the JSON once and can index the rows for the joins.
    return select(*(type_coerce(func.json_extract(each.c.value, f"$.{c.name}"), c.type).label(c.name)
                    for c in columns)).cte(name).prefix_with("MATERIALIZED")


def register_sqlite_functions(dbapi_connection: Any) -> None:
    """Add the functions :class:`local_date` and :func:`slot` need to a new SQLite connection."""
    dbapi_connection.create_function(_SQLITE_LOCAL_DATE, 2, _sqlite_local_date, deterministic=True)
    dbapi_connection.create_function(_SQLITE_SLOT, 2, _sqlite_slot, deterministic=True)
