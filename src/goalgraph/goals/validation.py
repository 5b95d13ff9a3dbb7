"""Check a goal draft against the registry, the stored facts and the calendar."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from goalgraph.currencies import is_currency
from goalgraph.db.models import Team, User
from goalgraph.errors import FactError
from goalgraph.inputs import amount_problem
from goalgraph.periods import Calendar, Interval, periods_for
from goalgraph.registry import Direction, FilterKind, GoalType, Registry

ASSIGNEE_KINDS = ("USER", "TEAM", "COMPANY")
EARLIEST, LATEST = date(1970, 1, 1), date(2099, 12, 31)


@dataclass
class GoalDraft:
    """Everything that defines a goal, as given by a client (references are external ids)."""

    title: str
    goal_type: str
    assignee_kind: str
    assignee_id: str | None
    measure: str
    interval: str
    start_date: date
    end_date: date | None = None
    fiscal: bool = False
    currency: str | None = None
    filters: dict[str, list[str]] = field(default_factory=dict)
    target: Decimal | None = None
    stretch_target: Decimal | None = None
    #: Per-period targets by the period's first day (seasonality).
    period_targets: dict[date, Decimal] = field(default_factory=dict)
    #: Dimension key to split the goal by, with one target per element (every period).
    split_by: str | None = None
    element_targets: dict[str, Decimal] = field(default_factory=dict)
    #: The parent goal's id (a goal hierarchy: goals/hierarchy.py), or None.
    parent_id: int | None = None
    #: HIGHER_IS_BETTER or LOWER_IS_BETTER (goalgraph.registry.Direction); None: the measure's default.
    direction: str | None = None


@dataclass
class ResolvedAssignee:
    kind: str
    user_id: int | None = None
    team_id: int | None = None


async def validate_draft(
    session: AsyncSession, registry: Registry, draft: GoalDraft, cal: Calendar, default_currency: str
) -> tuple[ResolvedAssignee | None, list[FactError]]:
    """All problems with ``draft`` (empty when valid) and the resolved assignee.

    Normalises in place: currency defaults to the organisation's for money measures and is
    cleared for the others; filter values take the form the facts they match are stored in
    (:meth:`FilterSpec.normalised`); the target defaults from the per-period targets; the
    direction defaults to the measure's (:attr:`Measure.default_direction`).
    """
    errors: list[FactError] = []

    def fail(name: str, message: str, code: str = "INVALID") -> None:
        errors.append(FactError((name,), message, code))

    draft.title = (draft.title or "").strip()
    if not 1 <= len(draft.title) <= 200:
        fail("title", "must be 1–200 characters")
    goal_type: GoalType | None = registry.goal_types.get(draft.goal_type)
    if goal_type is None:
        fail("goal_type", f"{draft.goal_type!r} is not a goal type (known: {', '.join(sorted(registry.goal_types))})",
             "UNKNOWN_REFERENCE")
    else:
        measure = goal_type.measure(draft.measure)
        if measure is not None and draft.direction is None:
            draft.direction = measure.default_direction.value
        if measure is None:
            fail("measure", f"goal type {goal_type.key} does not measure {draft.measure!r} "
                            f"(accepted: {', '.join(m.key for m in goal_type.measures)})")
        elif measure.money:
            draft.currency = (draft.currency or default_currency).upper()
            if not is_currency(draft.currency):
                fail("currency", f"{draft.currency!r} is not an ISO 4217 currency code", "UNKNOWN_CURRENCY")
        else:
            draft.currency = None
        specs = registry.filters_for(goal_type)
        extra = specs[len(goal_type.filters):]
        # Stored as the facts they match are (e.g. activity types lower-case), so "CALL" finds calls.
        by_key = {spec.key: spec for spec in specs}
        draft.filters = {key: by_key[key].normalised(values) if key in by_key and values else values
                         for key, values in draft.filters.items()}
        for key, message in goal_type.validate_filters(draft.filters, extra):
            errors.append(FactError(("filters", key), message))
        await _check_filter_references(session, goal_type, draft.filters, errors)
        await _check_dimensions(session, registry, goal_type, draft, errors)

    if draft.direction is not None and draft.direction not in Direction.__members__:
        fail("direction", f"{draft.direction!r} is not one of {', '.join(Direction.__members__)}")
    assignee = await _resolve_assignee(session, draft, fail)
    periods_ok = _check_schedule(draft, cal, fail)
    _check_targets(draft, goal_type, cal, periods_ok, fail)
    return assignee, errors


async def _check_filter_references(
    session: AsyncSession, goal_type: GoalType, filters: dict[str, list[str]], errors: list[FactError]
) -> None:
    for key, values in filters.items():
        spec = goal_type.filter(key)
        if spec is None or spec.kind is not FilterKind.REFERENCE or not values:
            continue
        found = set((await session.scalars(select(spec.model.external_id).where(spec.model.external_id.in_(values)))).all())
        for value in values:
            if value not in found:
                errors.append(FactError(("filters", key), f"no {spec.label.lower().rstrip('s')} with id {value!r}",
                                        "UNKNOWN_REFERENCE"))


async def _check_dimensions(
    session: AsyncSession, registry: Registry, goal_type: GoalType, draft: GoalDraft, errors: list[FactError]
) -> None:
    """Dimension filter values and element targets must be elements of their dimension."""
    from goalgraph.dimensions import allowed_elements

    dimension_keys = [f.dimension for f in registry.filters_for(goal_type) if f.dimension is not None]
    used = [k for k in dimension_keys if draft.filters.get(k)] + ([draft.split_by] if draft.split_by else [])
    allowed = await allowed_elements(session, registry, [k for k in used if k in registry.dimensions])
    for key in dimension_keys:
        for value in draft.filters.get(key) or ():
            if allowed.get(key) and value not in allowed[key]:
                errors.append(FactError(("filters", key), f"{value!r} is not an element of dimension {key} "
                                        f"({', '.join(allowed[key])})"))
    if draft.split_by is None:
        if draft.element_targets:
            errors.append(FactError(("element_targets",), "need splitBy: the dimension whose elements they are"))
        return
    if draft.split_by not in dimension_keys:
        errors.append(FactError(("split_by",), f"goal type {goal_type.key} cannot be split by {draft.split_by!r} "
                                f"(dimensions: {', '.join(dimension_keys) or 'none'})"))
        return
    if not draft.element_targets:
        errors.append(FactError(("element_targets",), "a split goal needs a target for at least one element", "REQUIRED"))
    elements = allowed.get(draft.split_by) or []
    for element, value in draft.element_targets.items():
        if elements and element not in elements:
            errors.append(FactError(("element_targets",), f"{element!r} is not an element of dimension "
                                    f"{draft.split_by} ({', '.join(elements)})"))
        if value < 0:
            errors.append(FactError(("element_targets",), f"{element}: {value} must be zero or more"))
    if draft.period_targets:
        errors.append(FactError(("period_targets",), "a split goal has targets per element, not per period"))
    if not errors:
        draft.target = sum(draft.element_targets.values(), Decimal(0))


async def _resolve_assignee(session: AsyncSession, draft: GoalDraft, fail: Any) -> ResolvedAssignee | None:
    kind = (draft.assignee_kind or "").upper()
    if kind not in ASSIGNEE_KINDS:
        fail("assignee", f"{draft.assignee_kind!r} is not one of {', '.join(ASSIGNEE_KINDS)}")
        return None
    if kind == "COMPANY":
        if draft.assignee_id:
            fail("assignee", "a company goal takes no id")
            return None
        return ResolvedAssignee("COMPANY")
    if not draft.assignee_id:
        fail("assignee", f"a {kind.lower()} goal needs the {kind.lower()}'s id", "REQUIRED")
        return None
    model = User if kind == "USER" else Team
    found = await session.scalar(select(model.id).where(model.external_id == draft.assignee_id))
    if found is None:
        fail("assignee", f"no {kind.lower()} with id {draft.assignee_id!r}", "UNKNOWN_REFERENCE")
        return None
    return ResolvedAssignee(kind, user_id=found if kind == "USER" else None, team_id=found if kind == "TEAM" else None)


def _check_schedule(draft: GoalDraft, cal: Calendar, fail: Any) -> bool:
    try:
        interval = Interval(draft.interval)
    except ValueError:
        fail("interval", f"{draft.interval!r} is not one of {', '.join(i.value for i in Interval)}")
        return False
    ok = True
    for name in ("start_date", "end_date"):
        value = getattr(draft, name)
        if value is not None and not EARLIEST <= value <= LATEST:
            fail(name, f"{value.isoformat()} is outside 1970–2099")
            ok = False
    if interval is Interval.CUSTOM and draft.end_date is None:
        fail("end_date", "a custom range needs an end date", "REQUIRED")
        ok = False
    if ok and draft.end_date is not None and draft.end_date < draft.start_date:
        fail("end_date", f"{draft.end_date.isoformat()} is before the start {draft.start_date.isoformat()}")
        ok = False
    if ok and draft.end_date is not None:
        try:
            periods_for(cal, interval, draft.start_date, draft.end_date, fiscal=draft.fiscal)
        except ValueError as exc:
            fail("end_date", str(exc))
            ok = False
    return ok


def _check_amount(name: str, value: Decimal | None, fail: Any) -> bool:
    if value is None:
        return True
    problem = amount_problem(value)
    if problem is not None:
        fail(name, problem)
    return problem is None


def _check_targets(draft: GoalDraft, goal_type: GoalType | None, cal: Calendar, periods_ok: bool, fail: Any) -> None:
    _check_amount("target", draft.target, fail)
    _check_amount("stretch_target", draft.stretch_target, fail)
    if draft.period_targets:
        if goal_type is not None and not goal_type.per_period_targets:
            fail("period_targets", f"goal type {goal_type.key} takes one target for every period")
            return
        if draft.end_date is None:
            fail("period_targets", "per-period targets need an end date (an open-ended goal has one target)")
            return
        if not periods_ok:
            return
        starts = {p.start_date for p in periods_for(cal, Interval(draft.interval), draft.start_date, draft.end_date,
                                                       fiscal=draft.fiscal)}
        for day, value in draft.period_targets.items():
            if day not in starts:
                fail("period_targets", f"{day.isoformat()} is not the first day of one of the goal's periods")
            _check_amount("period_targets", value, fail)
        missing = sorted(starts - set(draft.period_targets))
        if draft.target is None and missing:
            fail("period_targets", "every period needs a target: missing "
                 + ", ".join(d.isoformat() for d in missing[:6]) + (" …" if len(missing) > 6 else "")
                 + " (or give targetForAll)", "REQUIRED")
        if draft.target is None and not missing:
            draft.target = draft.period_targets[min(starts)]
    elif draft.target is None:
        fail("target", "is required", "REQUIRED")
    if draft.stretch_target is not None and draft.target is not None and draft.stretch_target < draft.target:
        fail("stretch_target", f"{draft.stretch_target} is below the target {draft.target}")

