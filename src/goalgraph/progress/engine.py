"""Batched, in-database aggregation of goal progress.

Given many goals — each with a goal type, measure, assignee, filters, currency and periods —
:func:`compute_actuals` issues **one aggregate statement per goal type** (whatever the number
of goals, periods or measures) plus at most one statement for exchange rates.

The statement joins the goal type's fact source ``f`` to a ``VALUES`` CTE with one row per
(goal, period) — bounds, assignee, currency, which filters the goal uses — and to a CTE of
filter values, then groups by goal, period and (for money) the fact's currency and the
exchange rate in force on its date. Sums stay exact; the few group rows are converted to
the goal's currency in ``Decimal``. Facts with no known rate are reported, not dropped
silently.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Date,
    case,
    null,
    Integer,
    String,
    and_,
    column,
    exists,
    func,
    or_,
    select,
    true,
    tuple_,
    union_all,
    values,
)
from sqlalchemy.ext.asyncio import AsyncSession

from goalgraph.db.dialect import local_date
from goalgraph.db.models import ExchangeRate, TeamMembership, User
from goalgraph.db.types import Money, UTCDateTime
from goalgraph.periods import Period
from goalgraph.registry import (
    ATTRIBUTES,
    CURRENCY,
    FACT_ID,
    FACT_KEY,
    OCCURRED_AT,
    OCCURRED_ON,
    USER_ID,
    FactQuery,
    FilterKind,
    FilterSpec,
    GoalType,
    Registry,
)


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


class EngineError(ValueError):
    """A goal the engine cannot compute (unknown goal type or measure …)."""


_GOAL_COLUMNS = (
    column("g", Integer), column("pi", Integer), column("p_start", UTCDateTime()), column("p_end", UTCDateTime()),
    column("d_start", Date), column("d_end", Date), column("cur", String), column("a_kind", String),
    column("a_id", Integer), column("split", String), column("tz", String),
)


def _goal_rows(goals: Sequence[GoalQuery], goal_type: GoalType, flags: list[str]) -> tuple[Any, list[tuple]]:
    cols = [*_GOAL_COLUMNS, *(column(f"has_{i}", Integer) for i in range(len(flags)))]
    rows = []
    for g_idx, goal in enumerate(goals):
        used = [1 if goal.filters.get(key) else 0 for key in flags]
        for period in goal.periods:
            rows.append((
                g_idx, period.index, period.start, period.end, period.start_date,
                date.fromordinal(period.end_date.toordinal() + 1), goal.currency or "",
                goal.assignee.kind.value, goal.assignee.id if goal.assignee.id is not None else 0,
                goal.split_by or "", period.time_zone, *used,
            ))
    return cols, rows


@dataclass
class _Joined:
    """The fact source joined to the goals' periods, before selecting."""

    src: Any
    gp: Any
    query: Any
    rate_keys: tuple[Any, Any] | None
    #: The element a fact belongs to for split goals (None when no goal in the batch splits).
    element: Any


def _attribute(fc: Any, goal_type: GoalType, attribute: str) -> Any:
    if ATTRIBUTES not in fc:
        raise EngineError(f"goal type {goal_type.key}: its source has no {ATTRIBUTES} column for dimensions")
    return fc[ATTRIBUTES][attribute].as_string()


def _goal_users(goals: Sequence[GoalQuery]) -> Any:
    """A CTE of (goal, user) pairs: the user itself, the team's members, or every user for the company."""
    ga = values(column("g", Integer), column("a_kind", String), column("a_id", Integer), name="ga").data(
        [(i, g.assignee.kind.value, g.assignee.id if g.assignee.id is not None else 0) for i, g in enumerate(goals)]
    ).cte("ga")
    member = TeamMembership
    return union_all(
        select(ga.c.g, ga.c.a_id.label("u")).where(ga.c.a_kind == AssigneeKind.USER.value),
        select(ga.c.g, member.user_id).join(member, member.team_id == ga.c.a_id)
        .where(ga.c.a_kind == AssigneeKind.TEAM.value),
        select(ga.c.g, User.id).join(User, true()).where(ga.c.a_kind == AssigneeKind.COMPANY.value),
    ).cte("gu")


def _joined(goal_type: GoalType, goals: Sequence[GoalQuery], specs: Sequence[FilterSpec]) -> _Joined:
    """``gp`` (one row per goal and period) joined to the facts that count for it."""
    src = goal_type.source(FactQuery(goal_type.key)).subquery("f")
    fc = src.c
    by_key = {spec.key: spec for spec in specs}
    flags = [spec.key for spec in specs if any(g.filters.get(spec.key) for g in goals)]
    unknown = {k for g in goals for k in g.filters if g.filters[k] and k not in by_key}
    if unknown:
        raise EngineError(f"goal type {goal_type.key} has no filter {sorted(unknown)[0]!r}")
    cols, rows = _goal_rows(goals, goal_type, flags)
    gp = values(*cols, name="gp").data(rows).cte("gp")

    # Placement in the period: by instant and/or by local date, whichever the source provides.
    placed = []
    if OCCURRED_AT in fc:
        placed.append(and_(fc[OCCURRED_AT] >= gp.c.p_start, fc[OCCURRED_AT] < gp.c.p_end))
    if OCCURRED_ON in fc:
        placed.append(and_(fc[OCCURRED_ON] >= gp.c.d_start, fc[OCCURRED_ON] < gp.c.d_end))
    if not placed:
        raise EngineError(f"goal type {goal_type.key}: its source has neither {OCCURRED_AT} nor {OCCURRED_ON}")

    # Assignees become (goal, user) pairs first, so facts are found by (user, time) — the indexes the
    # goal types' timestamps and owners have — instead of testing every fact against every goal.
    gu = _goal_users(goals)
    conditions = [fc[USER_ID] == gu.c.u, or_(*placed)]

    if flags:
        filter_rows = [
            (g_idx, key, str(value))
            for g_idx, goal in enumerate(goals)
            for key in flags
            for value in by_key[key].normalised(goal.filters.get(key) or ())
        ]
        gf = values(column("g", Integer), column("k", String), column("v", String), name="gf").data(filter_rows).cte("gf")
        for i, key in enumerate(flags):
            spec = by_key[key]
            if spec.attribute is not None:
                match = exists().where(gf.c.g == gp.c.g, gf.c.k == key, gf.c.v == _attribute(fc, goal_type, spec.attribute))
            elif spec.kind is FilterKind.REFERENCE:
                model = spec.model
                match = exists().where(
                    gf.c.g == gp.c.g, gf.c.k == key, model.external_id == gf.c.v, model.id == fc[spec.column]
                )
            else:
                match = exists().where(gf.c.g == gp.c.g, gf.c.k == key, gf.c.v == fc[spec.column])
            conditions.append(or_(gp.c[f"has_{i}"] == 0, match))

    rate_keys = None
    if any(m.money for m in goal_type.measures):
        if CURRENCY not in fc:
            raise EngineError(f"goal type {goal_type.key}: money measures need a {CURRENCY} column")
        # The rate in force is the one on the fact's local date in the period's (the organisation's)
        # time zone — the date that places it in its period — whatever the PostgreSQL session's TimeZone.
        local_day = local_date(fc[OCCURRED_AT], gp.c.tz) if OCCURRED_AT in fc else None
        moment = local_day if OCCURRED_ON not in fc else (
            fc[OCCURRED_ON] if local_day is None else func.coalesce(local_day, fc[OCCURRED_ON])
        )
        rate = ExchangeRate
        direct = (
            select(func.max(rate.valid_from))
            .where(rate.currency == fc[CURRENCY], rate.quote_currency == gp.c.cur, rate.valid_from <= moment)
            .scalar_subquery()
        )
        inverse = (
            select(func.max(rate.valid_from))
            .where(rate.currency == gp.c.cur, rate.quote_currency == fc[CURRENCY], rate.valid_from <= moment)
            .scalar_subquery()
        )
        # Facts already in the goal's currency (most of them) need no rate: skip the look-ups.
        same = fc[CURRENCY] == gp.c.cur
        rate_keys = (case((same, null()), else_=direct), case((same, null()), else_=inverse))
    for measure in goal_type.measures:
        if measure.column is not None and measure.column not in fc:
            raise EngineError(f"goal type {goal_type.key}: its source has no {measure.column!r} column")
    splits = sorted({g.split_by for g in goals if g.split_by})
    element = None
    if splits:
        element = case(*((gp.c.split == attr, _attribute(fc, goal_type, attr)) for attr in splits), else_=null())
    return _Joined(src=src, gp=gp, rate_keys=rate_keys, element=element,
                   query=lambda *cols: select(*cols).select_from(gp).join(gu, gu.c.g == gp.c.g)
                   .join(src, and_(*conditions)))


def _statement(goal_type: GoalType, goals: Sequence[GoalQuery], specs: Sequence[FilterSpec]) -> Any:
    """The one aggregate statement for all ``goals`` of ``goal_type``."""
    j = _joined(goal_type, goals, specs)
    fc, gp = j.src.c, j.gp
    selected = [gp.c.g, gp.c.pi, func.count().label("n")]
    group = [gp.c.g, gp.c.pi]
    if j.element is not None:
        selected.append(j.element.label("element"))
        group.append(j.element)
    if j.rate_keys is not None:
        direct, inverse = j.rate_keys
        selected += [fc[CURRENCY].label("fact_cur"), direct.label("direct"), inverse.label("inverse")]
        group += [fc[CURRENCY], direct, inverse]
    for measure in goal_type.measures:
        if measure.column is not None:
            col = fc[measure.column]
            sum_type = Money() if measure.money else col.type
            selected.append(func.sum(col, type_=sum_type).label(f"m_{measure.key}"))
    return j.query(*selected).group_by(*group)


async def _rates(session: AsyncSession, pairs: set[tuple[str, str]]) -> dict[tuple[str, str, date], Decimal]:
    if not pairs:
        return {}
    rows = await session.execute(
        select(ExchangeRate.currency, ExchangeRate.quote_currency, ExchangeRate.valid_from, ExchangeRate.rate).where(
            tuple_(ExchangeRate.currency, ExchangeRate.quote_currency).in_(sorted(pairs))
        )
    )
    return {(c, q, d): r for c, q, d, r in rows}


def _as_date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _convert(amount: Decimal, fact_cur: str, goal_cur: str | None, direct: Any, inverse: Any,
             rates: Mapping[tuple[str, str, date], Decimal]) -> Decimal | None:
    """``amount`` in the goal's currency at the rate in force; None when no rate is known."""
    if fact_cur == goal_cur:
        return amount
    direct, inverse = _as_date(direct), _as_date(inverse)
    if direct is not None and inverse is not None:  # both directions stored: the newer rate wins
        direct, inverse = (direct, None) if direct >= inverse else (None, inverse)
    if direct is not None:
        return amount * rates[(fact_cur, goal_cur, direct)]
    if inverse is not None:
        return amount / rates[(goal_cur, fact_cur, inverse)]
    return None


async def compute_actuals(
    session: AsyncSession, registry: Registry, goals: Sequence[GoalQuery]
) -> dict[tuple[Hashable, int], PeriodActual]:
    """Actuals for every (goal key, period index) asked for; periods without facts are zero."""
    by_type: dict[str, list[GoalQuery]] = defaultdict(list)
    for goal in goals:
        goal_type = registry.goal_types.get(goal.goal_type)
        if goal_type is None:
            raise EngineError(f"goal {goal.key!r}: unknown goal type {goal.goal_type!r}")
        measure = goal_type.measure(goal.measure)
        if measure is None:
            raise EngineError(f"goal {goal.key!r}: goal type {goal.goal_type} has no measure {goal.measure!r}")
        if measure.money and not goal.currency:
            raise EngineError(f"goal {goal.key!r}: measure {measure.key} needs a currency")
        if goal.periods:
            by_type[goal.goal_type].append(goal)

    results: dict[tuple[Hashable, int], PeriodActual] = {
        (goal.key, period.index): PeriodActual() for goal in goals for period in goal.periods
    }
    pending: list[tuple[GoalQuery, Any, Any]] = []
    pairs: set[tuple[str, str]] = set()
    for type_key, type_goals in by_type.items():
        goal_type = registry.goal_types[type_key]
        rows = (await session.execute(_statement(goal_type, type_goals, registry.filters_for(goal_type)))).all()
        for row in rows:
            goal = type_goals[row.g]
            measure = goal_type.measure(goal.measure)
            pending.append((goal, measure, row))
            if measure is not None and measure.money and row.fact_cur != goal.currency:
                pairs.add((row.fact_cur, goal.currency))
                pairs.add((goal.currency, row.fact_cur))
    rates = await _rates(session, pairs)

    for goal, measure, row in pending:
        actual = results[(goal.key, row.pi)]
        parts = [actual]
        if goal.split_by:
            element = getattr(row, "element", None) or ""
            parts.append(actual.elements.setdefault(element, PeriodActual()))
        amount: Decimal | None = Decimal(row.n)
        if measure.column is not None:
            amount = Decimal(getattr(row, f"m_{measure.key}") or 0) * measure.scale
            if measure.money:
                amount = _convert(amount, row.fact_cur, goal.currency, row.direct, row.inverse, rates)
        for part in parts:
            if amount is None:
                part.unconverted[row.fact_cur] = part.unconverted.get(row.fact_cur, 0) + row.n
            else:
                part.facts += row.n
                part.value += amount
    for goal in goals:
        money = registry.goal_types[goal.goal_type].measure(goal.measure).money  # type: ignore[union-attr]
        for period in goal.periods:
            actual = results[(goal.key, period.index)]
            actual.value = shape_amount(actual.value, money)
            for part in actual.elements.values():
                part.value = shape_amount(part.value, money)
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
    these users (what the viewer may see).
    """
    goal_type = registry.goal_types.get(goal.goal_type)
    if goal_type is None:
        raise EngineError(f"goal {goal.key!r}: unknown goal type {goal.goal_type!r}")
    measure = goal_type.measure(goal.measure)
    if measure is None:
        raise EngineError(f"goal {goal.key!r}: goal type {goal.goal_type} has no measure {goal.measure!r}")
    periods = [p for p in goal.periods if p.index == period_index]
    single = GoalQuery(key=goal.key, goal_type=goal.goal_type, measure=goal.measure, assignee=goal.assignee,
                       periods=periods, filters=goal.filters, currency=goal.currency, split_by=goal.split_by)
    j = _joined(goal_type, [single], registry.filters_for(goal_type))
    fc = j.src.c
    row_key = fc[FACT_KEY] if FACT_KEY in fc else fc[FACT_ID]
    cols = [fc[FACT_ID].label("fact_id"), row_key.label("row_key")]
    cols.append((fc[OCCURRED_AT] if OCCURRED_AT in fc else fc[OCCURRED_ON]).label("occurred"))
    if OCCURRED_AT in fc and OCCURRED_ON in fc:
        cols.append(fc[OCCURRED_ON].label("occurred_on"))
    if measure.column is not None:
        cols.append(fc[measure.column].label("amount"))
    if j.rate_keys is not None:
        cols += [fc[CURRENCY].label("fact_cur"), j.rate_keys[0].label("direct"), j.rate_keys[1].label("inverse")]
    if j.element is not None:
        cols.append(j.element.label("element"))
    query = j.query(*cols)
    if after_key is not None:
        query = query.where(row_key > after_key)
    if owners is not None:
        query = query.where(fc[USER_ID].in_(sorted(owners)))
    rows = (await session.execute(query.order_by(row_key).limit(limit))).all()
    pairs = {(r.fact_cur, goal.currency) for r in rows if measure.money and r.fact_cur != goal.currency}
    rates = await _rates(session, pairs | {(b, a) for a, b in pairs}) if pairs else {}
    out = []
    for r in rows:
        occurred = r.occurred if r.occurred is not None else getattr(r, "occurred_on", None)
        element = (getattr(r, "element", None) or "") if goal.split_by else None
        if measure.column is None:
            out.append(Contribution(r.fact_id, occurred, Decimal(1), None, None, element, r.row_key))
            continue
        original = Decimal(r.amount or 0) * measure.scale
        amount = _convert(original, r.fact_cur, goal.currency, r.direct, r.inverse, rates) if measure.money else original
        out.append(Contribution(r.fact_id, occurred, None if amount is None else amount.quantize(Decimal("0.0001")),
                                r.fact_cur if measure.money else None, original.quantize(Decimal("0.0001")), element,
                                r.row_key))
    return out
