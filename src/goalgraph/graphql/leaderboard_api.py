"""The leaderboard query: users or teams ranked for a goal type and measure over a period."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

import strawberry
from strawberry.types import Info

from goalgraph.access import policy
from goalgraph.access.gate import LicenceRequired
from goalgraph.access.viewer import Viewer
from goalgraph.graphql.errors import ErrorCode, query_error
from goalgraph.graphql.goal_mutations import GoalFilterInput, _filters
from goalgraph.graphql.types.goal_types import GoalDirection
from goalgraph.graphql.types.goals import Interval
from goalgraph.goals.schedule import calendar_of
from goalgraph.periods import Interval as PeriodInterval
from goalgraph.periods import local_midnight
from goalgraph.progress import leaderboard as board
from goalgraph.progress.engine import EngineError, shape_amount
from goalgraph.registry import Direction

LeaderboardRank = strawberry.enum(board.RankBy, name="LeaderboardRank", description=(
    "ACTUAL ranks every active user (or team) by their actual; ATTAINMENT ranks the user (or team) goals "
    "of the goal type and measure by actual ÷ target of the period (zero targets last)."))
LeaderboardEntrants = strawberry.enum(board.Entrants, name="LeaderboardEntrants", description="Rank users or teams.")


@strawberry.type(description="One ranked user or team.")
class LeaderboardEntry:
    rank: int = strawberry.field(description="1 is best; ties share a rank and the next rank skips (1, 2, 2, 4).")
    user_id: strawberry.ID | None = strawberry.field(description="The user's CRM id (USERS boards).")
    team_id: strawberry.ID | None = strawberry.field(description="The team's CRM id (TEAMS boards).")
    name: str = strawberry.field(description="The user's or team's name.")
    actual: Decimal = strawberry.field(description="Actual of the period in the measure (and currency).")
    target: Decimal | None = strawberry.field(description="ATTAINMENT: the goal's target of the period.")
    ratio: Decimal | None = strawberry.field(description="ATTAINMENT: actual ÷ target (null for a zero target).")
    goal_id: strawberry.ID | None = strawberry.field(description="ATTAINMENT: the goal ranked.")
    is_viewer: bool = strawberry.field(description="The viewer's own entry (TEAMS: a team the viewer leads).")


@strawberry.type(description="A ranking over one period.")
class Leaderboard:
    label: str = strawberry.field(description="The period, e.g. 2026-04.")
    start_date: date = strawberry.field(description="First day of the period.")
    end_date: date = strawberry.field(description="Last day of the period.")
    lower_is_better: bool = strawberry.field(description="The board ranks the lowest first (direction LOWER_IS_BETTER).")
    direction: GoalDirection = strawberry.field(description="The direction ranked by: the one asked for, else the "
                                                            "measure's default.")
    entrants: int = strawberry.field(description="How many were ranked (also those the viewer may not see).")
    entries: list[LeaderboardEntry] = strawberry.field(
        description="The entries the viewer may see, best first: everyone for admins, services and holders of both "
                    "statistics rights; a team leader their teams' members (or the teams they lead); anyone else "
                    "only their own entry, with its true rank.")


def _visible(viewer: Viewer, entry: board.Entry) -> bool:
    """Whom a viewer may see on a board: whose goals they may see (the policy's one rule)."""
    kind = "USER" if entry.user_id is not None else "TEAM"
    return policy.can_see_assignee(viewer, kind, entry.user_id, entry.team_id)


@strawberry.type(description="Leaderboard queries.")
class LeaderboardQueries:
    @strawberry.field(description="Users or teams ranked for a goal type and measure over the period of `interval` "
                                  "containing `on` (default today), best first by `direction` (default the measure's); "
                                  "ATTAINMENT ranks the goals of that direction only.")
    async def leaderboard(
        self, info: Info,
        goal_type: Annotated[str, strawberry.argument(description="Goal type key (see goalTypes).")],
        measure: Annotated[str, strawberry.argument(description="Measure key of the goal type.")],
        interval: Annotated[Interval, strawberry.argument(description="Period length (not CUSTOM).")] = Interval.MONTHLY,
        on: Annotated[date | None, strawberry.argument(description="A day in the period (default today).")] = None,
        rank_by: Annotated[board.RankBy, strawberry.argument(
            description="ACTUAL (default) or ATTAINMENT.")] = board.RankBy.ACTUAL,
        entrants: Annotated[board.Entrants, strawberry.argument(description="USERS (default) or TEAMS.")] = board.Entrants.USERS,
        currency: Annotated[str | None, strawberry.argument(
            description="Money measures: the currency to rank in (default the organisation's).")] = None,
        filters: Annotated[list[GoalFilterInput] | None, strawberry.argument(
            description="ACTUAL: the goal type's filters, as on goals.")] = None,
        direction: Annotated[GoalDirection | None, strawberry.argument(
            description="Which way is better (default the measure's defaultDirection); ATTAINMENT ranks the goals "
                        "of this direction.")] = None,
    ) -> Leaderboard:
        ctx = info.context
        viewer, gate = await ctx.viewer(), await ctx.gate()
        if not policy.can_use_targets(viewer):
            raise query_error("leaderboard: needs the Targets right", ErrorCode.FORBIDDEN)
        if interval is Interval.CUSTOM:
            raise query_error("interval: a leaderboard needs WEEKLY, MONTHLY, QUARTERLY or YEARLY", ErrorCode.BAD_USER_INPUT)
        registry = ctx.runtime.registry
        kind = registry.goal_types.get(goal_type)
        if kind is None:
            raise query_error(f"goalType: unknown goal type {goal_type!r}", ErrorCode.BAD_USER_INPUT)
        wanted = _filters(filters)
        extra = [f for f in registry.filters_for(kind) if f not in kind.filters]
        problems = kind.validate_filters(wanted, extra=extra)
        if problems:
            raise query_error(f"filters.{problems[0][0]}: {problems[0][1]}", ErrorCode.BAD_USER_INPUT)
        try:
            gate.require([kind.feature] if kind.feature else [])
        except LicenceRequired as missing:
            raise query_error(missing.message, ErrorCode.LICENCE_REQUIRED) from None
        org = await ctx.organisation()
        # The period containing that local day (its first instant), or today's.
        moment = ctx.now if on is None else local_midnight(calendar_of(org), on)
        async with ctx.db() as session:
            try:
                result = await board.leaderboard(
                    session, registry, org, ctx.now, goal_type=goal_type, measure=measure,
                    interval=PeriodInterval(interval.value), on=moment, rank_by=rank_by, entrants=entrants,
                    currency=currency, filters=wanted,
                    direction=None if direction is None else Direction(direction.value))
            except (board.LeaderboardError, EngineError) as bad:
                raise query_error(str(bad), ErrorCode.BAD_USER_INPUT) from None
        money = kind.measure(measure).money  # type: ignore[union-attr]
        shown = [e for e in result.entries if _visible(viewer, e)]
        mine = {viewer.user_id} if viewer.user_id else set()
        return Leaderboard(
            label=result.period.label, start_date=result.period.start_date, end_date=result.period.end_date,
            lower_is_better=result.direction is Direction.LOWER_IS_BETTER,
            direction=GoalDirection(result.direction.value), entrants=len(result.entries),
            entries=[LeaderboardEntry(
                rank=e.rank, user_id=strawberry.ID(e.external_id) if e.user_id else None,
                team_id=strawberry.ID(e.external_id) if e.team_id else None, name=e.name,
                actual=shape_amount(e.actual, money), target=None if e.target is None else shape_amount(e.target, money),
                ratio=e.ratio, goal_id=strawberry.ID(str(e.goal_id)) if e.goal_id else None,
                is_viewer=(e.user_id in mine) if e.user_id else (e.team_id in viewer.leads)) for e in shown])
