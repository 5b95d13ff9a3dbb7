"""Goal hierarchies over GraphQL: a goal's children with their sums, and cascading a goal down."""

from __future__ import annotations

import enum
from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Annotated

import strawberry
from strawberry.types import Info

from goalgraph.access.gate import LicenceRequired
from goalgraph.db.models import Goal
from goalgraph.goals import hierarchy
from goalgraph.goals.errors import GoalProblem
from goalgraph.graphql.errors import (
    ConflictError, ForbiddenError, LicenceRequiredError, LockedError, NotFoundError, ValidationError,
)
from goalgraph.graphql.goal_mutations import after_goal_change, announce_goal_change, problem_error
from goalgraph.graphql.types.goals import GoalNode
from goalgraph.progress.cascade_weights import last_year_actuals
from goalgraph.progress.engine import shape_amount
from goalgraph.progress.service import is_money


@strawberry.type(description="One period of a parent goal beside the sum of its children.")
class HierarchyPeriod:
    start_date: date = strawberry.field(description="First day of the period.")
    target: Decimal = strawberry.field(description="The parent's own target.")
    children_target: Decimal = strawberry.field(description="The sum of the children's targets.")
    actual: Decimal = strawberry.field(description="The parent's own actual.")
    children_actual: Decimal = strawberry.field(description="The sum of the children's actuals.")
    target_mismatch: bool = strawberry.field(description="The parent's target differs from its children's sum "
                                                         "(a guideline: they need not match).")


@strawberry.type(description="A goal's place in a hierarchy: its children and their sums per period.")
class GoalHierarchy:
    children: list[GoalNode] = strawberry.field(description="The goals breaking this one down.")
    periods: list[HierarchyPeriod] = strawberry.field(description="Per period: own and children's target and actual.")
    target_mismatch: bool = strawberry.field(description="Some period's target differs from its children's sum.")


async def hierarchy_of(info: Info, goal: Goal) -> GoalHierarchy | None:
    """The goal's children (those the viewer may see) with their sums; None without children."""
    children = [c for c in await info.context.loaders.children_of_goal.load(goal.id)]
    if not children:
        return None
    loaders = info.context.loaders
    own, *theirs = await loaders.progress.load_many([(goal.id, None, None), *((c.id, None, None) for c in children)])
    money = is_money(info.context.runtime.registry, goal)
    sums: dict[date, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for progress in theirs:
        for p in progress.periods:
            sums[p.period.start_date][0] += p.target
            sums[p.period.start_date][1] += p.actual
    periods = []
    for p in own.periods:
        target, actual = sums.get(p.period.start_date, [Decimal(0), Decimal(0)])
        periods.append(HierarchyPeriod(start_date=p.period.start_date, target=p.target,
                                       children_target=shape_amount(target, money), actual=p.actual,
                                       children_actual=shape_amount(actual, money),
                                       target_mismatch=hierarchy.target_mismatch(p.target, target)))
    return GoalHierarchy(children=[GoalNode(row=c) for c in children], periods=periods,
                         target_mismatch=any(p.target_mismatch for p in periods))


CascadeSplit = strawberry.enum(hierarchy.Split, name="CascadeSplit", description=(
    "EVEN: the same share each; SHARES: the shares given; LAST_YEAR: in proportion to each one's actual over the "
    "same periods a year earlier (even when all were 0). Targets are split to 4 places, the rounding remainder "
    "going to the largest share, so the children add up to the parent exactly."))


@strawberry.enum(description="Whom a company goal cascades to (a team goal always cascades to its members).")
class CascadeLevel(enum.Enum):
    TEAMS = "TEAMS"
    USERS = "USERS"


@strawberry.input(description="One part's share when cascading by SHARES.")
class CascadeShareInput:
    assignee_id: strawberry.ID = strawberry.field(description="The team's or user's CRM id.")
    share: Decimal = strawberry.field(description="Its weight (any scale: 30, 70 or 0.3, 0.7).")


@strawberry.type(description="The parent and its children as they are now.")
class CascadeSuccess:
    parent: GoalNode = strawberry.field(description="The goal cascaded.")
    children: list[GoalNode] = strawberry.field(description="Its children, created or updated.")


CascadePayload = Annotated[
    CascadeSuccess | ValidationError | NotFoundError | ConflictError | LockedError | ForbiddenError | LicenceRequiredError,
    strawberry.union("CascadePayload", description="The parent and its children, or why nothing changed."),
]


@strawberry.type(description="Goal hierarchy mutations.")
class HierarchyMutations:
    @strawberry.mutation(description="Create or update the children of a company goal for every team (or user), or of a "
                                     "team goal for every member, splitting its targets (per period too). All or "
                                     "nothing; the viewer must be allowed to set each child's goal.")
    async def cascade_goal(self, info: Info, id: strawberry.ID, split: hierarchy.Split = hierarchy.Split.EVEN,
                           level: CascadeLevel = CascadeLevel.TEAMS,
                           shares: list[CascadeShareInput] | None = None) -> CascadePayload:
        ctx = info.context
        viewer, gate = await ctx.viewer(), await ctx.gate()
        try:
            async with ctx.transaction() as session:
                from goalgraph.goals.service import get_goal

                parent = await get_goal(session, id, viewer)
                last_year = None
                if split is hierarchy.Split.LAST_YEAR:
                    parts = await hierarchy.parts_of(session, parent, level.value)
                    last_year = await last_year_actuals(session, ctx.runtime.registry, parent, parts, ctx.now)
                children = await hierarchy.cascade(
                    session, ctx.runtime.registry, parent.id, level=level.value, split=split,
                    shares={str(s.assignee_id): s.share for s in shares or []}, viewer=viewer, gate=gate, now=ctx.now,
                    last_year=last_year)
                await announce_goal_change(info, session, None)
        except (GoalProblem, LicenceRequired) as problem:
            return problem_error(problem, id)
        after_goal_change(info, [parent.id, *(c.id for c in children)])
        loaders = ctx.loaders
        for child in children:
            loaders.goal.prime(child.id, child, force=True)
        loaders.progress.clear_all()
        loaders.children_of_goal.clear_all()
        return CascadeSuccess(parent=GoalNode(row=parent), children=[GoalNode(row=c) for c in children])
