"""Frozen results of closed periods (``PeriodSnapshot`` rows): the one place that drops them.

A snapshot holds a closed period's actual as measured under the calendar (time zone, week
start, fiscal-year start) and the exchange rates of its time. Every change that can move a
stored result drops the snapshots it affects, inside the transaction of the change, so the next
read measures those periods afresh (and freezes them again):

* a goal's definition changes, or an admin asks for a recompute: that goal's snapshots;
* the organisation's calendar changes: every snapshot (period bounds moved);
* an exchange rate valid from day D is added or changed: the snapshots of money goals whose
  periods reach D (or the day before, as a fact's date may be a day off its period's local days).

Coarse on purpose: dropping too many only costs a re-measure; keeping one would show a wrong number.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from goalgraph.db.models import Goal, PeriodSnapshot
from goalgraph.periods import Calendar, Interval, next_period_start


async def forget_goal(session: AsyncSession, goal_id: int, period_start: date | None = None) -> int:
    """Drop a goal's snapshots (one period, or all when ``period_start`` is None); returns how many."""
    query = delete(PeriodSnapshot).where(PeriodSnapshot.goal_id == goal_id)
    if period_start is not None:
        query = query.where(PeriodSnapshot.period_start == period_start)
    return (await session.execute(query)).rowcount or 0


async def forget_all(session: AsyncSession) -> int:
    """Drop every snapshot (the organisation's calendar changed); returns how many."""
    return (await session.execute(delete(PeriodSnapshot))).rowcount or 0


def _last_day(cal: Calendar, goal_interval: str, fiscal: bool, end_date: date | None, start: date) -> date | None:
    """Last local day of the period that begins on ``start`` (None: unknown, treat as open)."""
    if goal_interval == Interval.CUSTOM.value:
        return end_date
    try:
        last = next_period_start(cal, Interval(goal_interval), start, fiscal=fiscal) - timedelta(days=1)
    except ValueError:
        return None
    return min(last, end_date) if end_date is not None else last


async def forget_money_from(session: AsyncSession, cal: Calendar, first_day: date) -> int:
    """Drop snapshots of money goals whose periods reach ``first_day`` (a rate changed from then on)."""
    # A period starting after first_day obviously reaches it; earlier ones are checked by their end.
    margin = first_day - timedelta(days=1)
    rows = (await session.execute(
        select(PeriodSnapshot.id, PeriodSnapshot.period_start, Goal.interval, Goal.fiscal, Goal.end_date)
        .join(Goal, Goal.id == PeriodSnapshot.goal_id)
        .where(Goal.currency.is_not(None))
    )).all()
    ids = []
    for snap_id, start, interval, fiscal, end_date in rows:
        if start >= margin:
            ids.append(snap_id)
            continue
        last = _last_day(cal, interval, fiscal, end_date, start)
        if last is None or last >= margin:
            ids.append(snap_id)
    for i in range(0, len(ids), 5000):
        await session.execute(delete(PeriodSnapshot).where(PeriodSnapshot.id.in_(ids[i:i + 5000])))
    return len(ids)
