"""Per-request DataLoaders: one query per kind of lookup, however many fields ask."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from strawberry.dataloader import DataLoader

from goalgraph.access import policy
from goalgraph.db.models import (
    Activity,
    Deal,
    DealStageChange,
    Goal,
    Pipeline,
    Stage,
    Team,
    TeamMembership,
    User,
)
from goalgraph.goals.schedule import calendar_of, goal_periods, period_target
from goalgraph.goals.service import element_targets_of, overrides_of, revisions_of, same_measure
from goalgraph.notifications import rules
from goalgraph.organisation import get_organisation
from goalgraph.graphql.errors import ErrorCode, query_error
from goalgraph.periods import MAX_PERIODS, Period, TooManyPeriods
from goalgraph.progress import engine
from goalgraph.progress.service import INLINE_PAIRS, GoalProgress, compute_progress, inline_facts, query_of, rules_of
from goalgraph.progress.status import combined

if TYPE_CHECKING:
    from goalgraph.graphql.context import Context


class Loaders:
    """The loaders of one request; created with its context."""

    # Loaders are made on first use: a request (or an idle subscription) pays only for what it asks.
    _SOURCES: dict[str, Any] = {
        "user": User, "team": Team, "pipeline": Pipeline, "stage": Stage, "deal": Deal, "activity": Activity,
        "goal": Goal, "stages_of_pipeline": "_stages_of_pipeline", "memberships_of_team": "_memberships_of_team",
        "memberships_of_user": "_memberships_of_user", "progress": "_progress", "revisions": "_revisions",
        "member_targets": "_member_targets", "element_targets": "_element_targets",
        "deal_stats_of_stage": "_deal_stats_of_stage", "stage_changes_of_deal": "_stage_changes_of_deal",
        "notification_settings": "_notification_settings", "children_of_goal": "_children_of_goal",
    }

    def __init__(self, ctx: "Context") -> None:
        self._ctx = ctx

    def __getattr__(self, name: str) -> DataLoader:
        source = Loaders._SOURCES.get(name)
        if source is None:
            raise AttributeError(name)
        loader = DataLoader(getattr(self, source) if isinstance(source, str) else self._by_id(source))
        setattr(self, name, loader)
        return loader

    def facts_of(self, kind: Any) -> DataLoader:
        """Stored facts of a fact kind (registry.FactKind) by internal id (deals and activities share their loaders)."""
        if kind.key in Loaders._SOURCES:
            return getattr(self, kind.key)
        name = f"_facts_{kind.key}"
        loader = self.__dict__.get(name)
        if loader is None:
            loader = self.__dict__[name] = DataLoader(self._by_id(kind.model))
        return loader

    def _by_id(self, model: Any):  # type: ignore[no-untyped-def]
        async def load(ids: Sequence[int]) -> list[Any]:
            async with self._ctx.db() as session:
                rows = (await session.scalars(select(model).where(model.id.in_(ids)))).all()
            found = {row.id: row for row in rows}
            return [found.get(i) for i in ids]

        return load

    async def _stages_of_pipeline(self, ids: Sequence[int]) -> list[list[Stage]]:
        async with self._ctx.db() as session:
            rows = (await session.scalars(
                select(Stage).where(Stage.pipeline_id.in_(ids)).order_by(Stage.position, Stage.id)
            )).all()
        grouped: dict[int, list[Stage]] = defaultdict(list)
        for row in rows:
            grouped[row.pipeline_id].append(row)
        return [grouped[i] for i in ids]

    async def _memberships(self, column: Any, ids: Sequence[int]) -> list[list[TeamMembership]]:
        async with self._ctx.db() as session:
            rows = (await session.scalars(select(TeamMembership).where(column.in_(ids)))).all()
        grouped: dict[int, list[TeamMembership]] = defaultdict(list)
        for row in rows:
            grouped[getattr(row, column.key)].append(row)
        return [grouped[i] for i in ids]

    async def _memberships_of_team(self, ids: Sequence[int]) -> list[list[TeamMembership]]:
        return await self._memberships(TeamMembership.team_id, ids)

    async def _memberships_of_user(self, ids: Sequence[int]) -> list[list[TeamMembership]]:
        return await self._memberships(TeamMembership.user_id, ids)

    async def _deal_stats_of_stage(self, keys: Sequence[tuple[int, str | None]]) -> list[dict[str, Any]]:
        """Per (stage, status or None for any): count of deals and the sum of value per currency."""
        visible = policy.fact_owner_condition(await self._ctx.viewer(), Deal.owner_id)
        async with self._ctx.db() as session:
            rows = (await session.execute(
                select(Deal.stage_id, Deal.status, Deal.currency, func.count(), func.sum(Deal.value))
                .where(Deal.stage_id.in_({k[0] for k in keys}), *([visible] if visible is not None else []))
                .group_by(Deal.stage_id, Deal.status, Deal.currency)
                .order_by(Deal.stage_id, Deal.currency)
            )).all()
        out = []
        for stage_id, status in keys:
            count, totals = 0, defaultdict(Decimal)
            for row_stage, row_status, currency, n, total in rows:
                if row_stage == stage_id and (status is None or row_status.value == status):
                    count += n
                    totals[currency] += total
            out.append({"count": count, "values": [(totals[c], c) for c in sorted(totals)]})
        return out

    async def _stage_changes_of_deal(self, ids: Sequence[int]) -> list[list[DealStageChange]]:
        async with self._ctx.db() as session:
            rows = (await session.scalars(
                select(DealStageChange).where(DealStageChange.deal_id.in_(ids))
                .order_by(DealStageChange.entered_at, DealStageChange.id)
            )).all()
        grouped: dict[int, list[DealStageChange]] = defaultdict(list)
        for row in rows:
            grouped[row.deal_id].append(row)
        return [grouped[i] for i in ids]

    async def _progress(self, keys: Sequence[tuple[int, date | None, date | None]]) -> list[GoalProgress]:
        """Progress of every goal asked for in this request: statements per window, not per goal."""
        ctx = self._ctx
        runtime = ctx.runtime
        goals = {g.id: g for g in await self.goal.load_many(list({k[0] for k in keys}))if g is not None}
        windows: dict[tuple[date | None, date | None], list[int]] = defaultdict(list)
        for goal_id, first, last in keys:
            windows[(first, last)].append(goal_id)
        inline = inline_facts(runtime.settings.inline_recompute_facts, runtime.requests_in_flight)
        gate = await ctx.gate()
        lapsed = frozenset(g.id for g in goals.values() if gate.lapsed(g))
        organisation = await ctx.organisation()  # read once per request, before the session is taken below
        results: dict[tuple[int, date | None, date | None], GoalProgress] = {}
        for window, ids in windows.items():
            rows = [goals[i] for i in dict.fromkeys(ids)]

            async def compute(rows=rows, window=window):  # type: ignore[no-untyped-def]
                async with ctx.db() as session, runtime.sessions() as fill:
                    computed = await compute_progress(
                        session, runtime.registry, rows, ctx.now, window=window, fill_session=fill, lapsed=lapsed,
                        organisation=organisation, inline_facts=inline,
                        inline_pairs=INLINE_PAIRS if inline else 0)
                    if fill.in_transaction():  # rows the store lacked: the worker stores them
                        await fill.commit()
                        if runtime.recompute is not None:
                            runtime.recompute.wake()
                return computed

            try:
                if ctx.share_progress:  # subscribers pushed by the same event share one computation
                    # Versions in the key: a goal changed since (targets, definition) is never served from before.
                    computed = await runtime.broker.shared(
                        ("progress", window, tuple(sorted((g.id, g.version) for g in rows))), compute)
                else:
                    computed = await compute()
            except TooManyPeriods as exc:
                raise query_error(f"{exc}: pass from/to to read at most {MAX_PERIODS} periods at a time",
                                  ErrorCode.BAD_USER_INPUT) from None
            for goal_id, progress in computed.items():
                results[(goal_id, *window)] = progress
        return [results[k] for k in keys]

    async def _element_targets(self, ids: Sequence[int]) -> list[dict[str, Decimal]]:
        async with self._ctx.db() as session:
            found = await element_targets_of(session, ids)
        return [found.get(i, {}) for i in ids]

    async def _children_of_goal(self, ids: Sequence[int]) -> list[list[Goal]]:
        """Live child goals the viewer may see, by parent id."""
        query = select(Goal).where(Goal.parent_id.in_(list(ids)), Goal.deleted_at.is_(None)).order_by(Goal.id)
        visible = policy.goal_condition(await self._ctx.viewer())
        if visible is not None:
            query = query.where(visible)
        async with self._ctx.db() as session:
            rows = (await session.scalars(query)).all()
        found: dict[int, list[Goal]] = defaultdict(list)
        for row in rows:
            self.goal.prime(row.id, row)
            found[row.parent_id].append(row)  # type: ignore[index]
        return [found.get(i, []) for i in ids]

    async def _notification_settings(self, ids: Sequence[int]) -> list[Any]:
        async with self._ctx.db() as session:
            found = await rules.settings_of(session, ids)
        return [found[i] for i in ids]

    async def _revisions(self, ids: Sequence[int]) -> list[list[Any]]:
        async with self._ctx.db() as session:
            found = await revisions_of(session, ids)
        return [found.get(i, []) for i in ids]

    async def _member_targets(self, ids: Sequence[int]) -> list[dict[date, Decimal]]:
        """For team goals: per period start, the sum of members' own goals' targets (same type, measure, interval,
        direction); for an average, their mean (goalgraph.progress.status.combined)."""
        ctx = self._ctx
        team_goals = [g for g in await self.goal.load_many(list(ids)) if g is not None and g.assignee_team_id]
        if not team_goals:
            return [{} for _ in ids]
        member = TeamMembership
        async with ctx.db() as session:
            org = await get_organisation(session)
            rows = (await session.execute(
                select(member.team_id, Goal)
                .join(Goal, Goal.assignee_user_id == member.user_id)
                .where(member.team_id.in_({g.assignee_team_id for g in team_goals}), Goal.deleted_at.is_(None))
            )).all()
            overrides = await overrides_of(session, {g.id for _, g in rows})
        cal = calendar_of(org)
        out: dict[int, dict[date, Decimal]] = {}
        for team_goal in team_goals:
            parts: dict[date, list[tuple[Decimal, Decimal, int]]] = defaultdict(list)
            for team_id, user_goal in rows:
                if team_id != team_goal.assignee_team_id or not same_measure(user_goal, team_goal):
                    continue
                for period in goal_periods(user_goal, cal, ctx.now):
                    target = period_target(user_goal, period, overrides.get(user_goal.id, {}))
                    parts[period.start_date].append((target, Decimal(0), 0))
            rules_ = rules_of(ctx.runtime.registry, team_goal)
            out[team_goal.id] = {day: combined(found, rules_)[0] for day, found in parts.items()}
        return [out.get(i, {}) for i in ids]

    async def contributions(self, goal: Goal, period: Period, limit: int, after: int | None):  # type: ignore[no-untyped-def]
        """One page of the facts behind a goal's period, and which kind of fact they are."""
        registry = self._ctx.runtime.registry
        goal_type = registry.goal_types[goal.goal_type]
        owners = policy.visible_fact_owners(await self._ctx.viewer())
        if (await self._ctx.gate()).lapsed(goal):
            return [], goal_type.fact_kind  # a lapsed goal is not measured: no drill-down
        async with self._ctx.db() as session:
            rows = await engine.contributions(session, registry, query_of(goal, [period], registry), period.index,
                                              limit=limit, after_key=after, owners=owners)
        return rows, goal_type.fact_kind
