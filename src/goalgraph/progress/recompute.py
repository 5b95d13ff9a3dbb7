"""Recompute stale rows of the progress store: one round takes marks, measures, writes, drops the marks.

The caller (live.recompute's worker, ``goalgraph recompute``) runs a round inside one transaction
and makes sure only one round runs at a time (an advisory lock on PostgreSQL): a round that fails
or is killed rolls back, leaving its rows stale, never wrong. Marks written while a round measures
are not taken by it, so the rows they cover stay stale for the next round.

A round also freezes the rows of periods that closed more than the grace time ago (measuring them
once more first), so late fact changes no longer move them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from goalgraph import clock
from goalgraph.db.dialect import conflict_insert
from goalgraph.db.models import Goal, ProgressMark, StoredProgress
from goalgraph.goals.schedule import calendar_of, goal_periods
from goalgraph.organisation import get_organisation
from goalgraph.periods import MAX_PERIODS, Calendar, Period, TooManyPeriods
from goalgraph.progress.engine import compute_actuals
from goalgraph.progress.service import query_of
from goalgraph.progress.store import Cover, elements_json
from goalgraph.registry import Registry

#: Marks taken per round at most (more wait for the next round).
MARKS_PER_ROUND = 5000
#: Rows frozen per round at most.
FREEZE_PER_ROUND = 5000
_WRITE_CHUNK = 1000


@dataclass
class Round:
    """What one round did."""

    marks: int = 0
    rows: int = 0
    #: Goals whose stored figures changed (new rows included).
    changed: set[int] = field(default_factory=set)
    #: The goals measured, as loaded in the round.
    goals: list[Goal] = field(default_factory=list)

    @property
    def busy(self) -> bool:
        """Whether the round found work (run another at once)."""
        return bool(self.marks or self.rows)


def _periods(goal: Goal, cal: Calendar, now: datetime, first: date, last: date) -> list[Period]:
    """The goal's periods overlapping ``first``..``last``; the latest :data:`MAX_PERIODS` days' worth
    when there are more (older ones are computed when read, and stored then)."""
    try:
        return goal_periods(goal, cal, now, first=first, last=last)
    except TooManyPeriods:
        return goal_periods(goal, cal, now, first=max(first, last - timedelta(days=MAX_PERIODS - 1)), last=last)


def _wanted(goal: Goal, cal: Calendar, now: datetime, today: date, covers: Iterable[Cover],
            rows: dict[date, StoredProgress]) -> dict[date, Period]:
    """The periods of ``goal`` the marks cover (frozen rows only for thawing marks)."""
    wanted: dict[date, Period] = {}
    for cover in covers:
        first = max(cover.first_day or goal.start_date, goal.start_date)
        last = cover.last_day or max(today, goal.start_date)
        if goal.end_date is not None:
            last = min(last, goal.end_date)
        if first > last:
            continue
        for period in _periods(goal, cal, now, first, last):
            row = rows.get(period.start_date)
            if row is not None and row.frozen_at is not None and not cover.thaw:
                continue
            wanted[period.start_date] = period
    return wanted


async def recompute(session: AsyncSession, registry: Registry, now: datetime, *, grace: timedelta,
                    lapsed: Callable[[Goal], bool], goal_ids: Sequence[int] | None = None,
                    marks_limit: int = MARKS_PER_ROUND) -> Round:
    """One round in the caller's transaction: consume up to ``marks_limit`` marks (only those of
    ``goal_ids`` when given), recompute and freeze the rows they cover, write them.

    Lapsed goals (``lapsed(goal)``: their licence features are missing) are not measured; their
    marks are consumed all the same (switching a feature on again marks its goals).
    """
    m = ProgressMark
    query = select(m.id, m.goal_id, m.first_day, m.last_day, m.thaw).order_by(m.id).limit(marks_limit)
    if goal_ids is not None:
        query = query.where(m.goal_id.in_(sorted(set(goal_ids))))
    taken = (await session.execute(query)).all()
    s = StoredProgress
    to_freeze: list[tuple[int, date]] = []
    if goal_ids is None:
        to_freeze = [tuple(r) for r in (await session.execute(  # type: ignore[misc]
            select(s.goal_id, s.period_start).join(Goal, Goal.id == s.goal_id)
            .where(s.frozen_at.is_(None), s.period_end <= now - grace, Goal.deleted_at.is_(None))
            .order_by(s.goal_id, s.period_start).limit(FREEZE_PER_ROUND))).all()]
    if not taken and not to_freeze:
        return Round()
    covers = [Cover(goal_id, first, last, thaw) for _, goal_id, first, last, thaw in taken]
    everyone = any(c.goal_id is None for c in covers)
    ids = {c.goal_id for c in covers if c.goal_id is not None} | {g for g, _ in to_freeze}
    goal_query = select(Goal).where(Goal.deleted_at.is_(None)).order_by(Goal.id)
    if not everyone:
        goal_query = goal_query.where(Goal.id.in_(sorted(ids)))
    goals = [g for g in (await session.scalars(goal_query)).all() if not lapsed(g)]
    org = await get_organisation(session)
    cal = calendar_of(org)
    today = clock.today(cal, now)
    stored: dict[int, dict[date, StoredProgress]] = defaultdict(dict)
    if goals:
        for row in await session.scalars(select(s).where(s.goal_id.in_([g.id for g in goals]))):
            stored[row.goal_id][row.period_start] = row
    freezing: dict[int, list[date]] = defaultdict(list)
    for goal_id, start in to_freeze:
        freezing[goal_id].append(start)
    by_goal: dict[int, list[Cover]] = defaultdict(list)
    for cover in covers:
        by_goal[cover.goal_id].append(cover)  # type: ignore[index]
    queries = []
    for goal in goals:
        rows = stored[goal.id]
        wanted = _wanted(goal, cal, now, today, [*by_goal.get(goal.id, ()), *by_goal.get(None, ())], rows)  # type: ignore[call-overload]
        for start in freezing.get(goal.id, ()):
            if start not in wanted:
                wanted.update((p.start_date, p) for p in _periods(goal, cal, now, start, start))
        if wanted:
            queries.append(query_of(goal, sorted(wanted.values(), key=lambda p: p.start_date), registry))
    result = Round(marks=len(taken), goals=goals)
    if queries:
        actuals = await compute_actuals(session, registry, queries)
        values = []
        for q in queries:
            for period in q.periods:
                measured = actuals[(q.key, period.index)]
                row = {"goal_id": q.key, "period_start": period.start_date, "period_end": period.end,
                       "actual": measured.value, "facts": measured.facts, "unconverted": measured.unconverted,
                       "elements": elements_json({e: (a.value, a.facts) for e, a in measured.elements.items()}),
                       "computed_at": now, "frozen_at": now if period.end + grace <= now else None}
                old = stored[q.key].get(period.start_date)  # type: ignore[index]
                if old is None or (old.actual, old.facts, old.unconverted or {}, old.elements or {}) != (
                        row["actual"], row["facts"], row["unconverted"], row["elements"]):
                    result.changed.add(q.key)  # type: ignore[arg-type]
                values.append(row)
        await write(session, values)
        result.rows = len(values)
    if taken:
        ids_taken = [r[0] for r in taken]
        for i in range(0, len(ids_taken), _WRITE_CHUNK):
            await session.execute(delete(m).where(m.id.in_(ids_taken[i:i + _WRITE_CHUNK])))
    return result


async def write(session: AsyncSession, values: list[dict]) -> None:
    """Upsert rows in key order (one lock order for every writer)."""
    table = StoredProgress.__table__
    values.sort(key=lambda v: (v["goal_id"], v["period_start"]))
    stmt = conflict_insert(session.bind.dialect.name, table)
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.goal_id, table.c.period_start],
        set_={c: getattr(stmt.excluded, c) for c in ("period_end", "actual", "facts", "unconverted", "elements",
                                                     "computed_at", "frozen_at")})
    for i in range(0, len(values), _WRITE_CHUNK):
        await session.execute(stmt, values[i:i + _WRITE_CHUNK])
