"""The GraphQL layer stays out of the way: a repeated query is validated once, no extension runs per
field, and the hot types resolve as plain data — through goalgraph's executor fast path, which must
answer exactly as graphql-core's own path does."""

from __future__ import annotations

import enum
from decimal import Decimal

import pytest
import strawberry
from graphql.execution.executor import Executor
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from goalgraph.graphql.execution import GoalgraphExecutor
from goalgraph.graphql.scalars import SCALAR_OVERRIDES
from goalgraph.graphql.schema import GoalgraphSchema, build_schema
from goalgraph.settings import Settings

WEEKLY_GOAL = """
mutation($input: GoalInput!) { createGoal(input: $input) { __typename ... on GoalSuccess { goal { id } } } }
"""
DASHBOARD = "{ goals(first: 50) { nodes { id title periods { label target actual ratio status } } } }"


@pytest.fixture
def count_calls(monkeypatch):  # type: ignore[no-untyped-def]
    """count_calls(owner, name) -> a list that grows by one per call of owner.name."""

    def install(owner: object, name: str) -> list[None]:
        calls: list[None] = []
        original = getattr(owner, name)

        def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
            calls.append(None)
            return original(*args, **kwargs)

        monkeypatch.setattr(owner, name, counted)
        return calls

    return install


async def _weekly_goal(gql) -> str:  # type: ignore[no-untyped-def]
    created = await gql(WEEKLY_GOAL, input={
        "title": "Calls", "goalType": "DEALS_WON", "measure": "COUNT", "assignee": {"kind": "COMPANY"},
        "interval": "WEEKLY", "startDate": "2025-01-06", "endDate": "2026-01-04", "targetForAll": "5"})
    assert created["createGoal"]["__typename"] == "GoalSuccess", created
    return created["createGoal"]["goal"]["id"]


async def test_a_repeated_query_is_validated_once(gql, count_calls) -> None:  # type: ignore[no-untyped-def]
    import strawberry.schema.schema as strawberry_schema

    await _weekly_goal(gql)
    validations = count_calls(strawberry_schema, "validate")
    first = await gql(DASHBOARD)
    for _ in range(5):
        assert await gql(DASHBOARD) == first
    assert len(validations) == 1
    await gql("{ organisation { name } }")
    assert len(validations) == 2  # another text is validated (the counter does count)


async def test_periods_are_not_resolved_field_by_field(gql, count_calls) -> None:  # type: ignore[no-untyped-def]
    await _weekly_goal(gql)
    field_calls = count_calls(Executor, "execute_field")
    data = await gql(DASHBOARD)
    periods = data["goals"]["nodes"][0]["periods"]
    assert len(periods) == 52 and periods[0]["label"] == "2025-W02" and periods[0]["target"] == "5"
    assert {p["status"] for p in periods} <= {"MISSED", "ACHIEVED", "EXCEEDED", "IN_PROGRESS", "PENDING"}
    # goals, nodes, id, title, periods: a handful, not 52 × 5.
    assert 0 < len(field_calls) < 20, len(field_calls)


def test_no_extension_runs_for_every_field() -> None:
    schema = build_schema(Settings())
    extensions = schema.get_extensions()
    assert extensions and not [e for e in extensions if e._implements_resolve()]


# --------------------------------------------------------------------------- the fast path's answers


@strawberry.enum(description="A colour.")
class Colour(enum.Enum):
    RED = "RED"
    BLUE = "BLUE"


@strawberry.type(description="Plain leaves only.")
class Leafy:
    name: str = strawberry.field(description="Non-null text.")
    amount: Decimal | None = strawberry.field(description="Nullable decimal.")
    colour: Colour = strawberry.field(description="Non-null enum.")
    count: int = strawberry.field(description="Non-null int.")


@strawberry.type(description="Root.")
class LeafQuery:
    @strawberry.field(description="Leaves; the third has no name (a null for a non-null field).")
    def items(self, broken: bool = False) -> list[Leafy]:
        rows = [Leafy(name="a", amount=Decimal("1.50"), colour=Colour.RED, count=1),
                Leafy(name="b", amount=None, colour=Colour.BLUE, count=2)]
        if broken:
            rows.append(Leafy(name=None, amount=Decimal("3"), colour=Colour.RED, count=3))  # type: ignore[arg-type]
        return rows

    @strawberry.field(description="One leaf.")
    def one(self) -> Leafy:
        return Leafy(name="c", amount=Decimal("2"), colour=Colour.BLUE, count=7)


QUERIES = [
    "{ items { name amount colour count } }",
    "{ items { __typename n: name name amount } one { count colour } }",
    "query($skip: Boolean!) { items { name amount @skip(if: $skip) ...F } } fragment F on Leafy { colour }",
    "{ items(broken: true) { name count } }",
    "{ items(broken: true) { amount } one { name } }",
]


@pytest.mark.parametrize("query", QUERIES)
async def test_the_fast_path_answers_as_graphql_core(query: str, count_calls) -> None:  # type: ignore[no-untyped-def]
    fast = GoalgraphSchema(query=LeafQuery, scalar_overrides=SCALAR_OVERRIDES)  # type: ignore[arg-type]
    plain = GoalgraphSchema(query=LeafQuery, scalar_overrides=SCALAR_OVERRIDES,  # type: ignore[arg-type]
                            execution_context_class=StrawberryGraphQLCoreExecutionContext)
    assert fast.execution_context_class is GoalgraphExecutor

    class Anyone:
        async def viewer(self) -> None:
            return None

    variables = {"skip": True}
    calls = count_calls(Executor, "execute_field")
    expected = await plain.execute(query, variable_values=variables, context_value=Anyone())
    plain_calls = len(calls)
    got = await fast.execute(query, variable_values=variables, context_value=Anyone())
    assert got.data == expected.data
    assert [(e.message, e.path) for e in got.errors or []] == [(e.message, e.path) for e in expected.errors or []]
    if not expected.errors:
        assert len(calls) - plain_calls < plain_calls / 2, "the fast path was not taken"
