"""The one place for dialect-specific SQL: INSERT … ON CONFLICT, UTC wall-clock time."""

from __future__ import annotations

from typing import Any

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
