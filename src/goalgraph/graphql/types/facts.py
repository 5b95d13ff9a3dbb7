"""GraphQL types of the CRM facts and the organisation."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from goalgraph.access import policy
from goalgraph.db import models
from goalgraph.organisation import OrganisationSettings
from goalgraph.registry import CORE_REFERENCES, FactKind, FieldType


def camel_case(key: str) -> str:
    """``first_response_at`` → ``firstResponseAt`` (GraphQL's spelling of a fact kind's field key)."""
    head, *rest = key.split("_")
    return head + "".join(w.capitalize() for w in rest)


def _plain(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    return value


@strawberry.type(name="FactValue", description="One field of a fact and its stored value.")
class FactValue:
    name: str = strawberry.field(description="The field's name (camelCase, as in FactFieldInfo.name).")
    value: JSON | None = strawberry.field(description="The value as JSON (timestamps and decimals as ISO / decimal "
                                                      "strings; references as the CRM's id).")


@strawberry.interface(name="Fact", description="What every fact has, whatever its kind (deals, activities, the "
                                               "kinds plugins add such as tickets): its kind, CRM id, title, amount, "
                                               "time, credited user and the kind's declared fields (factKinds).")
class Fact:
    row: strawberry.Private[Any]

    def declared(self, info: Info) -> FactKind:
        """The fact kind's declaration (registry.FactKind)."""
        raise NotImplementedError

    def _get(self, info: Info, key: str | None) -> Any:
        spec = self.declared(info).field(key) if key is not None else None
        return None if spec is None else getattr(self.row, spec.attr)

    @strawberry.field(description="The fact kind's key (deal, activity, ticket …).")
    def kind(self, info: Info) -> str:
        return self.declared(info).key

    @strawberry.field(description="The CRM's id of the fact.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.row.external_id)

    @strawberry.field(description="Its title, when its kind has one (a deal's title, a ticket's subject).")
    def title(self, info: Info) -> str | None:
        value = self._get(info, self.declared(info).title)
        return None if value is None else str(value)

    @strawberry.field(description="Its amount in its own currency, when its kind has one.")
    def amount(self, info: Info) -> Money | None:
        kind = self.declared(info)
        value, currency = self._get(info, kind.amount), self._get(info, kind.currency)
        return None if value is None or currency is None else Money(amount=value, currency=currency)

    @strawberry.field(description="The time that shows it (ISO 8601: a deal's added time, a ticket's creation).")
    def occurred_at(self, info: Info) -> str | None:
        value = self._get(info, self.declared(info).time)
        return None if value is None else value.isoformat()

    @strawberry.field(description="The CRM's timestamp of the version stored.")
    def updated_at(self) -> datetime:
        return self.row.source_updated_at

    @strawberry.field(description="The user the fact is credited to.")
    async def owner(self, info: Info) -> Annotated["UserType", strawberry.lazy("goalgraph.graphql.types.facts")] | None:
        user = await info.context.loaders.user.load(self._get(info, self.declared(info).owner))
        return None if user is None else UserType(row=user)

    @strawberry.field(description="Every declared field with its value (an SPA builds a table from factKinds' fields).")
    async def fields(self, info: Info) -> list[FactValue]:
        kind = self.declared(info)
        registry = info.context.runtime.registry
        out = []
        for spec in kind.fields:
            value = getattr(self.row, spec.attr)
            if spec.type is FieldType.REFERENCE and value is not None:
                target = spec.references
                loader = (getattr(info.context.loaders, target) if target in CORE_REFERENCES  # loaders by the same names
                          else info.context.loaders.facts_of(registry.fact_kinds[target]))
                found = await loader.load(value)
                value = None if found is None else found.external_id
            out.append(FactValue(name=camel_case(spec.key), value=_plain(value)))
        return out


@strawberry.enum(description="Where a deal stands.")
class DealStatus(enum.Enum):
    OPEN = "OPEN"
    WON = "WON"
    LOST = "LOST"
    STALLED = "STALLED"


@strawberry.enum(description="Day a week starts on.")
class Weekday(enum.Enum):
    MONDAY = 0
    TUESDAY = 1
    WEDNESDAY = 2
    THURSDAY = 3
    FRIDAY = 4
    SATURDAY = 5
    SUNDAY = 6


@strawberry.type(description="An exact amount of money in a currency (amount is a decimal string).")
class Money:
    amount: Decimal = strawberry.field(description="The amount, exact (never a float).")
    currency: str = strawberry.field(description="ISO 4217 code, e.g. EUR.")


@strawberry.type(description="The organisation's settings; periods are computed from them.")
class Organisation:
    name: str = strawberry.field(description="Display name.")
    default_currency: str = strawberry.field(description="Currency of money goals unless a goal says otherwise.")
    time_zone: str = strawberry.field(description="IANA time zone period bounds are computed in, e.g. Europe/Oslo.")
    week_start: Weekday = strawberry.field(description="First day of a week for weekly goals.")
    fiscal_year_start_month: int = strawberry.field(description="Month (1–12) the fiscal year starts in.")
    updated_at: datetime | None = strawberry.field(description="When the settings were last saved; null for defaults.")

    @classmethod
    def from_settings(cls, s: OrganisationSettings) -> "Organisation":
        return cls(name=s.name, default_currency=s.default_currency, time_zone=s.time_zone,
                   week_start=Weekday(s.week_start), fiscal_year_start_month=s.fiscal_year_start_month,
                   updated_at=s.updated_at)


@strawberry.type(name="User", description="A CRM user: goals are assigned to users and facts credited to them.")
class UserType:
    row: strawberry.Private[models.User]

    @strawberry.field(description="The CRM's id of the user.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.row.external_id)

    @strawberry.field(description="Full name.")
    def name(self) -> str:
        return self.row.name

    @strawberry.field(description="E-mail address, if known; null unless it is your own or you are an admin.")
    async def email(self, info: Info) -> str | None:
        return self.row.email if policy.can_see_private_details(await info.context.viewer(), self.row.id) else None

    @strawberry.field(description="False for users deactivated in the CRM.")
    def active(self) -> bool:
        return self.row.active

    @strawberry.field(description="The CRM's timestamp of the version stored.")
    def updated_at(self) -> datetime:
        return self.row.source_updated_at

    @strawberry.field(description="Teams the user belongs to.")
    async def teams(self, info: Info) -> list[Annotated["TeamType", strawberry.lazy("goalgraph.graphql.types.facts")]]:
        memberships = await info.context.loaders.memberships_of_user.load(self.row.id)
        teams = await info.context.loaders.team.load_many([m.team_id for m in memberships])
        return [TeamType(row=t) for t in sorted(teams, key=lambda t: t.name)]


@strawberry.type(name="Team", description="A group of users with leaders; team goals count its members' facts.")
class TeamType:
    row: strawberry.Private[models.Team]

    @strawberry.field(description="The CRM's id of the team.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.row.external_id)

    @strawberry.field(description="Team name.")
    def name(self) -> str:
        return self.row.name

    @strawberry.field(description="The CRM's timestamp of the version stored.")
    def updated_at(self) -> datetime:
        return self.row.source_updated_at

    async def _users(self, info: Info, leaders_only: bool) -> list[UserType]:
        memberships = await info.context.loaders.memberships_of_team.load(self.row.id)
        ids = [m.user_id for m in memberships if m.is_leader or not leaders_only]
        users = await info.context.loaders.user.load_many(ids)
        return [UserType(row=u) for u in sorted(users, key=lambda u: u.name)]

    @strawberry.field(description="Everyone in the team, leaders included.")
    async def members(self, info: Info) -> list[UserType]:
        return await self._users(info, leaders_only=False)

    @strawberry.field(description="The team's leaders.")
    async def leaders(self, info: Info) -> list[UserType]:
        return await self._users(info, leaders_only=True)


@strawberry.type(name="Pipeline", description="A sales pipeline with its ordered stages.")
class PipelineType:
    row: strawberry.Private[models.Pipeline]

    @strawberry.field(description="The CRM's id of the pipeline.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.row.external_id)

    @strawberry.field(description="Pipeline name.")
    def name(self) -> str:
        return self.row.name

    @strawberry.field(description="Stages in pipeline order.")
    async def stages(self, info: Info) -> list[Annotated["StageType", strawberry.lazy("goalgraph.graphql.types.facts")]]:
        return [StageType(row=s) for s in await info.context.loaders.stages_of_pipeline.load(self.row.id)]


@strawberry.type(name="Stage", description="A pipeline stage with its order and win probability.")
class StageType:
    row: strawberry.Private[models.Stage]

    @strawberry.field(description="The CRM's id of the stage.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.row.external_id)

    @strawberry.field(description="Stage name.")
    def name(self) -> str:
        return self.row.name

    @strawberry.field(description="Order within the pipeline (0 first).")
    def position(self) -> int:
        return self.row.position

    @strawberry.field(description="Win probability in whole percent (0–100), used for weighted values.")
    def probability(self) -> int:
        return self.row.probability

    @strawberry.field(description="The pipeline the stage belongs to.")
    async def pipeline(self, info: Info) -> PipelineType:
        return PipelineType(row=await info.context.loaders.pipeline.load(self.row.pipeline_id))

    @strawberry.field(description="How many deals are in this stage now: the open ones by default (what a pipeline "
                                  "board shows), those of another status when given, every deal with status: null.")
    async def deal_count(self, info: Info, status: DealStatus | None = DealStatus.OPEN) -> int:
        key = (self.row.id, status.value if status else None)
        return (await info.context.loaders.deal_stats_of_stage.load(key))["count"]

    @strawberry.field(description="Total value of the deals in this stage, one entry per currency: the open ones "
                                  "by default, those of another status when given, every deal with status: null.")
    async def deal_values(self, info: Info, status: DealStatus | None = DealStatus.OPEN) -> list[Money]:
        stats = await info.context.loaders.deal_stats_of_stage.load((self.row.id, status.value if status else None))
        return [Money(amount=total, currency=currency) for total, currency in stats["values"]]


@strawberry.type(name="StageChange", description="A deal entering a stage (its stage history).")
class StageChangeType:
    row: strawberry.Private[models.DealStageChange]

    @strawberry.field(description="When the deal entered the stage.")
    def entered_at(self) -> datetime:
        return self.row.entered_at

    @strawberry.field(description="The stage entered.")
    async def stage(self, info: Info) -> StageType:
        return StageType(row=await info.context.loaders.stage.load(self.row.stage_id))

    @strawberry.field(description="The deal's owner at the time; progress is credited to them.")
    async def owner(self, info: Info) -> UserType:
        return UserType(row=await info.context.loaders.user.load(self.row.owner_id))


@strawberry.type(name="Deal", description="A deal of the CRM.")
class DealType(Fact):
    row: strawberry.Private[models.Deal]

    def declared(self, info: Info) -> FactKind:
        return info.context.runtime.registry.fact_kinds[FactKind.DEAL]

    @strawberry.field(description="The CRM's id of the deal.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.row.external_id)

    @strawberry.field(description="Deal title.")
    def title(self) -> str:
        return self.row.title

    @strawberry.field(description="Deal value in the deal's currency.")
    def value(self) -> Money:
        return Money(amount=self.row.value, currency=self.row.currency)

    @strawberry.field(description="Cost of the deal in the deal's currency.")
    def cost(self) -> Money:
        return Money(amount=self.row.cost, currency=self.row.currency)

    @strawberry.field(description="Value minus cost.")
    def gross_profit(self) -> Money:
        return Money(amount=self.row.value - self.row.cost, currency=self.row.currency)

    @strawberry.field(description="Where the deal stands.")
    def status(self) -> DealStatus:
        return DealStatus(self.row.status.value)

    @strawberry.field(description="When the deal was added in the CRM.")
    def added_at(self) -> datetime:
        return self.row.added_at

    @strawberry.field(description="When the deal was won, if it was.")
    def won_at(self) -> datetime | None:
        return self.row.won_at

    @strawberry.field(description="When the deal was lost, if it was.")
    def lost_at(self) -> datetime | None:
        return self.row.lost_at

    @strawberry.field(description="When the deal is expected to close.")
    def expected_close_date(self) -> date | None:
        return self.row.expected_close_date

    @strawberry.field(description="Custom attributes, e.g. {\"sale_type\": \"New business\"}.")
    def attributes(self) -> JSON:
        return self.row.attributes

    @strawberry.field(description="The CRM's timestamp of the version stored.")
    def updated_at(self) -> datetime:
        return self.row.source_updated_at

    @strawberry.field(description="The user the deal is credited to.")
    async def owner(self, info: Info) -> UserType:
        return UserType(row=await info.context.loaders.user.load(self.row.owner_id))

    @strawberry.field(description="The deal's pipeline.")
    async def pipeline(self, info: Info) -> PipelineType:
        return PipelineType(row=await info.context.loaders.pipeline.load(self.row.pipeline_id))

    @strawberry.field(description="The deal's current stage.")
    async def stage(self, info: Info) -> StageType:
        return StageType(row=await info.context.loaders.stage.load(self.row.stage_id))

    @strawberry.field(description="Every stage the deal entered, oldest first.")
    async def stage_history(self, info: Info) -> list[StageChangeType]:
        return [StageChangeType(row=c) for c in await info.context.loaders.stage_changes_of_deal.load(self.row.id)]


@strawberry.type(name="Activity", description="A CRM activity: a call, meeting, e-mail, task …")
class ActivityType(Fact):
    row: strawberry.Private[models.Activity]

    def declared(self, info: Info) -> FactKind:
        return info.context.runtime.registry.fact_kinds[FactKind.ACTIVITY]

    @strawberry.field(description="The CRM's id of the activity.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.row.external_id)

    @strawberry.field(name="type", description="Activity type key, lower case (call, meeting, email …).")
    def type_(self) -> str:
        return self.row.type

    @strawberry.field(description="Subject line.")
    def subject(self) -> str:
        return self.row.subject

    @strawberry.field(description="When the activity was added.")
    def added_at(self) -> datetime:
        return self.row.added_at

    @strawberry.field(description="When the activity is due, if scheduled.")
    def due_at(self) -> datetime | None:
        return self.row.due_at

    @strawberry.field(description="When it was completed; null while not done.")
    def done_at(self) -> datetime | None:
        return self.row.done_at

    @strawberry.field(description="True once completed.")
    def done(self) -> bool:
        return self.row.done_at is not None

    @strawberry.field(description="Custom attributes.")
    def attributes(self) -> JSON:
        return self.row.attributes

    @strawberry.field(description="The CRM's timestamp of the version stored.")
    def updated_at(self) -> datetime:
        return self.row.source_updated_at

    @strawberry.field(description="The user the activity is credited to.")
    async def owner(self, info: Info) -> UserType:
        return UserType(row=await info.context.loaders.user.load(self.row.owner_id))

    @strawberry.field(description="The deal the activity is about, if any.")
    async def deal(self, info: Info) -> DealType | None:
        if self.row.deal_id is None:
            return None
        deal = await info.context.loaders.deal.load(self.row.deal_id)
        owners = policy.visible_fact_owners(await info.context.viewer())
        return None if deal is None or (owners is not None and deal.owner_id not in owners) else DealType(row=deal)
