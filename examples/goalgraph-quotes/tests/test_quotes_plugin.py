"""goalgraph-quotes' own tests, written with goalgraph's fixtures (goalgraph.testing).

Every test taking ``register_plugin`` or ``seed_facts`` runs twice: on SQLite and on PostgreSQL
(``GOALGRAPH_TEST_POSTGRES_URL``; skipped when the server is down, except in CI).
``register_plugin(goalgraph_quotes)`` registers the code under test for one test — it replaces
the installed copy when the plugin is also installed — and migrates the test's fresh database
with the plugin's own migrations.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, inspect, select

import goalgraph_quotes
from goalgraph.db.migrate import current_heads, plugin_version_locations
from goalgraph.errors import IngestRejected
from goalgraph.testing.plugin_helpers import plugin_app, plugins_with
from goalgraph_quotes import Quote

NOW = datetime(2026, 4, 15, 12, 0, tzinfo=timezone.utc)
T0 = "2026-01-10T10:00:00+00:00"
T1 = "2026-01-11T10:00:00+00:00"

FACTS = {
    "users": [{"id": "alice", "name": "Alice"}, {"id": "bob", "name": "Bob"}],
    "teams": [{"id": "north", "name": "North", "member_ids": ["alice", "bob"], "leader_ids": ["alice"]}],
    "pipelines": [{"id": "sales", "name": "Sales", "stages": [{"id": "lead", "name": "Lead", "probability": 10}]}],
    "deals": [{"id": "d1", "title": "Big one", "value": "5000", "currency": "EUR", "owner_id": "alice",
               "stage_id": "lead", "added_at": "2026-01-02T09:00:00+00:00"}],
}

CREATE = """
mutation Create($input: GoalInput!) {
  createGoal(input: $input) {
    __typename
    ... on GoalSuccess { goal { id periods { label actual facts status } } }
    ... on ValidationError { message fieldErrors { path message } }
    ... on LicenceRequiredError { feature message }
  }
}
"""


def goal(**over: object) -> dict[str, object]:
    base: dict[str, object] = {
        "title": "Quotes sent", "goalType": "QUOTES_SENT", "measure": "COUNT",
        "assignee": {"kind": "USER", "id": "alice"}, "interval": "MONTHLY",
        "startDate": "2026-01-01", "endDate": "2026-02-28", "targetForAll": "2",
    }
    base.update(over)
    return base


def test_registers_its_feature_goal_type_and_migrations() -> None:
    plugins = plugins_with(goalgraph_quotes)
    owner = plugins.registry.owners[("goal type", "QUOTES_SENT")]
    assert plugins.registry.owners[("feature", "QUOTES")] == owner
    goal_type = plugins.registry.goal_types["QUOTES_SENT"]
    assert goal_type.feature == "QUOTES"
    assert [m.key for m in goal_type.measures] == ["COUNT", "VALUE"] and goal_type.measure("VALUE").money
    assert goal_type.validate_filters({"status": ["ACCEPTED"]}) == []
    assert goal_type.validate_filters({"status": ["DRAFT"]}) != []
    # the fact source carries the agreed labels
    labels = set(goal_type.source(None).selected_columns.keys())  # type: ignore[arg-type]
    assert {"fact_id", "user_id", "occurred_at", "currency", "value", "status"} <= labels
    assert str(goalgraph_quotes.MIGRATIONS.resolve()) in plugin_version_locations(plugins)  # beside installed ones


async def test_its_migration_creates_the_quotes_table(register_plugin) -> None:  # type: ignore[no-untyped-def]
    app = await register_plugin(goalgraph_quotes)
    assert "quotes_0001" in await current_heads(app.runtime.engine)
    async with app.runtime.engine.connect() as conn:
        tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    assert "quotes" in tables


async def test_the_model_matches_the_migrations(register_plugin) -> None:  # type: ignore[no-untyped-def]
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from goalgraph.db.base import Base

    app = await register_plugin(goalgraph_quotes)
    # compare this plugin's table only (the core checks its own)
    only_ours = {"compare_type": True,
                 "include_object": lambda obj, name, kind, reflected, other: kind != "table" or name == "quotes"}
    async with app.runtime.engine.connect() as conn:
        diff = await conn.run_sync(lambda c: compare_metadata(MigrationContext.configure(c, opts=only_ours), Base.metadata))
    assert diff == [], f"models.py and migrations/ differ; run `python new_migration.py MESSAGE`: {diff}"


def _counts(summary) -> dict[str, int]:  # type: ignore[no-untyped-def]
    counts = summary.as_dict()["quote"]
    return {k: counts[k] for k in ("created", "updated", "ignored")}


async def test_quotes_are_upserted_idempotently_and_ignore_older_versions(register_plugin, seed_facts) -> None:  # type: ignore[no-untyped-def]
    app = await register_plugin(goalgraph_quotes)
    await seed_facts(FACTS)
    row = {"id": "q1", "owner_id": "alice", "deal_id": "d1", "amount": "1200.50", "currency": "eur",
           "sent_at": T0, "updated_at": T0}
    assert _counts(await app.ingest({"quotes": [row]})) == {"created": 1, "updated": 0, "ignored": 0}
    assert _counts(await app.ingest({"quotes": [row | {"status": "ACCEPTED", "updated_at": T1}]})) == \
        {"created": 0, "updated": 1, "ignored": 0}
    # a webhook arriving late with the previous version changes nothing
    assert _counts(await app.ingest({"quotes": [row | {"amount": "1", "updated_at": T0}]})) == \
        {"created": 0, "updated": 0, "ignored": 1}
    async with app.sessions() as session:
        stored = (await session.scalars(select(Quote))).one()
    assert (stored.status, stored.amount, stored.currency) == ("ACCEPTED", Decimal("1200.5000"), "EUR")
    assert stored.sent_at == datetime(2026, 1, 10, 10, 0, tzinfo=timezone.utc) and stored.deal_id is not None


async def test_a_bad_batch_names_every_problem_and_writes_nothing(register_plugin, seed_facts) -> None:  # type: ignore[no-untyped-def]
    app = await register_plugin(goalgraph_quotes)
    await seed_facts(FACTS)
    good = {"id": "q1", "owner_id": "alice", "amount": "10", "currency": "EUR", "sent_at": T0}
    bad = [good,
           {"id": "q2", "owner_id": "ghost", "amount": "-5", "currency": "EUR", "sent_at": T0},
           {"id": "q3", "owner_id": "alice", "amount": "5", "currency": "EUR", "status": "SENT", "colour": "red"}]
    with pytest.raises(IngestRejected) as rejected:
        await app.ingest({"quotes": bad})
    problems = {(".".join(map(str, e.path)), e.code) for e in rejected.value.errors}
    assert problems == {("quotes.1.amount", "INVALID"), ("quotes.2.sent_at", "REQUIRED"), ("quotes.2.colour", "UNKNOWN_FIELD")}
    with pytest.raises(IngestRejected, match="quotes.1.owner_id: no user with id 'ghost'"):
        await app.ingest({"quotes": [good, {**good, "id": "q2", "owner_id": "ghost"}]})
    async with app.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Quote)) == 0


async def test_a_team_goal_on_quotes_sent_with_drill_down(register_plugin, seed_facts) -> None:  # type: ignore[no-untyped-def]
    app = await register_plugin(goalgraph_quotes)
    app.runtime.clock = lambda: NOW
    await seed_facts(FACTS)
    await app.ingest({"quotes": [
            {"id": "q1", "owner_id": "alice", "amount": "1000", "currency": "EUR", "sent_at": T0, "status": "ACCEPTED"},
            {"id": "q2", "owner_id": "bob", "amount": "300", "currency": "EUR", "sent_at": "2026-01-31T23:30:00+00:00"},
            {"id": "q3", "owner_id": "bob", "amount": "200", "currency": "EUR", "sent_at": "2026-02-01T00:30:00+00:00"},
            {"id": "q4", "owner_id": "alice", "amount": "50", "currency": "EUR"},  # a draft
        ]})
    result = (await app.gql(CREATE, input=goal(measure="VALUE", currency="EUR", targetForAll="1000",
                                               assignee={"kind": "TEAM", "id": "north"})))["createGoal"]
    assert result["__typename"] == "GoalSuccess", result
    periods = result["goal"]["periods"]
    assert [(p["label"], p["actual"], p["facts"], p["status"]) for p in periods] == [
        ("2026-01", "1300.0000", 2, "EXCEEDED"), ("2026-02", "200.0000", 1, "MISSED")]

    drill = await app.gql('{ goal(id: "%s") { periods { contributions { totalCount edges { node '
                          '{ amount occurredAt deal { id } } } } } } }' % result["goal"]["id"])
    january = drill["goal"]["periods"][0]["contributions"]
    assert january["totalCount"] == 2
    assert sorted(e["node"]["amount"] for e in january["edges"]) == ["1000.0000", "300.0000"]
    assert all(e["node"]["deal"] is None for e in january["edges"])  # custom facts carry no deal


async def test_goals_on_quotes_need_the_quotes_feature(settings, seed_facts) -> None:  # type: ignore[no-untyped-def]
    from goalgraph.testing.credentials import make_licence

    without = replace(settings, licence=make_licence("professional"))
    async with plugin_app(without, goalgraph_quotes) as app:
        await seed_facts(FACTS)
        refused = (await app.gql(CREATE, input=goal()))["createGoal"]
        assert refused["__typename"] == "LicenceRequiredError", refused
        assert refused["feature"] == "QUOTES"

    with_quotes = replace(settings, licence=make_licence("professional", extra_features=("QUOTES",)))
    async with plugin_app(with_quotes, goalgraph_quotes) as app:
        created = (await app.gql(CREATE, input=goal()))["createGoal"]
        assert created["__typename"] == "GoalSuccess", created
