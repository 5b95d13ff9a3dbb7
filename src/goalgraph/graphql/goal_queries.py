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
from goalgraph.graphql.types.goals import AssigneeKind, GoalNode, PaceStatus, PeriodStatus, summary_status  # noqa: F401 - PaceStatus registers the enum
from goalgraph.progress import status as status_rules
from goalgraph.db.models import Goal

#: Most goals considered when a list is filtered by status or sorted by progress (computed, not stored).
COMPUTED_LIST_CAP = 5000


@strawberry.enum(name="Timeframe", description="Goals running now, finished, or not started yet.")
class TimeframeEnum(enum.Enum):
    ACTIVE = "ACTIVE"
    PAST = "PAST"
    FUTURE = "FUTURE"


@strawberry.enum(description="Order of the goals list.")
class GoalOrder(enum.Enum):
    CREATED = "CREATED"
    PROGRESS_ASC = "PROGRESS_ASC"
    PROGRESS_DESC = "PROGRESS_DESC"
    #: AT_RISK first, then BEHIND, ON_TRACK, and goals with no period under way last.
    PACE = "PACE"


_PACE_ORDER = {status_rules.PaceStatus.AT_RISK: 0, status_rules.PaceStatus.BEHIND: 1, status_rules.PaceStatus.ON_TRACK: 2}


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
                    order_by: GoalOrder = GoalOrder.CREATED) -> Connection[GoalNode]:
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
        if f.status is None and f.pace_status is None and order_by is GoalOrder.CREATED:
            async with ctx.db() as session:
                return await paginate(session, query, Goal.id, "Goal", first=first, after=after,
                                      max_page_size=max_page, convert=lambda row: GoalNode(row=row))
        # Status and progress are computed: measure every candidate (in batched statements), then page.
        check_page_size(first, max_page)
        offset = decode_cursor("GoalOffset", after) + 1 if after is not None else 0
        async with ctx.db() as session:
            rows = (await session.scalars(query.order_by(Goal.id).limit(COMPUTED_LIST_CAP))).all()
        for row in rows:
            ctx.loaders.goal.prime(row.id, row)
        progress = await ctx.loaders.progress.load_many([(row.id, None, None) for row in rows])
        scored = []
        for row, p in zip(rows, progress):
            state = summary_status(p)
            if f.status is not None and state.value != f.status.value:
                continue
            current = p.current
            pace_state = current.pace.status if current is not None and current.pace is not None else None
            if f.pace_status is not None and pace_state not in f.pace_status:
                continue
            if order_by is GoalOrder.PACE:
                ratio = _PACE_ORDER.get(pace_state)
            elif current is not None:
                ratio = current.ratio
            elif state.value == "PENDING":
                ratio = None  # not started: sorts last
            else:
                ratio = status_rules.ratio(p.total_actual, p.total_target)  # None (sorts last) for a zero target
            scored.append((row, ratio))
        if order_by is not GoalOrder.CREATED:
            missing = [s for s in scored if s[1] is None]
            present = sorted((s for s in scored if s[1] is not None), key=lambda s: (s[1], s[0].id),
                             reverse=order_by is GoalOrder.PROGRESS_DESC)
            scored = present + missing
        page = scored[offset: offset + first]
        edges = [Edge(cursor=encode_cursor("GoalOffset", offset + i), node=GoalNode(row=row))
                 for i, (row, _) in enumerate(page)]
        return Connection(
            edges=edges,
            page_info=PageInfo(has_next_page=offset + first < len(scored), has_previous_page=offset > 0,
                               start_cursor=edges[0].cursor if edges else None,
                               end_cursor=edges[-1].cursor if edges else None),
            total_count=len(scored),
        )
