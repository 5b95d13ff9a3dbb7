"""The third-party example plugin (examples/goalgraph-quotes), installed as its own distribution.

It is discovered through its entry point, listed by ``goalgraph plugins``, exposed in
``goalTypes``, its own migration branch is applied by ``goalgraph migrate``, and a goal of its type
is computed by the engine from its own fact table — on SQLite and PostgreSQL. The guide shows its
files as they are, and goalgraph.testing's ``register_plugin`` adds a plugin for one test only.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from importlib.metadata import EntryPoint, entry_points

import pytest
from click.testing import CliRunner
from sqlalchemy import inspect

from goalgraph.cli import main
from goalgraph.db.migrate import current_heads, plugin_version_locations
from goalgraph.db.session import create_engine
from goalgraph.hookspecs import hookimpl
from goalgraph.plugins import ENTRY_POINT_GROUP, load_plugins
from goalgraph.registry import Category, FactKind, GoalType
from goalgraph.settings import Settings

INSTALL = ("the example plugin is not installed; install it beside goalgraph with "
           "`.venv/bin/pip install -e '.[test]' -e ./examples/goalgraph-quotes` (the README's test command does)")
NOW = datetime(2026, 4, 15, 12, 0, tzinfo=timezone.utc)

CREATE = """
mutation Create($input: GoalInput!) {
  createGoal(input: $input) {
    __typename
    ... on GoalSuccess { goal { goalType { key } measure periods { label actual facts status
                                unconverted { currency facts } } } }
    ... on ValidationError { message fieldErrors { path message } }
    ... on LicenceRequiredError { message feature }
  }
}
"""


def _entry_point() -> EntryPoint:
    found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == "quotes"]
    if not found:
        pytest.fail(INSTALL)
    return found[0]


@pytest.fixture(autouse=True)
def example_installed() -> EntryPoint:
    return _entry_point()


def test_discovered_through_its_entry_point(example_installed: EntryPoint) -> None:
    assert example_installed.value == "goalgraph_quotes"
    assert example_installed.dist is not None and example_installed.dist.name == "goalgraph-quotes"
    plugins = load_plugins(strict=True)
    info = next(p for p in plugins.loaded if p.name == "quotes")
    assert (info.version, info.module, info.goal_types, info.features) == (
        "0.1.0", "goalgraph_quotes", ["QUOTES_SENT"], ["QUOTES"])
    goal_type = plugins.registry.goal_types["QUOTES_SENT"]
    assert goal_type.feature == "QUOTES" and [m.key for m in goal_type.measures] == ["COUNT", "VALUE"]
    assert plugins.registry.owners[("goal type", "QUOTES_SENT")] == "quotes"
    import goalgraph_quotes

    assert str(goalgraph_quotes.MIGRATIONS.resolve()) in plugin_version_locations(plugins)  # beside first-party ones


def test_listed_by_goalgraph_plugins() -> None:
    result = CliRunner().invoke(main, ["plugins"])
    assert result.exit_code == 0, result.output
    assert "quotes 0.1.0 (goalgraph_quotes)" in result.output
    assert "goal type QUOTES_SENT: Quotes sent — measures COUNT, VALUE  [needs QUOTES]" in result.output
    assert "feature QUOTES: Quote goals" in result.output


async def test_exposed_in_goal_types(gql) -> None:  # type: ignore[no-untyped-def]
    data = await gql("{ goalTypes { key label category plugin feature measures { key money } "
                     "filters { key kind multiple choices } } }")
    quotes = next((t for t in data["goalTypes"] if t["key"] == "QUOTES_SENT"), None)
    assert quotes == {
        "key": "QUOTES_SENT", "label": "Quotes sent", "category": "CUSTOM", "plugin": "quotes", "feature": "QUOTES",
        "measures": [{"key": "COUNT", "money": False}, {"key": "VALUE", "money": True}],
        "filters": [{"key": "status", "kind": "TEXT", "multiple": True, "choices": ["SENT", "ACCEPTED", "DECLINED"]}],
    }, data["goalTypes"]


def _migrate(settings: Settings, *args: str) -> str:
    """Run ``goalgraph migrate ARGS`` against ``settings``' database, as an operator would."""
    env = {"GOALGRAPH_DATABASE_URL": settings.database_url, "GOALGRAPH_DATABASE_SCHEMA": settings.database_schema}
    result = CliRunner().invoke(main, ["migrate", *args], env=env)
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


async def test_goalgraph_migrate_applies_the_plugin_branch(settings: Settings) -> None:
    # the CLI runs its own event loop: give it a thread
    output = await asyncio.to_thread(_migrate, settings)
    engine = create_engine(settings)
    try:
        heads = await current_heads(engine)
        # the core's head, the example's branch and the first-party service plugin's branch
        assert "quotes_0001" in heads and "service_0001" in heads and len(heads) == 3, heads
        assert "quotes_0001" in output
        async with engine.connect() as conn:
            tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
            columns = {c["name"] for c in await conn.run_sync(lambda c: inspect(c).get_columns("quotes"))}
        assert {"users", "deals", "goals", "quotes"} <= tables
        assert {"external_id", "owner_id", "deal_id", "amount", "currency", "sent_at", "status"} <= columns

        # one plugin's branch can be reverted on its own (before uninstalling it) …
        await asyncio.to_thread(_migrate, settings, "--downgrade", "--revision", "quotes@base")
        assert "quotes_0001" not in await current_heads(engine)
        async with engine.connect() as conn:
            tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        assert "quotes" not in tables and "users" in tables
        # … and comes back with the next upgrade
        await asyncio.to_thread(_migrate, settings)
        assert "quotes_0001" in await current_heads(engine)
    finally:
        await engine.dispose()


BATCH = {
    "users": [{"id": "alice", "name": "Alice"}, {"id": "bob", "name": "Bob"}],
    "pipelines": [{"id": "sales", "name": "Sales", "stages": [{"id": "lead", "name": "Lead", "probability": 10}]}],
    "deals": [{"id": "d1", "title": "Big one", "value": "5000", "currency": "EUR", "owner_id": "alice",
               "stage_id": "lead", "added_at": "2026-01-02T09:00:00+00:00"}],
}


def quote(id: str, owner: str, sent_at: str | None, amount: str, status: str, currency: str = "EUR") -> dict[str, str]:
    row = {"id": id, "owner_id": owner, "amount": amount, "currency": currency, "status": status}
    if sent_at is not None:
        row["sent_at"] = sent_at
    return row


QUOTES = [
    quote("q1", "alice", "2026-01-10T10:00:00+00:00", "1000", "ACCEPTED") | {"deal_id": "d1"},
    quote("q2", "alice", "2026-01-20T10:00:00+00:00", "500", "SENT"),
    quote("q3", "alice", None, "9999", "DRAFT"),  # never sent: never counts
    quote("q4", "alice", "2026-02-05T10:00:00+00:00", "250.50", "DECLINED"),
    quote("q5", "bob", "2026-01-15T10:00:00+00:00", "700", "SENT"),
    quote("q6", "alice", "2026-03-03T10:00:00+00:00", "100", "SENT", currency="NOK"),  # no NOK→EUR rate
]


def goal(**over: object) -> dict[str, object]:
    base: dict[str, object] = {
        "title": "Quotes", "goalType": "QUOTES_SENT", "measure": "COUNT", "assignee": {"kind": "USER", "id": "alice"},
        "interval": "MONTHLY", "startDate": "2026-01-01", "endDate": "2026-03-31", "targetForAll": "2",
    }
    base.update(over)
    return base


async def test_quotes_sent_goal_is_computed_by_the_engine(runtime, gql, seed_facts) -> None:  # type: ignore[no-untyped-def]
    runtime.clock = lambda: NOW
    await seed_facts(BATCH)
    # Quotes come in through the core's fact pipeline, over GraphQL like any fact (camelCase field names).
    records = [{"".join(w.capitalize() if i else w for i, w in enumerate(k.split("_"))): v for k, v in q.items()}
               for q in QUOTES]
    ingested = (await gql("""mutation($input: IngestFactsInput!) { ingestFacts(input: $input) {
        __typename ... on IngestFactsResult { kinds { kind created updated ignored } } } }""",
                          input={"facts": [{"kind": "quote", "records": records}]}))["ingestFacts"]
    assert ingested == {"__typename": "IngestFactsResult",
                        "kinds": [{"kind": "quote", "created": 6, "updated": 0, "ignored": 0}]}

    count = (await gql(CREATE, input=goal()))["createGoal"]
    assert count["__typename"] == "GoalSuccess", count
    periods = count["goal"]["periods"]
    assert count["goal"]["goalType"] == {"key": "QUOTES_SENT"}
    assert [p["label"] for p in periods] == ["2026-01", "2026-02", "2026-03"]
    assert [p["facts"] for p in periods] == [2, 1, 1]
    assert [p["status"] for p in periods] == ["ACHIEVED", "MISSED", "MISSED"]

    accepted = (await gql(CREATE, input=goal(filters=[{"key": "status", "values": ["ACCEPTED"]}])))["createGoal"]
    assert [p["facts"] for p in accepted["goal"]["periods"]] == [1, 0, 0]

    value = (await gql(CREATE, input=goal(measure="VALUE", currency="EUR", assignee={"kind": "COMPANY"},
                                          targetForAll="1000")))["createGoal"]
    assert value["__typename"] == "GoalSuccess", value
    periods = value["goal"]["periods"]
    assert [p["actual"] for p in periods] == ["2200.0000", "250.5000", "0.0000"]
    assert periods[2]["unconverted"] == [{"currency": "NOK", "facts": 1}]

    refused = (await gql(CREATE, input=goal(filters=[{"key": "status", "values": ["DRAFT"]}])))["createGoal"]
    assert refused["__typename"] == "ValidationError"
    assert "'DRAFT' is not one of SENT, ACCEPTED, DECLINED" in str(refused["fieldErrors"])


def test_the_guide_shows_the_example_as_it_is() -> None:
    """Code in docs/plugins/writing-a-plugin.md that shows an example file is in that file, line for line."""
    import re
    from pathlib import Path

    root = Path(__file__).parents[1]
    example = root / "examples" / "goalgraph-quotes"
    package = example / "src" / "goalgraph_quotes"
    guide = (root / "docs" / "plugins" / "writing-a-plugin.md").read_text()
    blocks = re.findall(r"```(toml|python)\n(.*?)```", guide, flags=re.S)
    sources = {
        "[project.entry-points.goalgraph]": example / "pyproject.toml",
        "class Quote(Base):": package / "models.py",
        'revision = "quotes_0001"': package / "migrations" / "quotes_0001_quotes_table.py",
        "def quotes_sent(": package / "__init__.py",
        "def goalgraph_register_migrations(": package / "__init__.py",
        "QUOTE = FactKind(": package / "__init__.py",
    }
    checked = 0
    for marker, path in sources.items():
        for _, block in blocks:
            if marker not in block:
                continue
            lines = {line.rstrip() for line in path.read_text().splitlines()}
            missing = [line for line in block.splitlines() if line.strip() and line.rstrip() not in lines]
            assert not missing, f"the guide's block with {marker!r} differs from {path.relative_to(root)}: {missing}"
            checked += 1
    assert checked >= len(sources)


class _BigDeals:
    """A plugin object defined inside a test module: deals of 1,000 or more, by when they were added."""

    @staticmethod
    def source(_):  # type: ignore[no-untyped-def]
        from sqlalchemy import select

        from goalgraph.db.models import Deal

        return select(Deal.id.label("fact_id"), Deal.owner_id.label("user_id"),
                      Deal.added_at.label("occurred_at")).where(Deal.value >= 1000)

    @hookimpl
    def goalgraph_register_goal_types(self):  # type: ignore[no-untyped-def]
        return [GoalType(key="BIG_DEALS_ADDED", label="Big deals added", category=Category.DEAL,
                         fact_kind=FactKind.DEAL, description="Deals of 1,000 or more.", source=self.source)]


async def test_register_plugin_adds_a_plugin_for_one_test(register_plugin, seed_facts) -> None:  # type: ignore[no-untyped-def]
    app = await register_plugin(_BigDeals())
    assert "_BigDeals" in {p.name for p in app.plugins.loaded} and "quotes" in {p.name for p in app.plugins.loaded}
    app.runtime.clock = lambda: NOW
    await seed_facts(BATCH, deals=[*BATCH["deals"], {**BATCH["deals"][0], "id": "d2", "value": "10"}])
    created = (await app.gql(CREATE, input=goal(goalType="BIG_DEALS_ADDED", assignee={"kind": "COMPANY"})))["createGoal"]
    assert created["__typename"] == "GoalSuccess", created
    assert [p["facts"] for p in created["goal"]["periods"]] == [1, 0, 0]
    types = {t["key"] for t in (await app.gql("{ goalTypes { key } }"))["goalTypes"]}
    assert {"BIG_DEALS_ADDED", "QUOTES_SENT"} <= types


async def test_the_registered_plugin_is_gone_in_the_next_test(gql) -> None:  # type: ignore[no-untyped-def]
    types = {t["key"] for t in (await gql("{ goalTypes { key } }"))["goalTypes"]}
    assert "QUOTES_SENT" in types and "BIG_DEALS_ADDED" not in types
