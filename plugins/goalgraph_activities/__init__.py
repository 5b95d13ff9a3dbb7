"""First-party goal types about activities: added and completed."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Select, select

from goalgraph.db.models import Activity
from goalgraph.hookspecs import hookimpl
from goalgraph.registry import (
    COUNT,
    Category,
    FactField,
    FactKind,
    FactQuery,
    FieldType,
    FilterSpec,
    GoalTemplate,
    GoalType,
    fold_case,
)

__version__ = "0.1.0"

ACTIVITY_TYPES = FilterSpec(
    "activity_types", "Activity types", column="activity_type", normalise=fold_case,
    description="Only activities of these types, e.g. call, meeting (all types when left out; "
                "matched whatever their case, as activity types are stored trimmed and lower-case).",
)

#: Activities as a fact kind, written by the core itself (``builtin``); see docs/facts.md.
ACTIVITY = FactKind(
    key=FactKind.ACTIVITY, label="Activity", plural="activities", model=Activity, builtin=True,
    description="A call, meeting, e-mail or task of a user, optionally about a deal; done when done_at is set.",
    fields=(
        FactField("type", "Type", required=True, max_length=64, description="Stored trimmed and lower-case."),
        FactField("subject", "Subject", max_length=300),
        FactField("owner_id", "Owner", FieldType.REFERENCE, required=True, references="user"),
        FactField("deal_id", "Deal", FieldType.REFERENCE, references="deal"),
        FactField("added_at", "Added at", FieldType.TIMESTAMP, required=True),
        FactField("due_at", "Due at", FieldType.TIMESTAMP),
        FactField("done_at", "Done at", FieldType.TIMESTAMP),
        FactField("attributes", "Custom attributes", FieldType.ATTRIBUTES),
    ),
    timestamps=("added_at", "due_at", "done_at"),
    title="subject", time="added_at",
)


def _columns(moment):  # type: ignore[no-untyped-def]
    return [
        Activity.id.label("fact_id"),
        Activity.owner_id.label("user_id"),
        moment.label("occurred_at"),
        Activity.type.label("activity_type"),
        Activity.attributes.label("attributes"),
    ]


def activities_added(_: FactQuery) -> Select:
    """Every activity, placed by when it was added."""
    return select(*_columns(Activity.added_at))


def activities_completed(_: FactQuery) -> Select:
    """Completed activities, placed by when they were done."""
    return select(*_columns(Activity.done_at)).where(Activity.done_at.is_not(None))


@hookimpl
def goalgraph_register_fact_kinds() -> list[FactKind]:
    return [ACTIVITY]


@hookimpl
def goalgraph_register_goal_types() -> list[GoalType]:
    return [
        GoalType(
            key="ACTIVITIES_ADDED", label="Activities added", category=Category.ACTIVITY, fact_kind=FactKind.ACTIVITY,
            description="Activities added in the period.", source=activities_added,
            measures=(COUNT,), filters=(ACTIVITY_TYPES,), dimensions=True,
        ),
        GoalType(
            key="ACTIVITIES_COMPLETED", label="Activities completed", category=Category.ACTIVITY,
            fact_kind=FactKind.ACTIVITY, description="Activities marked done in the period, by when they were done.",
            source=activities_completed, measures=(COUNT,), filters=(ACTIVITY_TYPES,), dimensions=True,
        ),
    ]


@hookimpl
def goalgraph_register_goal_templates() -> list[GoalTemplate]:
    return [
        GoalTemplate("WEEKLY_CALLS_COMPLETED", "Weekly calls completed", "ACTIVITIES_COMPLETED", "COUNT",
                     interval="WEEKLY", title="Calls – {assignee}", filters={"activity_types": ("call",)},
                     suggested_target=Decimal(50), description="Calls a rep completes each week."),
        GoalTemplate("MONTHLY_MEETINGS_HELD", "Meetings held per month", "ACTIVITIES_COMPLETED", "COUNT",
                     title="Meetings – {assignee}", filters={"activity_types": ("meeting",)},
                     suggested_target=Decimal(12), description="Meetings a rep holds each month."),
    ]
