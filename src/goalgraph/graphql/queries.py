"""Query root: the organisation and the CRM facts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from sqlalchemy import select
from strawberry.types import Info

from goalgraph.access import policy
from goalgraph.db import models
from goalgraph.graphql.pagination import Connection, paginate
from goalgraph.graphql.types.facts import (
    ActivityType,
    DealStatus,
    DealType,
    Fact,
    Organisation,
    PipelineType,
    TeamType,
    UserType,
)
from goalgraph.dimensions import custom_elements
from goalgraph.graphql.errors import ErrorCode, query_error
from goalgraph.graphql.types.fact_kinds import FactKindInfo, fact_node
from goalgraph.graphql.types.goal_types import DimensionInfo, GoalTypeInfo, GoalTemplateInfo, TemplateFilter
from goalgraph.organisation import get_organisation
from goalgraph.registry import fold_case

DEFAULT_PAGE = 50


def _ref(model: Any, external_id: str | None) -> Any:
    """Internal id of a fact by its external id, as a scalar subquery."""
    return select(model.id).where(model.external_id == external_id).scalar_subquery()


@strawberry.input(description="Narrow the deals list; all given conditions must hold.")
class DealFilter:
    pipeline_id: strawberry.ID | None = strawberry.field(default=None, description="Only this pipeline.")
    stage_id: strawberry.ID | None = strawberry.field(default=None, description="Only deals now in this stage.")
    owner_id: strawberry.ID | None = strawberry.field(default=None, description="Only this user's deals.")
    status: DealStatus | None = strawberry.field(default=None, description="Only deals with this status.")
    added_from: datetime | None = strawberry.field(default=None, description="Added at or after this instant.")
    added_before: datetime | None = strawberry.field(default=None, description="Added before this instant.")


@strawberry.input(description="Narrow the activities list; all given conditions must hold.")
class ActivityFilter:
    owner_id: strawberry.ID | None = strawberry.field(default=None, description="Only this user's activities.")
    deal_id: strawberry.ID | None = strawberry.field(default=None, description="Only activities about this deal.")
    type: str | None = strawberry.field(default=None, description="Only this activity type.")
    done: bool | None = strawberry.field(default=None, description="Only completed (true) or open (false) ones.")


async def _page(info: Info, query: Any, model: Any, kind: str, first: int, after: str | None, node: Any) -> Any:
    return await paginate(
        info.context.db, query, model.id, kind, first=first, after=after,
        max_page_size=info.context.runtime.settings.max_page_size, convert=lambda row: node(row=row),
    )


async def _visible(info: Info, query: Any, model: Any) -> Any:
    """Narrow a query to the rows the viewer may see (access.policy.row_condition)."""
    condition = policy.row_condition(await info.context.viewer(), model)
    return query if condition is None else query.where(condition)


async def _one(info: Info, model: Any, external_id: str, node: Any) -> Any:
    query = await _visible(info, select(model).where(model.external_id == external_id), model)
    async with info.context.db() as session:
        row = await session.scalar(query)
    return None if row is None else node(row=row)


@strawberry.type(description="Queries on the organisation, goal types and CRM facts.")
class FactQueries:
    @strawberry.field(description="The organisation's settings.")
    async def organisation(self, info: Info) -> Organisation:
        async with info.context.db() as session:
            return Organisation.from_settings(await get_organisation(session))

    @strawberry.field(description="Goal types registered by plugins, by key.")
    def goal_types(self, info: Info) -> list[GoalTypeInfo]:
        registry = info.context.runtime.registry
        return [GoalTypeInfo.of(registry.goal_types[key], registry.owners[("goal type", key)], registry)
                for key in sorted(registry.goal_types)]

    @strawberry.field(description="Ready-made goals registered by plugins (a goal form starts from one), by key.")
    async def goal_templates(self, info: Info) -> list[GoalTemplateInfo]:
        registry = info.context.runtime.registry
        gate = await info.context.gate()
        out = []
        for key in sorted(registry.templates):
            t = registry.templates[key]
            feature = registry.goal_types[t.goal_type].feature
            out.append(GoalTemplateInfo(
                key=t.key, label=t.label, description=t.description, title=t.title or t.label, goal_type=t.goal_type,
                measure=t.measure, interval=t.interval, assignee_kind=t.assignee_kind,
                filters=[TemplateFilter(key=k, values=list(v)) for k, v in sorted(t.filters.items())],
                suggested_target=None if t.suggested_target is None else str(t.suggested_target),
                notifications=dict(t.notifications), plugin=registry.owners[("goal template", key)],
                available=feature is None or gate.enabled(feature)))
        return out

    @strawberry.field(description="Custom dimensions goals can filter and split by, with their elements.")
    async def dimensions(self, info: Info) -> list[DimensionInfo]:
        registry = info.context.runtime.registry
        async with info.context.db() as session:
            custom = await custom_elements(session)
        out = []
        for key in sorted(registry.dimensions):
            d = registry.dimensions[key]
            added = [e for e in custom.get(key, []) if e not in d.elements]
            out.append(DimensionInfo(key=d.key, label=d.label, attribute=d.attribute,
                                     applies_to=[k.upper() for k in d.applies_to], elements=[*d.elements, *added],
                                     custom_elements=added, feature=d.feature,
                                     plugin=registry.owners[("dimension", key)]))
        return out

    @strawberry.field(description="Users, in the order goalgraph first stored them.")
    async def users(
        self, info: Info, first: int = DEFAULT_PAGE, after: str | None = None, active: bool | None = None
    ) -> Connection[UserType]:
        query = select(models.User)
        if active is not None:
            query = query.where(models.User.active == active)
        return await _page(info, query, models.User, "User", first, after, UserType)

    @strawberry.field(description="One user by the CRM's id; null if there is none.")
    async def user(self, info: Info, id: strawberry.ID) -> UserType | None:
        return await _one(info, models.User, id, UserType)

    @strawberry.field(description="Teams.")
    async def teams(self, info: Info, first: int = DEFAULT_PAGE, after: str | None = None) -> Connection[TeamType]:
        return await _page(info, select(models.Team), models.Team, "Team", first, after, TeamType)

    @strawberry.field(description="One team by the CRM's id; null if there is none.")
    async def team(self, info: Info, id: strawberry.ID) -> TeamType | None:
        return await _one(info, models.Team, id, TeamType)

    @strawberry.field(description="All pipelines (a short list), by name.")
    async def pipelines(self, info: Info) -> list[PipelineType]:
        async with info.context.db() as session:
            rows = (await session.scalars(select(models.Pipeline).order_by(models.Pipeline.name))).all()
        return [PipelineType(row=row) for row in rows]

    @strawberry.field(description="One pipeline by the CRM's id; null if there is none.")
    async def pipeline(self, info: Info, id: strawberry.ID) -> PipelineType | None:
        return await _one(info, models.Pipeline, id, PipelineType)

    @strawberry.field(description="Deals, optionally filtered.")
    async def deals(
        self, info: Info, first: int = DEFAULT_PAGE, after: str | None = None, filter: DealFilter | None = None
    ) -> Connection[DealType]:
        d = models.Deal
        query = select(d)
        if filter is not None:
            if filter.pipeline_id is not None:
                query = query.where(d.pipeline_id == _ref(models.Pipeline, filter.pipeline_id))
            if filter.stage_id is not None:
                query = query.where(d.stage_id == _ref(models.Stage, filter.stage_id))
            if filter.owner_id is not None:
                query = query.where(d.owner_id == _ref(models.User, filter.owner_id))
            if filter.status is not None:
                query = query.where(d.status == models.DealStatus(filter.status.value))
            if filter.added_from is not None:
                query = query.where(d.added_at >= filter.added_from)
            if filter.added_before is not None:
                query = query.where(d.added_at < filter.added_before)
        return await _page(info, await _visible(info, query, d), d, "Deal", first, after, DealType)

    @strawberry.field(description="One deal by the CRM's id; null if there is none.")
    async def deal(self, info: Info, id: strawberry.ID) -> DealType | None:
        return await _one(info, models.Deal, id, DealType)

    @strawberry.field(description="Activities, optionally filtered.")
    async def activities(
        self, info: Info, first: int = DEFAULT_PAGE, after: str | None = None, filter: ActivityFilter | None = None
    ) -> Connection[ActivityType]:
        a = models.Activity
        query = select(a)
        if filter is not None:
            if filter.owner_id is not None:
                query = query.where(a.owner_id == _ref(models.User, filter.owner_id))
            if filter.deal_id is not None:
                query = query.where(a.deal_id == _ref(models.Deal, filter.deal_id))
            if filter.type is not None:
                query = query.where(a.type == fold_case(filter.type))
            if filter.done is not None:
                query = query.where(a.done_at.is_not(None) if filter.done else a.done_at.is_(None))
        return await _page(info, await _visible(info, query, a), a, "Activity", first, after, ActivityType)

    @strawberry.field(description="One activity by the CRM's id; null if there is none.")
    async def activity(self, info: Info, id: strawberry.ID) -> ActivityType | None:
        return await _one(info, models.Activity, id, ActivityType)

    @strawberry.field(description="Every kind of fact goalgraph stores (deals, activities and plugins' kinds), with "
                                  "their fields: an SPA builds ingest forms and fact tables from it.")
    def fact_kinds(self, info: Info) -> list[FactKindInfo]:
        registry = info.context.runtime.registry
        return [FactKindInfo(kind=k, plugin=registry.owners[("fact kind", k.key)])
                for k in sorted(registry.fact_kinds.values(), key=lambda k: k.key)]

    @strawberry.field(description="Facts of one kind (any kind, plugins' too), in the order they were first stored; only those "
                                  "credited to users whose facts the viewer may see.")
    async def facts(self, info: Info, kind: str, first: int = DEFAULT_PAGE, after: str | None = None) -> Connection[Fact]:
        registry = info.context.runtime.registry
        fact_kind = registry.fact_kind_by_name(kind)
        if fact_kind is None:
            raise query_error(f"kind: {kind!r} is not a kind of fact (known: {', '.join(sorted(registry.fact_kinds))})",
                              ErrorCode.BAD_USER_INPUT)
        model = fact_kind.model
        owner = getattr(model, fact_kind.field(fact_kind.owner).attr)  # type: ignore[union-attr]
        condition = policy.fact_owner_condition(await info.context.viewer(), owner)
        query = select(model) if condition is None else select(model).where(condition)
        return await _page(info, query, model, f"Fact{fact_kind.key}", first, after,
                           lambda row: fact_node(fact_kind, row))
