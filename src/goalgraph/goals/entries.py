"""Manual goals: values entered by hand per goal, corrections kept as history.

An entry is a value for one local day of one goal of a manual goal type (``GoalType.manual``). A
correction writes a new row and retires the old one (``superseded_*``); a deletion retires the row
(``deleted_*``). Only current rows (neither) count: :func:`entry_facts` is the goal-scoped fact
source a manual goal type registers, and the engine sums, averages or takes the last of them per
period by the goal's measure. Every write marks the goal's stored periods around the entry's days
stale in the caller's transaction, closed (frozen) ones too. Who may enter values: :func:`goalgraph.access.policy.can_enter_values`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from goalgraph import staleness
from goalgraph.access import policy
from goalgraph.access.gate import Gate
from goalgraph.access.viewer import Viewer
from goalgraph.db.models import Goal, GoalEntry
from goalgraph.errors import FactError
from goalgraph.goals.errors import GoalForbidden, GoalInvalid, GoalNotFound, GoalProblem
from goalgraph.goals.service import get_goal
from goalgraph.inputs import parse_internal_id
from goalgraph.registry import FactQuery, Registry

#: Longest note kept with an entry.
NOTE_LENGTH = 500
#: Largest magnitude of a value (the column holds 16 digits before the point).
VALUE_LIMIT = Decimal(10) ** 15
#: Code of the validation error for a goal whose type takes no entries.
NOT_MANUAL = "NOT_MANUAL"


class EntryNotFound(GoalProblem):
    """No current entry with this id on a goal the viewer may see."""

    code = "NOT_FOUND"

    def __init__(self, entry_id: object) -> None:
        super().__init__(f"no entry with id {entry_id!r}")


def entry_facts(_: FactQuery) -> Select:
    """The current entries as goal-scoped facts: ``fact_id`` is the entry's first version (corrections
    keep its place among a day's entries), ``fact_key`` the row, placed on ``occurred_on``."""
    e = GoalEntry
    return select(
        func.coalesce(e.origin_id, e.id).label("fact_id"),
        e.id.label("fact_key"),
        e.goal_id.label("goal_id"),
        e.occurred_on.label("occurred_on"),
        e.value.label("value"),
    ).where(e.superseded_at.is_(None), e.deleted_at.is_(None))


def _problems(goal: Goal, on: date | None, value: Decimal | None, note: str | None, today: date) -> list[FactError]:
    errors = []
    if on is not None and on < goal.start_date:
        errors.append(FactError(("on",), f"{on.isoformat()} is before the goal's start ({goal.start_date.isoformat()})"))
    if on is not None and goal.end_date is not None and on > goal.end_date:
        errors.append(FactError(("on",), f"{on.isoformat()} is after the goal's end ({goal.end_date.isoformat()})"))
    if on is not None and on > today:
        errors.append(FactError(("on",), f"{on.isoformat()} is in the future (today is {today.isoformat()}): enter "
                                         "values for days that have come"))
    if value is not None and abs(value) >= VALUE_LIMIT:
        errors.append(FactError(("value",), f"must be smaller than {VALUE_LIMIT:,} in magnitude"))
    if value is not None and value != value.quantize(Decimal("0.0001")):
        errors.append(FactError(("value",), "has more than 4 decimal places"))
    if note is not None and len(note) > NOTE_LENGTH:
        errors.append(FactError(("note",), f"is {len(note)} characters long (at most {NOTE_LENGTH})"))
    return errors


async def _writable_goal(session: AsyncSession, registry: Registry, goal_id: str | int, viewer: Viewer,
                         gate: Gate) -> Goal:
    """The goal (visible, manual, the viewer may enter values for it), locked for the write."""
    goal = await get_goal(session, goal_id, viewer, for_update=True)
    goal_type = registry.goal_types.get(goal.goal_type)
    if goal_type is None or not goal_type.manual:
        raise GoalInvalid([FactError(("goal_id",), f"goal {goal.id} is of goal type {goal.goal_type}, whose actuals "
                                     "come from the CRM; values are entered only for manual goals", NOT_MANUAL)])
    if not policy.can_enter_values(viewer, goal):
        raise GoalForbidden("only the goal's assignee and whoever may change the goal enter its values")
    gate.require_change(goal)
    return goal


async def _entry_for_write(session: AsyncSession, registry: Registry, entry_id: str | int, viewer: Viewer,
                           gate: Gate) -> tuple[GoalEntry, Goal]:
    """A current entry and its goal as :func:`_writable_goal` checks it, read after the goal is locked (two
    corrections of one entry at once: the second finds it corrected). An invisible goal's entry does not exist."""
    number = parse_internal_id(entry_id)
    goal_id = await session.scalar(select(GoalEntry.goal_id).where(GoalEntry.id == number)) if number else None
    if goal_id is None:
        raise EntryNotFound(entry_id)
    try:
        goal = await _writable_goal(session, registry, goal_id, viewer, gate)
    except GoalNotFound:
        raise EntryNotFound(entry_id) from None
    entry = await session.scalar(select(GoalEntry).where(GoalEntry.id == number)
                                 .execution_options(populate_existing=True))
    if entry is None or entry.superseded_at is not None or entry.deleted_at is not None:
        raise EntryNotFound(entry_id)
    return entry, goal


async def _mark(session: AsyncSession, goal: Goal, days: list[date]) -> None:
    """The goal's periods around ``days``, frozen ones too: a value entered late for a closed period
    is a deliberate change of it (unlike a CRM fact arriving late)."""
    await staleness.mark(session, [goal.id], staleness.spans_of(days), thaw=True)


def _note(note: str | None) -> str | None:
    return (note.strip() or None) if note is not None else None


async def add_entry(session: AsyncSession, registry: Registry, goal_id: str | int, on: date, value: Decimal,
                    note: str | None, *, viewer: Viewer, gate: Gate, now: datetime, today: date) -> GoalEntry:
    """Enter a value for a goal's day (up to ``today``, the organisation's); GoalProblem (NOT_FOUND,
    FORBIDDEN, VALIDATION) when refused."""
    goal = await _writable_goal(session, registry, goal_id, viewer, gate)
    note = _note(note)
    errors = _problems(goal, on, value, note, today)
    if errors:
        raise GoalInvalid(errors)
    entry = GoalEntry(goal_id=goal.id, occurred_on=on, value=value, note=note, entered_by_user_id=viewer.user_id,
                      entered_by=viewer.subject, entered_at=now)
    session.add(entry)
    await session.flush()
    await _mark(session, goal, [on])
    return entry


async def correct_entry(session: AsyncSession, registry: Registry, entry_id: str | int, value: Decimal,
                        note: str | None, on: date | None, *, viewer: Viewer, gate: Gate, now: datetime,
                        today: date) -> GoalEntry:
    """Replace an entry's value (and note, and day when given): the old row stays as history."""
    entry, goal = await _entry_for_write(session, registry, entry_id, viewer, gate)
    note = _note(note)
    errors = _problems(goal, on, value, note, today)
    if errors:
        raise GoalInvalid(errors)
    new = GoalEntry(goal_id=goal.id, occurred_on=on or entry.occurred_on, value=value, note=note,
                    entered_by_user_id=viewer.user_id, entered_by=viewer.subject, entered_at=now,
                    origin_id=entry.origin_id or entry.id, replaces_id=entry.id)
    session.add(new)
    await session.flush()
    entry.superseded_by_id, entry.superseded_at = new.id, now
    await session.flush()
    await _mark(session, goal, [entry.occurred_on, new.occurred_on])
    return new


async def delete_entry(session: AsyncSession, registry: Registry, entry_id: str | int, *, viewer: Viewer, gate: Gate,
                       now: datetime) -> GoalEntry:
    """Retire an entry: it stops counting and stays in the history as deleted."""
    entry, goal = await _entry_for_write(session, registry, entry_id, viewer, gate)
    entry.deleted_at, entry.deleted_by = now, viewer.subject
    await session.flush()
    await _mark(session, goal, [entry.occurred_on])
    return entry


@dataclass(frozen=True)
class EntryPage:
    """One page of a goal's entries (newest first by day, then by entry), history included."""

    entries: list[GoalEntry]
    has_next: bool
    total: int


async def entries_of(session: AsyncSession, goal_id: int, *, first: int, after: int | None,
                     history: bool) -> EntryPage:
    """A goal's entries, newest first (by id: the order they were written); ``history`` adds corrected
    and deleted rows. ``after``: the last id of the previous page."""
    e = GoalEntry
    query = select(e).where(e.goal_id == goal_id)
    if not history:
        query = query.where(e.superseded_at.is_(None), e.deleted_at.is_(None))
    total = (await session.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
    if after is not None:
        query = query.where(e.id < after)
    rows = list((await session.scalars(query.order_by(e.id.desc()).limit(first + 1))).all())
    return EntryPage(rows[:first], len(rows) > first, int(total))


async def entries_by_id(session: AsyncSession, ids: list[int]) -> dict[int, GoalEntry]:
    """Entries by row id (for drill-down)."""
    if not ids:
        return {}
    return {e.id: e for e in await session.scalars(select(GoalEntry).where(GoalEntry.id.in_(sorted(set(ids)))))}
