"""First-party service goals (HubSpot's "service goals"): tickets created and closed, time to first response and to close.

Registers, behind the licence feature ``SERVICE``:

* the fact kind ``ticket`` (its own ``tickets`` table and Alembic branch ``service``), whose
  ``pipeline_id`` / ``stage_id`` are the core's pipelines and stages: a ticket pipeline is a
  pipeline like a deal pipeline, pushed by the CRM the same way, so the goal form's pipeline filter
  works unchanged (docs/service-goals.md says why);
* the goal types ``TICKETS_CREATED``, ``TICKETS_CLOSED`` (counts), ``TIME_TO_FIRST_RESPONSE`` and
  ``TIME_TO_CLOSE`` (average hours, lower is better), each filtered by pipelines and priority and by
  the dimensions that apply to tickets;
* two goal templates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Select, select

from goalgraph.db.models import Pipeline
from goalgraph.hookspecs import hookimpl
from goalgraph.registry import (
    COUNT,
    Category,
    FactField,
    FactKind,
    FactQuery,
    Feature,
    FieldType,
    FilterKind,
    FilterSpec,
    GoalTemplate,
    GoalType,
    Measure,
)
from goalgraph_service.models import CHANNELS, PRIORITIES, STATUSES, Ticket, TicketStatus

__version__ = "0.1.0"
__all__ = ["FEATURE", "KIND", "MIGRATIONS", "TICKET", "Ticket", "check_ticket", "derive_hours", "hours_between"]

#: The licence feature every service goal type (and writing tickets) needs.
FEATURE = "SERVICE"
#: The fact kind's key (goal types' ``fact_kind``, ``ingestFacts`` ``kind``, NDJSON ``"kind"``).
KIND = "ticket"
#: This plugin's Alembic version directory (its own branch, label ``service``).
MIGRATIONS = Path(__file__).parent / "migrations"

_HOUR_QUANTUM = Decimal("0.0001")


def hours_between(start: datetime | None, end: datetime | None) -> Decimal | None:
    """``end - start`` in hours, exact to four decimals (0.36 s); None when either is missing."""
    if start is None or end is None:
        return None
    span = end - start
    seconds = Decimal(span.days * 86400 + span.seconds) + Decimal(span.microseconds) / Decimal(1_000_000)
    return (seconds / Decimal(3600)).quantize(_HOUR_QUANTUM)


def check_ticket(record: Mapping[str, Any]) -> Sequence[tuple[str, ...]]:
    """Cross-field problems of one clean ticket as ``(field, message[, code])``: a CLOSED ticket needs
    closed_at; no span may be negative."""
    problems: list[tuple[str, ...]] = []
    created = record.get("created_at")
    if record.get("status") == TicketStatus.CLOSED.value and record.get("closed_at") is None:
        problems.append(("closed_at", "is required when status is CLOSED", "REQUIRED"))
    for key in ("first_response_at", "closed_at"):
        moment = record.get(key)
        if created is not None and moment is not None and moment < created:
            problems.append((key, f"lies before created_at ({created.isoformat()}): a negative span"))
    return problems


def derive_hours(record: Mapping[str, Any]) -> Mapping[str, Any]:
    """The stored spans (model columns): hours to the first response and to closing, null until then."""
    created = record.get("created_at")
    return {
        "first_response_hours": hours_between(created, record.get("first_response_at")),
        "close_hours": hours_between(created, record.get("closed_at")),
    }


#: Tickets as a fact kind: written by the core's one fact pipeline (``ingestFacts``, ``goalgraph import``).
TICKET = FactKind(
    key=KIND, label="Ticket", plural="tickets", model=Ticket, feature=FEATURE,
    description="A support ticket in a ticket pipeline: who handles it, its priority and channel, and when it was "
                "created, first answered and closed.",
    fields=(
        FactField("subject", "Subject", required=True, max_length=300),
        FactField("pipeline_id", "Pipeline", FieldType.REFERENCE, required=True, references="pipeline",
                  description="The ticket pipeline: a pipeline of the core, pushed like deal pipelines."),
        FactField("stage_id", "Stage", FieldType.REFERENCE, references="stage",
                  description="The ticket's stage in its pipeline."),
        FactField("priority", "Priority", FieldType.CHOICE, choices=PRIORITIES),
        FactField("channel", "Source channel", FieldType.CHOICE, choices=CHANNELS,
                  description="Where the ticket came from."),
        FactField("owner_id", "Owner", FieldType.REFERENCE, required=True, references="user",
                  description="Who handles the ticket: the user its goals credit."),
        FactField("created_at", "Created at", FieldType.TIMESTAMP, required=True),
        FactField("first_response_at", "First response at", FieldType.TIMESTAMP,
                  description="When the customer first got an answer; not before created_at."),
        FactField("closed_at", "Closed at", FieldType.TIMESTAMP,
                  description="Required when status is CLOSED; not before created_at."),
        FactField("status", "Status", FieldType.CHOICE, choices=STATUSES, default=TicketStatus.OPEN.value),
        FactField("attributes", "Custom attributes", FieldType.ATTRIBUTES),
    ),
    timestamps=("created_at", "first_response_at", "closed_at"),
    title="subject", time="created_at",
    check=check_ticket, derive=derive_hours,
)


def _upper(text: str) -> str:
    """Priorities as tickets store them: trimmed, upper case."""
    return text.strip().upper()


PIPELINES = FilterSpec(
    "pipelines", "Pipelines", column="pipeline_id", kind=FilterKind.REFERENCE, model=Pipeline,
    description="Only tickets in these (ticket) pipelines (all pipelines when left out).",
)
PRIORITY = FilterSpec(
    "priority", "Priority", column="priority", choices=PRIORITIES, normalise=_upper,
    description="Only tickets of these priorities (all when left out; tickets without a priority then don't count).",
)
FILTERS = (PIPELINES, PRIORITY)

#: The mean of the hours of the tickets counted: lower is better; a level, so pace does not extrapolate it.
AVERAGE_FIRST_RESPONSE = Measure("AVERAGE_HOURS", "Average hours", column="first_response_hours", average=True,
                                 lower_is_better=True)
AVERAGE_CLOSE = Measure("AVERAGE_HOURS", "Average hours", column="close_hours", average=True, lower_is_better=True)


def _columns(moment: Any) -> list[Any]:
    return [
        Ticket.id.label("fact_id"),
        Ticket.owner_id.label("user_id"),
        moment.label("occurred_at"),
        Ticket.first_response_hours.label("first_response_hours"),
        Ticket.close_hours.label("close_hours"),
        Ticket.pipeline_id.label("pipeline_id"),
        Ticket.priority.label("priority"),
        Ticket.attributes.label("attributes"),
    ]


def tickets_created(_: FactQuery) -> Select:
    """Every ticket, placed by when it was created, credited to its owner."""
    return select(*_columns(Ticket.created_at))


def tickets_closed(_: FactQuery) -> Select:
    """Closed tickets, placed by when they were closed."""
    return select(*_columns(Ticket.closed_at)).where(Ticket.status == TicketStatus.CLOSED.value,
                                                     Ticket.closed_at.is_not(None))


def tickets_first_answered(_: FactQuery) -> Select:
    """Answered tickets, placed by their first response: the period's average is over the tickets first answered in it."""
    return select(*_columns(Ticket.first_response_at)).where(Ticket.first_response_at.is_not(None))


@hookimpl
def goalgraph_register_features() -> list[Feature]:
    return [Feature(FEATURE, "Service goals", "Goals on support tickets: created, closed, time to first response "
                                              "and time to close.")]


@hookimpl
def goalgraph_register_fact_kinds() -> list[FactKind]:
    return [TICKET]


@hookimpl
def goalgraph_register_goal_types() -> list[GoalType]:
    common: dict[str, Any] = {"category": Category.SERVICE, "fact_kind": KIND, "filters": FILTERS,
                              "feature": FEATURE, "dimensions": True}
    return [
        GoalType(key="TICKETS_CREATED", label="Tickets created", source=tickets_created, measures=(COUNT,),
                 description="Tickets created in the period, by when they were created.", **common),
        GoalType(key="TICKETS_CLOSED", label="Tickets closed", source=tickets_closed, measures=(COUNT,),
                 description="Tickets closed in the period, by when they were closed.", **common),
        GoalType(key="TIME_TO_FIRST_RESPONSE", label="Time to first response", source=tickets_first_answered,
                 measures=(AVERAGE_FIRST_RESPONSE,),
                 description="Average hours from creation to the first response, over the tickets first answered "
                             "in the period (lower is better).", **common),
        GoalType(key="TIME_TO_CLOSE", label="Time to close", source=tickets_closed, measures=(AVERAGE_CLOSE,),
                 description="Average hours from creation to closing, over the tickets closed in the period "
                             "(lower is better).", **common),
    ]


@hookimpl
def goalgraph_register_goal_templates() -> list[GoalTemplate]:
    return [
        GoalTemplate("MONTHLY_TICKETS_CLOSED_PER_USER", "Tickets closed per month", "TICKETS_CLOSED", "COUNT",
                     title="Tickets closed – {assignee}", suggested_target=Decimal(40),
                     description="The tickets a service user closes each month."),
        GoalTemplate("MONTHLY_TEAM_FIRST_RESPONSE", "Average time to first response", "TIME_TO_FIRST_RESPONSE",
                     "AVERAGE_HOURS", assignee_kind="TEAM", title="First response – {assignee}",
                     suggested_target=Decimal(4),
                     description="A team's average hours to the first response each month; at or under the target "
                                 "is achieved."),
    ]


@hookimpl
def goalgraph_register_migrations() -> list[str]:
    return [str(MIGRATIONS)]
