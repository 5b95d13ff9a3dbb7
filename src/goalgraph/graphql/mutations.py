"""Mutation root: push facts in, change organisation settings. Each mutation is one transaction."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from goalgraph.graphql.errors import ErrorCode, ValidationError
from goalgraph.graphql.types.facts import Organisation, Weekday
from goalgraph.graphql.types.ingest import IngestFactsInput, IngestFactsResult, to_raw
from goalgraph.ingest.batch import ingest_batch
from goalgraph.ingest.errors import IngestRejected
from goalgraph.organisation import update_organisation

IngestFactsPayload = Annotated[
    IngestFactsResult | ValidationError,
    strawberry.union("IngestFactsPayload", description="The counts of an applied batch, or why it was refused."),
]


@strawberry.input(description="Organisation settings to change; omitted fields stay as they are.")
class OrganisationInput:
    name: str | None = strawberry.field(default=None, description="Display name.")
    default_currency: str | None = strawberry.field(default=None, description="ISO 4217 code.")
    time_zone: str | None = strawberry.field(default=None, description="IANA time zone, e.g. Europe/Stockholm.")
    week_start: Weekday | None = strawberry.field(default=None, description="First day of the week.")
    fiscal_year_start_month: int | None = strawberry.field(default=None, description="1–12.")


@strawberry.type(description="The settings were saved.")
class UpdateOrganisationSuccess:
    organisation: Organisation = strawberry.field(description="The settings as stored.")


UpdateOrganisationPayload = Annotated[
    UpdateOrganisationSuccess | ValidationError,
    strawberry.union("UpdateOrganisationPayload", description="The saved settings, or why they were refused."),
]


@strawberry.type(description="Change data. Every mutation is atomic: it applies whole or not at all.")
class Mutation:
    @strawberry.mutation(
        description="Upsert a batch of CRM facts by their external ids. Re-sending a fact updates it; a version "
        "older than the stored one is ignored. Any problem refuses the whole batch."
    )
    async def ingest_facts(self, info: Info, input: IngestFactsInput) -> IngestFactsPayload:
        raw = to_raw(input)
        size = sum(len(v) for v in raw.values())
        limit = info.context.runtime.settings.max_batch_size
        if size > limit:
            return ValidationError(code=ErrorCode.VALIDATION, field_errors=[],
                                   message=f"input: {size} facts in one batch; at most {limit} are accepted")
        try:
            async with info.context.transaction() as session:
                summary = await ingest_batch(session, raw)
        except IngestRejected as rejected:
            return ValidationError.from_fact_errors(rejected.errors, prefix=("input",))
        return IngestFactsResult.of(summary)

    @strawberry.mutation(description="Change the organisation's settings (name, currency, time zone, week, fiscal year).")
    async def update_organisation(self, info: Info, input: OrganisationInput) -> UpdateOrganisationPayload:
        changes = to_raw(input)
        if isinstance(input.week_start, Weekday):
            changes["week_start"] = input.week_start.value
        try:
            async with info.context.transaction() as session:
                saved = await update_organisation(session, **changes)
        except IngestRejected as rejected:
            return ValidationError.from_fact_errors(rejected.errors, prefix=("input",))
        return UpdateOrganisationSuccess(organisation=Organisation.from_settings(saved))
