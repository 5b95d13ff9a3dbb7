"""Progress of stored goals: periods, targets, live actuals from the engine, frozen snapshots.

For any number of goals this runs a constant number of statements: organisation settings,
target overrides, snapshots, the engine (one per goal type, plus rates) and, when periods
closed since the last read, one insert of their snapshots.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from goalgraph.db.dialect import conflict_insert
from goalgraph.db.models import ExchangeRate, Goal, PeriodSnapshot
from goalgraph.goals.schedule import calendar_of, goal_periods, period_target
from goalgraph.goals.service import element_targets_of, overrides_of
from goalgraph.organisation import OrganisationSettings, get_organisation
from goalgraph.periods import Period
from goalgraph.progress.engine import Assignee, AssigneeKind, GoalQuery, compute_actuals, shape_amount
from goalgraph.progress.status import HIGHER, Pace, Rules, Status, pace, ratio, status
from goalgraph.registry import Registry
from goalgraph.snapshots import forget_goal


@dataclass
class ElementProgress:
    """For a goal split by a dimension: one element's target and actual in a period."""

    element: str
    target: Decimal | None
    actual: Decimal
    facts: int
    ratio: Decimal | None
    status: Status | None


@dataclass
class PeriodProgress:
    """One period of one goal, measured."""

    goal_id: int
    period: Period
    target: Decimal
    actual: Decimal
    facts: int
    unconverted: dict[str, int]
    ratio: Decimal | None
    status: Status
    pace: Pace | None
    snapshot_taken_at: datetime | None = None
    elements: list[ElementProgress] = field(default_factory=list)


@dataclass
class GoalProgress:
    """A goal's periods (as asked for) and the summary over them."""

    goal_id: int
    periods: list[PeriodProgress] = field(default_factory=list)
    #: How the goal's measure reads (direction, accumulation): for summaries over the periods.
    rules: Rules = HIGHER

    @property
    def current(self) -> PeriodProgress | None:
        return next((p for p in self.periods if p.pace is not None), None)

    @property
    def total_target(self) -> Decimal:
        return sum((p.target for p in self.periods), Decimal(0))

    @property
    def total_actual(self) -> Decimal:
        return sum((p.actual for p in self.periods), Decimal(0))


def is_money(registry: Registry, goal: Goal) -> bool:
    """True when the goal's measure is an amount of money (shown to 4 places)."""
    goal_type = registry.goal_types.get(goal.goal_type)
    measure = goal_type.measure(goal.measure) if goal_type is not None else None
    return measure is not None and measure.money


def rules_of(registry: Registry, goal: Goal) -> Rules:
    """How the goal's measure reads for status and pace (direction, accumulation, whole numbers)."""
    goal_type = registry.goal_types.get(goal.goal_type)
    measure = goal_type.measure(goal.measure) if goal_type is not None else None
    if measure is None:
        return HIGHER
    return Rules(lower_is_better=measure.lower_is_better, cumulative=measure.cumulative,
                 whole=measure.column is None)


def assignee_of(goal: Goal) -> Assignee:
    """The engine's view of a goal's assignee."""
    kind = AssigneeKind(goal.assignee_kind)
    return Assignee(kind, goal.assignee_user_id if kind is AssigneeKind.USER else goal.assignee_team_id)


def query_of(goal: Goal, periods: Sequence[Period], registry: Registry) -> GoalQuery:
    """The engine's view of a stored goal."""
    dimension = registry.dimensions.get(goal.split_by) if goal.split_by else None
    return GoalQuery(key=goal.id, goal_type=goal.goal_type, measure=goal.measure, assignee=assignee_of(goal),
                     periods=periods, filters=goal.filters or {}, currency=goal.currency,
                     split_by=dimension.attribute if dimension is not None else None)


def _elements(targets: dict[str, Decimal], measured: dict[str, tuple[Decimal, int]], period: Period, now: datetime,
              money: bool, rules: Rules) -> list[ElementProgress]:
    """Every element with a target or facts, in target order, then the rest ("" = no element)."""
    names = [*targets, *sorted(e for e in measured if e not in targets)]
    out = []
    for name in names:
        target = shape_amount(targets[name], money) if name in targets else None
        actual, facts = measured.get(name, (Decimal(0), 0))
        actual = shape_amount(actual, money)
        out.append(ElementProgress(
            element=name, target=target, actual=actual, facts=facts,
            ratio=ratio(actual, target) if target is not None else None,
            status=status(actual, target, period, now, rules) if target is not None else None,
        ))
    return out


async def _snapshots(session: AsyncSession, goal_ids: list[int]) -> dict[tuple[int, date], PeriodSnapshot]:
    if not goal_ids:
        return {}
    rows = await session.scalars(select(PeriodSnapshot).where(PeriodSnapshot.goal_id.in_(goal_ids)))
    return {(s.goal_id, s.period_start): s for s in rows}


async def _rates_in_force(session: AsyncSession) -> list[tuple]:
    """Every stored rate: what money snapshots depend on besides facts and the calendar."""
    rows = await session.execute(select(ExchangeRate.currency, ExchangeRate.quote_currency, ExchangeRate.valid_from,
                                        ExchangeRate.rate).order_by(ExchangeRate.id))
    return [tuple(r) for r in rows]


async def _save_snapshots(session: AsyncSession, rows: list[dict]) -> None:
    table = PeriodSnapshot.__table__
    await session.execute(conflict_insert(session.bind.dialect.name, table).on_conflict_do_nothing(index_elements=[table.c.goal_id, table.c.period_start]),
                          rows)


async def compute_progress(
    session: AsyncSession,
    registry: Registry,
    goals: Sequence[Goal],
    now: datetime,
    *,
    window: tuple[date | None, date | None] = (None, None),
    snapshot_grace: timedelta = timedelta(hours=24),
    snapshot_session: AsyncSession | None = None,
    lapsed: frozenset[int] = frozenset(),
    organisation: OrganisationSettings | None = None,
) -> dict[int, GoalProgress]:
    """Progress of every goal; ``window`` limits the periods (paging an open-ended goal's history).

    Goals in ``lapsed`` (their licence features are missing, see access.gate) are not measured:
    only their frozen periods are returned.

    Periods that ended more than ``snapshot_grace`` ago are frozen: read from their snapshot,
    or measured once and saved through ``snapshot_session`` (committed by the caller) — unless the
    calendar or the rates changed while measuring (then the next read freezes them).
    ``organisation``: the settings the caller already read (else they are read here).
    """
    org = organisation or await get_organisation(session)
    cal = calendar_of(org)
    periods = {g.id: goal_periods(g, cal, now, first=window[0], last=window[1]) for g in goals}
    ids = [g.id for g in goals]
    overrides = await overrides_of(session, ids)
    split_ids = [g.id for g in goals if g.split_by]
    element_targets = await element_targets_of(session, split_ids) if split_ids else {}
    frozen = await _snapshots(session, ids)
    for goal_id in lapsed & periods.keys():
        periods[goal_id] = [p for p in periods[goal_id] if (goal_id, p.start_date) in frozen]
    # Only periods without a snapshot are measured.
    live = [query_of(g, [p for p in periods[g.id] if (g.id, p.start_date) not in frozen], registry) for g in goals]
    live = [q for q in live if q.periods]
    # A calendar or rate change committed while we measure must not be frozen over: compare the
    # inputs before measuring with those at saving time, and save nothing if they moved.
    freezing = snapshot_session is not None and any(
        p.end + snapshot_grace <= now for q in live for p in q.periods)
    rates_before = await _rates_in_force(session) if freezing else None
    actuals = await compute_actuals(session, registry, live) if live else {}
    if freezing:
        assert snapshot_session is not None
        freezing = (calendar_of(await get_organisation(snapshot_session)) == cal
                    and await _rates_in_force(snapshot_session) == rates_before)

    result: dict[int, GoalProgress] = {}
    to_save: list[dict] = []
    for goal in goals:
        rules = rules_of(registry, goal)
        progress = GoalProgress(goal.id, rules=rules)
        money = is_money(registry, goal)
        for period in periods[goal.id]:
            target = shape_amount(period_target(goal, period, overrides.get(goal.id, {})), money)
            snap = frozen.get((goal.id, period.start_date))
            if snap is not None:
                actual = shape_amount(snap.actual, money)
                facts, unconverted, taken = snap.facts, dict(snap.unconverted), snap.taken_at
                by_element = {e: (Decimal(v["actual"]), v["facts"]) for e, v in (snap.elements or {}).items()}
            else:
                measured = actuals[(goal.id, period.index)]
                actual, facts, unconverted, taken = measured.value, measured.facts, measured.unconverted, None
                by_element = {e: (a.value, a.facts) for e, a in measured.elements.items()}
                if freezing and period.end + snapshot_grace <= now:
                    to_save.append({"goal_id": goal.id, "period_start": period.start_date, "actual": actual,
                                    "facts": facts, "unconverted": unconverted, "taken_at": now,
                                    "elements": {e: {"actual": str(v), "facts": n} for e, (v, n) in by_element.items()}})
                    taken = now
            progress.periods.append(PeriodProgress(
                goal_id=goal.id, period=period, target=target, actual=actual, facts=facts, unconverted=unconverted,
                ratio=ratio(actual, target), status=status(actual, target, period, now, rules),
                pace=pace(actual, target, period, now, rules), snapshot_taken_at=taken,
                elements=_elements(element_targets.get(goal.id, {}), by_element, period, now, money, rules) if goal.split_by else [],
            ))
        result[goal.id] = progress
    if to_save and snapshot_session is not None:
        await _save_snapshots(snapshot_session, to_save)
    return result


async def forget_snapshot(session: AsyncSession, goal_id: int, period_start: date | None) -> int:
    """Drop a goal's snapshot (one period, or all when ``period_start`` is None) so it is measured again."""
    return await forget_goal(session, goal_id, period_start)
