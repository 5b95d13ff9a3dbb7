"""Goal queries: one goal, and the filterable, sortable goals connection."""

from __future__ import annotations

import enum
from datetime import date

import strawberry
from strawberry.types import Info

from goalgraph.access import policy
from goalgraph.goals.errors import GoalNotFound
from goalgraph.goals.listing import GoalListFilter, Timeframe, goals_query
from goalgraph.goals.service import get_goal
from goalgraph.graphql.pagination import Connection, Edge, PageInfo, check_page_size, decode_cursor, encode_cursor, paginate
from goalgraph.graphql.types.goals import AssigneeKind, GoalNode, PaceStatus, PeriodStatus  # noqa: F401 - PaceStatus registers the enum
from goalgraph.progress.summary import Order, select_and_order
from goalgraph.progress import status as status_rules
from goalgraph.db.models import Goal

#: Most goals considered when a list is filtered by status or sorted by progress (computed, not stored).
COMPUTED_LIST_CAP = 5000


@strawberry.enum(name="Timeframe", description="Goals running now, finished, or not started yet.")
class TimeframeEnum(enum.Enum):
    ACTIVE = "ACTIVE"
    PAST = "PAST"
    FUTURE = "FUTURE"


GoalOrder = strawberry.enum(Order, name="GoalOrder", description="Order of the goals list.")


@strawberry.input(description="Narrow the goals list; all given conditions must hold.")
class GoalFilter:
    assignee_kind: AssigneeKind | None = strawberry.field(default=None, description="Only user, team or company goals.")
    assignee_id: strawberry.ID | None = strawberry.field(default=None, description="With assigneeKind: that user or team.")
    goal_type: str | None = strawberry.field(default=None, description="Only this goal type.")
    pipeline_id: strawberry.ID | None = strawberry.field(default=None, description="Only goals filtered to this pipeline.")
    status: PeriodStatus | None = strawberry.field(default=None, description="Only goals with this status (see Goal.summary).")
    pace_status: list[status_rules.PaceStatus] | None = strawberry.field(
        default=None, description="Only goals whose period under way has one of these pace statuses.")
    timeframe: TimeframeEnum | None = strawberry.field(default=None, description="ACTIVE, PAST or FUTURE.")
    from_: date | None = strawberry.field(default=None, name="from", description="Only goals running on or after this day.")
    to: date | None = strawberry.field(default=None, description="Only goals running on or before this day.")


@strawberry.type(description="Goal queries.")
class GoalQueries:
    @strawberry.field(description="One goal by id; null if there is none.")
    async def goal(self, info: Info, id: strawberry.ID) -> GoalNode | None:
        viewer = await info.context.viewer()
        try:
            async with info.context.db() as session:
                return GoalNode(row=await get_goal(session, id, viewer))
        except GoalNotFound:
            return None

    @strawberry.field(description="Goals, filtered and ordered; each with its periods and progress.")
    async def goals(self, info: Info, first: int = 50, after: str | None = None, filter: GoalFilter | None = None,
                    order_by: GoalOrder = Order.CREATED) -> Connection[GoalNode]:
        ctx = info.context
        f = filter or GoalFilter()
        criteria = GoalListFilter(
            assignee_kind=f.assignee_kind.value if f.assignee_kind else None, assignee_id=f.assignee_id,
            goal_type=f.goal_type, pipeline_id=f.pipeline_id,
            timeframe=Timeframe(f.timeframe.value) if f.timeframe else None, overlaps_from=f.from_, overlaps_to=f.to,
        )
        dialect = ctx.runtime.engine.dialect.name
        query = goals_query(criteria, today=await ctx.today(), dialect=dialect)
        visible = policy.goal_condition(await ctx.viewer())
        if visible is not None:
            query = query.where(visible)
        max_page = ctx.runtime.settings.max_page_size
        if f.status is None and f.pace_status is None and order_by is Order.CREATED:
            def node(row: Goal) -> GoalNode:
                ctx.loaders.goal.prime(row.id, row)  # their progress loads them: not a second time
                return GoalNode(row=row)

            return await paginate(ctx.db, query, Goal.id, "Goal", first=first, after=after,
                                  max_page_size=max_page, convert=node)
        # Status and progress are computed: measure every candidate (in batched statements), then page.
        check_page_size(first, max_page)
        offset = decode_cursor("GoalOffset", after) + 1 if after is not None else 0
        async with ctx.db() as session:
            rows = (await session.scalars(query.order_by(Goal.id).limit(COMPUTED_LIST_CAP))).all()
        for row in rows:
            ctx.loaders.goal.prime(row.id, row)
        progress = await ctx.loaders.progress.load_many([(row.id, None, None) for row in rows])
        scored = select_and_order(rows, progress, status=f.status.value if f.status else None,
                                  paces=f.pace_status, order=order_by)
        page = scored[offset: offset + first]
        edges = [Edge(cursor=encode_cursor("GoalOffset", offset + i), node=GoalNode(row=row))
                 for i, row in enumerate(page)]
        return Connection(
            edges=edges,
            page_info=PageInfo(has_next_page=offset + first < len(scored), has_previous_page=offset > 0,
                               start_cursor=edges[0].cursor if edges else None,
                               end_cursor=edges[-1].cursor if edges else None),
            total=len(scored),
        )
