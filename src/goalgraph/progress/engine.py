"""Batched, in-database aggregation of goal progress.

Given many goals — each with a goal type, measure, assignee, filters, currency and periods —
:func:`compute_actuals` issues **one aggregate statement per goal type** (whatever the number
of goals, periods or measures) plus, when money is measured, one statement reading the exchange
rates first. The statement aggregates the facts once and then attaches goals
(:mod:`goalgraph.progress.aggregate`); the few group rows are converted to each goal's currency
in ``Decimal`` (:mod:`goalgraph.progress.conversion`). Facts with no known rate are reported,
not dropped silently. :func:`contributions` lists the facts behind one period (drill-down).
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import String, and_, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from goalgraph.db.dialect import local_date
from goalgraph.goals.audience import pairs_of
from goalgraph.periods import Period
from goalgraph.progress import aggregate
from goalgraph.progress.aggregate import EngineError, attribute_of
from goalgraph.progress.conversion import RateTable, as_date, load_rates
from goalgraph.registry import (
    CURRENCY,
    FACT_ID,
    FACT_KEY,
    GOAL_ID,
    OCCURRED_AT,
    OCCURRED_ON,
    USER_ID,
    FactQuery,
    FilterKind,
    Registry,
)

__all__ = ["Assignee", "AssigneeKind", "Contribution", "EngineError", "GoalQuery", "PeriodActual",
           "compute_actuals", "contributions", "shape_amount"]


class AssigneeKind(str, enum.Enum):
    """Whose facts a goal counts."""

    USER = "USER"
    TEAM = "TEAM"
    COMPANY = "COMPANY"


@dataclass(frozen=True)
class Assignee:
    """A user or team (internal id), or the whole company (``id`` None)."""

    kind: AssigneeKind
    id: int | None = None


@dataclass(frozen=True)
class GoalQuery:
    """One goal as the engine needs it. ``filters`` map a filter key to its values."""

    key: Hashable
    goal_type: str
    measure: str
    assignee: Assignee
    periods: Sequence[Period]
    filters: Mapping[str, Sequence[str]] = field(default_factory=dict)
    currency: str | None = None
    #: Split the actual by this custom attribute (a dimension's ``attribute``): see PeriodActual.elements.
    split_by: str | None = None
    #: The stored goal's id: a goal-scoped source (``goal_id``, values entered by hand) counts only the
    #: facts of this goal; without it such a goal counts nothing.
    goal_id: int | None = None


@dataclass
class PeriodActual:
    """The measured result of one goal in one period."""

    value: Decimal = Decimal(0)
    #: How many facts ``value`` is made of.
    facts: int = 0
    #: Facts that count but are not in ``value`` (no exchange rate), by their currency.
    unconverted: dict[str, int] = field(default_factory=dict)
    #: For split goals: the actual per element ("" for facts without the attribute).
    elements: dict[str, "PeriodActual"] = field(default_factory=dict)


def _checked(registry: Registry, goal: GoalQuery) -> Any:
    """The goal's measure, or EngineError naming what is wrong with the goal."""
    goal_type = registry.goal_types.get(goal.goal_type)
    if goal_type is None:
        raise EngineError(f"goal {goal.key!r}: unknown goal type {goal.goal_type!r}")
    measure = goal_type.measure(goal.measure)
    if measure is None:
        raise EngineError(f"goal {goal.key!r}: goal type {goal.goal_type} has no measure {goal.measure!r}")
    if measure.money and not goal.currency:
        raise EngineError(f"goal {goal.key!r}: measure {measure.key} needs a currency")
    return measure


async def compute_actuals(
    session: AsyncSession, registry: Registry, goals: Sequence[GoalQuery]
) -> dict[tuple[Hashable, int], PeriodActual]:
    """Actuals for every (goal key, period index) asked for; periods without facts are zero."""
    batches: dict[tuple[str, str], list[GoalQuery]] = defaultdict(list)
    money_currencies: set[str] = set()
    for goal in goals:
        measure = _checked(registry, goal)
        if goal.periods:
            # Slots are cut per time zone: goals of one organisation share one.
            batches[(goal.goal_type, goal.periods[0].time_zone)].append(goal)
            if measure.money:
                money_currencies.add(goal.currency)  # type: ignore[arg-type]

    results: dict[tuple[Hashable, int], PeriodActual] = {
        (goal.key, period.index): PeriodActual() for goal in goals for period in goal.periods
    }
    dialect = session.bind.dialect.name
    rates = await load_rates(session, money_currencies) if money_currencies else RateTable()
    home = next(iter(money_currencies)) if len(money_currencies) == 1 else None
    for (type_key, _), batch in batches.items():
        goal_type = registry.goal_types[type_key]
        plan = aggregate.build(dialect, goal_type, batch, registry.filters_for(goal_type), rates, home)
        for row in await session.execute(plan.statement, plan.params):
            goal = batch[row.g]
            measure = goal_type.measure(goal.measure)
            actual = results[(goal.key, row.pi)]
            parts = [actual]
            if goal.split_by:
                parts.append(actual.elements.setdefault(row.element or "", PeriodActual()))
            n = int(row.n)  # sum(count) is numeric on PostgreSQL
            amount: Decimal | None = Decimal(n)
            if measure.column is not None:
                amount = Decimal(getattr(row, f"m_{measure.key}") or 0) * measure.scale
                if measure.money:
                    amount = rates.convert(amount, row.cur, goal.currency, rates.epoch_day(row.ep))
            for part in parts:
                if amount is None:
                    part.unconverted[row.cur] = part.unconverted.get(row.cur, 0) + n
                else:
                    part.facts += n
                    part.value += amount
    for goal in goals:
        measure = registry.goal_types[goal.goal_type].measure(goal.measure)
        assert measure is not None
        for period in goal.periods:
            actual = results[(goal.key, period.index)]
            for part in (actual, *actual.elements.values()):
                if measure.average:  # the mean of the facts converted (0 without any)
                    part.value = part.value / part.facts if part.facts else Decimal(0)
                part.value = shape_amount(part.value, measure.money or measure.average)
    return results


def shape_amount(value: Decimal, money: bool) -> Decimal:
    """One spelling per measure: money to 4 places ("0.0000"), counts as whole numbers ("3")."""
    if money or value != value.to_integral_value():
        return value.quantize(Decimal("0.0001"))
    return value.quantize(Decimal(1))


@dataclass(frozen=True)
class Contribution:
    """One fact counted in a period, with what it contributed in the goal's measure."""

    fact_id: int
    occurred: Any
    amount: Decimal | None
    currency: str | None
    original_amount: Decimal | None
    #: For split goals: the element the fact belongs to ("" when it has none).
    element: str | None = None
    #: The source row's own key (``fact_key``, else ``fact_id``): what drill-down pages by.
    key: int | None = None


async def contributions(
    session: AsyncSession, registry: Registry, goal: GoalQuery, period_index: int, *, limit: int,
    after_key: int | None = None, owners: frozenset[int] | None = None,
) -> list[Contribution]:
    """The facts behind one period of one goal (drill-down), one page at a time.

    Ordered and paged by the source row's own key (``fact_key`` where the source has one, else
    ``fact_id``), so a deal entering a stage twice is listed twice and paging loses neither entry;
    ``after_key`` is the last key of the previous page. ``owners`` limits them to facts credited to
    these users (what the viewer may see). A fact is listed exactly when the engine counts it.
    """
    measure = _checked(registry, goal)
    goal_type = registry.goal_types[goal.goal_type]
    periods = [p for p in goal.periods if p.index == period_index]
    if not periods:
        return []
    period = periods[0]
    src = goal_type.source(FactQuery(goal_type.key)).subquery("f")
    fc = src.c
    specs = {spec.key: spec for spec in registry.filters_for(goal_type)}
    unknown = sorted(k for k in goal.filters if goal.filters[k] and k not in specs)
    if unknown:
        raise EngineError(f"goal type {goal_type.key} has no filter {unknown[0]!r}")
    # The same placement as the aggregate: occurred_at decides where a row has one, else occurred_on.
    at_in = (and_(fc[OCCURRED_AT] >= period.start, fc[OCCURRED_AT] < period.end) if OCCURRED_AT in fc else None)
    on_end = period.end_date.fromordinal(period.end_date.toordinal() + 1)
    on_in = (and_(fc[OCCURRED_ON] >= period.start_date, fc[OCCURRED_ON] < on_end) if OCCURRED_ON in fc else None)
    if at_in is not None and on_in is not None:
        conditions = [or_(at_in, and_(fc[OCCURRED_AT].is_(None), on_in))]
    else:
        conditions = [at_in if at_in is not None else on_in]
    if GOAL_ID in fc:  # goal-scoped facts: the goal's own, seen by whoever sees the goal
        conditions.append(fc[GOAL_ID] == goal.goal_id if goal.goal_id is not None else literal(False))
        owners = None
    elif goal.assignee.kind is not AssigneeKind.COMPANY:
        pairs = pairs_of(session.bind.dialect.name, [(0, goal.assignee.kind.value, goal.assignee.id)]).subquery("gu")
        conditions.append(fc[USER_ID].in_(select(pairs.c.u)))
    for key, values in goal.filters.items():
        if not values:
            continue
        spec = specs[key]
        wanted = spec.normalised(values)
        if spec.attribute is not None:
            conditions.append(attribute_of(fc, goal_type, spec.attribute).in_(wanted))
        elif spec.kind is FilterKind.REFERENCE:
            ids = select(spec.model.id).where(spec.model.external_id.in_(wanted))
            conditions.append(fc[spec.column].in_(ids))
        else:
            conditions.append(fc[spec.column].in_(wanted))
    row_key = fc[FACT_KEY] if FACT_KEY in fc else fc[FACT_ID]
    cols = [fc[FACT_ID].label("fact_id"), row_key.label("row_key")]
    cols.append((fc[OCCURRED_AT] if OCCURRED_AT in fc else fc[OCCURRED_ON]).label("occurred"))
    if OCCURRED_AT in fc and OCCURRED_ON in fc:
        cols.append(fc[OCCURRED_ON].label("occurred_on"))
    if measure.column is not None:
        cols.append(fc[measure.column].label("amount"))
    if measure.money:
        local = local_date(fc[OCCURRED_AT], literal(period.time_zone, String)) if OCCURRED_AT in fc else None
        moment = local if OCCURRED_ON not in fc else fc[OCCURRED_ON] if local is None else func.coalesce(local, fc[OCCURRED_ON])
        cols += [fc[CURRENCY].label("fact_cur"), moment.label("moment")]
    if goal.split_by:
        cols.append(attribute_of(fc, goal_type, goal.split_by).label("element"))
    query = select(*cols).where(*conditions)
    if after_key is not None:
        query = query.where(row_key > after_key)
    if owners is not None:
        query = query.where(fc[USER_ID].in_(sorted(owners)))
    rows = (await session.execute(query.order_by(row_key).limit(limit))).all()
    currencies = {r.fact_cur for r in rows if measure.money and r.fact_cur != goal.currency}
    rates = await load_rates(session, [goal.currency]) if currencies else RateTable()  # type: ignore[list-item]
    out = []
    for r in rows:
        occurred = r.occurred if r.occurred is not None else getattr(r, "occurred_on", None)
        element = (getattr(r, "element", None) or "") if goal.split_by else None
        if measure.column is None:
            out.append(Contribution(r.fact_id, occurred, Decimal(1), None, None, element, r.row_key))
            continue
        original = Decimal(r.amount or 0) * measure.scale
        amount = (rates.convert(original, r.fact_cur, goal.currency, as_date(r.moment)) if measure.money
                  else original)
        out.append(Contribution(r.fact_id, occurred, None if amount is None else amount.quantize(Decimal("0.0001")),
                                r.fact_cur if measure.money else None, original.quantize(Decimal("0.0001")), element,
                                r.row_key))
    return out
