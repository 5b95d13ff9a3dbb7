"""Create, change, lock and delete goals — each inside the caller's transaction.

Target changes (and locking) are recorded as :class:`GoalRevision` rows. Updates name the
version they were based on; a stale one raises :class:`VersionConflict` and changes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import fields, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import flag_modified

from goalgraph.db.models import (
    Goal,
    GoalElementTarget,
    GoalPeriodTarget,
    GoalRevision,
    Team,
    User,
)
from goalgraph.access import policy
from goalgraph.access.gate import Gate, goal_features
from goalgraph.access.viewer import Viewer
from goalgraph.goals.errors import GoalForbidden, GoalInvalid, GoalLocked, GoalNotFound, VersionConflict
from goalgraph.goals.validation import GoalDraft, validate_draft
from goalgraph.inputs import parse_internal_id
from goalgraph.organisation import get_organisation
from goalgraph.goals.schedule import calendar_of
from goalgraph.registry import Registry
from goalgraph import staleness

#: Fields whose change alters which facts count or how periods fall: the goal's stored results are marked (thawed).
DEFINITION_FIELDS = ("goal_type", "assignee_kind", "assignee_id", "measure", "interval", "start_date", "end_date",
                     "fiscal", "currency", "filters", "split_by")
#: ``direction`` is part of the definition too but moves no actual: the store keeps actuals only (status,
#: ratio and pace are computed from them at each read), so nothing is marked; the mutation wakes the status
#: watch (graphql.goal_mutations.after_goal_change), which announces what the change turned.


def parse_goal_id(goal_id: str | int) -> int:
    """The internal id of a goal id given by a client; GoalNotFound when malformed."""
    number = parse_internal_id(goal_id)
    if number is None:
        raise GoalNotFound(goal_id)
    return number


def same_measure(a: Goal, b: Goal) -> bool:
    """Two goals measure the same thing the same way — goal type, measure, interval, fiscal year,
    currency and direction — so one's targets may be summed beside the other's (a team's members' targets)."""
    return (a.goal_type, a.measure, a.interval, a.fiscal, a.currency, a.direction) == (
        b.goal_type, b.measure, b.interval, b.fiscal, b.currency, b.direction)


async def get_goal(session: AsyncSession, goal_id: str | int, viewer: Viewer, *, for_update: bool = False) -> Goal:
    """A live (not deleted) goal the viewer may see, or GoalNotFound (hidden goals do not exist)."""
    query = select(Goal).where(Goal.id == parse_goal_id(goal_id), Goal.deleted_at.is_(None))
    visible = policy.goal_condition(viewer)
    if visible is not None:
        query = query.where(visible)
    if for_update:
        await _lock_for_update(session, parse_goal_id(goal_id))
        query = query.with_for_update()  # PostgreSQL: the row lock; SQLite ignores it
    goal = await session.scalar(query)
    if goal is None:
        raise GoalNotFound(goal_id)
    return goal


async def _lock_for_update(session: AsyncSession, goal_id: int) -> None:
    """SQLite has no row locks: a no-op write first takes the database's write lock (other writers
    wait), so the version read next is the newest and stays so until this transaction ends — the
    same read-check-write contract ``SELECT … FOR UPDATE`` gives on PostgreSQL."""
    if session.bind.dialect.name == "sqlite":
        await session.execute(update(Goal.__table__).where(Goal.__table__.c.id == goal_id)
                              .values(id=Goal.__table__.c.id))


async def current_version(session: AsyncSession, goal_id: str | int) -> int | None:
    """The version stored now (None for a missing goal) — for a CONFLICT raised by the flush itself."""
    return await session.scalar(select(Goal.version).where(Goal.id == parse_goal_id(goal_id)))


async def overrides_of(session: AsyncSession, goal_ids: Iterable[int]) -> dict[int, dict[date, Decimal]]:
    """Per-period target overrides of many goals in one query."""
    ids = list(goal_ids)
    out: dict[int, dict[date, Decimal]] = defaultdict(dict)
    if ids:
        rows = await session.execute(select(GoalPeriodTarget).where(GoalPeriodTarget.goal_id.in_(ids)))
        for (row,) in rows:
            out[row.goal_id][row.period_start] = row.target
    return out


async def element_targets_of(session: AsyncSession, goal_ids: Iterable[int]) -> dict[int, dict[str, Decimal]]:
    """Per-element targets of split goals, in one query."""
    ids = list(goal_ids)
    out: dict[int, dict[str, Decimal]] = defaultdict(dict)
    if ids:
        rows = await session.scalars(select(GoalElementTarget).where(GoalElementTarget.goal_id.in_(ids))
                                     .order_by(GoalElementTarget.element))
        for row in rows:
            out[row.goal_id][row.element] = row.target
    return out


async def draft_of(session: AsyncSession, goal: Goal) -> GoalDraft:
    """The stored goal as a draft (external ids), to merge changes into."""
    assignee_id = None
    if goal.assignee_user_id is not None:
        assignee_id = await session.scalar(select(User.external_id).where(User.id == goal.assignee_user_id))
    elif goal.assignee_team_id is not None:
        assignee_id = await session.scalar(select(Team.external_id).where(Team.id == goal.assignee_team_id))
    overrides = (await overrides_of(session, [goal.id])).get(goal.id, {})
    return GoalDraft(
        title=goal.title, goal_type=goal.goal_type, assignee_kind=goal.assignee_kind, assignee_id=assignee_id,
        measure=goal.measure, interval=goal.interval, start_date=goal.start_date, end_date=goal.end_date,
        fiscal=goal.fiscal, currency=goal.currency, filters={k: list(v) for k, v in (goal.filters or {}).items()},
        target=goal.target, stretch_target=goal.stretch_target, period_targets=dict(overrides),
        split_by=goal.split_by, element_targets=dict((await element_targets_of(session, [goal.id])).get(goal.id, {})),
        parent_id=goal.parent_id, direction=goal.direction,
    )


async def _validated(session: AsyncSession, registry: Registry, draft: GoalDraft, viewer: Viewer, gate: Gate,
                     goal_id: int | None = None):  # type: ignore[no-untyped-def]
    """Validate, then check the viewer may set a goal for this assignee and the licence allows it."""
    org = await get_organisation(session)
    assignee, errors = await validate_draft(session, registry, draft, calendar_of(org), org.default_currency)
    if errors:
        raise GoalInvalid(errors)
    if not policy.can_use_targets(viewer):
        raise GoalForbidden(policy.TARGETS_RIGHT_NEEDED)
    if not policy.can_change_assignee(viewer, assignee.kind, assignee.user_id, assignee.team_id):
        raise GoalForbidden(f"you may not add or change {assignee.kind.lower()} goals for this assignee")
    other_teams = False
    if assignee.kind == "TEAM":
        query = select(Goal.id).where(Goal.deleted_at.is_(None), Goal.assignee_kind == "TEAM",
                                      Goal.assignee_team_id != assignee.team_id)
        if goal_id is not None:
            query = query.where(Goal.id != goal_id)
        other_teams = (await session.scalar(query.limit(1))) is not None
    if draft.parent_id is not None:
        from goalgraph.goals.hierarchy import check_parent

        await check_parent(session, draft, assignee, viewer, goal_id)
    gate.require(goal_features(registry, goal_type=draft.goal_type, assignee_kind=assignee.kind,
                               filters=[k for k, v in draft.filters.items() if v], split_by=draft.split_by,
                               other_teams_with_goals=other_teams))
    return assignee


def _money(value: Decimal | None) -> str | None:
    """A target as revisions record it: plain notation, no trailing zeros ("150", "12.5")."""
    return None if value is None else format(value.normalize(), "f")


def _target_changes(old: GoalDraft | None, new: GoalDraft) -> list[dict[str, Any]]:
    """What revisions record: the targets and the direction (which turns "at least" into "at most")."""
    changes: list[dict[str, Any]] = []
    if old is not None and old.direction != new.direction:
        changes.append({"field": "direction", "old": old.direction, "new": new.direction})
    for name in ("target", "stretch_target"):
        before = None if old is None else getattr(old, name)
        after = getattr(new, name)
        if before != after:
            changes.append({"field": name, "old": _money(before), "new": _money(after)})
    before_p = {} if old is None else old.period_targets
    for day in sorted(set(before_p) | set(new.period_targets)):
        if before_p.get(day) != new.period_targets.get(day):
            changes.append({"field": f"period {day.isoformat()}", "old": _money(before_p.get(day)),
                            "new": _money(new.period_targets.get(day))})
    before_e = {} if old is None else old.element_targets
    for element in sorted(set(before_e) | set(new.element_targets)):
        if before_e.get(element) != new.element_targets.get(element):
            changes.append({"field": f"element {element}", "old": _money(before_e.get(element)),
                            "new": _money(new.element_targets.get(element))})
    return changes


def _apply(goal: Goal, draft: GoalDraft, assignee: Any) -> None:
    goal.title = draft.title
    goal.goal_type = draft.goal_type
    goal.assignee_kind = assignee.kind
    goal.assignee_user_id = assignee.user_id
    goal.assignee_team_id = assignee.team_id
    goal.filters = {k: list(v) for k, v in draft.filters.items() if v}
    goal.measure = draft.measure
    goal.currency = draft.currency
    goal.interval = draft.interval
    goal.start_date = draft.start_date
    goal.end_date = draft.end_date
    goal.fiscal = draft.fiscal
    goal.target = draft.target if draft.target is not None else Decimal(0)
    goal.stretch_target = draft.stretch_target
    goal.split_by = draft.split_by
    goal.parent_id = draft.parent_id
    goal.direction = draft.direction or "HIGHER_IS_BETTER"


async def _write_targets(session: AsyncSession, goal_id: int, draft: GoalDraft) -> None:
    """Replace the goal's per-period and per-element targets with the draft's."""
    await session.execute(delete(GoalPeriodTarget).where(GoalPeriodTarget.goal_id == goal_id))
    await session.execute(delete(GoalElementTarget).where(GoalElementTarget.goal_id == goal_id))
    session.add_all(GoalPeriodTarget(goal_id=goal_id, period_start=d, target=t) for d, t in draft.period_targets.items())
    if draft.split_by:
        session.add_all(GoalElementTarget(goal_id=goal_id, element=e, target=t) for e, t in draft.element_targets.items())


async def create_goal(session: AsyncSession, registry: Registry, draft: GoalDraft, *, viewer: Viewer, gate: Gate,
                      now: datetime) -> Goal:
    """Validate, authorise and store a new goal with its targets; records the first revision."""
    actor = viewer.subject
    assignee = await _validated(session, registry, draft, viewer, gate)
    goal = Goal(created_at=now, updated_at=now, created_by=actor)
    _apply(goal, draft, assignee)
    session.add(goal)
    await session.flush()
    await _write_targets(session, goal.id, draft)
    session.add(GoalRevision(goal_id=goal.id, version=goal.version, changed_at=now, changed_by=actor,
                             changes=_target_changes(None, draft)))
    await session.flush()
    await staleness.mark(session, [goal.id])  # the worker stores its figures (reads compute them until then)
    return goal


def _check_version(goal: Goal, version: int) -> None:
    if goal.version != version:
        raise VersionConflict(version, goal.version)


def _touch(goal: Goal, now: datetime) -> None:
    """Mark the goal changed so the flush writes it and bumps its version, even if no column differs."""
    goal.updated_at = now
    flag_modified(goal, "updated_at")


def _may_change(viewer: Viewer, goal: Goal) -> None:
    if not policy.can_change_goal(viewer, goal):
        raise GoalForbidden("you may see this goal but not change it")


async def update_goal(session: AsyncSession, registry: Registry, goal_id: str | int, version: int,
                      changes: Mapping[str, Any], *, viewer: Viewer, gate: Gate, now: datetime) -> Goal:
    """Apply ``changes`` (GoalDraft field names; absent = unchanged) to the goal at ``version``."""
    actor = viewer.subject
    goal = await get_goal(session, goal_id, viewer, for_update=True)
    _may_change(viewer, goal)
    gate.require_change(goal)
    _check_version(goal, version)
    old = await draft_of(session, goal)
    known = {f.name for f in fields(GoalDraft)}
    unknown = set(changes) - known
    if unknown:
        raise GoalInvalid([])  # pragma: no cover - the GraphQL input type prevents it
    new = replace(old, **changes)
    if "split_by" in changes and changes["split_by"] is None and "element_targets" not in changes:
        new.element_targets = {}
    if "interval" in changes or "start_date" in changes or "end_date" in changes or "fiscal" in changes:
        if "period_targets" not in changes:
            new.period_targets = {}  # old period boundaries no longer apply
    target_changes = _target_changes(old, new)
    if target_changes and goal.locked_at is not None:
        raise GoalLocked(goal.locked_at, goal.locked_by)
    assignee = await _validated(session, registry, new, viewer, gate, goal.id)
    definition_changed = any(getattr(old, f) != getattr(new, f) for f in DEFINITION_FIELDS)
    _apply(goal, new, assignee)
    _touch(goal, now)
    await _write_targets(session, goal.id, new)
    if definition_changed:
        if any(getattr(old, f) != getattr(new, f) for f in ("interval", "start_date", "end_date", "fiscal")):
            await staleness.forget(session, [goal.id])  # its periods moved: the old rows mean nothing
        await staleness.mark(session, [goal.id], thaw=True)
    await session.flush()  # bumps the version
    if target_changes:
        session.add(GoalRevision(goal_id=goal.id, version=goal.version, changed_at=now, changed_by=actor,
                                 changes=target_changes))
    return goal


async def set_lock(session: AsyncSession, goal_id: str | int, version: int, locked: bool, *, viewer: Viewer,
                   gate: Gate, now: datetime) -> Goal:
    """Lock or unlock a goal's targets, recording who and when."""
    actor = viewer.subject
    goal = await get_goal(session, goal_id, viewer, for_update=True)
    if not policy.can_lock_goal(viewer, goal):
        raise GoalForbidden("locking needs the lock right on a goal you may change")
    gate.require_change(goal)
    _check_version(goal, version)
    if (goal.locked_at is not None) == locked:
        return goal
    old_state = "locked" if goal.locked_at else "unlocked"
    goal.locked_at, goal.locked_by = (now, actor) if locked else (None, None)
    _touch(goal, now)
    await session.flush()
    session.add(GoalRevision(goal_id=goal.id, version=goal.version, changed_at=now, changed_by=actor,
                             changes=[{"field": "lock", "old": old_state, "new": "locked" if locked else "unlocked"}]))
    return goal


async def delete_goal(session: AsyncSession, goal_id: str | int, version: int, *, viewer: Viewer, gate: Gate,
                      now: datetime) -> Goal:
    """Soft-delete: the goal disappears from reads; its rows stay."""
    goal = await get_goal(session, goal_id, viewer, for_update=True)
    _may_change(viewer, goal)
    gate.require_change(goal, delete=True, admin=policy.can_manage(viewer))
    _check_version(goal, version)
    goal.deleted_at = now
    _touch(goal, now)
    await session.flush()
    return goal


async def revisions_of(session: AsyncSession, goal_ids: Iterable[int]) -> dict[int, list[GoalRevision]]:
    """Target revisions of many goals, newest first."""
    out: dict[int, list[GoalRevision]] = defaultdict(list)
    rows = await session.scalars(
        select(GoalRevision).where(GoalRevision.goal_id.in_(list(goal_ids))).order_by(GoalRevision.id.desc())
    )
    for row in rows:
        out[row.goal_id].append(row)
    return out
