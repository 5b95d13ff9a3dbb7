"""Stale marks: the one way a change says which stored progress rows it moves (see progress.store).

Every write that can change an actual calls :func:`mark` (or progress.store.mark_facts for facts)
in its own transaction; marks only insert rows, so writers never wait on the recompute worker.
Coarse on purpose where precision costs more than a recompute; never missing a row.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from goalgraph.db.models import Goal, ProgressMark, StoredProgress
from goalgraph.periods import Period

#: A span of local days (None: unbounded on that side).
Span = tuple[date | None, date | None]
EVERYTHING: tuple[Span, ...] = ((None, None),)
#: At most this many spans per mark call: farther-apart days are merged into wider spans.
MAX_SPANS = 8
#: Beyond this many goals a change is marked for every goal (one row instead of thousands).
MAX_GOALS_PER_MARK = 200
_DAY = timedelta(days=1)


def spans_of(days: Iterable[date], *, most: int = MAX_SPANS) -> list[Span]:
    """The days as at most ``most`` spans, each widened by a day either side (merging the nearest gaps)."""
    ordered = sorted(set(days))
    if not ordered:
        return []
    spans = [[d - _DAY, d + _DAY] for d in ordered]
    merged = [spans[0]]
    for span in spans[1:]:
        if span[0] <= merged[-1][1] + _DAY:
            merged[-1][1] = span[1]
        else:
            merged.append(span)
    while len(merged) > most:
        i = min(range(len(merged) - 1), key=lambda k: merged[k + 1][0] - merged[k][1])
        merged[i:i + 2] = [[merged[i][0], merged[i + 1][1]]]
    return [(a, b) for a, b in merged]


async def mark(session: AsyncSession, goal_ids: Iterable[int] | None, spans: Sequence[Span] = EVERYTHING, *,
               thaw: bool = False, now: datetime) -> int:
    """Mark the rows of ``goal_ids`` (None: every goal) overlapping ``spans`` stale; returns marks written."""
    if not spans:
        return 0
    goals: list[int | None] = sorted(set(goal_ids)) if goal_ids is not None else [None]
    if len(goals) > MAX_GOALS_PER_MARK:
        goals = [None]
    rows = [{"goal_id": g, "first_day": a, "last_day": b, "thaw": thaw, "marked_at": now}
            for g in goals for a, b in spans]
    if rows:
        await session.execute(ProgressMark.__table__.insert(), rows)
    return len(rows)


async def mark_each(session: AsyncSession, spans_by_goal: dict[int, Sequence[Span]], *, thaw: bool = False,
                    now: datetime) -> int:
    """Mark each goal's own spans stale in one statement; returns marks written."""
    rows = [{"goal_id": g, "first_day": a, "last_day": b, "thaw": thaw, "marked_at": now}
            for g, spans in sorted(spans_by_goal.items()) for a, b in spans]
    if rows:
        await session.execute(ProgressMark.__table__.insert(), rows)
    return len(rows)


def spans_of_periods(periods: Iterable[Period], *, most: int = MAX_SPANS) -> list[Span]:
    """The periods' local days as at most ``most`` spans (adjacent periods merged)."""
    merged: list[list[date]] = []
    for p in sorted(periods, key=lambda p: p.start_date):
        if merged and p.start_date <= merged[-1][1] + _DAY:
            merged[-1][1] = max(merged[-1][1], p.end_date)
        else:
            merged.append([p.start_date, p.end_date])
    if len(merged) > most:
        merged = [[merged[0][0], merged[-1][1]]]
    return [(a, b) for a, b in merged]


async def forget(session: AsyncSession, goal_ids: Iterable[int] | None) -> None:
    """Drop stored rows (None: all) whose periods no longer exist (the calendar or a goal's periods
    changed); the caller marks them too, so they are filled again."""
    query = delete(StoredProgress)
    if goal_ids is not None:
        query = query.where(StoredProgress.goal_id.in_(sorted(set(goal_ids))))
    await session.execute(query)


async def mark_money_from(session: AsyncSession, first_day: date, *, now: datetime) -> int:
    """A rate valid from ``first_day`` was added or changed: money goals' rows from the day before on
    (a fact's date may be a day off its period's local days), frozen ones too."""
    ids = (await session.scalars(select(Goal.id).where(Goal.currency.is_not(None), Goal.deleted_at.is_(None)))).all()
    return await mark(session, ids, [(first_day - _DAY, None)], thaw=True, now=now) if ids else 0
