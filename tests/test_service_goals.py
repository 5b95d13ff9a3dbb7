"""Service goals (plugin goalgraph_service): tickets, counts and average hours, filters, assignees, licence, drill-down.

Tickets get in as a CRM sends them: ``ingestFacts(input: {facts: [{kind: "ticket", records: …}]})``,
the core's one fact pipeline, which runs the plugin's ``check`` and ``derive``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from goalgraph.db.models import Pipeline, User
from goalgraph.registry import Category, FieldType, source_columns
from goalgraph.runtime import Runtime
from goalgraph.testing.plugin_helpers import plugins_with
from goalgraph_service import Ticket, check_ticket, derive_hours, hours_between

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=timezone.utc)

FACTS = {
    "users": [{"id": "ann", "name": "Ann"}, {"id": "ben", "name": "Ben"}, {"id": "cat", "name": "Cat"}],
    "teams": [{"id": "support", "name": "Support", "member_ids": ["ann", "ben"], "leader_ids": ["ann"]}],
    "pipelines": [
        {"id": "support", "name": "Support", "stages": [
            {"id": "new", "name": "New", "probability": 0}, {"id": "waiting", "name": "Waiting", "probability": 0},
            {"id": "closed", "name": "Closed", "probability": 0}]},
        {"id": "billing", "name": "Billing", "stages": [{"id": "b-new", "name": "New", "probability": 0}]},
    ],
}


def t(day: str, hour: float = 9) -> str:
    """2026-<day> at ``hour`` (fractions are minutes) UTC, ISO 8601."""
    whole = int(hour)
    return f"2026-{day}T{whole:02d}:{round((hour - whole) * 60):02d}:00+00:00"


def ticket(id_: str, owner: str, created: str, *, answered: str | None = None, closed: str | None = None,
           pipeline: str = "support", priority: str | None = "MEDIUM", **over: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {"id": id_, "subject": f"Ticket {id_}", "owner_id": owner, "pipeline_id": pipeline,
                           "stage_id": "closed" if closed else "new" if pipeline == "support" else "b-new",
                           "priority": priority, "channel": "EMAIL", "created_at": created,
                           "first_response_at": answered, "closed_at": closed,
                           "status": "CLOSED" if closed else "OPEN", "updated_at": closed or answered or created}
    rec.update(over)
    return rec


#: ann: Jan answered after 2 h and 4 h (one closed after 30 h), Feb one answered after 10 h (created in Jan).
#: ben: Jan one answered after 1 h, closed after 6 h (HIGH, billing). cat (no team): one in Feb.
TICKETS = [
    ticket("t1", "ann", t("01-05"), answered=t("01-05", 11), closed=t("01-06", 15)),
    ticket("t2", "ann", t("01-12"), answered=t("01-12", 13)),
    ticket("t3", "ann", t("01-31", 20), answered=t("02-01", 6)),
    ticket("t4", "ben", t("01-20"), answered=t("01-20", 10), closed=t("01-20", 15), pipeline="billing",
           priority="HIGH"),
    ticket("t5", "cat", t("02-03"), answered=t("02-03", 9.5), priority="URGENT"),
    ticket("t6", "ann", t("03-02"), answered=t("03-02", 14), closed=t("03-03", 9), priority=None,
           attributes={"company_category": "Enterprise"}),
]


INGEST = """
mutation Ingest($records: [JSON!]!) {
  ingestFacts(input: {facts: [{kind: "ticket", records: $records}]}) {
    __typename
    ... on IngestFactsResult { kinds { kind created updated ignored } }
    ... on ValidationError { message fieldErrors { path message code } }
    ... on LicenceRequiredError { code feature message }
  }
}
"""


async def ingest(gql, records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Tickets through the core's fact pipeline (``ingestFacts``), as a CRM sends them."""
    return (await gql(INGEST, records=[{k: v for k, v in r.items() if v is not None} for r in records]))["ingestFacts"]


async def add_tickets(gql, records: Sequence[Mapping[str, Any]]) -> None:  # type: ignore[no-untyped-def]
    result = await ingest(gql, records)
    assert result["__typename"] == "IngestFactsResult", result
    assert {"kind": "ticket", "created": len(records), "updated": 0, "ignored": 0} in result["kinds"], result


CREATE = """
mutation Create($input: GoalInput!) {
  createGoal(input: $input) {
    __typename
    ... on GoalSuccess { goal { id periods { label actual facts ratio status pace { expectedByNow projectedAtEnd status } }
                                summary { actual status } } }
    ... on ValidationError { message fieldErrors { path message } }
    ... on LicenceRequiredError { code feature message }
  }
}
"""


def goal(goal_type: str, measure: str = "COUNT", **over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"title": goal_type, "goalType": goal_type, "measure": measure,
                            "assignee": {"kind": "USER", "id": "ann"}, "interval": "MONTHLY",
                            "startDate": "2026-01-01", "endDate": "2026-03-31", "targetForAll": "4"}
    base.update(over)
    return base


async def create(gql, goal_type: str, measure: str = "COUNT", **over: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    result = (await gql(CREATE, input=goal(goal_type, measure, **over)))["createGoal"]
    assert result["__typename"] == "GoalSuccess", result
    return result["goal"]


def actuals(created: Mapping[str, Any]) -> list[tuple[str, str, int]]:
    return [(p["label"], p["actual"], p["facts"]) for p in created["periods"]]


@pytest.fixture
async def service(runtime, gql, seed_facts) -> Runtime:  # type: ignore[no-untyped-def]
    runtime.clock = lambda: NOW
    await seed_facts(FACTS)
    await add_tickets(gql, TICKETS)
    return runtime


def test_the_plugin_registers_tickets_goal_types_feature_and_templates() -> None:
    registry = plugins_with().registry
    assert registry.owners[("fact kind", "ticket")] == registry.owners[("feature", "SERVICE")] == "service"
    kind = registry.fact_kinds["ticket"]
    assert kind.feature == "SERVICE" and kind.owner == "owner_id" and kind.title == "subject"
    refs = {f.key: f.references for f in kind.fields if f.type is FieldType.REFERENCE}
    assert refs == {"pipeline_id": "pipeline", "stage_id": "stage", "owner_id": "user"}
    assert kind.field("status").choices == ("OPEN", "PENDING", "CLOSED")  # type: ignore[union-attr]
    for key in ("TICKETS_CREATED", "TICKETS_CLOSED", "TIME_TO_FIRST_RESPONSE", "TIME_TO_CLOSE"):
        goal_type = registry.goal_types[key]
        assert (goal_type.category, goal_type.fact_kind, goal_type.feature, goal_type.dimensions) == \
            (Category.SERVICE, "ticket", "SERVICE", True)
        assert [f.key for f in goal_type.filters] == ["pipelines", "priority"]
        assert {"fact_id", "user_id", "occurred_at", "pipeline_id", "priority", "attributes"} <= set(source_columns(goal_type))
    average = registry.goal_types["TIME_TO_CLOSE"].measure("AVERAGE_HOURS")
    assert average is not None and average.average and average.lower_is_better and not average.cumulative
    assert registry.templates["MONTHLY_TEAM_FIRST_RESPONSE"].assignee_kind == "TEAM"
    assert registry.templates["MONTHLY_TICKETS_CLOSED_PER_USER"].goal_type == "TICKETS_CLOSED"
    # priority filter values are matched whatever their case
    assert registry.goal_types["TICKETS_CLOSED"].validate_filters({"priority": ["high"]}) == []
    assert registry.goal_types["TICKETS_CLOSED"].validate_filters({"priority": ["SOON"]}) != []


def test_check_and_derive() -> None:
    created = datetime(2026, 1, 1, 9, tzinfo=timezone.utc)
    assert hours_between(created, datetime(2026, 1, 1, 11, 20, 30, tzinfo=timezone.utc)) == Decimal("2.3417")
    assert derive_hours({"created_at": created}) == {"first_response_hours": None, "close_hours": None}
    done = datetime(2026, 1, 3, 9, tzinfo=timezone.utc)
    assert derive_hours({"created_at": created, "first_response_at": created, "closed_at": done}) == \
        {"first_response_hours": Decimal("0.0000"), "close_hours": Decimal("48.0000")}
    assert check_ticket({"created_at": created, "status": "CLOSED"}) == [
        ("closed_at", "is required when status is CLOSED", "REQUIRED")]
    early = datetime(2025, 12, 31, tzinfo=timezone.utc)
    problems = check_ticket({"created_at": created, "status": "CLOSED", "first_response_at": early, "closed_at": early})
    assert [key for key, _ in problems] == ["first_response_at", "closed_at"]
    assert all("negative" in message for _, message in problems)


async def test_the_database_refuses_a_negative_span(service) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy.exc import IntegrityError

    async with service.sessions() as session:
        owner = await session.scalar(select(User.id).where(User.external_id == "ann"))
        pipeline = await session.scalar(select(Pipeline.id))
    with pytest.raises(IntegrityError):
        async with service.sessions() as session, session.begin():
            session.add(Ticket(external_id="bad", subject="x", owner_id=owner, pipeline_id=pipeline,
                               status="OPEN", created_at=NOW, first_response_hours=Decimal("-1"),
                               attributes={}, source_updated_at=NOW))
    async with service.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Ticket)) == len(TICKETS)


async def test_counts_per_period(service, gql) -> None:  # type: ignore[no-untyped-def]
    created = await create(gql, "TICKETS_CREATED")
    assert actuals(created) == [("2026-01", "3", 3), ("2026-02", "0", 0), ("2026-03", "1", 1)]
    closed = await create(gql, "TICKETS_CLOSED", targetForAll="1")
    assert actuals(closed) == [("2026-01", "1", 1), ("2026-02", "0", 0), ("2026-03", "1", 1)]
    assert [p["status"] for p in closed["periods"]] == ["ACHIEVED", "MISSED", "ACHIEVED"]


async def test_average_hours_per_period(service, gql) -> None:  # type: ignore[no-untyped-def]
    # Jan: answered after 2 h and 4 h → 3; Feb: t3 (created in Jan) answered after 10 h; Mar: 5 h.
    first = await create(gql, "TIME_TO_FIRST_RESPONSE", "AVERAGE_HOURS")
    assert actuals(first) == [("2026-01", "3", 2), ("2026-02", "10", 1), ("2026-03", "5", 1)]
    # t1 closed after 30 h (in Jan), t6 after 24 h (in Mar)
    close = await create(gql, "TIME_TO_CLOSE", "AVERAGE_HOURS", targetForAll="24")
    assert actuals(close) == [("2026-01", "30", 1), ("2026-02", "0", 0), ("2026-03", "24", 1)]
    # the company's average is over every ticket, not a mean of the users' means
    company = await create(gql, "TIME_TO_FIRST_RESPONSE", "AVERAGE_HOURS", assignee={"kind": "COMPANY"})
    # Jan: 2, 4, 1 → 7/3; Feb: 10 and 0.5 → 5.25
    assert actuals(company)[:2] == [("2026-01", "2.3333", 3), ("2026-02", "5.2500", 2)]


async def test_status_and_pace_of_a_lower_is_better_average(service, gql) -> None:  # type: ignore[no-untyped-def]
    periods = (await create(gql, "TIME_TO_FIRST_RESPONSE", "AVERAGE_HOURS", targetForAll="4"))["periods"]
    jan, feb, mar = periods
    # at or below the target is reached (below: exceeded); above it, missed once the period has ended
    assert (jan["status"], jan["ratio"], feb["status"]) == ("EXCEEDED", "0.7500", "MISSED")
    # the current period: a level, judged at the end; its projection is the average so far
    assert mar["status"] == "IN_PROGRESS"
    assert mar["pace"] == {"expectedByNow": "4.0000", "projectedAtEnd": "5.0000", "status": "BEHIND"}
    on_track = (await create(gql, "TIME_TO_FIRST_RESPONSE", "AVERAGE_HOURS", targetForAll="6"))["periods"][2]
    assert on_track["pace"]["status"] == "ON_TRACK" and on_track["status"] == "IN_PROGRESS"
    far = (await create(gql, "TIME_TO_FIRST_RESPONSE", "AVERAGE_HOURS", targetForAll="2"))["periods"][2]
    assert far["pace"]["status"] == "AT_RISK"


async def test_an_average_over_no_tickets_meets_no_target(service, gql) -> None:  # type: ignore[no-untyped-def]
    """February has no ticket closed: its average time to close is no level, so the period is MISSED once
    ended (not EXCEEDED for a lower-is-better goal), and a span of such periods is MISSED too."""
    close = await create(gql, "TIME_TO_CLOSE", "AVERAGE_HOURS", targetForAll="24")
    assert [(p["label"], p["facts"], p["status"]) for p in close["periods"]] == [
        ("2026-01", 1, "MISSED"), ("2026-02", 0, "MISSED"), ("2026-03", 1, "IN_PROGRESS")]
    empty = await create(gql, "TIME_TO_CLOSE", "AVERAGE_HOURS", targetForAll="24", endDate="2026-02-28",
                         filters=[{"key": "priority", "values": ["URGENT"]}])
    assert {p["status"] for p in empty["periods"]} == {"MISSED"} and empty["summary"]["status"] == "MISSED"


async def test_pipeline_and_priority_filters(service, gql) -> None:  # type: ignore[no-untyped-def]
    billing = await create(gql, "TICKETS_CREATED", assignee={"kind": "COMPANY"},
                           filters=[{"key": "pipelines", "values": ["billing"]}])
    assert actuals(billing) == [("2026-01", "1", 1), ("2026-02", "0", 0), ("2026-03", "0", 0)]
    listed = (await gql('{ goals(first: 10, filter: {pipelineId: "billing"}) { nodes { id } } }'))["goals"]["nodes"]
    assert listed == [{"id": billing["id"]}]  # the goals list's pipeline filter works for ticket pipelines too
    both = await create(gql, "TICKETS_CREATED", assignee={"kind": "COMPANY"},
                        filters=[{"key": "pipelines", "values": ["billing", "support"]}])
    assert [p["facts"] for p in both["periods"]] == [4, 1, 1]
    urgent = await create(gql, "TIME_TO_FIRST_RESPONSE", "AVERAGE_HOURS", assignee={"kind": "COMPANY"},
                          filters=[{"key": "priority", "values": ["high", "URGENT"]}])
    assert actuals(urgent) == [("2026-01", "1", 1), ("2026-02", "0.5000", 1), ("2026-03", "0", 0)]
    medium_support = await create(gql, "TIME_TO_FIRST_RESPONSE", "AVERAGE_HOURS", assignee={"kind": "COMPANY"},
                                  filters=[{"key": "priority", "values": ["MEDIUM"]},
                                           {"key": "pipelines", "values": ["support"]}])
    assert actuals(medium_support) == [("2026-01", "3", 2), ("2026-02", "10", 1), ("2026-03", "0", 0)]
    bad = (await gql(CREATE, input=goal("TICKETS_CLOSED", filters=[{"key": "priority", "values": ["SOON"]}])))
    assert bad["createGoal"]["__typename"] == "ValidationError"
    assert "'SOON' is not one of LOW, MEDIUM, HIGH, URGENT" in bad["createGoal"]["fieldErrors"][0]["message"]
    # custom dimensions that apply to tickets filter them too
    enterprise = await create(gql, "TICKETS_CLOSED", assignee={"kind": "COMPANY"},
                              filters=[{"key": "company_category", "values": ["Enterprise"]}])
    assert [p["facts"] for p in enterprise["periods"]] == [0, 0, 1]
    nowhere = (await gql(CREATE, input=goal("TICKETS_CLOSED", filters=[{"key": "pipelines", "values": ["nowhere"]}])))
    assert "no pipeline with id 'nowhere'" in nowhere["createGoal"]["fieldErrors"][0]["message"]


async def test_team_and_company_goals(service, gql) -> None:  # type: ignore[no-untyped-def]
    team = await create(gql, "TICKETS_CREATED", assignee={"kind": "TEAM", "id": "support"})
    assert actuals(team) == [("2026-01", "4", 4), ("2026-02", "0", 0), ("2026-03", "1", 1)]
    company = await create(gql, "TICKETS_CREATED", assignee={"kind": "COMPANY"})
    assert actuals(company) == [("2026-01", "4", 4), ("2026-02", "1", 1), ("2026-03", "1", 1)]
    quarterly = await create(gql, "TICKETS_CLOSED", assignee={"kind": "TEAM", "id": "support"}, interval="QUARTERLY",
                             endDate="2026-06-30")
    assert actuals(quarterly) == [("2026-Q1", "3", 3), ("2026-Q2", "0", 0)]
    team_close = await create(gql, "TIME_TO_CLOSE", "AVERAGE_HOURS", assignee={"kind": "TEAM", "id": "support"})
    assert actuals(team_close)[0] == ("2026-01", "18", 2)  # 30 h and 6 h


async def test_the_licence_gates_service_goals(service, gql) -> None:  # type: ignore[no-untyped-def]
    features = {f["key"]: f for f in (await gql("{ features { key label licensed enabled } }"))["features"]}
    assert features["SERVICE"] == {"key": "SERVICE", "label": "Service goals", "licensed": True, "enabled": True}
    await gql('mutation { setFeatureEnabled(key: "SERVICE", enabled: false) { __typename } }')
    for goal_type, measure in (("TICKETS_CLOSED", "COUNT"), ("TIME_TO_FIRST_RESPONSE", "AVERAGE_HOURS")):
        refused = (await gql(CREATE, input=goal(goal_type, measure)))["createGoal"]
        assert refused["__typename"] == "LicenceRequiredError", refused
        assert (refused["code"], refused["feature"]) == ("LICENCE_REQUIRED", "SERVICE")
    await gql('mutation { setFeatureEnabled(key: "SERVICE", enabled: true) { __typename } }')
    assert (await gql(CREATE, input=goal("TICKETS_CLOSED")))["createGoal"]["__typename"] == "GoalSuccess"


async def test_goal_types_and_templates_over_graphql(service, gql) -> None:  # type: ignore[no-untyped-def]
    data = await gql("{ goalTypes { key category plugin feature measures { key lowerIsBetter } filters { key } } }")
    types = {t["key"]: t for t in data["goalTypes"]}
    assert types["TIME_TO_FIRST_RESPONSE"]["category"] == "SERVICE"
    assert types["TIME_TO_FIRST_RESPONSE"]["plugin"] == "service"
    assert types["TIME_TO_CLOSE"]["measures"] == [{"key": "AVERAGE_HOURS", "lowerIsBetter": True}]
    assert {f["key"] for f in types["TICKETS_CLOSED"]["filters"]} >= {"pipelines", "priority"}
    templates = {t["key"]: t for t in (await gql("{ goalTemplates { key goalType measure interval assigneeKind } }"))
                 ["goalTemplates"]}
    assert templates["MONTHLY_TEAM_FIRST_RESPONSE"] == {
        "key": "MONTHLY_TEAM_FIRST_RESPONSE", "goalType": "TIME_TO_FIRST_RESPONSE", "measure": "AVERAGE_HOURS",
        "interval": "MONTHLY", "assigneeKind": "TEAM"}


async def test_drill_down_lists_the_tickets(service, gql) -> None:  # type: ignore[no-untyped-def]
    gid = (await create(gql, "TIME_TO_FIRST_RESPONSE", "AVERAGE_HOURS"))["id"]
    drill = await gql('{ goal(id: "%s") { periods { contributions { totalCount nodes { amount occurredAt '
                      'fact { kind id title owner { id } fields { name value } } } } } } }' % gid)
    jan = drill["goal"]["periods"][0]["contributions"]
    assert jan["totalCount"] == 2
    assert [(n["amount"], n["occurredAt"]) for n in jan["nodes"]] == [
        ("2.0000", "2026-01-05T11:00:00+00:00"), ("4.0000", "2026-01-12T13:00:00+00:00")]
    fact = jan["nodes"][0]["fact"]
    assert (fact["kind"], fact["id"], fact["title"], fact["owner"]) == ("ticket", "t1", "Ticket t1", {"id": "ann"})
    fields = {f["name"]: f["value"] for f in fact["fields"]}
    assert (fields["pipelineId"], fields["stageId"], fields["priority"], fields["status"]) == \
        ("support", "closed", "MEDIUM", "CLOSED")
    gid = (await create(gql, "TICKETS_CLOSED", assignee={"kind": "TEAM", "id": "support"}))["id"]
    drill = await gql('{ goal(id: "%s") { periods { contributions { nodes { amount occurredAt } } } } }' % gid)
    assert [n["occurredAt"] for n in drill["goal"]["periods"][0]["contributions"]["nodes"]] == [
        "2026-01-06T15:00:00+00:00", "2026-01-20T15:00:00+00:00"]


async def test_new_tickets_move_the_stored_actual(service, gql) -> None:  # type: ignore[no-untyped-def]
    gid = (await create(gql, "TIME_TO_FIRST_RESPONSE", "AVERAGE_HOURS"))["id"]
    await service.recompute.settled()
    await add_tickets(gql, [ticket("t7", "ann", t("03-10"), answered=t("03-10", 16))])  # 7 h
    await service.recompute.settled()
    again = await gql('{ goal(id: "%s") { periods { actual facts pending } } }' % gid)
    assert again["goal"]["periods"][2] == {"actual": "6", "facts": 2, "pending": False}


async def test_ingest_stores_the_spans_and_ignores_older_versions(service, gql) -> None:  # type: ignore[no-untyped-def]
    async with service.sessions() as session:
        row = (await session.scalars(select(Ticket).where(Ticket.external_id == "t1"))).one()
    assert (row.first_response_hours, row.close_hours, row.status, row.priority) == \
        (Decimal("2.0000"), Decimal("30.0000"), "CLOSED", "MEDIUM")
    # the ticket is reopened later: answered, not closed (spans follow the timestamps)
    reopened = ticket("t1", "ann", t("01-05"), answered=t("01-05", 11), updated_at=t("01-07"))
    assert {"kind": "ticket", "created": 0, "updated": 1, "ignored": 0} in (await ingest(gql, [reopened]))["kinds"]
    # a webhook arriving late with the closed version changes nothing
    assert {"kind": "ticket", "created": 0, "updated": 0, "ignored": 1} in (await ingest(gql, [TICKETS[0]]))["kinds"]
    async with service.sessions() as session:
        row = (await session.scalars(select(Ticket).where(Ticket.external_id == "t1"))).one()
    assert (row.status, row.closed_at, row.close_hours, row.first_response_hours) == ("OPEN", None, None, Decimal("2.0000"))
    closed = await create(gql, "TICKETS_CLOSED")
    assert [p["facts"] for p in closed["periods"]] == [0, 0, 1]


async def test_a_bad_ticket_names_its_field_and_nothing_is_written(service, gql) -> None:  # type: ignore[no-untyped-def]
    bad = [
        ticket("n1", "ann", t("03-01"), status="CLOSED"),                               # closed without closed_at
        ticket("n2", "ann", t("03-05"), answered=t("03-04")),                           # answered before created
        ticket("n3", "ghost", t("03-05"), priority="soon", channel="PIGEON"),           # unknown user, choices
        {"id": "n4", "subject": "x", "owner_id": "ann", "pipeline_id": "support"},      # no created_at
    ]
    result = await ingest(gql, bad)
    assert result["__typename"] == "ValidationError", result
    problems = {("/".join(e["path"]), e["code"]) for e in result["fieldErrors"]}
    assert {("input/facts/0/records/0/closedAt", "REQUIRED"), ("input/facts/0/records/1/firstResponseAt", "INVALID"),
            ("input/facts/0/records/2/priority", "INVALID"), ("input/facts/0/records/2/channel", "INVALID"),
            ("input/facts/0/records/3/createdAt", "REQUIRED")} <= problems, problems
    async with service.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Ticket)) == len(TICKETS)
    unknown = await ingest(gql, [ticket("n3", "ghost", t("03-05"))])
    assert unknown["__typename"] == "ValidationError"
    assert [(e["code"], e["message"]) for e in unknown["fieldErrors"]] == [("UNKNOWN_REFERENCE", "no user with id 'ghost'")]


async def test_writing_tickets_needs_the_service_feature(service, gql) -> None:  # type: ignore[no-untyped-def]
    await gql('mutation { setFeatureEnabled(key: "SERVICE", enabled: false) { __typename } }')
    refused = await ingest(gql, [ticket("t9", "ann", t("03-05"))])
    assert (refused["__typename"], refused["feature"]) == ("LicenceRequiredError", "SERVICE")


async def test_goalgraph_import_takes_tickets(service, gql, settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import asyncio
    import csv
    import json

    from goalgraph.ingest.bulk import EXIT_OK, EXIT_REJECTED, import_command

    gid = (await create(gql, "TICKETS_CREATED", assignee={"kind": "TEAM", "id": "support"}))["id"]
    await service.recompute.settled()
    lines = [{"kind": "ticket", **{k: v for k, v in ticket(f"i{n}", "ben", t("03-09", 8 + n)).items() if v is not None}}
             for n in range(3)]
    ndjson = tmp_path / "support.ndjson"
    ndjson.write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert await asyncio.to_thread(import_command, settings, [ndjson]) == EXIT_OK
    with open(tmp_path / "tickets.csv", "w", newline="") as fh:  # a CSV file named after the kind
        writer = csv.writer(fh)
        writer.writerow(["id", "subject", "owner_id", "pipeline_id", "priority", "created_at", "first_response_at"])
        writer.writerow(["c1", "From a spreadsheet", "ann", "billing", "high", t("03-10"), t("03-10", 12)])
    assert await asyncio.to_thread(import_command, settings, [tmp_path / "tickets.csv"]) == EXIT_OK
    await service.recompute.settled()
    periods = (await gql('{ goal(id: "%s") { periods { actual facts pending } } }' % gid))["goal"]["periods"]
    assert periods[2] == {"actual": "5", "facts": 5, "pending": False}  # t6 + three from NDJSON + one from CSV
    async with service.sessions() as session:
        row = (await session.scalars(select(Ticket).where(Ticket.external_id == "c1"))).one()
    assert (row.priority, row.first_response_hours, row.status) == ("HIGH", Decimal("3.0000"), "OPEN")
    bad = tmp_path / "bad.ndjson"
    bad.write_text(json.dumps({"kind": "ticket", "id": "x1", "subject": "x", "owner_id": "ann", "pipeline_id": "support",
                               "created_at": t("03-10"), "status": "CLOSED"}) + "\n")
    assert await asyncio.to_thread(import_command, settings, [bad]) == EXIT_REJECTED
    async with service.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Ticket)) == len(TICKETS) + 4


async def test_tickets_in_fact_kinds_facts_and_the_facts_ingested_hook(register_plugin, seed_facts) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    from goalgraph.hookspecs import hookimpl

    class Recorder:
        def __init__(self) -> None:
            self.calls: list[dict[str, Any]] = []

        @hookimpl
        def goalgraph_facts_ingested(self, counts):  # type: ignore[no-untyped-def]
            self.calls.append(counts)

    recorder = Recorder()
    app = await register_plugin(("recorder", recorder))
    await seed_facts(FACTS)
    await add_tickets(app.gql, TICKETS[:4])
    for _ in range(50):
        if recorder.calls:
            break
        await asyncio.sleep(0.02)
    assert [c["ticket"]["created"] for c in recorder.calls if "ticket" in c] == [4]

    kinds = {k["key"]: k for k in (await app.gql("{ factKinds { key plural plugin feature ownerField "
                                                  "fields { name key type required choices references } } }"))["factKinds"]}
    ticket_kind = kinds["ticket"]
    assert (ticket_kind["plural"], ticket_kind["plugin"], ticket_kind["feature"], ticket_kind["ownerField"]) == \
        ("tickets", "service", "SERVICE", "ownerId")
    fields = {f["key"]: f for f in ticket_kind["fields"]}
    assert fields["pipeline_id"]["references"] == "pipeline" and fields["created_at"]["required"]
    assert fields["channel"]["choices"] == ["EMAIL", "CHAT", "PHONE", "FORM", "OTHER"]
    # every ticket for the admin; a regular user sees the tickets credited to them only
    listed = (await app.gql('{ facts(kind: "ticket") { totalCount } }'))["facts"]
    assert listed["totalCount"] == 4
    mine = (await app.gql('{ facts(kind: "tickets") { edges { node { id title } } } }', as_user="ben"))["facts"]
    assert [e["node"] for e in mine["edges"]] == [{"id": "t4", "title": "Ticket t4"}]


LIVE = """subscription($ids: [ID!]!) { goalProgress(goalIds: $ids) { reason goals { id currentPeriod { actual facts } } } }"""


async def test_a_ticket_pushes_the_goal_live(service, gql, settings) -> None:  # type: ignore[no-untyped-def]
    import asyncio
    import json

    import websockets

    from goalgraph.testing.credentials import user_token
    from live_server import serving

    gid = (await create(gql, "TIME_TO_FIRST_RESPONSE", "AVERAGE_HOURS"))["id"]
    await service.recompute.settled()

    async def next_update(ws) -> tuple[str, dict[str, Any]]:  # type: ignore[no-untyped-def]
        message = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
        assert message["type"] == "next", message
        update = message["payload"]["data"]["goalProgress"]
        return update["reason"], update["goals"][0]["currentPeriod"]

    async with serving(settings, service) as url:
        async with websockets.connect(url.replace("http", "ws") + "/graphql", subprotocols=["graphql-transport-ws"]) as ws:
            await ws.send(json.dumps({"type": "connection_init",
                                      "payload": {"Authorization": f"Bearer {user_token(settings, 'ann')}"}}))
            assert json.loads(await ws.recv())["type"] == "connection_ack"
            await ws.send(json.dumps({"id": "1", "type": "subscribe",
                                      "payload": {"query": LIVE, "variables": {"ids": [gid]}}}))
            assert await next_update(ws) == ("INITIAL", {"actual": "5", "facts": 1})
            await add_tickets(gql, [ticket("t8", "ann", t("03-11"), answered=t("03-11", 16))])  # 7 h
            assert await next_update(ws) == ("FACTS", {"actual": "6", "facts": 2})


async def test_the_service_branch_migrates_up_and_down_on_its_own(settings) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import inspect

    from goalgraph.db.migrate import current_heads, downgrade, upgrade
    from goalgraph.db.session import create_engine

    async def tables() -> set[str]:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))

    engine = create_engine(settings)
    try:
        await upgrade(engine)
        assert "service_0001" in await current_heads(engine) and "tickets" in await tables()
        await downgrade(engine, "service@base")  # before uninstalling the plugin
        assert "service_0001" not in await current_heads(engine)
        left = await tables()
        assert "tickets" not in left and {"users", "pipelines", "stages"} <= left
        await upgrade(engine)
        assert "tickets" in await tables()
    finally:
        await engine.dispose()
