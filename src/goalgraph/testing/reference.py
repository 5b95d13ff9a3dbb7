"""A plain-Python reference for the progress engine, for property tests.

:func:`goalgraph.progress.engine.compute_actuals` aggregates facts in SQL. This module computes
the same numbers the slow, obvious way — a loop over facts held as Python objects — so a test can
hold the engine against it over random facts, goals and calendars (``tests/test_progress_properties.py``
does, with hypothesis). Plugin authors can reuse it: describe their goal type's facts as a
:data:`ReferenceSource` (a function from a :class:`World` to :class:`Fact` rows carrying the same
information as their SQL source) and pass it in ``sources``.

The rules, one per concern:

* **Which facts count, and when** — a goal type's :data:`ReferenceSource` (the first-party ones are
  in :data:`FIRST_PARTY_SOURCES`). A fact is placed by an instant (``occurred_at``, in
  ``[period.start, period.end)``) and/or a local date (``occurred_on``, in
  ``period.start_date .. period.end_date``); either placing it is enough.
* **Assignee** — a user: facts credited to that user; a team: facts credited to its members;
  the company: every fact.
* **Filters** — a goal's filter with values keeps facts whose ``dims[filter key]`` is one of them;
  a missing or empty filter keeps everything. Activity-type values match whatever their case and
  surrounding spaces (stored types are trimmed and lower-case). A dimension filter (``dimensions`` maps its key to
  the attribute it reads) keeps facts whose ``attributes[attribute]`` is one of the values, read
  as :func:`attribute_text` does (strings as they are, other JSON scalars as JSON writes them).
* **Splits** — a goal with ``split_by`` (an attribute) also gets one actual per element: the
  attribute's text, ``""`` when the fact lacks it (or it is null or empty).
* **Measures** — ``COUNT`` counts facts; any other measure sums ``amounts[measure]``.
* **Money** — an amount in the goal's currency is taken as is. Otherwise the exchange rate in force
  on the fact's **local date** is used: for an instant, its date in the organisation's time zone
  (the period's ``time_zone``: the same date that places it in its period, so a rate's
  ``valid_from`` starts at local midnight); for a local date, that date. The direct rate (fact
  currency → goal currency, multiply) or the inverse one (goal currency → fact currency, divide)
  with the latest ``valid_from`` on or before that date; when both exist the newer wins (the direct
  one on a tie). Without a rate the fact adds nothing to the value and is reported only in
  ``unconverted`` (by currency); ``facts`` counts the facts the value is made of.
* Values are quantized to four decimal places at the end, as the engine does.

Users and teams are keyed by whatever the goals' :class:`~goalgraph.progress.engine.Assignee` ids
refer to (the engine uses internal database ids); pipelines, stages and activity types by the
values goal filters hold (external ids, type names).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from goalgraph.progress.engine import AssigneeKind, GoalQuery

__all__ = [
    "FIRST_PARTY_SOURCES",
    "MONEY_MEASURES",
    "Fact",
    "RefActivity",
    "RefDeal",
    "RefRate",
    "RefStage",
    "RefStageChange",
    "ReferenceActual",
    "ReferenceSource",
    "World",
    "attribute_text",
    "convert",
    "counted",
    "rate_day",
    "reference_actuals",
]

QUANTUM = Decimal("0.0001")
#: Filters whose values match the facts whatever their case or surrounding spaces (activity types).
CASE_FOLDED = frozenset({"activity_types"})


# --------------------------------------------------------------------------
# Facts as plain objects
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class RefStage:
    """A pipeline stage with its win probability in whole percent."""

    key: str
    pipeline: str
    probability: int


@dataclass(frozen=True)
class RefDeal:
    """A deal as stored (status as its upper-case name)."""

    key: str
    owner: Hashable
    pipeline: str
    stage: str
    status: str
    currency: str
    value: Decimal
    cost: Decimal
    added_at: datetime
    won_at: datetime | None = None
    expected_close_date: date | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RefStageChange:
    """A deal entering a stage (a row of deal history), credited to ``owner``."""

    deal: str
    stage: str
    pipeline: str
    owner: Hashable
    entered_at: datetime


@dataclass(frozen=True)
class RefActivity:
    """An activity; ``type`` as stored (lower case)."""

    key: str
    owner: Hashable
    type: str
    added_at: datetime
    done_at: datetime | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RefRate:
    """One unit of ``currency`` is worth ``rate`` units of ``quote_currency`` from ``valid_from`` on."""

    currency: str
    quote_currency: str
    valid_from: date
    rate: Decimal


@dataclass
class World:
    """Every fact the reference sees."""

    #: team key → its members (leaders included).
    teams: Mapping[Hashable, Collection[Hashable]] = field(default_factory=dict)
    stages: Mapping[str, RefStage] = field(default_factory=dict)
    deals: Sequence[RefDeal] = ()
    stage_changes: Sequence[RefStageChange] = ()
    activities: Sequence[RefActivity] = ()
    rates: Sequence[RefRate] = ()


@dataclass(frozen=True)
class Fact:
    """One row of a goal type's fact source: who, when, how much, and what filters see."""

    fact_id: Hashable
    user: Hashable
    occurred_at: datetime | None = None
    occurred_on: date | None = None
    currency: str | None = None
    #: measure key → amount in ``currency`` (``COUNT`` needs none).
    amounts: Mapping[str, Decimal] = field(default_factory=dict)
    #: filter key → the fact's value for it (e.g. ``"pipelines": "p1"``).
    dims: Mapping[str, Hashable] = field(default_factory=dict)
    #: Custom attributes, read by dimension filters and splits.
    attributes: Mapping[str, Any] = field(default_factory=dict)


ReferenceSource = Callable[[World], Iterable[Fact]]


# --------------------------------------------------------------------------
# First-party goal types
# --------------------------------------------------------------------------


def _deal_amounts(deal: RefDeal) -> dict[str, Decimal]:
    return {"VALUE": deal.value, "GROSS_PROFIT": deal.value - deal.cost}


def deals_added(world: World) -> Iterator[Fact]:
    for d in world.deals:
        yield Fact(d.key, d.owner, occurred_at=d.added_at, currency=d.currency, amounts=_deal_amounts(d),
                   dims={"pipelines": d.pipeline, "stage": d.stage}, attributes=d.attributes)


def deals_won(world: World) -> Iterator[Fact]:
    for d in world.deals:
        if d.status == "WON" and d.won_at is not None:
            yield Fact(d.key, d.owner, occurred_at=d.won_at, currency=d.currency, amounts=_deal_amounts(d),
                       dims={"pipelines": d.pipeline, "stage": d.stage}, attributes=d.attributes)


def deals_progressed(world: World) -> Iterator[Fact]:
    deals = {d.key: d for d in world.deals}
    for c in world.stage_changes:
        d = deals[c.deal]
        yield Fact(c.deal, c.owner, occurred_at=c.entered_at, currency=d.currency, amounts=_deal_amounts(d),
                   dims={"pipelines": c.pipeline, "stage": c.stage}, attributes=d.attributes)


def activities_added(world: World) -> Iterator[Fact]:
    for a in world.activities:
        yield Fact(a.key, a.owner, occurred_at=a.added_at, dims={"activity_types": a.type}, attributes=a.attributes)


def activities_completed(world: World) -> Iterator[Fact]:
    for a in world.activities:
        if a.done_at is not None:
            yield Fact(a.key, a.owner, occurred_at=a.done_at, dims={"activity_types": a.type},
                       attributes=a.attributes)


def revenue_forecast(world: World) -> Iterator[Fact]:
    for d in world.deals:
        if d.status == "WON" and d.won_at is not None:
            yield Fact(d.key, d.owner, occurred_at=d.won_at, currency=d.currency,
                       amounts={"WEIGHTED_VALUE": d.value}, dims={"pipelines": d.pipeline}, attributes=d.attributes)
        elif d.status == "OPEN" and d.expected_close_date is not None:
            probability = world.stages[d.stage].probability
            yield Fact(d.key, d.owner, occurred_on=d.expected_close_date, currency=d.currency,
                       amounts={"WEIGHTED_VALUE": d.value * probability / 100}, dims={"pipelines": d.pipeline},
                       attributes=d.attributes)


FIRST_PARTY_SOURCES: dict[str, ReferenceSource] = {
    "DEALS_ADDED": deals_added,
    "DEALS_WON": deals_won,
    "DEALS_PROGRESSED": deals_progressed,
    "ACTIVITIES_ADDED": activities_added,
    "ACTIVITIES_COMPLETED": activities_completed,
    "REVENUE_FORECAST": revenue_forecast,
}

MONEY_MEASURES = frozenset({"VALUE", "GROSS_PROFIT", "WEIGHTED_VALUE"})


# --------------------------------------------------------------------------
# Computation
# --------------------------------------------------------------------------


@dataclass
class ReferenceActual:
    """The reference result of one goal in one period (``value``, ``facts``, ``unconverted`` as the engine's)."""

    value: Decimal = Decimal(0)
    facts: int = 0
    unconverted: dict[str, int] = field(default_factory=dict)
    #: How many amounts were converted by dividing by an inverse rate (inexact in Decimal).
    divided: int = 0
    #: ``(fact id, amount in the goal's currency or None when unconverted)`` — for failure messages.
    contributions: list[tuple[Hashable, Decimal | None]] = field(default_factory=list)
    #: For goals with ``split_by``: the actual per element (``""`` for facts without the attribute).
    elements: dict[str, "ReferenceActual"] = field(default_factory=dict)

    def add(self, fact: Fact, amount: Decimal | None, divided: bool) -> None:
        """Count ``fact``, contributing ``amount`` (None: not converted, for want of a rate)."""
        self.contributions.append((fact.fact_id, amount))
        if amount is None:
            assert fact.currency is not None
            self.unconverted[fact.currency] = self.unconverted.get(fact.currency, 0) + 1
        else:
            self.facts += 1
            self.value += amount
            self.divided += divided


def rate_day(fact: Fact, time_zone: str) -> date:
    """The date whose exchange rate converts ``fact``: an instant's date in ``time_zone`` (the
    organisation's), else its local date."""
    if fact.occurred_at is not None:
        return fact.occurred_at.astimezone(ZoneInfo(time_zone)).date()
    assert fact.occurred_on is not None
    return fact.occurred_on


def _latest(rates: Iterable[RefRate], currency: str, quote: str, day: date) -> RefRate | None:
    best: RefRate | None = None
    for r in rates:
        if r.currency == currency and r.quote_currency == quote and r.valid_from <= day:
            if best is None or r.valid_from > best.valid_from:
                best = r
    return best


def convert(
    rates: Sequence[RefRate], amount: Decimal, currency: str, target: str, day: date
) -> tuple[Decimal | None, bool]:
    """``(amount in target or None without a rate, whether it was divided)``."""
    if currency == target:
        return amount, False
    direct = _latest(rates, currency, target, day)
    inverse = _latest(rates, target, currency, day)
    if direct is not None and (inverse is None or direct.valid_from >= inverse.valid_from):
        return amount * direct.rate, False
    if inverse is not None:
        return amount / inverse.rate, True
    return None, False


def _assigned(goal: GoalQuery, fact: Fact, teams: Mapping[Hashable, Collection[Hashable]]) -> bool:
    kind = goal.assignee.kind
    if kind is AssigneeKind.COMPANY:
        return True
    if kind is AssigneeKind.USER:
        return fact.user == goal.assignee.id
    return fact.user in teams.get(goal.assignee.id, ())


def attribute_text(value: Any) -> str | None:
    """An attribute's value as dimension filters and splits see it: strings as they are, other
    JSON scalars as JSON text (``5``, ``1.5``, ``true``), null as None."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)


def _filtered(goal: GoalQuery, fact: Fact, dimensions: Mapping[str, str]) -> bool:
    for key, values in goal.filters.items():
        if not values:
            continue
        if key in fact.dims:
            value = fact.dims[key]
        elif key in dimensions:
            value = attribute_text(fact.attributes.get(dimensions[key]))
        else:
            raise KeyError(f"goal {goal.key!r}: the reference facts have no {key!r} dimension")
        wanted = {str(v) for v in values}
        if key in CASE_FOLDED:  # typed by people, stored trimmed and lower-case
            wanted = {v.strip().lower() for v in wanted}
        if value is None or str(value) not in wanted:
            return False
    return True


def _placed(period: Any, fact: Fact) -> bool:
    if fact.occurred_at is not None and period.contains(fact.occurred_at):
        return True
    return fact.occurred_on is not None and period.start_date <= fact.occurred_on <= period.end_date


def counted(
    world: World,
    goal: GoalQuery,
    *,
    sources: Mapping[str, ReferenceSource] = FIRST_PARTY_SOURCES,
    dimensions: Mapping[str, str] | None = None,
    facts: Sequence[Fact] | None = None,
) -> list[tuple[int, Fact]]:
    """The facts ``goal`` counts, each with the index of the period it falls in (drill-down's reference).

    ``facts`` are the goal type's facts when the caller already has them.
    """
    if facts is None:
        facts = list(sources[goal.goal_type](world))
    return [
        (period.index, fact)
        for period in goal.periods
        for fact in facts
        if _placed(period, fact) and _assigned(goal, fact, world.teams) and _filtered(goal, fact, dimensions or {})
    ]


def reference_actuals(
    world: World,
    goals: Sequence[GoalQuery],
    *,
    sources: Mapping[str, ReferenceSource] = FIRST_PARTY_SOURCES,
    money_measures: Collection[str] = MONEY_MEASURES,
    dimensions: Mapping[str, str] | None = None,
) -> dict[tuple[Hashable, int], ReferenceActual]:
    """What :func:`~goalgraph.progress.engine.compute_actuals` should return, computed fact by fact.

    ``dimensions`` maps dimension filter keys to the attribute each reads, e.g.
    ``{d.key: d.attribute for d in registry.dimensions.values()}``.
    """
    facts_by_type: dict[str, list[Fact]] = {}
    results: dict[tuple[Hashable, int], ReferenceActual] = {}
    for goal in goals:
        if goal.goal_type not in facts_by_type:
            facts_by_type[goal.goal_type] = list(sources[goal.goal_type](world))
        money = goal.measure in money_measures
        split_by = getattr(goal, "split_by", None)
        for period in goal.periods:
            results[(goal.key, period.index)] = ReferenceActual()
        zones = {period.index: period.time_zone for period in goal.periods}
        for index, fact in counted(world, goal, dimensions=dimensions, facts=facts_by_type[goal.goal_type]):
            actual = results[(goal.key, index)]
            amount: Decimal | None = Decimal(1)
            divided = False
            if goal.measure != "COUNT":
                amount = fact.amounts[goal.measure]
                if money:
                    assert fact.currency is not None and goal.currency is not None
                    amount, divided = convert(world.rates, amount, fact.currency, goal.currency,
                                               rate_day(fact, zones[index]))
            actual.add(fact, amount, divided)
            if split_by:
                element = attribute_text(fact.attributes.get(split_by)) or ""
                actual.elements.setdefault(element, ReferenceActual()).add(fact, amount, divided)
        for period in goal.periods:
            actual = results[(goal.key, period.index)]
            for part in (actual, *actual.elements.values()):
                part.value = part.value.quantize(QUANTUM)
    return results
