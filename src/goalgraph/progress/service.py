"""Progress of stored goals: periods, targets and actuals read from the progress store.

For any number of goals this runs a constant number of statements: organisation settings,
target overrides, the store's marks and rows and, for rows missing or cheaply stale, the engine
(one statement per goal type, plus rates).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from goalgraph.db.models import Goal
from goalgraph.goals.schedule import calendar_of, goal_periods, period_target
from goalgraph.goals.service import element_targets_of, overrides_of
from goalgraph.organisation import OrganisationSettings, get_organisation
from goalgraph.periods import Period
from goalgraph import staleness
from goalgraph.progress import store
from goalgraph.progress.engine import Assignee, AssigneeKind, GoalQuery, compute_actuals, shape_amount
from goalgraph.progress.status import HIGHER, Pace, Rules, Status, combined, pace, ratio, rules_for, status
from goalgraph.registry import Registry

#: Stale rows recomputed within a read at most: this many (goal, period) pairs …
INLINE_PAIRS = 64
#: … counting at most this many facts together (their stored count estimates the cost) …
INLINE_FACTS = 20_000
#: … and only while the process is not busy: answering more than this many requests at once.
BUSY_REQUESTS = 2


def busy(requests_in_flight: int) -> bool:
    """Whether a process answering this many HTTP requests at once is under load (reads then leave
    stale rows to the worker, and the worker's rounds take more changes at a time)."""
    return requests_in_flight > BUSY_REQUESTS


def inline_facts(configured: int, requests_in_flight: int) -> int:
    """How many facts a read may recompute stale rows from (0: none, serve them ``pending``).

    ``configured`` (``GOALGRAPH_INLINE_RECOMPUTE_FACTS``) while the process is not :func:`busy`; when
    it is, none: concurrent reads would each recompute the same stale rows the worker is about to
    store (under a mixed load that was a third of the CPU per request, the server's and
    PostgreSQL's), so they serve the last value flagged pending and the subscription pushes the new
    one. A read alone after a write still sees it (read-your-writes).
    """
    return 0 if busy(requests_in_flight) else configured


@dataclass(slots=True)
class ElementProgress:
    """For a goal split by a dimension: one element's target and actual in a period."""

    element: str
    target: Decimal | None
    actual: Decimal
    facts: int
    ratio: Decimal | None
    status: Status | None


@dataclass(slots=True)
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
    #: When the actual was computed (the store's row, or now when computed for this read).
    computed_at: datetime | None = None
    #: Newer changes are not in the actual yet: the store will have them within moments.
    pending: bool = False
    elements: list[ElementProgress] = field(default_factory=list)


@dataclass
class GoalProgress:
    """A goal's periods (as asked for) and the summary over them."""

    goal_id: int
    periods: list[PeriodProgress] = field(default_factory=list)
    #: How the goal reads (its direction, its measure's aggregation): for summaries over the periods.
    rules: Rules = HIGHER

    @property
    def current(self) -> PeriodProgress | None:
        return next((p for p in self.periods if p.pace is not None), None)

    @property
    def totals(self) -> tuple[Decimal, Decimal]:
        """(target, actual) over the periods: sums, or for an average the fact-weighted mean
        (:func:`goalgraph.progress.status.combined`)."""
        return combined([(p.target, p.actual, p.facts) for p in self.periods], self.rules)

    @property
    def total_target(self) -> Decimal:
        return self.totals[0]

    @property
    def total_actual(self) -> Decimal:
        return self.totals[1]


def is_money(registry: Registry, goal: Goal) -> bool:
    """True when the goal's measure is an amount of money (shown to 4 places)."""
    goal_type = registry.goal_types.get(goal.goal_type)
    measure = goal_type.measure(goal.measure) if goal_type is not None else None
    return measure is not None and measure.money


def rules_of(registry: Registry, goal: Goal) -> Rules:
    """How the goal reads for status, pace and summaries: the goal's own direction and its measure's
    aggregation (accumulation, averages, whole numbers) — see :func:`goalgraph.progress.status.rules_for`."""
    goal_type = registry.goal_types.get(goal.goal_type)
    measure = goal_type.measure(goal.measure) if goal_type is not None else None
    return rules_for(measure, goal.direction)


def assignee_of(goal: Goal) -> Assignee:
    """The engine's view of a goal's assignee."""
    kind = AssigneeKind(goal.assignee_kind)
    return Assignee(kind, goal.assignee_user_id if kind is AssigneeKind.USER else goal.assignee_team_id)


def query_of(goal: Goal, periods: Sequence[Period], registry: Registry) -> GoalQuery:
    """The engine's view of a stored goal."""
    dimension = registry.dimensions.get(goal.split_by) if goal.split_by else None
    return GoalQuery(key=goal.id, goal_type=goal.goal_type, measure=goal.measure, assignee=assignee_of(goal),
                     periods=periods, filters=goal.filters or {}, currency=goal.currency,
                     split_by=dimension.attribute if dimension is not None else None, goal_id=goal.id)


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
            status=status(actual, target, period, now, rules, facts) if target is not None else None,
        ))
    return out


async def compute_progress(
    session: AsyncSession,
    registry: Registry,
    goals: Sequence[Goal],
    now: datetime,
    *,
    window: tuple[date | None, date | None] = (None, None),
    fill_session: AsyncSession | None = None,
    lapsed: frozenset[int] = frozenset(),
    organisation: OrganisationSettings | None = None,
    inline_pairs: int = INLINE_PAIRS,
    inline_facts: int = INLINE_FACTS,
) -> dict[int, GoalProgress]:
    """Progress of every goal from the progress store; ``window`` limits the periods (paging history).

    Rows the store lacks are computed here (a goal just created answers with its figures) and, with
    ``fill_session`` (committed by the caller), marked so the worker stores them. Stale rows are
    recomputed here when cheap (see :func:`goalgraph.progress.store.read`), else served with their
    last value and ``pending``. Goals in ``lapsed`` (their licence features are missing, see
    access.gate) are not measured: only their frozen periods are returned.
    ``organisation``: the settings the caller already read (else they are read here).
    """
    org = organisation or await get_organisation(session)
    cal = calendar_of(org)
    periods = {g.id: goal_periods(g, cal, now, first=window[0], last=window[1]) for g in goals}
    ids = [g.id for g in goals]
    overrides = await overrides_of(session, ids)
    split_ids = [g.id for g in goals if g.split_by]
    element_targets = await element_targets_of(session, split_ids) if split_ids else {}
    found = await store.read(session, periods, lapsed=lapsed, inline_pairs=inline_pairs, inline_facts=inline_facts)
    by_id = {g.id: g for g in goals}
    todo = {g: [*found.missing.get(g, ()), *found.stale.get(g, ())] for g in ids}
    live = [query_of(by_id[g], ps, registry) for g, ps in todo.items() if ps]
    if live:
        actuals = await compute_actuals(session, registry, live)
        for q in live:
            for period in q.periods:
                measured = actuals[(q.key, period.index)]
                found.stored[(q.key, period.start_date)] = store.Stored(
                    actual=measured.value, facts=measured.facts, unconverted=measured.unconverted,
                    elements={e: (a.value, a.facts) for e, a in measured.elements.items()}, computed_at=now)
    if fill_session is not None and found.missing:
        await staleness.mark_each(fill_session, {g: staleness.spans_of_periods(ps) for g, ps in found.missing.items()})

    result: dict[int, GoalProgress] = {}
    stored = found.stored
    for goal in goals:
        # Read once per goal, not per period (ORM attribute access is not free at thousands of periods).
        goal_id, split, rules, money = goal.id, goal.split_by, rules_of(registry, goal), is_money(registry, goal)
        own = overrides.get(goal_id, {})
        elements_targets = element_targets.get(goal_id, {}) if split else {}
        progress = GoalProgress(goal_id, rules=rules)
        append = progress.periods.append
        for period in periods[goal_id]:
            got = stored.get((goal_id, period.start_date))
            if got is None:  # a lapsed goal's period that was never frozen: not measured
                continue
            target = shape_amount(period_target(goal, period, own), money)
            actual = shape_amount(got.actual, money)
            facts = got.facts
            append(PeriodProgress(
                goal_id, period, target, actual, facts, got.unconverted, ratio(actual, target),
                status(actual, target, period, now, rules, facts),
                pace(actual, target, period, now, rules, facts) if period.start <= now < period.end else None,
                got.frozen_at, got.computed_at, got.pending,
                _elements(elements_targets, got.elements, period, now, money, rules) if split else [],
            ))
        result[goal_id] = progress
    return result
