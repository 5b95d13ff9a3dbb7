"""goalgraph's GraphQL scalars (Date, DateTime, Decimal, JSON) and the text guard, by the input rules.

strawberry's own scalars accept NaN, naive timestamps, years that overflow when converted and
integers beyond 64 bits; these replace them (``scalar_overrides``) and parse through
:mod:`goalgraph.inputs`. :func:`check_operation_text` and :class:`TextLiterals` apply the text rule (no NUL, no lone surrogate) to
every string of an operation — its literals and its variables — before it runs.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable, Iterator
from typing import Any

from graphql import GraphQLError, StringValueNode, ValidationRule
from graphql.language import ast
from graphql.utilities import value_from_ast_untyped
from strawberry.scalars import JSON
from strawberry.schema.types.scalar import DEFAULT_SCALAR_REGISTRY
from strawberry.types.scalar import ScalarDefinition

from goalgraph import inputs

BAD_USER_INPUT = "BAD_USER_INPUT"


def refused(message: str) -> GraphQLError:
    """The GraphQL error for a value the input rules refuse."""
    return GraphQLError(message, extensions={"code": BAD_USER_INPUT})


def _parser(parse: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def parse_value(value: Any) -> Any:
        try:
            return parse(value)
        except inputs.InputRefused as exc:
            raise refused(str(exc)) from None

    return parse_value


def _literal(parse_value: Callable[[Any], Any]) -> Callable[..., Any]:
    def parse_literal(node: ast.ValueNode, variables: dict[str, Any] | None = None) -> Any:
        try:
            return parse_value(value_from_ast_untyped(node, variables))
        except GraphQLError as exc:  # the same refusal, located in the document
            raise GraphQLError(exc.message, node, extensions=exc.extensions) from None

    return parse_literal


def _definition(name: str, description: str, parse: Callable[[Any], Any], serialize: Callable[[Any], Any],
                origin: Any, specified_by_url: str | None = None) -> ScalarDefinition:
    parse_value = _parser(parse)
    return ScalarDefinition(name=name, description=description, specified_by_url=specified_by_url,
                            serialize=serialize, parse_value=parse_value, parse_literal=_literal(parse_value),
                            origin=origin)


def _iso(value: Any) -> str:
    return value.isoformat()


_json_default = DEFAULT_SCALAR_REGISTRY[JSON]

#: Passed to ``strawberry.Schema(scalar_overrides=…)``. Names and descriptions stay strawberry's,
#: so the SDL does not change.
SCALAR_OVERRIDES: dict[object, ScalarDefinition] = {
    dt.date: _definition("Date", "Date (isoformat)", inputs.parse_day, _iso, dt.date),
    dt.datetime: _definition("DateTime", "Date with time (isoformat)", inputs.parse_instant, _iso, dt.datetime),
    decimal.Decimal: _definition("Decimal", "Decimal (fixed-point)", inputs.parse_decimal, str, decimal.Decimal),
    JSON: _definition("JSON", _json_default.description or "", inputs.check_json, lambda v: v, JSON,
                      _json_default.specified_by_url),
}


def check_window(start: dt.date | None, end: dt.date | None) -> None:
    """A from/to window whose end is not before its start (BAD_USER_INPUT otherwise)."""
    try:
        inputs.check_window(start, end)
    except inputs.InputRefused as exc:
        raise refused(str(exc)) from None


def _strings(value: Any) -> Iterator[str]:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)


def check_strings(value: Any, where: str) -> None:
    """Refuse the first string inside ``value`` that breaks the text rule."""
    for text in _strings(value):
        problem = inputs.text_problem(text)
        if problem is not None:
            raise refused(f"{where}: a string {problem}")


class TextLiterals(ValidationRule):
    """The text rule for string literals of the document (after GraphQL escapes such as \\u0000 are
    decoded), as a validation rule, so the validation cache keeps its verdict."""

    def enter_string_value(self, node: StringValueNode, *_: Any) -> None:
        problem = inputs.text_problem(node.value)
        if problem is not None:
            self.report_error(GraphQLError(f"a string literal {problem}", node,
                                           extensions={"code": BAD_USER_INPUT}))


def check_operation_text(variables: dict[str, Any] | None, operation_name: str | None) -> None:
    """The text rule for variables and the operation name, checked before the operation executes."""
    check_strings(variables or {}, "variables")
    if operation_name:
        check_strings(operation_name, "operationName")
