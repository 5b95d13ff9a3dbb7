"""Typed errors: expected mutation failures are data; query failures carry a code.

Every code is listed in docs/errors.md.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

import strawberry
from graphql import GraphQLError

from goalgraph.db.retry import RetriesExhausted
from goalgraph.errors import FactError


@strawberry.enum(description="Machine-readable error codes, in payload errors and in `extensions.code`.")
class ErrorCode(enum.Enum):
    VALIDATION = "VALIDATION"
    NOT_FOUND = "NOT_FOUND"
    FORBIDDEN = "FORBIDDEN"
    CONFLICT = "CONFLICT"
    LOCKED = "LOCKED"
    LICENCE_REQUIRED = "LICENCE_REQUIRED"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    QUERY_TOO_COSTLY = "QUERY_TOO_COSTLY"
    RETRYABLE = "RETRYABLE"


def camel(name: str) -> str:
    """``owner_id`` → ``ownerId`` (GraphQL spelling of a Python field name)."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


@strawberry.type(description="One problem with one input field.")
class FieldError:
    path: list[str] = strawberry.field(
        description="Where the field is in the input, e.g. `[\"deals\", \"3\", \"ownerId\"]`."
    )
    message: str = strawberry.field(description="What is wrong, in words.")
    code: str = strawberry.field(
        description="What kind of problem: REQUIRED, INVALID, UNKNOWN_REFERENCE, UNKNOWN_CURRENCY, UNKNOWN_FIELD …"
    )


@strawberry.interface(description="An expected failure of a mutation, returned as data.")
class UserError:
    code: ErrorCode = strawberry.field(description="The kind of failure.")
    message: str = strawberry.field(description="A summary for people.")


@strawberry.type(description="The input was refused; nothing was changed. `fieldErrors` lists every problem.")
class ValidationError(UserError):
    field_errors: list[FieldError] = strawberry.field(description="Every problem found, each naming its field.")

    @classmethod
    def from_fact_errors(cls, errors: Iterable[FactError], prefix: tuple[str, ...] = ()) -> "ValidationError":
        items = [
            FieldError(
                path=[*prefix, *(camel(p) if isinstance(p, str) else str(p) for p in e.path)],
                message=e.message,
                code=e.code,
            )
            for e in errors
        ]
        first = f"{'.'.join(items[0].path)}: {items[0].message}" if items else "invalid input"
        more = f" (and {len(items) - 1} more problem(s))" if len(items) > 1 else ""
        return cls(code=ErrorCode.VALIDATION, message=first + more, field_errors=items)


def query_error(message: str, code: ErrorCode) -> GraphQLError:
    """A GraphQL error with ``extensions.code`` for failures of queries."""
    return GraphQLError(message, extensions={"code": code.value})


@strawberry.type(description="The thing named does not exist (or is not visible to you).")
class NotFoundError(UserError):
    missing_id: strawberry.ID | None = strawberry.field(description="The id that was not found.")


@strawberry.type(description="The change was based on an outdated version; nothing changed. Reload and retry.")
class ConflictError(UserError):
    current_version: int = strawberry.field(description="The version now stored.")


@strawberry.type(description="The goal's targets are locked; unlock it before changing them.")
class LockedError(UserError):
    locked_at: datetime | None = strawberry.field(description="When it was locked.")
    locked_by: str | None = strawberry.field(description="Who locked it.")


@strawberry.type(description="You may not do this (your role or rights do not allow it).")
class ForbiddenError(UserError):
    pass


@strawberry.type(description="This needs a feature that is not licensed, or that an admin switched off.")
class LicenceRequiredError(UserError):
    feature: str = strawberry.field(description="The feature key needed.")


@strawberry.type(description="The database was busy (the change lost a race with concurrent ones, or the connection "
                 "was lost) and retries inside the server ran out; nothing was changed. Send the same request again.")
class RetryableError(UserError):
    retry_after_seconds: float = strawberry.field(description="How long to wait before sending it again.")

    @classmethod
    def of(cls, exhausted: "RetriesExhausted") -> "RetryableError":
        return cls(code=ErrorCode.RETRYABLE, message=str(exhausted), retry_after_seconds=exhausted.retry_after)


log = logging.getLogger("goalgraph.graphql")


def log_errors(errors: list[GraphQLError], execution_context: Any, unexpected: Callable[[GraphQLError], bool]) -> None:
    """Log a request's errors: a traceback for each unexpected one (a fault to fix), and one line
    for a request refused for expected reasons (bad query, not authenticated, forbidden …)."""
    expected = []
    for error in errors:
        if unexpected(error):
            log.error("unexpected error in %s at %s: %s", _operation(execution_context), _path(error), error.message,
                      exc_info=error.original_error)
        else:
            expected.append(error)
    if expected:
        reasons = "; ".join(f"{(e.extensions or {}).get('code', 'INVALID_QUERY')} {_path(e)}: {e.message}"
                            for e in expected[:5])
        more = f" (+{len(expected) - 5} more)" if len(expected) > 5 else ""
        log.info("refused %s: %s%s", _operation(execution_context), reasons, more)


def _operation(execution_context: Any) -> str:
    name = getattr(execution_context, "operation_name", None)
    return f"operation {name!r}" if name else "an anonymous operation"


def _path(error: GraphQLError) -> str:
    return ".".join(str(p) for p in error.path) if error.path else "(query)"
