"""Build the strawberry schema with its protective extensions."""

from __future__ import annotations

import re

import strawberry
from strawberry.extensions import (
    AddValidationRules,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.extensions.max_aliases import create_validator as aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule
from graphql import GraphQLError
from strawberry.extensions import DisableIntrospection, MaskErrors

from goalgraph.graphql.admin_api import AdminMutations, AdminQueries
from goalgraph.graphql.auth import RequireViewer
from goalgraph.graphql.cost import QueryCostLimiter
from goalgraph.graphql.errors import log_errors
from goalgraph.graphql.goal_mutations import GoalMutations
from goalgraph.graphql.goal_queries import GoalQueries
from goalgraph.graphql.mutations import FactMutations
from goalgraph.graphql.notifications_api import NotificationMutations, NotificationQueries
from goalgraph.graphql.plan_api import PlanMutations, PlanQueries
from goalgraph.graphql.queries import FactQueries
from goalgraph.graphql.scalars import SCALAR_OVERRIDES, TextGuard, TextLiterals
from goalgraph.graphql.subscriptions import Subscription
from goalgraph.settings import Settings


@strawberry.type(description="Read goals with their progress, the organisation's settings and the CRM facts.")
class Query(GoalQueries, PlanQueries, FactQueries, AdminQueries, NotificationQueries):
    pass


@strawberry.type(description="Change data. Every mutation is atomic: it applies whole or not at all.")
class Mutation(GoalMutations, PlanMutations, FactMutations, AdminMutations, NotificationMutations):
    pass


class CloseSession(SchemaExtension):
    """Release the request's database session when the operation ends."""

    async def on_operation(self):  # type: ignore[no-untyped-def,override]
        yield
        context = self.execution_context.context
        close = getattr(context, "close", None)
        if close is not None:
            await close()


class HideSuggestions(SchemaExtension):
    """With introspection off, "Did you mean 'goals'?" must not reveal the schema either."""

    async def on_operation(self):  # type: ignore[no-untyped-def,override]
        yield
        result = self.execution_context.result
        for error in getattr(result, "errors", None) or []:
            error.message = _SUGGESTION.sub("", error.message)


_SUGGESTION = re.compile(r"\s*Did you mean .*$", re.DOTALL)


def _unexpected(error: GraphQLError) -> bool:
    """Hide internals (SQL, tracebacks) of unexpected exceptions; keep goalgraph's own errors."""
    return error.original_error is not None and not isinstance(error.original_error, GraphQLError)


class GoalgraphSchema(strawberry.Schema):
    """strawberry's schema, logging refused requests in one line and tracebacks only for faults."""

    def process_errors(self, errors, execution_context=None):  # type: ignore[no-untyped-def,override]
        log_errors(errors, execution_context, _unexpected)


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    """The goalgraph schema; ``settings`` tune the limits (defaults when None)."""
    settings = settings or Settings()
    limit_rules = [depth_rule(settings.max_query_depth, None), aliases_rule(30)]
    extensions: list = [
        CloseSession,
        RequireViewer,
        TextGuard,
        lambda: ParserCache(maxsize=256),
        lambda: ValidationCache(maxsize=256),
        TextLiterals,
        # Depth and alias rules are built once: QueryDepthLimiter/MaxAliasesLimiter make a new rule class
        # per request, and the rules are part of the validation cache's key — it never hit.
        lambda: AddValidationRules(limit_rules),
        lambda: MaxTokensLimiter(max_token_count=20_000),
        lambda: QueryCostLimiter(limit=settings.max_query_cost, max_page_size=settings.max_page_size),
        lambda: MaskErrors(should_mask_error=_unexpected, error_message="Internal error: see the server log."),
    ]
    if not settings.introspection:
        extensions += [DisableIntrospection, HideSuggestions]
    return GoalgraphSchema(query=Query, mutation=Mutation, subscription=Subscription, extensions=extensions,
                           scalar_overrides=SCALAR_OVERRIDES)  # type: ignore[arg-type]


def export_sdl() -> str:
    """The schema as SDL, as checked in at schema/schema.graphql."""
    return build_schema().as_str() + "\n"
