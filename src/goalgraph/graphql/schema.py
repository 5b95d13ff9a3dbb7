"""Build the strawberry schema with its protective extensions."""

from __future__ import annotations

import re
from typing import Any

import strawberry
from graphql import GraphQLError
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import MaskErrors, ParserCache, ValidationCache
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.extensions.max_aliases import create_validator as aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule

from goalgraph.graphql.types.fact_kinds import FactRecord
from goalgraph.graphql.admin_api import AdminMutations, AdminQueries
from goalgraph.graphql.auth import require_viewer
from goalgraph.graphql.cost import check_cost
from goalgraph.graphql.entries_api import EntryMutations
from goalgraph.graphql.errors import log_errors
from goalgraph.graphql.execution import GoalgraphExecutor
from goalgraph.graphql.goal_mutations import GoalMutations
from goalgraph.graphql.goal_queries import GoalQueries
from goalgraph.graphql.hierarchy_api import HierarchyMutations
from goalgraph.graphql.leaderboard_api import LeaderboardQueries
from goalgraph.graphql.notification_prefs_api import NotificationPrefsMutations, NotificationPrefsQueries
from goalgraph.graphql.mutations import FactMutations
from goalgraph.graphql.notifications_api import NotificationMutations, NotificationQueries
from goalgraph.graphql.notifications_live import NotificationSubscriptions
from goalgraph.graphql.plan_api import PlanMutations, PlanQueries
from goalgraph.graphql.queries import FactQueries
from goalgraph.graphql.scalars import SCALAR_OVERRIDES, TextLiterals, check_operation_text
from goalgraph.graphql.subscriptions import ProgressSubscriptions
from goalgraph.settings import Settings


@strawberry.type(description="Read goals with their progress, the organisation's settings and the CRM facts.")
class Query(GoalQueries, PlanQueries, FactQueries, AdminQueries, NotificationPrefsQueries, LeaderboardQueries,
            NotificationQueries):
    pass


@strawberry.type(description="Change data. Every mutation is atomic: it applies whole or not at all.")
class Mutation(GoalMutations, PlanMutations, FactMutations, AdminMutations, NotificationPrefsMutations,
               HierarchyMutations, NotificationMutations, EntryMutations):
    pass


@strawberry.type(description="Live updates.")
class Subscription(ProgressSubscriptions, NotificationSubscriptions):
    pass


_SUGGESTION = re.compile(r"\s*Did you mean .*$", re.DOTALL)


def _unexpected(error: GraphQLError) -> bool:
    """Hide internals (SQL, tracebacks) of unexpected exceptions; keep goalgraph's own errors."""
    return error.original_error is not None and not isinstance(error.original_error, GraphQLError)


class GoalgraphSchema(strawberry.Schema):
    """strawberry's schema: root fields need a viewer (see :func:`require_viewer`); refused requests are
    logged in one line, tracebacks only for faults."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("execution_context_class", GoalgraphExecutor)
        super().__init__(*args, **kwargs)
        require_viewer(self._schema)

    def create_extensions_runner(self, execution_context: Any, extensions: list) -> SchemaExtensionsRunner:  # type: ignore[override]
        if len(extensions) == 1 and type(extensions[0]) is Pipeline:
            return PipelineRunner(execution_context, extensions[0])
        return super().create_extensions_runner(execution_context, extensions)

    def process_errors(self, errors, execution_context=None):  # type: ignore[no-untyped-def,override]
        log_errors(errors, execution_context, _unexpected)


#: strawberry's shared LRU caches of parsed documents and validation verdicts (256 entries each).
_parse = ParserCache(maxsize=256).cached_parse_document
_validate = ValidationCache(maxsize=256).cached_validate_document
MAX_TOKENS = 20_000


class Pipeline(MaskErrors):
    """Everything goalgraph does around an operation, as one extension.

    strawberry wraps each hook of each extension in a new context manager on every request, so eleven
    small extensions cost more than the ``{ __typename }`` they surround. This one has four steps, and
    :class:`PipelineRunner` calls them without strawberry's per-request wrapping:

    * operation: the token limit for the parser, the validation rules (text literals, depth, aliases,
      introspection when it is off); afterwards suggestions are stripped when introspection is off,
      unexpected errors masked (as :class:`MaskErrors`, also for each subscription push) and the
      request's database session released (also after a failure);
    * parse and validate: through strawberry's LRU caches, keyed by the query text and by (schema,
      document, rules) — the rules are the same objects on every request, so a repeated query is
      validated once;
    * execute: the text rule for variables and operation name, then the cost limit.
    """

    def __init__(self, settings: Settings, rules: tuple[Any, ...]) -> None:
        super().__init__(should_mask_error=_unexpected, error_message="Internal error: see the server log.")
        self.rules = rules
        self.hide_suggestions = not settings.introspection
        self.cost_limit = settings.max_query_cost
        self.max_page_size = settings.max_page_size

    def begin_operation(self) -> None:
        context = self.execution_context
        context.parse_options["max_tokens"] = MAX_TOKENS
        context.validation_rules = context.validation_rules + self.rules
        self._stream_result_processed = False

    async def end_operation(self, failed: bool) -> None:
        context = self.execution_context
        try:
            if not failed:
                result = context.result
                if self.hide_suggestions:
                    for error in getattr(result, "errors", None) or []:
                        error.message = _SUGGESTION.sub("", error.message)
                if not self._stream_result_processed:  # pushes were masked one by one (on_stream_result)
                    self._process_result(result)
        finally:
            close = getattr(context.context, "close", None)
            if close is not None:
                await close()

    def parse(self) -> None:
        context = self.execution_context
        context.graphql_document = _parse(context.query, **context.parse_options)

    def validate(self) -> None:
        context = self.execution_context
        context.pre_execution_errors = _validate(context.schema._schema, context.graphql_document,
                                                 context.validation_rules)

    def check(self) -> None:
        context = self.execution_context
        check_operation_text(context.variables, context.operation_name)
        check_cost(context.schema._schema, context.graphql_document, context.operation_name, context.variables,
                   limit=self.cost_limit, max_page_size=self.max_page_size)

    def _process_result(self, result: object) -> None:
        # MaskErrors checks a runtime Protocol here, which costs more than the rest of a small request.
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = self._process_errors(errors)  # type: ignore[attr-defined]

    # The same steps as strawberry hooks, for strawberry's own runner.
    async def on_operation(self):  # type: ignore[no-untyped-def,override]
        self.begin_operation()
        try:
            yield
        except BaseException:
            await self.end_operation(failed=True)
            raise
        await self.end_operation(failed=False)

    def on_parse(self):  # type: ignore[no-untyped-def,override]
        self.parse()
        yield

    def on_validate(self):  # type: ignore[no-untyped-def,override]
        self.validate()
        yield

    def on_execute(self):  # type: ignore[no-untyped-def,override]
        self.check()
        yield


class _Step:
    """One step of a :class:`Pipeline` as a context manager (no generator, no exit stack)."""

    __slots__ = ("enter", "pipeline")

    def __init__(self, enter: Any, pipeline: Pipeline | None = None) -> None:
        self.enter = enter
        self.pipeline = pipeline  # set for the operation step, whose end is asynchronous

    async def __aenter__(self) -> None:
        self.enter()

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        if self.pipeline is not None:
            await self.pipeline.end_operation(failed=exc_type is not None)
        return False

    def __enter__(self) -> None:
        if self.pipeline is not None:
            raise RuntimeError("the goalgraph schema runs asynchronously (its operations release a session)")
        self.enter()

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        return False


class PipelineRunner(SchemaExtensionsRunner):
    """strawberry's extension runner for a schema whose only extension is a :class:`Pipeline`."""

    def __init__(self, execution_context: Any, pipeline: Pipeline) -> None:
        super().__init__(execution_context, [pipeline])
        self.pipeline = pipeline

    def operation(self) -> Any:
        return _Step(self.pipeline.begin_operation, self.pipeline)

    def parsing(self) -> Any:
        return _Step(self.pipeline.parse)

    def validation(self) -> Any:
        return _Step(self.pipeline.validate)

    def executing(self) -> Any:
        return _Step(self.pipeline.check)

    async def get_extensions_results(self, ctx: Any) -> dict[str, Any]:
        return dict(ctx.extensions_results)


def schema_extensions(settings: Settings) -> list:
    """The schema's extensions (factories), as :func:`build_schema` passes them."""
    # The rules are built once: strawberry's QueryDepthLimiter/MaxAliasesLimiter make new rule classes
    # per request, and the rules are part of the validation cache's key — it would never hit.
    rules: tuple[Any, ...] = (TextLiterals, depth_rule(settings.max_query_depth, None), aliases_rule(30))
    if not settings.introspection:
        rules += (NoSchemaIntrospectionCustomRule,)
    return [lambda: Pipeline(settings, rules)]


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    """The goalgraph schema; ``settings`` tune the limits (defaults when None)."""
    settings = settings or Settings()
    return GoalgraphSchema(query=Query, mutation=Mutation, subscription=Subscription,
                           types=[FactRecord],  # reached only through the Fact interface
                           extensions=schema_extensions(settings),
                           scalar_overrides=SCALAR_OVERRIDES)  # type: ignore[arg-type]


def export_sdl() -> str:
    """The schema as SDL, as checked in at schema/schema.graphql."""
    return build_schema().as_str() + "\n"
