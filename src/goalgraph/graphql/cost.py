"""Query cost: estimate how many fields an operation can answer, and refuse it before it runs.

The estimate is the number of fields the answer can hold, counting every list at its largest:

* a connection field (``goals``, ``deals``, ``contributions`` …) holds ``first`` items — the
  argument's value (literal or variable) or its default, never more than the page-size cap; its
  ``edges`` and ``nodes`` are those same items;
* any other list of objects (a goal's ``periods``, a team's ``members``, a deal's ``stageHistory`` …)
  counts as :data:`DEFAULT_LIST_SIZE` items;
* sizes multiply down the selection: ``goals(first: 100) { nodes { periods { label } } }`` costs
  1 + 100 + 100 + 100 × 10 × 1 fields.

An operation above ``Settings.max_query_cost`` is refused with ``QUERY_TOO_COSTLY``, its estimate
(counted until it passed the limit, so "at least") and the limit in ``extensions``. docs/graphql.md ("Query cost") explains how a client stays under it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
)
from graphql.type.introspection import SchemaMetaFieldDef, TypeMetaFieldDef

from goalgraph.graphql.errors import ErrorCode

#: How many items a plain list (not a connection) is assumed to hold.
DEFAULT_LIST_SIZE = 10


def _is_connection(type_: Any) -> bool:
    return isinstance(type_, GraphQLObjectType) and "pageInfo" in type_.fields and "edges" in type_.fields


def _is_list(type_: Any) -> bool:
    while isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    return isinstance(type_, GraphQLList)


class CostEstimator:
    """Estimates one operation's cost against a schema; stops counting once above ``limit``."""

    def __init__(self, schema: GraphQLSchema, fragments: Mapping[str, FragmentDefinitionNode],
                 variables: Mapping[str, Any] | None, max_page_size: int, limit: int) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables or {}
        self.max_page_size = max_page_size
        self.limit = limit

    def operation(self, operation: OperationDefinitionNode) -> int:
        root = self.schema.get_root_type(operation.operation)
        return 0 if root is None else self._selection(operation.selection_set, root, 1)

    def _fields(self, selection_set: SelectionSetNode, parent: Any, seen: frozenset[str]) -> Iterator[tuple[FieldNode, Any]]:
        """(field, the type it is selected on), through fragments."""
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                yield selection, parent
            elif isinstance(selection, InlineFragmentNode):
                on = self.schema.get_type(selection.type_condition.name.value) if selection.type_condition else parent
                yield from self._fields(selection.selection_set, on or parent, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is not None and name not in seen:
                    on = self.schema.get_type(fragment.type_condition.name.value) or parent
                    yield from self._fields(fragment.selection_set, on, seen | {name})

    def _selection(self, selection_set: SelectionSetNode, parent: Any, multiplier: int) -> int:
        total = 0
        for node, on in self._fields(selection_set, parent, frozenset()):
            total += multiplier
            if node.selection_set is None or total > self.limit:
                continue
            definition = self._definition(on, node.name.value)
            if definition is None:
                continue
            size = self._size(on, node, definition)
            total += self._selection(node.selection_set, get_named_type(definition.type), multiplier * size)
            if total > self.limit:
                break
        return total

    def _definition(self, parent: Any, name: str) -> GraphQLField | None:
        if name == "__schema":
            return SchemaMetaFieldDef
        if name == "__type":
            return TypeMetaFieldDef
        fields = getattr(parent, "fields", None)
        return None if fields is None else fields.get(name)

    def _size(self, parent: Any, node: FieldNode, definition: GraphQLField) -> int:
        if _is_connection(get_named_type(definition.type)):
            return self._first(node, definition)
        if _is_connection(parent) and node.name.value in ("edges", "nodes"):
            return 1  # the connection's own items, counted at the connection field
        return DEFAULT_LIST_SIZE if _is_list(definition.type) else 1

    def _first(self, node: FieldNode, definition: GraphQLField) -> int:
        value: Any = None
        argument = next((a for a in node.arguments or () if a.name.value == "first"), None)
        if argument is None:
            default = definition.args.get("first")
            value = None if default is None else default.default_value
        elif isinstance(argument.value, IntValueNode):
            value = int(argument.value.value)
        elif isinstance(argument.value, VariableNode):
            value = self.variables.get(argument.value.name.value)
        if not isinstance(value, int) or isinstance(value, bool):
            return self.max_page_size
        return max(0, min(value, self.max_page_size))


def estimate_cost(schema: GraphQLSchema, document: Any, operation_name: str | None,
                  variables: Mapping[str, Any] | None, *, max_page_size: int, limit: int) -> int:
    """The estimated cost of the operation that would run (the named one, or the only one)."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [d for d in operations if d.name is not None and d.name.value == operation_name]
    if len(operations) != 1:
        return 0  # graphql-core answers the missing or ambiguous operation itself
    return CostEstimator(schema, fragments, variables, max_page_size, limit).operation(operations[0])


def check_cost(schema: GraphQLSchema, document: Any, operation_name: str | None,
               variables: Mapping[str, Any] | None, *, limit: int, max_page_size: int) -> None:
    """Refuse (QUERY_TOO_COSTLY) an operation whose estimated cost is above ``limit`` (0: no limit)."""
    if limit <= 0 or document is None:
        return
    cost = estimate_cost(schema, document, operation_name, variables, max_page_size=max_page_size, limit=limit)
    if cost > limit:
        raise GraphQLError(
            f"query too costly: its estimated cost (at least {cost}) is above the limit {limit}; "
            "ask for fewer items per page (first), fewer nested lists or fewer aliases, and page "
            "through the rest (see docs/graphql.md, \"Query cost\")",
            extensions={"code": ErrorCode.QUERY_TOO_COSTLY.value, "cost": cost, "limit": limit},
        )
