"""Every root field needs an authenticated viewer (introspection aside)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from graphql import GraphQLField, GraphQLSchema, default_field_resolver


def require_viewer(schema: GraphQLSchema) -> None:
    """Authenticate before any top-level query, mutation or subscription field resolves.

    The root fields' resolvers are wrapped once, when the schema is built. (A schema extension with a
    ``resolve`` hook would do the same, but graphql-core then calls it for every field of every answer:
    for a dashboard that is 150,000 calls to let 1 through.) Introspection's ``__schema``, ``__type`` and
    ``__typename`` are not fields of the root types and stay open.
    """
    for root in (schema.query_type, schema.mutation_type, schema.subscription_type):
        for field in (root.fields.values() if root is not None else ()):
            _guard(field)


def _guard(field: GraphQLField) -> None:
    resolve: Callable[..., Any] = field.resolve or default_field_resolver
    if getattr(resolve, "_requires_viewer", False):
        return

    async def guarded(root: Any, info: Any, **kwargs: Any) -> Any:
        await info.context.viewer()
        result = resolve(root, info, **kwargs)
        return await result if inspect.isawaitable(result) else result

    guarded._requires_viewer = True  # type: ignore[attr-defined]
    guarded._is_default = getattr(resolve, "_is_default", False)  # type: ignore[attr-defined]
    field.resolve = guarded
