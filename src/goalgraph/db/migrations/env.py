"""Alembic environment: always runs on a connection handed in by goalgraph.db.migrate."""

from __future__ import annotations

from alembic import context

from goalgraph.db import models  # noqa: F401  (register the tables)
from goalgraph.db.base import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `goalgraph migrate`, which supplies the database connection")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
