"""Inputs and results of pushing CRM facts in (the ``ingestFacts`` mutation)."""

from __future__ import annotations

import dataclasses
import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import strawberry
from strawberry.scalars import JSON

from goalgraph.graphql.types.facts import DealStatus
from goalgraph.ingest.upsert import IngestSummary, UpsertCounts
from goalgraph.ingest.validate import Kind

UPDATED_AT = "The CRM's timestamp of this version. An update older than the stored one is ignored. Defaults to the time received."


@strawberry.input(description="A CRM user.")
class UserInput:
    id: strawberry.ID = strawberry.field(description="The CRM's id of the user (the upsert key).")
    name: str = strawberry.field(description="Full name.")
    email: str | None = strawberry.field(default=None, description="E-mail address.")
    active: bool | None = strawberry.field(default=None, description="False for deactivated users. Default true.")
    updated_at: datetime | None = strawberry.field(default=None, description=UPDATED_AT)


@strawberry.input(description="A team with its members and leaders (replaces the stored membership).")
class TeamInput:
    id: strawberry.ID = strawberry.field(description="The CRM's id of the team.")
    name: str = strawberry.field(description="Team name.")
    member_ids: list[strawberry.ID] | None = strawberry.field(default=None, description="Users in the team.")
    leader_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Team leaders; they count as members too."
    )
    updated_at: datetime | None = strawberry.field(default=None, description=UPDATED_AT)


@strawberry.input(description="A pipeline stage. Inside a pipeline, `pipelineId` and `position` default from it.")
class StageInput:
    id: strawberry.ID = strawberry.field(description="The CRM's id of the stage.")
    name: str = strawberry.field(description="Stage name.")
    probability: int = strawberry.field(description="Win probability in whole percent, 0–100.")
    position: int | None = strawberry.field(default=None, description="Order in the pipeline (0 first).")
    pipeline_id: strawberry.ID | None = strawberry.field(default=None, description="The stage's pipeline.")
    updated_at: datetime | None = strawberry.field(default=None, description=UPDATED_AT)


@strawberry.input(description="A pipeline, optionally with its stages in order.")
class PipelineInput:
    id: strawberry.ID = strawberry.field(description="The CRM's id of the pipeline.")
    name: str = strawberry.field(description="Pipeline name.")
    stages: list[StageInput] | None = strawberry.field(default=None, description="Stages, first to last.")
    updated_at: datetime | None = strawberry.field(default=None, description=UPDATED_AT)


@strawberry.input(description="A past stage entry of a deal, for back-filling history.")
class StageHistoryInput:
    stage_id: strawberry.ID = strawberry.field(description="The stage entered.")
    entered_at: datetime = strawberry.field(description="When it was entered.")


@strawberry.input(description="A deal. A changed `stageId` is recorded in the deal's stage history.")
class DealInput:
    id: strawberry.ID = strawberry.field(description="The CRM's id of the deal.")
    title: str = strawberry.field(description="Deal title.")
    value: Decimal = strawberry.field(description="Deal value (≥ 0, at most 4 decimals).")
    currency: str = strawberry.field(description="ISO 4217 currency of value and cost.")
    owner_id: strawberry.ID = strawberry.field(description="The user the deal is credited to.")
    stage_id: strawberry.ID = strawberry.field(description="The deal's current stage.")
    added_at: datetime = strawberry.field(description="When the deal was added.")
    cost: Decimal | None = strawberry.field(default=None, description="Cost, for gross profit. Default 0.")
    pipeline_id: strawberry.ID | None = strawberry.field(
        default=None, description="The pipeline; defaults to the stage's, must match it when given."
    )
    status: DealStatus | None = strawberry.field(default=None, description="Default OPEN.")
    won_at: datetime | None = strawberry.field(default=None, description="Required when status is WON.")
    lost_at: datetime | None = strawberry.field(default=None, description="Required when status is LOST.")
    expected_close_date: date | None = strawberry.field(default=None, description="Expected close date.")
    stage_entered_at: datetime | None = strawberry.field(
        default=None, description="When the deal entered its current stage; defaults to addedAt for a new deal, else updatedAt."
    )
    stage_history: list[StageHistoryInput] | None = strawberry.field(
        default=None, description="Earlier stage entries to record (idempotent)."
    )
    attributes: JSON | None = strawberry.field(
        default=None, description="Custom attributes, e.g. {\"sale_type\": \"New business\"}."
    )
    updated_at: datetime | None = strawberry.field(default=None, description=UPDATED_AT)


@strawberry.input(description="An activity. Setting `doneAt` marks it completed.")
class ActivityInput:
    id: strawberry.ID = strawberry.field(description="The CRM's id of the activity.")
    type: str = strawberry.field(description="Activity type key (call, meeting, email …), case-insensitive.")
    owner_id: strawberry.ID = strawberry.field(description="The user the activity is credited to.")
    added_at: datetime = strawberry.field(description="When the activity was added.")
    subject: str | None = strawberry.field(default=None, description="Subject line.")
    deal_id: strawberry.ID | None = strawberry.field(default=None, description="The deal it is about.")
    due_at: datetime | None = strawberry.field(default=None, description="When it is due.")
    done_at: datetime | None = strawberry.field(default=None, description="When it was completed.")
    attributes: JSON | None = strawberry.field(default=None, description="Custom attributes.")
    updated_at: datetime | None = strawberry.field(default=None, description=UPDATED_AT)


@strawberry.input(description="Facts of one kind, named by the kind's key (`factKinds` lists every kind, its fields and "
                                     "their rules). Each record is an object of the kind's fields by their `name` "
                                     "(camelCase; the snake_case `key` of import files is accepted too).")
class FactRecordsInput:
    kind: str = strawberry.field(description="The fact kind's key, e.g. ticket (or its batch key, tickets).")
    records: list[JSON] = strawberry.field(description="The records, e.g. {\"id\": \"t-1\", \"ownerId\": \"alice\", …}.")


@strawberry.input(description="A batch of facts, applied atomically in the order users, teams, pipelines, stages, deals, "
                              "activities, then the kinds of `facts`.")
class IngestFactsInput:
    users: list[UserInput] | None = strawberry.field(default=None, description="Users to upsert.")
    teams: list[TeamInput] | None = strawberry.field(default=None, description="Teams to upsert.")
    pipelines: list[PipelineInput] | None = strawberry.field(default=None, description="Pipelines (with stages) to upsert.")
    stages: list[StageInput] | None = strawberry.field(default=None, description="Stages to upsert on their own.")
    deals: list[DealInput] | None = strawberry.field(default=None, description="Deals to upsert.")
    activities: list[ActivityInput] | None = strawberry.field(default=None, description="Activities to upsert.")
    facts: list[FactRecordsInput] | None = strawberry.field(
        default=None, description="Facts of any registered kind (plugins' kinds such as tickets; deals and activities "
                                  "too), validated by the kind's declared fields.")


def snake_case(name: str) -> str:
    """``firstResponseAt`` → ``first_response_at`` (snake_case names pass unchanged)."""
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def records_raw(records: list[Any]) -> list[Any]:
    """Plugin-kind records as the pipeline reads them: top-level keys in snake_case (values untouched)."""
    return [{snake_case(k) if isinstance(k, str) else k: v for k, v in r.items()} if isinstance(r, dict) else r
            for r in records]


def to_raw(value: Any) -> Any:
    """An input object as plain data with snake_case keys; unset (None) fields dropped."""
    if isinstance(value, FactRecordsInput):
        return {"kind": value.kind, "records": records_raw(value.records)}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_raw(getattr(value, f.name)) for f in dataclasses.fields(value)
                if getattr(value, f.name) is not None}
    if isinstance(value, list):
        return [to_raw(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    return value


@strawberry.type(name="UpsertCounts", description="What a batch did to one kind of fact.")
class UpsertCountsType:
    created: int = strawberry.field(description="New facts stored.")
    updated: int = strawberry.field(description="Stored facts replaced by a newer (or same-time) version.")
    ignored: int = strawberry.field(description="Versions older than the stored one (out-of-order delivery), not applied.")

    @classmethod
    def of(cls, counts: UpsertCounts) -> "UpsertCountsType":
        return cls(created=counts.created, updated=counts.updated, ignored=counts.ignored)


@strawberry.type(description="What a batch did to one kind of fact, by the kind's key.")
class KindUpsertCounts:
    kind: str = strawberry.field(description="The fact kind's key (user, team, pipeline, stage, deal, activity, ticket …).")
    created: int = strawberry.field(description="New facts stored.")
    updated: int = strawberry.field(description="Stored facts replaced by a newer (or same-time) version.")
    ignored: int = strawberry.field(description="Versions older than the stored one (out-of-order delivery), not applied.")


@strawberry.type(description="The batch was applied.")
class IngestFactsResult:
    users: UpsertCountsType = strawberry.field(description="Users.")
    teams: UpsertCountsType = strawberry.field(description="Teams.")
    pipelines: UpsertCountsType = strawberry.field(description="Pipelines.")
    stages: UpsertCountsType = strawberry.field(description="Stages (nested in pipelines or on their own).")
    deals: UpsertCountsType = strawberry.field(description="Deals.")
    activities: UpsertCountsType = strawberry.field(description="Activities.")
    stage_changes_recorded: int = strawberry.field(description="New entries in deals' stage history.")
    kinds: list[KindUpsertCounts] = strawberry.field(description="Every kind the batch wrote or ignored facts of, "
                                                                 "plugins' kinds included.")

    @classmethod
    def of(cls, summary: IngestSummary) -> "IngestFactsResult":
        c = summary.counts
        return cls(
            users=UpsertCountsType.of(c[Kind.USER]), teams=UpsertCountsType.of(c[Kind.TEAM]),
            pipelines=UpsertCountsType.of(c[Kind.PIPELINE]), stages=UpsertCountsType.of(c[Kind.STAGE]),
            deals=UpsertCountsType.of(c[Kind.DEAL]), activities=UpsertCountsType.of(c[Kind.ACTIVITY]),
            stage_changes_recorded=summary.stage_changes,
            kinds=[KindUpsertCounts(kind=k, created=v["created"], updated=v["updated"], ignored=v["ignored"])
                   for k, v in summary.as_dict().items() if v["created"] or v["updated"] or v["ignored"]],
        )
