"""Mutation root: push facts in, change organisation settings. Each mutation is one transaction."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

import strawberry
from strawberry.types import Info

from goalgraph.db.retry import RetriesExhausted
from goalgraph.live.broker import FactsChanged
from goalgraph.access import policy
from goalgraph.access.gate import LicenceRequired
from goalgraph.graphql.errors import ErrorCode, ForbiddenError, LicenceRequiredError, RetryableError, ValidationError
from goalgraph.graphql.types.facts import Organisation, Weekday
from goalgraph.graphql.types.ingest import IngestFactsInput, IngestFactsResult, to_raw
from goalgraph.ingest.batch import apply_batch, needed_features
from goalgraph.errors import IngestRejected
from goalgraph.organisation import update_organisation
from goalgraph.dimensions import set_custom_elements
from goalgraph.rates import set_rates

IngestFactsPayload = Annotated[
    IngestFactsResult | ValidationError | ForbiddenError | LicenceRequiredError | RetryableError,
    strawberry.union("IngestFactsPayload", description="The counts of an applied batch, why it was refused, or "
                     "that it should be sent again (RETRYABLE; nothing was written)."),
]


async def _admin_only(info: Info) -> ForbiddenError | None:
    """ForbiddenError unless the viewer may manage facts and settings (admins and service tokens)."""
    if policy.can_manage(await info.context.viewer()):
        return None
    return ForbiddenError(code=ErrorCode.FORBIDDEN, message="only admins (or service tokens) may do this")


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
    UpdateOrganisationSuccess | ValidationError | ForbiddenError,
    strawberry.union("UpdateOrganisationPayload", description="The saved settings, or why they were refused."),
]


@strawberry.input(description="One unit of `currency` is worth `rate` units of `quoteCurrency` from `validFrom` on.")
class ExchangeRateInput:
    currency: str = strawberry.field(description="ISO 4217 code converted from.")
    quote_currency: str = strawberry.field(description="ISO 4217 code converted to.")
    rate: Decimal = strawberry.field(description="Units of quoteCurrency per unit of currency (> 0).")
    valid_from: date = strawberry.field(description="First day the rate applies — a local date in the organisation's "
                                                 "time zone, like the dates placing facts in periods; it applies until a newer one.")


@strawberry.type(description="The rates were stored.")
class SetExchangeRatesSuccess:
    written: int = strawberry.field(description="How many rates were created or replaced.")


SetExchangeRatesPayload = Annotated[
    SetExchangeRatesSuccess | ValidationError | ForbiddenError,
    strawberry.union("SetExchangeRatesPayload", description="How many rates were stored, or why they were refused."),
]


@strawberry.type(description="The dimension's elements were saved.")
class SetDimensionElementsSuccess:
    key: str = strawberry.field(description="The dimension.")
    elements: list[str] = strawberry.field(description="All its elements now: registered, then added.")


SetDimensionElementsPayload = Annotated[
    SetDimensionElementsSuccess | ValidationError | ForbiddenError | LicenceRequiredError,
    strawberry.union("SetDimensionElementsPayload", description="The dimension's elements, or why they were refused."),
]


@strawberry.type(description="Mutations on facts, exchange rates and organisation settings.")
class FactMutations:
    @strawberry.mutation(
        description="Upsert a batch of CRM facts by their external ids. Re-sending a fact updates it; a version "
        "older than the stored one is ignored. Any problem refuses the whole batch."
    )
    async def ingest_facts(self, info: Info, input: IngestFactsInput) -> IngestFactsPayload:
        if (denied := await _admin_only(info)) is not None:
            return denied
        raw = to_raw(input)
        # Nested stages, stage-history entries and the records of `facts` count too: they are rows written.
        size = sum(len(v) for k, v in raw.items() if k != "facts")
        size += sum(len(e.get("records") or ()) for e in raw.get("facts", ()))
        size += sum(len(p.get("stages", ())) for p in raw.get("pipelines", ()))
        size += sum(len(d.get("stage_history", ())) for d in raw.get("deals", ()))
        limit = info.context.runtime.settings.max_batch_size
        if size > limit:
            return ValidationError(code=ErrorCode.VALIDATION, field_errors=[],
                                   message=f"input: {size} facts in one batch; at most {limit} are accepted")
        registry = info.context.runtime.registry
        needed = needed_features(raw, registry)
        # Only a batch with licensed kinds reads the gate (a connection more per request otherwise).
        missing = (await info.context.gate()).missing(needed) if needed else []
        if missing:
            feature = registry.features[missing[0]]
            return LicenceRequiredError(code=ErrorCode.LICENCE_REQUIRED, feature=feature.key,
                                        message=f"facts of this kind need the licence feature {feature.key} "
                                                f"({feature.label}), which is not enabled")
        # The batch has a transaction of its own: give back the request's read connection first, so a burst
        # of concurrent batches needs one connection each, not two.
        await info.context.close()
        try:
            summary = await apply_batch(info.context.runtime, raw)
        except IngestRejected as rejected:
            return ValidationError.from_fact_errors(rejected.errors, prefix=("input",))
        except RetriesExhausted as exhausted:
            return RetryableError.of(exhausted)
        return IngestFactsResult.of(summary)

    @strawberry.mutation(description="Change the organisation's settings (name, currency, time zone, week, fiscal year).")
    async def update_organisation(self, info: Info, input: OrganisationInput) -> UpdateOrganisationPayload:
        if (denied := await _admin_only(info)) is not None:
            return denied
        changes = to_raw(input)
        if isinstance(input.week_start, Weekday):
            changes["week_start"] = input.week_start.value
        try:
            async with info.context.transaction() as session:
                saved = await update_organisation(session, **changes)
                await info.context.runtime.broker.announce(session, FactsChanged(None))
        except IngestRejected as rejected:
            return ValidationError.from_fact_errors(rejected.errors, prefix=("input",))
        return UpdateOrganisationSuccess(organisation=Organisation.from_settings(saved))

    @strawberry.mutation(
        description="Store dated exchange rates used to convert money goals (the rate in force on a fact's date "
        "applies; the inverse pair is used when only it is known)."
    )
    async def set_exchange_rates(self, info: Info, rates: list[ExchangeRateInput]) -> SetExchangeRatesPayload:
        if (denied := await _admin_only(info)) is not None:
            return denied
        try:
            async with info.context.transaction() as session:
                written = await set_rates(session, to_raw(rates))
                await info.context.runtime.broker.announce(session, FactsChanged(None))
        except IngestRejected as rejected:
            return ValidationError.from_fact_errors(rejected.errors, prefix=())
        return SetExchangeRatesSuccess(written=written)

    @strawberry.mutation(description="Replace the elements admins added to a dimension (registered elements stay).")
    async def set_dimension_elements(self, info: Info, key: str, elements: list[str]) -> SetDimensionElementsPayload:
        if (denied := await _admin_only(info)) is not None:
            return denied
        gate = await info.context.gate()
        try:
            async with info.context.transaction() as session:
                allowed = await set_custom_elements(session, info.context.runtime.registry, key, elements, gate)
        except IngestRejected as rejected:
            return ValidationError.from_fact_errors(rejected.errors, prefix=())
        except LicenceRequired as missing:
            return LicenceRequiredError(code=ErrorCode.LICENCE_REQUIRED, message=missing.message, feature=missing.feature)
        return SetDimensionElementsSuccess(key=key, elements=allowed)
