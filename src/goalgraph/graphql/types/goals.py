"""GraphQL types of goals, their periods, progress, pace, revisions and drill-down."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from goalgraph.access import policy
from goalgraph.db import models
from goalgraph.graphql.scalars import check_window
from goalgraph.graphql.errors import ErrorCode, query_error
from goalgraph.graphql.pagination import Connection, Edge, PageInfo, check_page_size, decode_cursor, encode_cursor
from goalgraph.graphql.types.facts import ActivityType, DealType, Fact, Money, TeamType, UserType
from goalgraph.graphql.types.goal_types import GoalDirection, GoalTypeInfo
from goalgraph.progress import status as status_rules
from goalgraph.progress.engine import shape_amount
from goalgraph.progress.summary import summary_status
from goalgraph.progress.service import GoalProgress, PeriodProgress, is_money
from goalgraph.graphql.types.fact_kinds import fact_node
from goalgraph.registry import FactKind

if TYPE_CHECKING:
    from goalgraph.graphql.entries_api import GoalEntryNode


@strawberry.enum(description="How a goal's time is cut into periods.")
class Interval(enum.Enum):
    WEEKLY = "WEEKLY"
    MONTHLY = "MONTHLY"
    QUARTERLY = "QUARTERLY"
    YEARLY = "YEARLY"
    CUSTOM = "CUSTOM"


@strawberry.enum(description="Whose facts a goal counts.")
class AssigneeKind(enum.Enum):
    USER = "USER"
    TEAM = "TEAM"
    COMPANY = "COMPANY"


@strawberry.enum(description="Where a period (or a goal) stands against its target.")
class PeriodStatus(enum.Enum):
    PENDING = "PENDING"
    IN_PROGRESS = "IN_PROGRESS"
    ACHIEVED = "ACHIEVED"
    EXCEEDED = "EXCEEDED"
    MISSED = "MISSED"


_PERIOD_STATUS = {s: PeriodStatus(s.value) for s in status_rules.Status}


@strawberry.type(description="Who a goal is for.")
class GoalAssignee:
    kind: AssigneeKind = strawberry.field(description="USER, TEAM or COMPANY.")
    user: UserType | None = strawberry.field(description="The user, for a user goal.")
    team: TeamType | None = strawberry.field(description="The team, for a team goal.")


@strawberry.type(description="One filter of a goal and its values.")
class GoalFilterValue:
    key: str = strawberry.field(description="Filter key, as listed in the goal type's filters.")
    values: list[str] = strawberry.field(description="Values: CRM ids for REFERENCE filters, else plain texts.")


@strawberry.type(description="A count of facts in one currency.")
class CurrencyCount:
    currency: str = strawberry.field(description="ISO 4217 code.")
    facts: int = strawberry.field(description="How many facts.")


PaceStatus = strawberry.enum(status_rules.PaceStatus, description=(
    "Where the period under way is heading: ON_TRACK (projected at least 90 % of the target, or reached), "
    "BEHIND (70–90 %), AT_RISK (below 70 %); mirrored for lower-is-better measures. See docs/goals.md."))


@strawberry.type(description="Pace of the period under way.")
class Pace:
    elapsed: float = strawberry.field(description="Share of the period elapsed, 0–1.")
    expected_by_now: Decimal = strawberry.field(description="Target × elapsed share: where the actual should be "
                                                            "(0 for a zero target; the target itself for a measure "
                                                            "that does not accumulate, as forecasts).")
    projected_at_end: Decimal | None = strawberry.field(
        description="Where the actual is heading by the period's end: the actual plus the time left at a blend of "
                    "the pace so far and the planned pace (the pace so far counts fully from half-way on); the "
                    "actual itself for forecasts; whole numbers for counts.")
    status: status_rules.PaceStatus = strawberry.field(description="ON_TRACK, BEHIND or AT_RISK (see PaceStatus).")


@strawberry.type(description="A fact counted in a period, with what it contributed.")
class Contribution:
    amount: Decimal | None = strawberry.field(
        description="Contribution in the goal's measure and currency (1 for counts); null when no exchange rate was known."
    )
    original_amount: Money | None = strawberry.field(description="The amount in the fact's own currency (money measures).")
    occurred_at: str | None = strawberry.field(description="When (instant or local date, ISO 8601) it was placed.")
    element: str | None = strawberry.field(description="Split goals: the element the fact counts for.")
    deal: DealType | None = strawberry.field(description="The deal, for deal goal types; null when the viewer may "
                                                         "not see it (now another owner's), as deal(id) answers.")
    activity: ActivityType | None = strawberry.field(description="The activity, for activity goal types; null when "
                                                                 "the viewer may not see it.")
    fact: Fact | None = strawberry.field(description="The fact of any kind (deals, activities, plugins' kinds "
                                                         "such as tickets); null for goal types whose facts are of no "
                                                         "registered kind, or when the viewer may not see it.")
    entry: Annotated["GoalEntryNode", strawberry.lazy("goalgraph.graphql.entries_api")] | None = strawberry.field(
        default=None, description="The entry (value, note, who entered it), for manual goals.")


@strawberry.type(description="For a goal split by a dimension: one element's target and actual in a period.")
class ElementProgress:
    element: str = strawberry.field(description="The element; empty for facts without a value for the dimension.")
    target: Decimal | None = strawberry.field(description="The element's target; null for elements without one.")
    actual: Decimal = strawberry.field(description="Measured for this element.")
    facts: int = strawberry.field(description="How many facts this element's actual is made of (unconverted ones "
                                              "are left out, as for the period).")
    ratio: Decimal | None = strawberry.field(description="actual / target; null for a zero or missing target.")
    status: PeriodStatus | None = strawberry.field(description="Status against the element's target (the period's "
                                                                "rules); null for an element without a target.")


@strawberry.type(description="A goal's target for one element of its split dimension.")
class ElementTarget:
    element: str = strawberry.field(description="The element.")
    target: Decimal = strawberry.field(description="Its target in every period.")


@strawberry.type(description="One period of a goal: bounds, target, actual and status.")
class GoalPeriod:
    # The hot fields are plain values, filled once by :meth:`of`: strawberry reads them with getattr
    # instead of calling a resolver with its Info (a dashboard reads 100,000s of them).
    p: strawberry.Private[PeriodProgress]
    goal: strawberry.Private[models.Goal]
    index: int = strawberry.field(description="Position in the goal (0 = the period containing the start).")
    label: str = strawberry.field(description="Human label, e.g. 2026-03, 2026-Q1, FY2026/27.")
    start: datetime = strawberry.field(description="First instant (inclusive), from local midnight in the "
                                                   "organisation's time zone.")
    end: datetime = strawberry.field(description="End instant (exclusive).")
    start_date: date = strawberry.field(description="First local day.")
    end_date: date = strawberry.field(description="Last local day (inclusive).")
    target: Decimal = strawberry.field(description="The period's target.")
    actual: Decimal = strawberry.field(description="Measured so far (or frozen, for a closed period).")
    ratio: Decimal | None = strawberry.field(description="actual / target (1 = 100 %); null for a zero target "
                                                         "(never a percentage of 0).")
    status: PeriodStatus = strawberry.field(description="PENDING, IN_PROGRESS, ACHIEVED, EXCEEDED or MISSED. A "
                                                        "zero target is ACHIEVED once the period starts, never "
                                                        "EXCEEDED.")
    facts: int = strawberry.field(description="How many facts the actual is made of (facts left out for want of "
                                              "an exchange rate are counted only under unconverted).")
    computed_at: datetime | None = strawberry.field(
        description="When the actual was computed (the progress store's row, or this request's time when it "
                    "was measured for the answer).")
    pending: bool = strawberry.field(
        description="True when newer changes (facts, rates, the goal's definition) are not in the actual yet: "
                    "the store is recomputing it and the new value follows within moments (a goalProgress "
                    "subscription pushes it). Show it as \"updating…\".")

    @classmethod
    def of(cls, p: PeriodProgress, goal: models.Goal) -> "GoalPeriod":
        """The GraphQL period of a measured one."""
        period = p.period
        return cls(p=p, goal=goal, index=period.index, label=period.label, start=period.start, end=period.end,
                   start_date=period.start_date, end_date=period.end_date, target=p.target, actual=p.actual,
                   ratio=p.ratio, status=_PERIOD_STATUS[p.status], facts=p.facts, computed_at=p.computed_at,
                   pending=p.pending)

    @strawberry.field(description="Facts that count for the period but are left out of a money actual (and of facts) "
                                  "because no exchange rate was known on their local date, per currency.")
    def unconverted(self) -> list[CurrencyCount]:
        return [CurrencyCount(currency=c, facts=n) for c, n in sorted(self.p.unconverted.items())]

    @strawberry.field(description="True for the period under way now.")
    def is_current(self) -> bool:
        return self.p.pace is not None

    @strawberry.field(description="Pace, for the period under way; null otherwise.")
    def pace(self) -> Pace | None:
        if self.p.pace is None:
            return None
        return Pace(elapsed=self.p.pace.elapsed, expected_by_now=self.p.pace.expected_by_now,
                    projected_at_end=self.p.pace.projected, status=self.p.pace.status)

    @strawberry.field(description="Split goals: target and actual per element (the totals are target/actual).")
    def elements(self) -> list[ElementProgress]:
        return [ElementProgress(element=e.element, target=e.target, actual=e.actual, facts=e.facts, ratio=e.ratio,
                                status=PeriodStatus(e.status.value) if e.status else None) for e in self.p.elements]

    @strawberry.field(description="When the result was frozen (a period closed longer than the grace time ago: "
                                  "later facts no longer move it); null while live.")
    def snapshot_taken_at(self) -> datetime | None:
        return self.p.snapshot_taken_at

    @strawberry.field(description="Team goals: the sum of the members' own targets for the same goal type, "
                                  "measure, direction and period (an average: their mean) — a read-only guideline; "
                                  "null when no member has one.")
    async def members_target(self, info: Info) -> Decimal | None:
        if self.goal.assignee_kind != "TEAM":
            return None
        sums = await info.context.loaders.member_targets.load(self.goal.id)
        total = sums.get(self.p.period.start_date)
        return None if total is None else shape_amount(total, is_money(info.context.runtime.registry, self.goal))

    @strawberry.field(description="Team goals: this target minus the members' targets (see membersTarget).")
    async def members_target_variance(self, info: Info) -> Decimal | None:
        members = await self.members_target(info)
        return None if members is None else self.p.target - members

    @strawberry.field(description="The deals or activities counted in this period, with what each contributed "
                                  "(unconverted ones too, with a null amount; totalCount = facts + unconverted).")
    async def contributions(self, info: Info, first: int = 50, after: str | None = None) -> Connection[Contribution]:
        check_page_size(first, info.context.runtime.settings.max_page_size)
        after_id = decode_cursor("Fact", after) if after is not None else None
        rows, kind = await info.context.loaders.contributions(self.goal, self.p.period, first + 1, after_id)
        has_next = len(rows) > first
        rows = rows[:first]
        ids = [r.fact_id for r in rows]
        registry = info.context.runtime.registry
        fact_kind = registry.fact_kinds.get(kind) if kind is not None else None
        facts = await info.context.loaders.facts_of(fact_kind).load_many(ids) if fact_kind is not None else [None] * len(rows)
        # The contribution was credited to someone the viewer may see; the fact as it is now (a deal since
        # handed to another owner) follows the rule of every fact read: hidden, it is redacted to null,
        # exactly as deal(id) answers — its amount stays, being part of the actual the viewer sees.
        owners = policy.visible_fact_owners(await info.context.viewer())
        if owners is not None and fact_kind is not None:
            owner_attr = fact_kind.field(fact_kind.owner).attr  # type: ignore[union-attr]
            facts = [f if f is not None and getattr(f, owner_attr) in owners else None for f in facts]
        entries = await _entries_behind(info, self.goal, rows)
        edges = []
        for row, fact, entry in zip(rows, facts, entries):
            original = (Money(amount=row.original_amount, currency=row.currency)
                        if row.currency is not None and row.original_amount is not None else None)
            occurred = row.occurred.isoformat() if row.occurred is not None else None
            node = Contribution(
                amount=row.amount, original_amount=original, occurred_at=occurred, element=row.element,
                deal=DealType(row=fact) if kind == FactKind.DEAL and fact is not None else None,
                activity=ActivityType(row=fact) if kind == FactKind.ACTIVITY and fact is not None else None,
                fact=fact_node(fact_kind, fact) if fact_kind is not None and fact is not None else None,
                entry=entry,
            )
            edges.append(Edge(cursor=encode_cursor("Fact", row.key), node=node))  # the row's own key, not the deal
        return Connection(
            edges=edges,
            page_info=PageInfo(has_next_page=has_next, has_previous_page=after is not None,
                               start_cursor=edges[0].cursor if edges else None,
                               end_cursor=edges[-1].cursor if edges else None),
            total=self.p.facts + sum(self.p.unconverted.values()),
        )


async def _entries_behind(info: Info, goal: models.Goal, rows: list) -> list:  # type: ignore[type-arg]
    """Manual goals' drill-down: the entry behind each contribution (None for other goal types)."""
    goal_type = info.context.runtime.registry.goal_types.get(goal.goal_type)
    if goal_type is None or not goal_type.manual:
        return [None] * len(rows)
    from goalgraph.graphql.entries_api import contributed_entries

    return await contributed_entries(info, [r.key for r in rows])


@strawberry.type(description="A goal's result over the periods asked for.")
class GoalSummary:
    target: Decimal = strawberry.field(description="Sum of the periods' targets (an average: their mean).")
    actual: Decimal = strawberry.field(description="Sum of the periods' actuals (an average: the periods' means "
                                                   "weighted by their facts, i.e. the mean over all the facts).")
    ratio: Decimal | None = strawberry.field(description="actual / target of the whole span; null for a zero target. "
                                                         "A period with target 0 adds its actual but no target.")
    status: PeriodStatus = strawberry.field(description="Status of the whole span: the current period's while one is "
                                                         "under way, else the totals' by the periods' rules (and "
                                                         "the goal's direction).")


@strawberry.type(description="One change of target values (or lock state).")
class TargetChange:
    field: str = strawberry.field(description="target, stretch_target, period YYYY-MM-DD, element NAME, direction "
                                              "or lock.")
    old: str | None = strawberry.field(description="The value before.")
    new: str | None = strawberry.field(description="The value after.")


@strawberry.type(description="A recorded change to a goal's targets: who, when, what.")
class TargetRevision:
    version: int = strawberry.field(description="The goal's version after the change.")
    changed_at: datetime = strawberry.field(description="When.")
    changed_by: str | None = strawberry.field(description="Who (user id), when known.")
    changes: list[TargetChange] = strawberry.field(description="What changed.")


@strawberry.type(description="What the viewer may do with a goal (to grey out buttons).")
class GoalPermissions:
    edit: bool = strawberry.field(description="Change the goal and its targets.")
    delete: bool = strawberry.field(description="Delete the goal.")
    lock: bool = strawberry.field(description="Lock and unlock its targets.")
    enter_values: bool = strawberry.field(description="Enter, correct and delete values (manual goals only).")


@strawberry.type(name="Goal", description="A goal: what is measured, for whom, per period, against which target.")
class GoalNode:
    row: strawberry.Private[models.Goal]

    @strawberry.field(description="Goal id.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(str(self.row.id))

    @strawberry.field(description="Title.")
    def title(self) -> str:
        return self.row.title

    @strawberry.field(description="The goal type (from a plugin).")
    def goal_type(self, info: Info) -> GoalTypeInfo:
        registry = info.context.runtime.registry
        goal_type = registry.goal_types.get(self.row.goal_type)
        if goal_type is None:
            raise query_error(f"goal {self.row.id}: goal type {self.row.goal_type!r} is not installed",
                              ErrorCode.NOT_FOUND)
        return GoalTypeInfo.of(goal_type, registry.owners[("goal type", goal_type.key)], registry)

    @strawberry.field(description="Who the goal is for.")
    async def assignee(self, info: Info) -> GoalAssignee:
        user = team = None
        if self.row.assignee_user_id is not None:
            user = UserType(row=await info.context.loaders.user.load(self.row.assignee_user_id))
        if self.row.assignee_team_id is not None:
            team = TeamType(row=await info.context.loaders.team.load(self.row.assignee_team_id))
        return GoalAssignee(kind=AssigneeKind(self.row.assignee_kind), user=user, team=team)

    @strawberry.field(description="The goal type's filters this goal sets.")
    def filters(self) -> list[GoalFilterValue]:
        return [GoalFilterValue(key=k, values=list(v)) for k, v in sorted((self.row.filters or {}).items())]

    @strawberry.field(description="Measure key, e.g. COUNT or VALUE.")
    def measure(self) -> str:
        return self.row.measure

    @strawberry.field(description="Which way the actual is better: HIGHER_IS_BETTER (a quota) or LOWER_IS_BETTER "
                                  "(a cap). Status, ratio, pace, summaries and notifications follow it.")
    def direction(self) -> GoalDirection:
        return GoalDirection(self.row.direction)

    @strawberry.field(description="Currency of targets and actuals, for money measures.")
    def currency(self) -> str | None:
        return self.row.currency

    @strawberry.field(description="Period length.")
    def interval(self) -> Interval:
        return Interval(self.row.interval)

    @strawberry.field(description="First day.")
    def start_date(self) -> date:
        return self.row.start_date

    @strawberry.field(description="Last day; null for an open-ended goal that rolls forward.")
    def end_date(self) -> date | None:
        return self.row.end_date

    @strawberry.field(description="Quarters and years follow the organisation's fiscal year.")
    def fiscal(self) -> bool:
        return self.row.fiscal

    @strawberry.field(description="The target of every period without its own.")
    def target(self, info: Info) -> Decimal:
        return shape_amount(self.row.target, is_money(info.context.runtime.registry, self.row))

    @strawberry.field(description="An optional stretch target.")
    def stretch_target(self, info: Info) -> Decimal | None:
        if self.row.stretch_target is None:
            return None
        return shape_amount(self.row.stretch_target, is_money(info.context.runtime.registry, self.row))

    @strawberry.field(description="What you may do with this goal.")
    async def viewer_can(self, info: Info) -> GoalPermissions:
        viewer = await info.context.viewer()
        change = policy.can_change_goal(viewer, self.row)
        goal_type = info.context.runtime.registry.goal_types.get(self.row.goal_type)
        manual = goal_type is not None and goal_type.manual
        return GoalPermissions(edit=change, delete=change, lock=policy.can_lock_goal(viewer, self.row),
                               enter_values=manual and policy.can_enter_values(viewer, self.row))

    @strawberry.field(description="Licence features this goal needs that are not enabled now: its definition and "
                                  "frozen periods stay readable, open periods are not measured (not listed), and it "
                                  "cannot be changed (LICENCE_REQUIRED) until they are; an admin may delete it.")
    async def missing_features(self, info: Info) -> list[str]:
        return (await info.context.gate()).lapsed(self.row)

    @strawberry.field(description="The dimension the goal is split by, if any.")
    def split_by(self) -> str | None:
        return self.row.split_by

    @strawberry.field(description="Split goals: the target of each element.")
    async def element_targets(self, info: Info) -> list[ElementTarget]:
        if not self.row.split_by:
            return []
        targets = await info.context.loaders.element_targets.load(self.row.id)
        money = is_money(info.context.runtime.registry, self.row)
        return [ElementTarget(element=e, target=shape_amount(t, money)) for e, t in targets.items()]

    @strawberry.field(description="The goal this one breaks down, if any (and the viewer may see it).")
    async def parent(self, info: Info) -> "GoalNode | None":
        if self.row.parent_id is None:
            return None
        row = await info.context.loaders.goal.load(self.row.parent_id)
        return GoalNode(row=row) if row is not None and row.deleted_at is None and policy.can_see_goal(
            await info.context.viewer(), row) else None

    @strawberry.field(description="Its children (the goals breaking it down) with their sums per period; null "
                                  "without children.")
    async def hierarchy(self, info: Info) -> Annotated["GoalHierarchy", strawberry.lazy(
            "goalgraph.graphql.hierarchy_api")] | None:
        from goalgraph.graphql.hierarchy_api import hierarchy_of

        return await hierarchy_of(info, self.row)

    @strawberry.field(description="What the goal's contributors are told (see NotificationSettings).")
    async def notifications(self, info: Info) -> Annotated["NotificationSettings", strawberry.lazy(
            "goalgraph.graphql.notification_prefs_api")]:
        from goalgraph.graphql.notification_prefs_api import NotificationSettings

        return NotificationSettings.of(await info.context.loaders.notification_settings.load(self.row.id))

    @strawberry.field(description="True while the targets are locked.")
    def locked(self) -> bool:
        return self.row.locked_at is not None

    @strawberry.field(description="When the targets were locked.")
    def locked_at(self) -> datetime | None:
        return self.row.locked_at

    @strawberry.field(description="Who locked the targets.")
    def locked_by(self) -> str | None:
        return self.row.locked_by

    @strawberry.field(description="Version for optimistic concurrency: pass it to updates.")
    def version(self) -> int:
        return self.row.version

    @strawberry.field(description="When the goal was created.")
    def created_at(self) -> datetime:
        return self.row.created_at

    @strawberry.field(description="When the goal last changed.")
    def updated_at(self) -> datetime:
        return self.row.updated_at

    @strawberry.field(description="The goal's periods with progress. Open-ended goals run up to the current "
                                  "period; pass from/to (local dates) to page through a range.")
    async def periods(self, info: Info, from_: Annotated[date | None, strawberry.argument(name="from")] = None,
                      to: date | None = None) -> list[GoalPeriod]:
        check_window(from_, to)
        progress = await info.context.loaders.progress.load((self.row.id, from_, to))
        return [GoalPeriod.of(p, self.row) for p in progress.periods]

    @strawberry.field(description="The period under way now, with pace; null outside the goal's span.")
    async def current_period(self, info: Info) -> GoalPeriod | None:
        today = await info.context.today()
        progress = await info.context.loaders.progress.load((self.row.id, today, today))
        current = progress.current
        return None if current is None else GoalPeriod.of(current, self.row)

    @strawberry.field(description="Totals over the periods (all, or from/to).")
    async def summary(self, info: Info, from_: Annotated[date | None, strawberry.argument(name="from")] = None,
                      to: date | None = None) -> GoalSummary:
        check_window(from_, to)
        progress = await info.context.loaders.progress.load((self.row.id, from_, to))
        target, actual = progress.total_target, progress.total_actual
        return GoalSummary(target=target, actual=actual, ratio=status_rules.ratio(actual, target),
                           status=PeriodStatus(summary_status(progress).value))

    @strawberry.field(description="Manual goals: the values entered by hand, newest first; with history (the "
                                  "default) corrected and deleted entries too. Empty for other goal types.")
    async def entries(self, info: Info, first: int = 50, after: str | None = None, history: bool = True
                      ) -> Connection[Annotated["GoalEntryNode", strawberry.lazy("goalgraph.graphql.entries_api")]]:
        from goalgraph.graphql.entries_api import entries_connection

        return await entries_connection(info, self.row, first, after, history)

    @strawberry.field(description="Changes to the targets, newest first.")
    async def revisions(self, info: Info) -> list[TargetRevision]:
        rows = await info.context.loaders.revisions.load(self.row.id)
        return [TargetRevision(version=r.version, changed_at=r.changed_at, changed_by=r.changed_by,
                               changes=[TargetChange(field=c["field"], old=c.get("old"), new=c.get("new"))
                                        for c in r.changes]) for r in rows]
