"""Per-request DataLoaders: one query per kind of lookup, however many fields ask."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from strawberry.dataloader import DataLoader

from goalgraph.db.models import Deal, DealStageChange, Pipeline, Stage, Team, TeamMembership, User

if TYPE_CHECKING:
    from goalgraph.graphql.context import Context


class Loaders:
    """The loaders of one request; created with its context."""

    def __init__(self, ctx: "Context") -> None:
        self._ctx = ctx
        self.user = DataLoader(self._by_id(User))
        self.team = DataLoader(self._by_id(Team))
        self.pipeline = DataLoader(self._by_id(Pipeline))
        self.stage = DataLoader(self._by_id(Stage))
        self.stages_of_pipeline = DataLoader(self._stages_of_pipeline)
        self.memberships_of_team = DataLoader(self._memberships_of_team)
        self.memberships_of_user = DataLoader(self._memberships_of_user)
        self.deal = DataLoader(self._by_id(Deal))
        self.deal_stats_of_stage = DataLoader(self._deal_stats_of_stage)
        self.stage_changes_of_deal = DataLoader(self._stage_changes_of_deal)

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

    async def _deal_stats_of_stage(self, ids: Sequence[int]) -> list[dict[str, Any]]:
        """Per stage: count of deals and the sum of open value per currency."""
        async with self._ctx.db() as session:
            rows = (await session.execute(
                select(Deal.stage_id, Deal.currency, func.count(), func.sum(Deal.value))
                .where(Deal.stage_id.in_(ids))
                .group_by(Deal.stage_id, Deal.currency)
                .order_by(Deal.stage_id, Deal.currency)
            )).all()
        stats: dict[int, dict[str, Any]] = {i: {"count": 0, "values": []} for i in ids}
        for stage_id, currency, count, total in rows:
            stats[stage_id]["count"] += count
            stats[stage_id]["values"].append((total, currency))
        return [stats[i] for i in ids]

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
