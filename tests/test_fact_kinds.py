"""Fact kinds are plugin data: a third-party kind (the quotes example) goes through the core's one fact
pipeline — GraphQL ingest, `goalgraph import`, stale marks and the store, drill-down with the fact,
`factKinds` and `facts(kind:)` with the credited-user rule, the facts-ingested hook — on both databases;
start-up refuses a broken declaration or source, naming the plugin and the column."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import datetime, timezone

import pytest
from sqlalchemy import Numeric, String, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

import goalgraph_quotes
from goalgraph.hookspecs import hookimpl
from goalgraph.plugins import PluginError, load_plugins
from goalgraph.registry import Category, FactField, FactKind, FieldType, GoalType

NOW = datetime(2026, 4, 15, 12, 0, tzinfo=timezone.utc)
FACTS = {
    "users": [{"id": "alice", "name": "Alice"}, {"id": "bob", "name": "Bob"}],
    "pipelines": [{"id": "sales", "name": "Sales", "stages": [{"id": "lead", "name": "Lead", "probability": 10}]}],
    "deals": [{"id": "d1", "title": "Big one", "value": "5000", "currency": "EUR", "owner_id": "alice",
               "stage_id": "lead", "added_at": "2026-01-02T09:00:00+00:00"}],
}
INGEST = """mutation($input: IngestFactsInput!) { ingestFacts(input: $input) { __typename
  ... on IngestFactsResult { kinds { kind created updated ignored } }
  ... on ValidationError { fieldErrors { path message code } }
  ... on LicenceRequiredError { feature } } }"""
CREATE = """mutation($input: GoalInput!) { createGoal(input: $input) { __typename
  ... on GoalSuccess { goal { id currentPeriod { actual facts pending
    contributions { totalCount edges { node { amount fact { kind id title amount { amount currency } occurredAt
      owner { id } fields { name value } } } } } } } } } }"""


class Recorder:
    def __init__(self) -> None:
        self.calls: list[dict] = []

    @hookimpl
    def goalgraph_facts_ingested(self, counts):  # type: ignore[no-untyped-def]
        self.calls.append(counts)


def _quote(id_: str, owner: str, amount: str, **more: object) -> dict[str, object]:
    return {"id": id_, "ownerId": owner, "amount": amount, "currency": "EUR", "sentAt": "2026-04-02T10:00:00+00:00",
            **more}


async def test_a_plugin_kind_goes_through_the_core_pipeline(register_plugin, seed_facts) -> None:  # type: ignore[no-untyped-def]
    recorder = Recorder()
    app = await register_plugin(goalgraph_quotes, ("recorder", recorder))
    app.runtime.clock = lambda: NOW
    await seed_facts(FACTS)
    created = (await app.gql(CREATE, input={
        "title": "Quotes", "goalType": "QUOTES_SENT", "measure": "VALUE", "currency": "EUR", "interval": "MONTHLY",
        "startDate": "2026-04-01", "endDate": "2026-04-30", "targetForAll": "1000",
        "assignee": {"kind": "USER", "id": "alice"}}))["createGoal"]
    assert created["__typename"] == "GoalSuccess", created
    goal_id = created["goal"]["id"]
    await app.runtime.recompute.settled()

    # Bad records are refused with the kind's batch, the record and the field; nothing is written.
    bad = (await app.gql(INGEST, input={"facts": [
        {"kind": "quote", "records": [_quote("q1", "alice", "10"), _quote("q2", "ghost", "-1", colour="red")]},
        {"kind": "nonsense", "records": []}]}))["ingestFacts"]
    assert bad["__typename"] == "ValidationError"
    problems = {(".".join(map(str, e["path"])), e["code"]) for e in bad["fieldErrors"]}
    assert problems == {("input.facts.0.records.1.amount", "INVALID"), ("input.facts.0.records.1.colour", "UNKNOWN_FIELD"),
                        ("input.facts.1.kind", "UNKNOWN_KIND")}, problems
    ghost = (await app.gql(INGEST, input={"facts": [{"kind": "quotes", "records": [_quote("q2", "ghost", "1")]}]}))
    assert ghost["ingestFacts"]["fieldErrors"][0]["message"] == "no user with id 'ghost'"

    ok = (await app.gql(INGEST, input={"facts": [{"kind": "quote", "records": [
        _quote("q1", "alice", "300", dealId="d1", updatedAt="2026-04-02T10:00:00+00:00"),
        _quote("q2", "bob", "50")]}]}))["ingestFacts"]
    assert ok == {"__typename": "IngestFactsResult", "kinds": [{"kind": "quote", "created": 2, "updated": 0, "ignored": 0}]}
    # An older version arriving late is ignored.
    late = (await app.gql(INGEST, input={"facts": [{"kind": "quote", "records": [
        _quote("q1", "alice", "1", updatedAt="2026-04-01T10:00:00+00:00")]}]}))["ingestFacts"]
    assert late["kinds"] == [{"kind": "quote", "created": 0, "updated": 0, "ignored": 1}]
    await asyncio.sleep(0.05)
    assert [c["quote"]["created"] for c in recorder.calls if c.get("quote", {}).get("created")] == [2]

    # The stored progress was marked in the write's transaction: the worker stores the new figure.
    await app.runtime.recompute.settled()
    read = (await app.gql('{ goal(id: "%s") { currentPeriod { actual facts pending contributions { edges { node '
                          '{ amount fact { kind id title amount { amount currency } owner { id } fields { name value } } } } } } } }'
                          % goal_id))["goal"]["currentPeriod"]
    assert (read["actual"], read["facts"], read["pending"]) == ("300.0000", 1, False)
    fact = read["contributions"]["edges"][0]["node"]["fact"]
    assert fact["kind"] == "quote" and fact["id"] == "q1" and fact["owner"] == {"id": "alice"}
    assert fact["amount"] == {"amount": "300.0000", "currency": "EUR"}
    fields = {f["name"]: f["value"] for f in fact["fields"]}
    assert fields["ownerId"] == "alice" and fields["dealId"] == "d1" and fields["status"] == "SENT"

    # factKinds describes every kind; facts(kind:) reads them, by the credited-user rule.
    kinds = (await app.gql("{ factKinds { key plural plugin ownerField fields { name key type required choices "
                           "references } } }"))["factKinds"]
    quote = next(k for k in kinds if k["key"] == "quote")
    assert {k["key"] for k in kinds} >= {"deal", "activity", "quote"} and quote["plugin"] == "quotes"
    assert quote["ownerField"] == "ownerId" and quote["plural"] == "quotes"
    status = next(f for f in quote["fields"] if f["key"] == "status")
    assert status["type"] == "CHOICE" and status["choices"] == ["DRAFT", "SENT", "ACCEPTED", "DECLINED"]
    listed = (await app.gql('{ facts(kind: "quote") { totalCount edges { node { id owner { id } } } } }'))["facts"]
    assert listed["totalCount"] == 2
    mine = (await app.gql('{ facts(kind: "quote") { totalCount edges { node { id } } } }', as_user="bob"))["facts"]
    assert [e["node"]["id"] for e in mine["edges"]] == ["q2"]
    unknown = await app.gql_raw('{ facts(kind: "widget") { totalCount } }')
    assert unknown["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT" and "widget" in unknown["errors"][0]["message"]


async def test_goalgraph_import_takes_a_plugin_kind(register_plugin, seed_facts, settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = await register_plugin(goalgraph_quotes)
    await seed_facts(FACTS)
    lines = [{"kind": "quote", "id": f"q{i}", "owner_id": "alice", "amount": str(10 * i), "currency": "EUR",
              "sent_at": "2026-04-02T10:00:00+00:00"} for i in range(1, 4)]
    lines.append({"kind": "deal", "id": "d2", "title": "Second", "value": "7", "currency": "EUR", "owner_id": "bob",
                  "stage_id": "lead", "added_at": "2026-04-02T09:00:00+00:00"})
    path = tmp_path / "mixed.ndjson"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    env = {"GOALGRAPH_DATABASE_URL": settings.database_url, "PATH": "/usr/bin:/bin"}
    if settings.database_schema:
        env["GOALGRAPH_DATABASE_SCHEMA"] = settings.database_schema
    done = subprocess.run([sys.executable, "-m", "goalgraph.cli", "import", "--no-progress", str(path)],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    async with app.sessions() as session:
        amounts = sorted((await session.scalars(select(goalgraph_quotes.Quote.amount))).all())
    assert [str(a) for a in amounts] == ["10.0000", "20.0000", "30.0000"]
    bad = tmp_path / "bad.ndjson"
    bad.write_text(json.dumps({"kind": "quote", "id": "q9", "owner_id": "alice", "amount": "x", "currency": "EUR"}) + "\n")
    refused = subprocess.run([sys.executable, "-m", "goalgraph.cli", "import", "--no-progress", str(bad)],
                             env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0 and "line 1" in refused.stdout + refused.stderr and "amount" in refused.stdout + refused.stderr


# --- start-up checks ---------------------------------------------------------------------------------------

class _OwnBase(DeclarativeBase):
    """Not goalgraph's Base: a model of a broken declaration must not join the schema the migrations are checked against."""


class _Broken(_OwnBase):
    __tablename__ = "broken_facts"
    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(64))
    amount: Mapped[float] = mapped_column(Numeric)


@pytest.mark.parametrize(("plugin", "message"), [
    (type("NoVersion", (), {"goalgraph_register_fact_kinds": hookimpl(lambda self: [FactKind(
        key="broken", label="Broken", plural="brokens", model=_Broken,
        fields=(FactField("owner_id", "Owner", FieldType.REFERENCE, references="user"),))])})(),
     "fact kind 'broken' (plugin 'bad'): its model has no column 'source_updated_at'"),
    (type("BadSource", (), {"goalgraph_register_goal_types": hookimpl(lambda self: [GoalType(
        key="BAD", label="Bad", category=Category.CUSTOM, description="", fact_kind=None,
        source=lambda q: select(goalgraph_quotes.Quote.id.label("fact_id"), goalgraph_quotes.Quote.sent_at.label("occurred_at")))])})(),
     "goal type 'BAD' (plugin 'bad'): its source needs a column labelled 'user_id'"),
    (type("BadKind", (), {"goalgraph_register_goal_types": hookimpl(lambda self: [GoalType(
        key="BAD", label="Bad", category=Category.CUSTOM, description="", fact_kind="widget",
        source=goalgraph_quotes.quotes_sent)])})(),
     "names fact kind 'widget', which no plugin registers"),
])
def test_start_up_refuses_a_broken_declaration(plugin: object, message: str) -> None:
    with pytest.raises(PluginError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_plugins(strict=True, extra=[("bad", plugin)])


async def test_a_plugin_fact_is_announced_for_the_goals_it_moves(register_plugin, seed_facts) -> None:  # type: ignore[no-untyped-def]
    """The worker recomputes what a quote moved and announces the goal: subscriptions push the goals in an
    event's ``goals`` (tests/test_live.py follows a push end to end over a socket)."""
    app = await register_plugin(goalgraph_quotes)
    app.runtime.clock = lambda: NOW
    await seed_facts(FACTS)
    created = (await app.gql(CREATE, input={
        "title": "Quotes", "goalType": "QUOTES_SENT", "measure": "COUNT", "interval": "MONTHLY",
        "startDate": "2026-04-01", "endDate": "2026-04-30", "targetForAll": "2",
        "assignee": {"kind": "USER", "id": "alice"}}))["createGoal"]
    goal_id = int(created["goal"]["id"])
    await app.runtime.recompute.settled()
    with app.runtime.broker.listen() as queue:
        ok = (await app.gql(INGEST, input={"facts": [{"kind": "quote", "records": [_quote("q1", "alice", "5")]}]}))
        assert ok["ingestFacts"]["__typename"] == "IngestFactsResult"
        event = await asyncio.wait_for(queue.get(), timeout=10)
        while goal_id not in event.goals:
            event = await asyncio.wait_for(queue.get(), timeout=10)
    read = (await app.gql('{ goal(id: "%d") { currentPeriod { facts pending } } }' % goal_id))["goal"]["currentPeriod"]
    assert read == {"facts": 1, "pending": False}


async def test_every_kind_answers_through_the_fact_interface(register_plugin, seed_facts) -> None:  # type: ignore[no-untyped-def]
    """Deals are Facts too: facts(kind: "deal") lists Deal nodes with the shared fields, and a deal goal's
    drill-down carries its deal as a Fact (with Deal's own fields through a fragment)."""
    app = await register_plugin(goalgraph_quotes)
    app.runtime.clock = lambda: NOW
    await seed_facts(FACTS)
    listed = (await app.gql('{ facts(kind: "deals") { edges { node { __typename kind id title amount { amount currency } '
                            'occurredAt owner { id } fields { name value } ... on Deal { stage { id } } } } } }'))
    node = listed["facts"]["edges"][0]["node"]
    assert (node["__typename"], node["kind"], node["id"], node["title"]) == ("Deal", "deal", "d1", "Big one")
    assert node["amount"] == {"amount": "5000.0000", "currency": "EUR"} and node["stage"] == {"id": "lead"}
    fields = {f["name"]: f["value"] for f in node["fields"]}
    assert fields["ownerId"] == "alice" and fields["stageId"] == "lead" and fields["pipelineId"] == "sales"
    assert fields["status"] == "OPEN" and fields["addedAt"].startswith("2026-01-02T09:00:00")
    created = (await app.gql("""mutation($input: GoalInput!) { createGoal(input: $input) { ... on GoalSuccess { goal {
        periods { contributions { edges { node { fact { __typename kind id ... on Deal { title } } } } } } } } } }""",
                             input={"title": "Deals", "goalType": "DEALS_ADDED", "measure": "COUNT", "interval": "MONTHLY",
                                    "startDate": "2026-01-01", "endDate": "2026-01-31", "targetForAll": "1",
                                    "assignee": {"kind": "USER", "id": "alice"}}))["createGoal"]
    fact = created["goal"]["periods"][0]["contributions"]["edges"][0]["node"]["fact"]
    assert fact == {"__typename": "Deal", "kind": "deal", "id": "d1", "title": "Big one"}
