"""The aggregate-first statement: all goals of one goal type, measured in one pass over the facts.

1. **Slots.** Every requested period's bounds, of every goal, sorted, cut time into elementary
   intervals ("slots"). Each fact is bucketed once into its slot (``width_bucket`` on PostgreSQL, a
   registered bisect on SQLite) and, for money, into its rate epoch (the intervals between stored
   rate dates, by the fact's local date).
2. **Aggregate.** Facts in the window are grouped by slot, credited user, the filter and split
   columns the batch uses, currency and epoch: one scan, whatever the number of goals. Filters
   every goal of the batch uses also narrow the scan (reference values resolved to ids in a CTE);
   without a company goal only the users that count are read.
3. **Attach goals.** Each (goal, period) takes the slots it covers; user and team goals join the
   aggregate through the users who count for them (:mod:`goalgraph.goals.audience`), company goals
   a roll-up over users. Filters match per group row. A goal-scoped source (``goal_id``: values
   entered by hand for one goal) is grouped by that goal id instead of the user, and each goal takes
   the groups of its own id, whoever its assignee is.

A ``last`` measure takes the value of each group's latest fact (a window over the facts, ordered by
placement then ``fact_id``) and then of the latest group a period covers (a window over the
attached rows): still one statement, on SQLite and PostgreSQL alike.

Goals, slots and filter values travel as JSON parameters and the bounds as array parameters, so
the statement depends only on the batch's :class:`Shape` (filters, measures, splits used), never on
the data: it is built once per shape and goal type and run with each batch's parameters, and
SQLAlchemy's compiled cache and the server's prepared statements are reused. (Building it was most
of the engine's Python time for the few goals of a recompute round or an inline recompute.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import weakref

from sqlalchemy import (
    Integer, String, and_, bindparam, case, column, func, literal, literal_column, null, or_, select, type_coerce, union_all,
)

from goalgraph.db.dialect import rows_of_params, rows_params, slot_bounds, slot_of, unindexed
from goalgraph.db.types import Money
from goalgraph.goals.audience import COMPANY, pairs_of_params, pairs_params
from goalgraph.progress.conversion import RateTable
from goalgraph.registry import (
    ATTRIBUTES,
    CURRENCY,
    FACT_ID,
    GOAL_ID,
    OCCURRED_AT,
    OCCURRED_ON,
    USER_ID,
    FactQuery,
    FilterKind,
    FilterSpec,
    GoalType,
)


class EngineError(ValueError):
    """A goal the engine cannot compute (unknown goal type or measure …)."""


def attribute_of(fc: Any, goal_type: GoalType, attribute: str) -> Any:
    """A custom attribute of the source's facts, as text."""
    if ATTRIBUTES not in fc:
        raise EngineError(f"goal type {goal_type.key}: its source has no {ATTRIBUTES} column for dimensions")
    return fc[ATTRIBUTES][attribute].as_string()


@dataclass(frozen=True)
class Slots:
    """The elementary intervals between all bounds of a batch's periods (one time zone)."""

    instants: list[datetime]
    dates: list[date]
    position: dict[datetime, int]

    @classmethod
    def of(cls, periods: Sequence[Any]) -> "Slots":
        bounds: dict[datetime, date] = {}
        for p in periods:
            bounds[p.start] = p.start_date
            bounds[p.end] = p.end_date + timedelta(days=1)
        instants = sorted(bounds)
        return cls(instants, [bounds[i] for i in instants], {instant: i + 1 for i, instant in enumerate(instants)})

    def covered(self, period: Any) -> range:
        """The slots (``slot`` numbers, 1-based) that make up ``period``."""
        return range(self.position[period.start], self.position[period.end])


@dataclass
class Plan:
    """The statement, its parameters and what reading its rows needs."""

    statement: Any
    params: dict[str, Any]
    money: bool
    split: bool


@dataclass(frozen=True)
class Shape:
    """What the statement of a batch looks like: everything it depends on but the data (goals, slots,
    filter values, rates), so batches of one shape share one statement object."""

    dialect: str
    used: tuple[FilterSpec, ...]  # filters some goal of the batch uses
    everywhere: tuple[FilterSpec, ...]  # … and those every goal uses (they narrow the scan)
    splits: tuple[str, ...]
    sums: tuple[Any, ...]  # measures with a column, by key
    money: bool
    lasts: bool
    scoped: bool
    company: bool
    per_user: bool
    epochs: bool  # money: rates have epochs to bucket by
    home: bool  # money: one goal currency, whose facts skip the epoch


#: Per goal type (weakly: registries come and go in tests), per shape, the statement built once.
_STATEMENTS: "weakref.WeakKeyDictionary[GoalType, dict[Shape, Any]]" = weakref.WeakKeyDictionary()
_SOURCES: "weakref.WeakKeyDictionary[GoalType, Any]" = weakref.WeakKeyDictionary()
_MAX_SHAPES = 256


def _source(goal_type: GoalType) -> Any:
    """The goal type's fact source as the subquery ``f`` (built once per goal type)."""
    src = _SOURCES.get(goal_type)
    if src is None:
        src = _SOURCES[goal_type] = goal_type.source(FactQuery(goal_type.key)).subquery("f")
    return src


def build(dialect: str, goal_type: GoalType, goals: Sequence[Any], specs: Sequence[FilterSpec],
          rates: RateTable | None, home: str | None) -> Plan:
    """The one statement for ``goals`` (all of ``goal_type``, periods in one time zone), and its parameters.

    Result rows: ``g`` (index into ``goals``), ``pi`` (period index), ``element`` (split goals),
    ``cur`` and ``ep`` (money: fact currency and rate epoch, see :class:`RateTable`), ``n`` (facts)
    and ``m_<measure>`` (sums). ``home``: when every money goal of the request has this currency,
    facts in it skip the epoch (no conversion needed). The statement depends only on the batch's
    :class:`Shape` and is built once per shape; the data travel as its parameters.
    """
    shape = _shape(dialect, goal_type, goals, specs, rates, home)
    built = _STATEMENTS.setdefault(goal_type, {})
    statement = built.get(shape)
    if statement is None:
        if len(built) >= _MAX_SHAPES:
            built.clear()
        statement = built[shape] = _statement(goal_type, shape)
    return Plan(statement=statement, params=_params(shape, goals, rates, home), money=shape.money,
                split=bool(shape.splits))


def _shape(dialect: str, goal_type: GoalType, goals: Sequence[Any], specs: Sequence[FilterSpec],
           rates: RateTable | None, home: str | None) -> Shape:
    """The batch's shape, refusing batches the goal type's source cannot measure."""
    fc = _source(goal_type).c
    by_key = {spec.key: spec for spec in specs}
    unknown = sorted({k for g in goals for k in g.filters if g.filters[k] and k not in by_key})
    if unknown:
        raise EngineError(f"goal type {goal_type.key} has no filter {unknown[0]!r}")
    used = tuple(spec for spec in specs if any(g.filters.get(spec.key) for g in goals))
    everywhere = tuple(spec for spec in used if all(g.filters.get(spec.key) for g in goals))
    splits = tuple(sorted({g.split_by for g in goals if g.split_by}))
    measures = {goal_type.measure(g.measure) for g in goals}
    sums = tuple(sorted((m for m in measures if m is not None and m.column is not None), key=lambda m: m.key))
    for measure in sums:
        if measure.column not in fc:
            raise EngineError(f"goal type {goal_type.key}: its source has no {measure.column!r} column")
    money = any(m.money for m in sums)
    lasts = [m for m in sums if m.last]
    if lasts and (money or splits):
        raise EngineError(f"goal type {goal_type.key}: a last value cannot be split or batched with money measures")
    if lasts and (OCCURRED_AT in fc) == (OCCURRED_ON in fc):
        raise EngineError(f"goal type {goal_type.key}: a last value needs exactly one of {OCCURRED_AT}, {OCCURRED_ON}")
    if money and CURRENCY not in fc:
        raise EngineError(f"goal type {goal_type.key}: money measures need a {CURRENCY} column")
    if OCCURRED_AT not in fc and OCCURRED_ON not in fc:
        raise EngineError(f"goal type {goal_type.key}: its source has neither {OCCURRED_AT} nor {OCCURRED_ON}")
    scoped = GOAL_ID in fc
    if money:
        assert rates is not None
    return Shape(
        dialect=dialect, used=used, everywhere=everywhere, splits=splits, sums=sums, money=money,
        lasts=bool(lasts), scoped=scoped,
        company=not scoped and any(g.assignee.kind.value == COMPANY for g in goals),
        per_user=not scoped and any(g.assignee.kind.value != COMPANY for g in goals),
        epochs=money and bool(rates is not None and rates.epochs), home=money and home is not None)


def _goal_columns(shape: Shape) -> list[Any]:
    return [column("g", Integer), column("split", String), *(column(f"h{i}", Integer) for i in range(len(shape.used)))]


_GS = [column("g", Integer), column("pi", Integer), column("s", Integer)]
_GS_SCOPED = [*_GS, column("gid", Integer)]
_GIDS = [column("gid", Integer)]
_GF = [column("g", Integer), column("v", String)]


def _params(shape: Shape, goals: Sequence[Any], rates: RateTable | None, home: str | None) -> dict[str, Any]:
    """The batch's data as the parameters of its shape's statement: the goals, the slots each of
    their periods covers, their filter values, the slot and epoch bounds, the window."""
    dialect, used = shape.dialect, shape.used
    periods = [p for g in goals for p in g.periods]
    slots = Slots.of(periods)
    params: dict[str, Any] = {}
    params.update(rows_params(dialect, "gl", _goal_columns(shape), [
        {"g": i, "split": g.split_by or "", **{f"h{n}": 1 if g.filters.get(s.key) else 0 for n, s in enumerate(used)}}
        for i, g in enumerate(goals)]))
    if shape.scoped:  # every goal takes the facts of its own id (goals without one: none)
        params.update(rows_params(dialect, "gs", _GS_SCOPED, [
            {"g": i, "pi": p.index, "s": s, "gid": g.goal_id} for i, g in enumerate(goals) for p in g.periods
            for s in slots.covered(p) if g.goal_id is not None]))
        params.update(rows_params(dialect, "gids", _GIDS,
                                  [{"gid": i} for i in sorted({g.goal_id for g in goals if g.goal_id is not None})]))
    else:
        params.update(rows_params(dialect, "gs", _GS, [
            {"g": i, "pi": p.index, "s": s} for i, g in enumerate(goals) for p in g.periods for s in slots.covered(p)
            if g.assignee.kind.value != COMPANY]))
    params.update(rows_params(dialect, "gc", _GS, [
        {"g": i, "pi": p.index, "s": s} for i, g in enumerate(goals) for p in g.periods for s in slots.covered(p)
        if g.assignee.kind.value == COMPANY]))
    for i, spec in enumerate(used):
        params.update(rows_params(dialect, f"gf{i}", _GF, [
            {"g": n, "v": str(v)} for n, g in enumerate(goals) for v in spec.normalised(g.filters.get(spec.key) or ())]))
    params["slot_at"] = slot_bounds(dialect, slots.instants)
    params["slot_on"] = slot_bounds(dialect, slots.dates)
    params.update(w_at_lo=slots.instants[0], w_at_hi=slots.instants[-1], w_on_lo=slots.dates[0], w_on_hi=slots.dates[-1])
    if shape.epochs:
        assert rates is not None
        params["epochs_at"] = slot_bounds(dialect, rates.epoch_starts(periods[0].time_zone))
        params["epochs_on"] = slot_bounds(dialect, rates.epochs)
    if shape.home:
        params["home"] = home
    if shape.per_user:
        params.update(pairs_params(dialect, [(i, g.assignee.kind.value, g.assignee.id) for i, g in enumerate(goals)]))
    return params


def _statement(goal_type: GoalType, shape: Shape) -> Any:
    """The statement of one shape, its data left to parameters (see :func:`_params`)."""
    dialect, used, everywhere, splits, sums = shape.dialect, shape.used, shape.everywhere, shape.splits, shape.sums
    money, scoped, company, per_user = shape.money, shape.scoped, shape.company, shape.per_user
    lasts = [m for m in sums if m.last]
    fc = _source(goal_type).c

    gl = rows_of_params(dialect, "gl", _goal_columns(shape))
    flag = {spec.key: f"h{i}" for i, spec in enumerate(used)}
    if scoped:
        gs = rows_of_params(dialect, "gs", _GS_SCOPED)
        gids = rows_of_params(dialect, "gids", _GIDS)
    else:
        gs = rows_of_params(dialect, "gs", _GS)
    gc = rows_of_params(dialect, "gc", _GS)
    refs = [s for s in used if s.kind is FilterKind.REFERENCE and s.attribute is None]
    # One (goal, value) table per filter: exact row counts for the planner. Reference values
    # (external ids) become internal ids here, once, so the facts' groups are matched on ids.
    wanted: list[Any] = []
    for i, spec in enumerate(used):
        table = rows_of_params(dialect, f"gf{i}", _GF)
        if spec in refs:
            table = (select(table.c.g, spec.model.id.label("v"))
                     .join(spec.model, spec.model.external_id == table.c.v).cte(f"gr{i}"))
        wanted.append(table)

    # 1. Bucket and aggregate the facts.
    placed_at = slot_of(dialect, fc[OCCURRED_AT], "slot_at", dated=False) if OCCURRED_AT in fc else None
    placed_on = slot_of(dialect, fc[OCCURRED_ON], "slot_on", dated=True) if OCCURRED_ON in fc else None
    bucket = placed_at if placed_on is None else placed_on if placed_at is None else func.coalesce(placed_at, placed_on)
    window = []
    if OCCURRED_AT in fc:
        at = fc[OCCURRED_AT]
        window.append(and_(at >= bindparam("w_at_lo", type_=at.type), at < bindparam("w_at_hi", type_=at.type)))
    if OCCURRED_ON in fc:
        on = fc[OCCURRED_ON]
        window.append(and_(on >= bindparam("w_on_lo", type_=on.type), on < bindparam("w_on_hi", type_=on.type)))

    def value_of(spec: FilterSpec) -> Any:
        return attribute_of(fc, goal_type, spec.attribute) if spec.attribute is not None else fc[spec.column]

    keys = [bucket.label("s")]
    if per_user:
        keys.append(fc[USER_ID].label("u"))
    if scoped:
        keys.append(fc[GOAL_ID].label("gid"))
    keys += [value_of(spec).label(f"c{i}") for i, spec in enumerate(used)]
    keys += [attribute_of(fc, goal_type, attr).label(f"e{j}") for j, attr in enumerate(splits)]
    if money:
        # The epoch of the fact's local date: an instant is bucketed against the local midnights
        # that start the epochs (no per-fact time-zone conversion), a local date against the dates.
        epoch: Any = literal(0)
        if shape.epochs:
            by_at = slot_of(dialect, fc[OCCURRED_AT], "epochs_at", dated=False) if OCCURRED_AT in fc else None
            by_on = slot_of(dialect, fc[OCCURRED_ON], "epochs_on", dated=True) if OCCURRED_ON in fc else None
            epoch = by_at if by_on is None else by_on if by_at is None else func.coalesce(by_at, by_on)
            epoch = func.coalesce(epoch, 0)
        # Facts in the one goal currency (most of them) need no rate: one epoch for all of them.
        if shape.home:
            epoch = case((fc[CURRENCY] == bindparam("home", type_=String()), 0), else_=epoch)
        keys += [fc[CURRENCY].label("cur"), epoch.label("ep")]
    totals = [func.count().label("n")]
    totals += [func.sum(fc[m.column], type_=Money() if m.money else fc[m.column].type).label(f"m_{m.key}")
               for m in sums]
    narrowing = [or_(*window)]
    gu = pairs_of_params(dialect).cte("gu") if per_user else None
    if gu is not None and not company:
        narrowing.append(fc[USER_ID].in_(select(gu.c.u)))
    if scoped:
        narrowing.append(fc[GOAL_ID].in_(select(gids.c.gid)))
    for spec in everywhere:
        i = used.index(spec)
        narrowing.append(type_coerce(unindexed(value_of(spec)), value_of(spec).type).in_(select(wanted[i].c.v)))
    # Grouped by the output names, so each bucketing expression is written (and evaluated) once.
    if lasts:
        agg = _ranked_groups(fc, keys, sums, narrowing)
    else:
        agg = select(*keys, *totals).where(*narrowing).group_by(*(literal_column(k.name) for k in keys)).cte("agg")

    # 2. Attach (goal, period) rows to the groups they take.
    # (goal, period, slot, user) for user and team goals: joined before the groups, so the groups are
    # looked up by (user, slot) — SQLite would otherwise scan a slot's groups for every goal.
    gsu = (select(gs.c.g, gs.c.pi, gs.c.s, gu.c.u).join(gu, gu.c.g == gs.c.g).cte("gsu")
           .prefix_with("MATERIALIZED", dialect="sqlite")) if per_user else None

    def attach(a: Any, via_users: bool) -> Any:
        rows = gs if scoped else gsu if via_users else gc
        cols = [rows.c.g, rows.c.pi]
        group = [rows.c.g, rows.c.pi]
        if splits:
            element = case(*((gl.c.split == attr, a.c[f"e{j}"]) for j, attr in enumerate(splits)), else_=null())
            cols.append(element.label("element"))
            group.append(element)
        if money:
            cols += [a.c.cur, a.c.ep]
            group += [a.c.cur, a.c.ep]
        if lasts:  # the attached groups, the latest first per (goal, period); grouped below
            latest = func.row_number().over(partition_by=group, order_by=[a.c.lo.desc(), a.c.lf.desc()])
            cols += [a.c.n, *(a.c[f"m_{m.key}"] for m in sums), latest.label("rn")]
        else:
            cols.append(func.sum(a.c.n).label("n"))
            cols += [func.sum(a.c[f"m_{m.key}"], type_=a.c[f"m_{m.key}"].type).label(f"m_{m.key}") for m in sums]
        query = select(*cols).select_from(rows)
        if scoped:
            query = query.join(a, and_(a.c.gid == rows.c.gid, a.c.s == rows.c.s))
        elif via_users:
            query = query.join(a, and_(a.c.u == rows.c.u, a.c.s == rows.c.s))
        else:
            query = query.join(a, a.c.s == rows.c.s)
        if used or splits:
            query = query.join(gl, gl.c.g == rows.c.g)
        # Each goal's values of a filter are distinct, so joining them keeps one row per match; goals
        # without the filter keep every group (outer join, flag 0).
        for i, spec in enumerate(used):
            on = and_(wanted[i].c.g == rows.c.g, wanted[i].c.v == a.c[f"c{i}"])
            if spec in everywhere:
                query = query.join(wanted[i], on)
            else:
                query = query.outerjoin(wanted[i], on).where(or_(gl.c[flag[spec.key]] == 0, wanted[i].c.g.is_not(None)))
        if lasts:
            return _latest_per_period(query.subquery("ranked_u" if via_users else "ranked_c"), sums)
        return query.group_by(*group)

    parts = []
    if per_user or scoped:
        parts.append(attach(agg, True))
    if company:
        rolled = agg
        if per_user and not lasts:  # (a latest value does not roll up: attached per user)
            rest = [agg.c[k.name] for k in keys if k.name != "u"]
            rolled = select(*rest, func.sum(agg.c.n).label("n"),
                            *(func.sum(agg.c[f"m_{m.key}"], type_=agg.c[f"m_{m.key}"].type).label(f"m_{m.key}")
                              for m in sums)).group_by(*rest).cte("rolled")
        parts.append(attach(rolled, False))
    statement = parts[0] if len(parts) == 1 else union_all(*parts)
    return statement


def _ranked_groups(fc: Any, keys: Sequence[Any], sums: Sequence[Any], narrowing: Sequence[Any]) -> Any:
    """The aggregate for a batch with ``last`` measures: per group, the count, the sums and, for each
    last measure, the value of the group's latest fact with its placement (``lo``) and ``fact_id``
    (``lf``), which order the groups when they are attached."""
    placed = fc[OCCURRED_AT] if OCCURRED_AT in fc else fc[OCCURRED_ON]
    base = select(*keys, *(fc[m.column].label(f"v_{m.key}") for m in sums), placed.label("lo"),
                  fc[FACT_ID].label("lf")).where(*narrowing).subquery("fb")
    names = [k.name for k in keys]
    latest = func.row_number().over(partition_by=[base.c[n] for n in names], order_by=[base.c.lo.desc(), base.c.lf.desc()])
    ranked = select(base, latest.label("rn")).subquery("fr")
    first = ranked.c.rn == 1
    totals = [func.count().label("n")]
    for m in sums:
        v = ranked.c[f"v_{m.key}"]
        totals.append((func.max(case((first, v), else_=null()), type_=v.type) if m.last
                       else func.sum(v, type_=v.type)).label(f"m_{m.key}"))
    totals += [func.max(case((first, ranked.c.lo), else_=null()), type_=ranked.c.lo.type).label("lo"),
               func.max(case((first, ranked.c.lf), else_=null())).label("lf")]
    return select(*(ranked.c[n] for n in names), *totals).group_by(*(ranked.c[n] for n in names)).cte("agg")


def _latest_per_period(ranked: Any, sums: Sequence[Any]) -> Any:
    """(goal, period) rows from attached groups ranked latest first (``rn``): counts and sums added,
    last measures the value of the latest group."""
    first = ranked.c.rn == 1
    cols = [ranked.c.g, ranked.c.pi, func.sum(ranked.c.n).label("n")]
    for m in sums:
        v = ranked.c[f"m_{m.key}"]
        cols.append((func.max(case((first, v), else_=null()), type_=v.type) if m.last
                     else func.sum(v, type_=v.type)).label(f"m_{m.key}"))
    return select(*cols).group_by(ranked.c.g, ranked.c.pi)
