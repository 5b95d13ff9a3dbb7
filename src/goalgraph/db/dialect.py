"""The one place that picks dialect-specific SQL: INSERT … ON CONFLICT for SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite


def conflict_insert(dialect_name: str, table: Table) -> Any:
    """An ``INSERT`` supporting ``on_conflict_do_update`` / ``on_conflict_do_nothing`` on this dialect."""
    return (postgresql.insert if dialect_name == "postgresql" else sqlite.insert)(table)
