"""Mutations on goals: create, update (targets too), lock, delete, recompute. Each is one transaction."""

from __future__ import annotations

from collections.abc import Iterable

from datetime import date
from decimal import Decimal
from typing import Annotated, Any

import strawberry
from sqlalchemy.orm.exc import StaleDataError
from strawberry.types import Info

from goalgraph.access import policy
from goalgraph.access.gate import LicenceRequired
from goalgraph.goals.errors import GoalForbidden, GoalInvalid, GoalLocked, GoalNotFound, GoalProblem, VersionConflict
from goalgraph.goals.service import (
    create_goal, current_version, delete_goal, get_goal, parse_goal_id, set_lock, update_goal,
)
from goalgraph.goals.validation import GoalDraft
from goalgraph.graphql.errors import (
    ConflictError,
    ErrorCode,
    ForbiddenError,
    LicenceRequiredError,
    LockedError,
    NotFoundError,
    ValidationError,
)
from goalgraph.graphql.types.goal_types import GoalDirection
from goalgraph.graphql.types.goals import AssigneeKind, GoalNode, Interval
from goalgraph.errors import FactError
from goalgraph.live.broker import FactsChanged
from goalgraph.goals.audience import union
from goalgraph.inputs import parse_internal_id
from goalgraph.graphql.notification_prefs_api import NotificationSettingsInput
from goalgraph.db.models import Goal
from goalgraph.notifications import produce, rules
from goalgraph.live.changes import goal_followers
from goalgraph import staleness


@strawberry.input(description="Who a goal is for: a user or team by CRM id, or the company (no id).")
class AssigneeInput:
    kind: AssigneeKind = strawberry.field(description="USER, TEAM or COMPANY.")
    id: strawberry.ID | None = strawberry.field(default=None, description="The user's or team's CRM id.")


@strawberry.input(description="One filter of the goal type, with its values.")
class GoalFilterInput:
    key: str = strawberry.field(description="Filter key from the goal type, e.g. pipelines.")
    values: list[str] = strawberry.field(description="CRM ids (REFERENCE filters) or texts.")


@strawberry.input(description="The target of one period (seasonality).")
class PeriodTargetInput:
    period_start: date = strawberry.field(description="The period's first local day.")
    target: Decimal = strawberry.field(description="Its target (≥ 0).")


@strawberry.input(description="The target of one element of the dimension a goal is split by.")
class ElementTargetInput:
    element: str = strawberry.field(description="The element, e.g. New business.")
    target: Decimal = strawberry.field(description="Its target in every period (≥ 0).")


@strawberry.input(description="A new goal.")
class GoalInput:
    title: str = strawberry.field(description="Title.")
    goal_type: str = strawberry.field(description="Goal type key (see goalTypes).")
    assignee: AssigneeInput = strawberry.field(description="Who the goal is for.")
    measure: str = strawberry.field(description="Measure key the goal type offers, e.g. COUNT or VALUE.")
    interval: Interval = strawberry.field(description="Period length, or CUSTOM for one range.")
    start_date: date = strawberry.field(description="First day.")
    end_date: date | None = strawberry.field(default=None, description="Last day; leave out for an open-ended goal.")
    fiscal: bool = strawberry.field(default=False, description="Quarters and years follow the fiscal year.")
    currency: str | None = strawberry.field(default=None, description="For money measures; default the organisation's.")
    filters: list[GoalFilterInput] | None = strawberry.field(default=None, description="The goal type's filters.")
    target_for_all: Decimal | None = strawberry.field(default=None, description="The target of every period (apply to all).")
    period_targets: list[PeriodTargetInput] | None = strawberry.field(
        default=None, description="Targets per period (needs an end date and a goal type that allows it)."
    )
    stretch_target: Decimal | None = strawberry.field(default=None, description="An optional stretch target.")
    split_by: str | None = strawberry.field(
        default=None, description="Split by this dimension (see dimensions): separate targets per element."
    )
    element_targets: list[ElementTargetInput] | None = strawberry.field(
        default=None, description="With splitBy: the target of each element; the goal's target is their sum."
    )
    notifications: NotificationSettingsInput | None = strawberry.field(
        default=None, description="What contributors are told (defaults: assignment, 50 % and 100 %, pace, close).")
    parent_id: strawberry.ID | None = strawberry.field(
        default=None, description="The goal this one breaks down (company → team → user; same type, measure, "
                                  "filters, currency, interval and direction).")
    direction: GoalDirection | None = strawberry.field(
        default=None, description="Which way the actual is better; leave out for the measure's default "
                                  "(goalTypes { measures { defaultDirection } }).")


@strawberry.input(description="Changes to a goal; fields left out stay as they are.")
class GoalUpdateInput:
    title: str | None = strawberry.field(default=strawberry.UNSET, description="Title.")
    assignee: AssigneeInput | None = strawberry.field(default=strawberry.UNSET, description="Who the goal is for.")
    measure: str | None = strawberry.field(default=strawberry.UNSET, description="Measure key.")
    interval: Interval | None = strawberry.field(default=strawberry.UNSET, description="Period length.")
    start_date: date | None = strawberry.field(default=strawberry.UNSET, description="First day.")
    end_date: date | None = strawberry.field(default=strawberry.UNSET, description="Last day; null makes it open-ended.")
    fiscal: bool | None = strawberry.field(default=strawberry.UNSET, description="Follow the fiscal year.")
    currency: str | None = strawberry.field(default=strawberry.UNSET, description="Currency of money measures.")
    filters: list[GoalFilterInput] | None = strawberry.field(default=strawberry.UNSET, description="Replaces all filters.")
    target_for_all: Decimal | None = strawberry.field(default=strawberry.UNSET, description="Target of every period.")
    period_targets: list[PeriodTargetInput] | None = strawberry.field(
        default=strawberry.UNSET, description="Replaces all per-period targets; [] removes them."
    )
    stretch_target: Decimal | None = strawberry.field(default=strawberry.UNSET, description="Stretch target; null removes it.")
    split_by: str | None = strawberry.field(default=strawberry.UNSET, description="Dimension to split by; null un-splits.")
    notifications: NotificationSettingsInput | None = strawberry.field(
        default=strawberry.UNSET, description="Notification settings to change (fields left out stay).")
    parent_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="The parent goal; null takes the goal out of its hierarchy.")
    element_targets: list[ElementTargetInput] | None = strawberry.field(
        default=strawberry.UNSET, description="Replaces the per-element targets."
    )
    direction: GoalDirection | None = strawberry.field(
        default=strawberry.UNSET, description="Which way the actual is better (recorded in the revisions; refused "
                                              "while the targets are locked). Changing the measure keeps it.")


@strawberry.type(description="The goal as stored after the change.")
class GoalSuccess:
    goal: GoalNode = strawberry.field(description="The goal.")


@strawberry.type(description="The goal was deleted (soft: it disappears from reads).")
class DeleteGoalSuccess:
    id: strawberry.ID = strawberry.field(description="The deleted goal's id.")


GoalPayload = Annotated[
    GoalSuccess | ValidationError | NotFoundError | ConflictError | LockedError | ForbiddenError | LicenceRequiredError,
    strawberry.union("GoalPayload", description="The goal, or why the change was refused."),
]
DeleteGoalPayload = Annotated[
    DeleteGoalSuccess | NotFoundError | ConflictError | ForbiddenError | LicenceRequiredError,
    strawberry.union("DeleteGoalPayload", description="The deleted id, or why it was refused."),
]


def problem_error(problem: GoalProblem | LicenceRequired, goal_id: object = None) -> Any:
    """The typed GraphQL error for an expected goal failure."""
    if isinstance(problem, LicenceRequired):
        return LicenceRequiredError(code=ErrorCode.LICENCE_REQUIRED, message=problem.message, feature=problem.feature)
    if isinstance(problem, GoalForbidden):
        return ForbiddenError(code=ErrorCode.FORBIDDEN, message=problem.message)
    if isinstance(problem, GoalInvalid):
        # The draft's field names, spelled as GoalInput spells them.
        renamed = [FactError(("target_for_all", *e.path[1:]) if e.path[:1] == ("target",) else e.path, e.message,
                             e.code) for e in problem.errors]
        return ValidationError.from_fact_errors(renamed, prefix=("input",))
    if isinstance(problem, GoalNotFound):
        return NotFoundError(code=ErrorCode.NOT_FOUND, message=problem.message,
                             missing_id=None if goal_id is None else strawberry.ID(str(goal_id)))
    if isinstance(problem, VersionConflict):
        return ConflictError(code=ErrorCode.CONFLICT, message=problem.message, current_version=problem.current)
    if isinstance(problem, GoalLocked):
        return LockedError(code=ErrorCode.LOCKED, message=problem.message, locked_at=problem.locked_at,
                           locked_by=problem.locked_by)
    raise problem  # pragma: no cover


def _filters(items: list[GoalFilterInput] | None) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for item in items or []:
        out.setdefault(item.key, [])
        out[item.key] += [v.strip() for v in item.values if v.strip() and v.strip() not in out[item.key]]
    return out


def _period_targets(items: list[PeriodTargetInput] | None) -> dict[date, Decimal]:
    targets: dict[date, Decimal] = {}
    for item in items or []:
        if item.period_start in targets:
            raise GoalInvalid([FactError(("period_targets",), f"{item.period_start.isoformat()} is given twice")])
        targets[item.period_start] = item.target
    return targets


def _element_targets(items: list[ElementTargetInput] | None) -> dict[str, Decimal]:
    targets: dict[str, Decimal] = {}
    for item in items or []:
        name = item.element.strip()
        if name in targets:
            raise GoalInvalid([FactError(("element_targets",), f"{name!r} is given twice")])
        targets[name] = item.target
    return targets


def _draft(input: GoalInput) -> GoalDraft:
    return GoalDraft(
        title=input.title, goal_type=input.goal_type, assignee_kind=input.assignee.kind.value,
        assignee_id=input.assignee.id, measure=input.measure, interval=input.interval.value,
        start_date=input.start_date, end_date=input.end_date, fiscal=input.fiscal, currency=input.currency,
        filters=_filters(input.filters), target=input.target_for_all, stretch_target=input.stretch_target,
        period_targets=_period_targets(input.period_targets), split_by=input.split_by,
        element_targets=_element_targets(input.element_targets),
        parent_id=_parent(input.parent_id), direction=None if input.direction is None else input.direction.value,
    )


def _parent(value: Any) -> int | None:
    """A parent goal id as given (an unparseable id is an unknown parent, refused by the hierarchy rule)."""
    if value is None:
        return None
    parsed = parse_internal_id(value)
    return parsed if parsed is not None else -1


def _changes(input: GoalUpdateInput) -> dict[str, Any]:
    given = {name: value for name, value in vars(input).items()
             if value is not strawberry.UNSET and name != "notifications"}
    changes: dict[str, Any] = {}
    for name, value in given.items():
        if name == "assignee":
            if value is None:
                raise GoalInvalid([FactError(("assignee",), "cannot be null", "REQUIRED")])
            changes["assignee_kind"], changes["assignee_id"] = value.kind.value, value.id
        elif name == "interval":
            if value is None:
                raise GoalInvalid([FactError(("interval",), "cannot be null", "REQUIRED")])
            changes["interval"] = value.value
        elif name == "direction":
            if value is None:
                raise GoalInvalid([FactError(("direction",), "cannot be null", "REQUIRED")])
            changes["direction"] = value.value
        elif name == "filters":
            changes["filters"] = _filters(value)
        elif name == "period_targets":
            changes["period_targets"] = _period_targets(value)
        elif name == "element_targets":
            changes["element_targets"] = _element_targets(value)
        elif name == "parent_id":
            changes["parent_id"] = _parent(value)
        elif name == "target_for_all":
            if value is None:
                raise GoalInvalid([FactError(("target_for_all",), "cannot be null", "REQUIRED")])
            changes["target"] = value
        elif value is None and name in {"title", "measure", "start_date", "fiscal"}:
            raise GoalInvalid([FactError((name,), "cannot be null", "REQUIRED")])
        else:
            changes[name] = value
    return changes


async def announce_goal_change(info: Info, session: Any, users: frozenset[int] | None) -> FactsChanged:
    """Inside the goal change's transaction: its subscribers are pushed again when (and only if) it commits.

    ``users`` are the goals' followers before and after the change (goalgraph.live.changes.goal_followers).
    Returns the event for :func:`after_goal_change`.
    """
    event = FactsChanged.of(users)
    await info.context.runtime.broker.announce(session, event)
    return event


def after_goal_change(info: Info, goal_ids: Iterable[int] | None) -> None:
    """After the commit: the recompute worker stores the goals' figures (when their definitions
    changed) and checks their statuses (a new target may reach them; None: every goal's, after a
    change to many goals' targets); schedules work, never raises."""
    worker = info.context.runtime.recompute
    if worker is not None:
        worker.wake(check=goal_ids)


async def _stale(info: Info, goal_id: Any, version: int | None) -> Any:
    """CONFLICT for a write the database itself found outdated (the version changed under the flush)."""
    async with info.context.db() as session:
        current = await current_version(session, goal_id)
    if current is None:
        return problem_error(GoalNotFound(goal_id), goal_id)
    return problem_error(VersionConflict(version if version is not None else current - 1, current), goal_id)


async def _run(info: Info, goal_id: object, action: Any, version: int | None = None) -> Any:
    """Run ``action(session)`` in a transaction; typed errors for expected failures; announce the change."""
    try:
        async with info.context.transaction() as session:
            # Followers before (an assignee may change) and after: both kinds of subscriber are pushed.
            before = await goal_followers(session, [parse_goal_id(goal_id)]) if goal_id is not None else frozenset()
            prior = await session.get(Goal, parse_goal_id(goal_id)) if goal_id is not None else None
            assigned = (prior.assignee_kind, prior.assignee_user_id or prior.assignee_team_id) if prior else None
            goal = await action(session)
            followers = union(before, await goal_followers(session, [goal.id]))
            await announce_goal_change(info, session, followers)
            dispatcher = info.context.runtime.dispatcher
            await produce.goal_assigned(session, goal, before=assigned, now=info.context.now,
                                        plugin_channels=dispatcher.plugin_channels if dispatcher is not None else ())
    except (GoalProblem, LicenceRequired) as problem:
        return problem_error(problem, goal_id)
    except StaleDataError:
        return await _stale(info, goal_id, version)
    after_goal_change(info, [goal.id])
    if info.context.runtime.dispatcher is not None:
        info.context.runtime.dispatcher.wake()
    loaders = info.context.loaders
    loaders.goal.prime(goal.id, goal, force=True)
    loaders.progress.clear_all()
    loaders.revisions.clear_all()
    return GoalSuccess(goal=GoalNode(row=goal))


@strawberry.type(description="Goal mutations.")
class GoalMutations:
    @strawberry.mutation(description="Create a goal with its targets.")
    async def create_goal(self, info: Info, input: GoalInput) -> GoalPayload:
        ctx = info.context
        viewer, gate = await ctx.viewer(), await ctx.gate()

        async def action(session):  # type: ignore[no-untyped-def]
            settings = input.notifications.applied_to(rules.NotificationSettings()) if input.notifications else None
            goal = await create_goal(session, ctx.runtime.registry, _draft(input), viewer=viewer, gate=gate, now=ctx.now)
            if settings is not None:
                await rules.save_settings(session, goal.id, settings)
            return goal

        return await _run(info, None, action)

    @strawberry.mutation(description="Change a goal (definition or targets). `version` must be the goal's current "
                                     "version, else CONFLICT; a locked goal's targets cannot change (LOCKED).")
    async def update_goal(self, info: Info, id: strawberry.ID, version: int, input: GoalUpdateInput) -> GoalPayload:
        ctx = info.context
        viewer, gate = await ctx.viewer(), await ctx.gate()

        async def action(session):  # type: ignore[no-untyped-def]
            goal = await update_goal(session, ctx.runtime.registry, id, version, _changes(input), viewer=viewer,
                                     gate=gate, now=ctx.now)
            if input.notifications not in (None, strawberry.UNSET):
                current = (await rules.settings_of(session, [goal.id]))[goal.id]
                await rules.save_settings(session, goal.id, input.notifications.applied_to(current))
            return goal

        return await _run(info, id, action, version)

    @strawberry.mutation(description="Lock the goal's targets (records who and when).")
    async def lock_goal(self, info: Info, id: strawberry.ID, version: int) -> GoalPayload:
        ctx = info.context
        viewer, gate = await ctx.viewer(), await ctx.gate()
        return await _run(info, id, lambda s: set_lock(s, id, version, True, viewer=viewer, gate=gate, now=ctx.now),
                          version)

    @strawberry.mutation(description="Unlock the goal's targets.")
    async def unlock_goal(self, info: Info, id: strawberry.ID, version: int) -> GoalPayload:
        ctx = info.context
        viewer, gate = await ctx.viewer(), await ctx.gate()
        return await _run(info, id, lambda s: set_lock(s, id, version, False, viewer=viewer, gate=gate, now=ctx.now),
                          version)

    @strawberry.mutation(description="Delete a goal (soft delete).")
    async def delete_goal(self, info: Info, id: strawberry.ID, version: int) -> DeleteGoalPayload:
        viewer, gate = await info.context.viewer(), await info.context.gate()
        try:
            async with info.context.transaction() as session:
                goal = await delete_goal(session, id, version, viewer=viewer, gate=gate, now=info.context.now)
                await announce_goal_change(info, session, await goal_followers(session, [goal.id]))
        except (GoalProblem, LicenceRequired) as problem:
            return problem_error(problem, id)
        except StaleDataError:
            return await _stale(info, id, version)
        after_goal_change(info, [goal.id])  # its subscribers learn it is gone (NOT_FOUND)
        return DeleteGoalSuccess(id=strawberry.ID(str(goal.id)))

    @strawberry.mutation(description="Measure a closed period again on purpose (thaws its frozen result; "
                                     "every period when periodStart is left out). The new figures follow "
                                     "within moments; until then the periods say pending.")
    async def recompute_goal_period(self, info: Info, id: strawberry.ID, period_start: date | None = None) -> GoalPayload:
        viewer, gate = await info.context.viewer(), await info.context.gate()

        async def action(session):  # type: ignore[no-untyped-def]
            goal = await get_goal(session, id, viewer)
            if not policy.can_manage(viewer):
                raise GoalForbidden("only admins recompute closed periods")
            gate.require_change(goal)  # a lapsed goal keeps its frozen results
            spans = [(period_start, period_start)] if period_start is not None else staleness.EVERYTHING
            await staleness.mark(session, [goal.id], spans, thaw=True)
            return goal

        return await _run(info, id, action)
