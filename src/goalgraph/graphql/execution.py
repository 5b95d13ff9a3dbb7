"""graphql-core's executor with a fast path for objects whose selected fields are all plain leaves.

graphql-core resolves every field on its own: a path, a resolve-info object, the resolver, awaitable
checks, then completion — about 3 µs a field, most of a dashboard answer (26,000 periods × 5 fields).
For an object whose selection (after fragments and ``@skip``/``@include``) holds only leaf fields that
strawberry reads with plain ``getattr`` (no resolver, no field extension, no middleware) the answer is
the attribute values coerced by their scalar or enum, which :class:`GoalgraphExecutor` computes in one
loop. Anything unusual for one object — a missing value for a non-null field, an exception, a value
its type refuses — sends that object down graphql-core's own path, which produces the usual error.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    is_leaf_type,
)
from graphql.pyutils import Undefined
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter

#: (response name, attribute or None for __typename, leaf type or the type name, non-null)
LeafPlan = tuple[tuple[str, str | None, Any, bool], ...]


def leaf_plan(schema: GraphQLSchema, parent_type: GraphQLObjectType, grouped_field_set: Any) -> LeafPlan | None:
    """How to answer ``grouped_field_set`` on ``parent_type`` by reading attributes, or None if it cannot be."""
    plan = []
    for response_name, field_details_list in grouped_field_set.items():
        node = field_details_list[0].node
        if node.arguments or node.selection_set is not None:
            return None
        name = node.name.value
        if name == "__typename":
            plan.append((response_name, None, parent_type.name, True))
            continue
        field = parent_type.fields.get(name)
        if field is None:
            return None
        definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
        if (definition is None or not definition.is_basic_field or definition.default_resolver is not getattr
                or getattr(field.resolve, "__name__", None) != "_get_basic_result"):
            return None
        type_ = field.type
        non_null = isinstance(type_, GraphQLNonNull)
        if non_null:
            type_ = type_.of_type
        if not is_leaf_type(type_):
            return None
        plan.append((response_name, definition.python_name, type_, non_null))
    return tuple(plan)


def answer_leaves(plan: LeafPlan, source: Any) -> dict[str, Any] | None:
    """The object's answer by ``plan``, or None when graphql-core's own path must answer it."""
    results: dict[str, Any] = {}
    for response_name, attribute, leaf, non_null in plan:
        if attribute is None:
            results[response_name] = leaf
            continue
        try:
            value = getattr(source, attribute)
        except Exception:  # noqa: BLE001 - graphql-core's path reports it
            return None
        if value is None:
            if non_null:
                return None
            results[response_name] = None
            continue
        if isinstance(value, Exception):
            return None
        try:
            coerced = leaf.coerce_output_value(value)
        except Exception:  # noqa: BLE001
            return None
        if coerced is None or coerced is Undefined:
            return None
        results[response_name] = coerced
    return results


class GoalgraphExecutor(StrawberryGraphQLCoreExecutionContext):
    """strawberry's executor, answering plain leaf-only objects in one loop (see the module)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        middleware = self.middleware_manager
        self._fast = middleware is None or not middleware.middlewares
        self._plans: dict[tuple[GraphQLObjectType, int], tuple[Any, LeafPlan | None]] = {}

    def _plan(self, parent_type: GraphQLObjectType, grouped_field_set: Any) -> LeafPlan | None:
        key = (parent_type, id(grouped_field_set))
        cached = self._plans.get(key)
        if cached is not None and cached[0] is grouped_field_set:
            return cached[1]
        plan = leaf_plan(self.schema, parent_type, grouped_field_set)
        # The field set is kept with its plan, so its id cannot be reused while the entry lives.
        self._plans[key] = (grouped_field_set, plan)
        return plan

    def execute_fields(self, parent_type: GraphQLObjectType, source_value: Any, path: Any,  # type: ignore[override]
                       grouped_field_set: Any, position_context: Any) -> Any:
        if self._fast:
            plan = self._plan(parent_type, grouped_field_set)
            if plan is not None:
                answer = answer_leaves(plan, source_value)
                if answer is not None:
                    return answer
        return super().execute_fields(parent_type, source_value, path, grouped_field_set, position_context)

    def complete_iterable_value(self, item_type: Any, field_details_list: Any, info: Any, path: Any,  # type: ignore[override]
                                items: Any, position_context: Any) -> Any:
        """A list of leaf-only objects (a goal's periods) in one loop, without a path per item."""
        if self._fast and isinstance(items, (list, tuple)):
            object_type = item_type.of_type if isinstance(item_type, GraphQLNonNull) else item_type
            if (isinstance(object_type, GraphQLObjectType) and object_type.is_type_of is None
                    and not self.get_stream_usage(field_details_list, path)):
                grouped_field_set, new_defer_usages, _ = self.collect_subfields(object_type, field_details_list)
                plan = None if new_defer_usages else self._plan(object_type, grouped_field_set)
                if plan is not None:
                    answers = [None if item is None else answer_leaves(plan, item) for item in items]
                    if None not in answers:
                        return answers
        return super().complete_iterable_value(item_type, field_details_list, info, path, items, position_context)


__all__ = ["GoalgraphExecutor", "answer_leaves", "leaf_plan"]
