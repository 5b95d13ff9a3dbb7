"""The one place for dialect-specific SQL: INSERT … ON CONFLICT, UTC and local wall-clock time."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Table
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


class local_wall_time(FunctionElement):  # noqa: N801 - reads like the SQL function it renders as
    """A timezone-aware timestamp as wall-clock time in the IANA zone ``zone`` (a column or bind).

    PostgreSQL converts with its own zone database (``timezone(zone, ts)``); SQLite has none, so
    :func:`register_sqlite_functions` adds one from Python's. Comparing a ``date`` with the result
    compares it with the local date: ``valid_from <= local_wall_time(ts, zone)`` holds from local
    midnight of ``valid_from`` on.
    """

    inherit_cache = True
    name = "local_wall_time"


_SQLITE_LOCAL_WALL_TIME = "goalgraph_local_wall_time"


@compiles(local_wall_time)
def _local_default(element: local_wall_time, compiler: Any, **kw: Any) -> str:
    return f"{_SQLITE_LOCAL_WALL_TIME}({compiler.process(element.clauses, **kw)})"


@compiles(local_wall_time, "postgresql")
def _local_postgresql(element: local_wall_time, compiler: Any, **kw: Any) -> str:
    moment, zone = list(element.clauses)
    return f"timezone({compiler.process(zone, **kw)}, {compiler.process(moment, **kw)})"


def _sqlite_local_wall_time(moment: str | None, zone: str | None) -> str | None:
    """SQLite stores UTC wall time as text (``YYYY-MM-DD HH:MM:SS[.ffffff]``); the same text, local."""
    if moment is None or zone is None:
        return None
    utc = datetime.fromisoformat(str(moment)).replace(tzinfo=timezone.utc)
    return utc.astimezone(ZoneInfo(zone)).replace(tzinfo=None).isoformat(sep=" ")


def register_sqlite_functions(dbapi_connection: Any) -> None:
    """Add the functions :class:`local_wall_time` needs to a new SQLite connection."""
    dbapi_connection.create_function(_SQLITE_LOCAL_WALL_TIME, 2, _sqlite_local_wall_time, deterministic=True)
