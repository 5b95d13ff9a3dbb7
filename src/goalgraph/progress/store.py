"""The progress store: every goal's per-period actuals, kept fresh by marks and the recompute worker.

* **Rows** (:class:`~goalgraph.db.models.StoredProgress`): one per (goal, period) with the actual,
  the facts counted, the unconverted counts, per-element results and when they were computed.
  A closed period's row is *frozen* once the period ended more than the grace time ago: later
  fact changes no longer move it (what the closed-period snapshots were).
* **Marks** (:class:`~goalgraph.db.models.ProgressMark`): every change that can move an actual
  writes marks in its own transaction (:mod:`goalgraph.staleness`, and :func:`mark_facts` here for facts); a row covered by a mark
  is stale. Marks never update rows, so writers never wait on the worker and never deadlock with it.
* **The worker** (progress.recompute, run by live.recompute) takes marks, recomputes the covered
  rows with the engine, writes them and deletes the marks it took, in one transaction.
* **Reads** (:func:`read`) take marks first, then rows: a row is served fresh only when no mark
  covered it at the start of the read. Missing rows are computed in the request; stale ones too
  when that is cheap (bounded by pairs and by the facts they counted), else they are served with
  their last value and flagged pending.

Days in marks are local dates widened by a day on each side: a fact's UTC date is at most a day
off the local date its period is cut by.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, Text, bindparam, cast, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from goalgraph.db.models import Goal, ProgressMark, StoredProgress
from goalgraph.goals.audience import Audience, counts_for
from goalgraph.periods import Period
from goalgraph.staleness import EVERYTHING, mark, spans_of

async def mark_facts(session: AsyncSession, owners: Audience, days: Iterable[date] | None) -> int:
    """Facts of ``owners`` (None: anyone's, or references every goal may depend on) changed on ``days``
    (their timestamps before and after; None: any day): mark the goals they count for."""
    spans = EVERYTHING if days is None else spans_of(days)
    if not spans:
        return 0
    if owners is None:
        return await mark(session, None, spans)
    if not owners:
        return 0
    goal_ids = (await session.scalars(
        select(Goal.id).where(Goal.deleted_at.is_(None), counts_for(owners)))).all()
    return await mark(session, goal_ids, spans) if goal_ids else 0


@dataclass(frozen=True)
class Cover:
    """One mark as a read or the worker sees it."""

    goal_id: int | None
    first_day: date | None
    last_day: date | None
    thaw: bool

    def covers(self, goal_id: int, period: Period, frozen: bool) -> bool:
        return ((self.goal_id is None or self.goal_id == goal_id) and (self.thaw or not frozen)
                and (self.first_day is None or self.first_day <= period.end_date)
                and (self.last_day is None or self.last_day >= period.start_date))


async def covers_of(session: AsyncSession, goal_ids: Iterable[int]) -> list[Cover]:
    """The distinct marks that may cover rows of these goals (theirs and those of every goal)."""
    ids = sorted(set(goal_ids))
    if not ids:
        return []
    return [Cover(*r) for r in await session.execute(_COVERS, {"ids": ids})]


# Built once: every read runs these two.
_COVERS = (select(ProgressMark.goal_id, ProgressMark.first_day, ProgressMark.last_day, ProgressMark.thaw).distinct()
           .where(or_(ProgressMark.goal_id.in_(bindparam("ids", expanding=True)), ProgressMark.goal_id.is_(None))))
_ROWS = (select(StoredProgress.goal_id, StoredProgress.period_start, StoredProgress.actual, StoredProgress.facts,
                cast(StoredProgress.unconverted, Text), cast(StoredProgress.elements, Text), StoredProgress.computed_at,
                StoredProgress.frozen_at)
         .where(StoredProgress.goal_id.in_(bindparam("ids", expanding=True)),
                StoredProgress.period_start.between(bindparam("first", type_=Date()), bindparam("last", type_=Date()))))


@dataclass(slots=True)
class Stored:
    """A stored (or just computed) result of one goal in one period."""

    actual: Decimal
    facts: int
    unconverted: dict[str, int]
    #: Split goals: element → (actual, facts).
    elements: dict[str, tuple[Decimal, int]] = field(default_factory=dict)
    computed_at: datetime | None = None
    frozen_at: datetime | None = None
    #: Newer changes are not in this value yet (a recompute is pending).
    pending: bool = False

    @classmethod
    def of_row(cls, row: "Row", pending: bool) -> "Stored":
        elements = _json(row.elements)
        return cls(row.actual, row.facts, _json(row.unconverted),
                   {e: (Decimal(v["actual"]), int(v["facts"])) for e, v in elements.items()} if elements else {},
                   row.computed_at, row.frozen_at, pending)


def _json(value: str | dict[str, Any] | None) -> dict[str, Any]:
    """A stored JSON object, read as text (most are empty, and decoding thousands of "{}" adds up)."""
    if value is None or value == "{}":
        return {}
    return value if isinstance(value, dict) else json.loads(value)


@dataclass(frozen=True, slots=True)
class Row:
    """A stored row as a read needs it (plain values, JSON still text)."""

    goal_id: int
    period_start: date
    actual: Decimal
    facts: int
    unconverted: str | dict[str, Any] | None
    elements: str | dict[str, Any] | None
    computed_at: datetime
    frozen_at: datetime | None


def elements_json(elements: Mapping[str, tuple[Decimal, int]]) -> dict[str, Any]:
    """Per-element results as stored (exact decimals as text)."""
    return {e: {"actual": str(v), "facts": n} for e, (v, n) in elements.items()}


async def rows_of(session: AsyncSession, periods: Mapping[int, Sequence[Period]]) -> dict[tuple[int, date], Row]:
    """The stored rows of these goals' periods (one statement)."""
    ids = [g for g, ps in periods.items() if ps]
    if not ids:
        return {}
    first = min(p.start_date for g in ids for p in periods[g])
    last = max(p.start_date for g in ids for p in periods[g])
    rows = await session.execute(_ROWS, {"ids": ids, "first": first, "last": last})
    return {(r[0], r[1]): Row(*r) for r in rows}


@dataclass
class Found:
    """What :func:`read` found: stored results, and the periods the caller must compute."""

    stored: dict[tuple[int, date], Stored]
    #: Periods without a row (computed by the caller, and marked so the worker stores them).
    missing: dict[int, list[Period]]
    #: Stale periods cheap enough to compute in the request.
    stale: dict[int, list[Period]]


async def read(session: AsyncSession, periods: Mapping[int, Sequence[Period]], *,
               lapsed: frozenset[int] = frozenset(), inline_pairs: int, inline_facts: int) -> Found:
    """Stored results of the goals' periods; marks are read before rows (see the module docstring).

    Lapsed goals keep their frozen rows only, and are never computed. Stale rows are recomputed in
    the request when there are at most ``inline_pairs`` of them counting at most ``inline_facts``
    facts together; otherwise they are served with their last value, flagged pending.
    """
    covers = await covers_of(session, periods)
    rows = await rows_of(session, periods)
    found = Found({}, defaultdict(list), defaultdict(list))
    stale: list[tuple[int, Period, Row]] = []
    for goal_id, goal_periods in periods.items():
        mine = [c for c in covers if c.goal_id is None or c.goal_id == goal_id]
        for period in goal_periods:
            row = rows.get((goal_id, period.start_date))
            if goal_id in lapsed and (row is None or row.frozen_at is None):
                continue
            if row is None:
                found.missing[goal_id].append(period)
                continue
            pending = bool(mine) and any(c.covers(goal_id, period, row.frozen_at is not None) for c in mine)
            if pending and goal_id not in lapsed:
                stale.append((goal_id, period, row))
            found.stored[(goal_id, period.start_date)] = Stored.of_row(row, pending)
    if stale and len(stale) <= inline_pairs and sum(r.facts for _, _, r in stale) <= inline_facts:
        for goal_id, period, _ in stale:
            found.stale[goal_id].append(period)
    return found


async def backlog(session: AsyncSession, now: datetime) -> dict[str, Any]:
    """Marks waiting for the worker and the age of the oldest, in seconds (for /healthz)."""
    count, oldest = (await session.execute(select(func.count(), func.min(ProgressMark.marked_at)))).one()
    if isinstance(oldest, str):  # SQLite's min() of a timestamp is text
        oldest = datetime.fromisoformat(oldest)
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=timezone.utc)
    return {"staleMarks": int(count), "oldestSeconds": round((now - oldest).total_seconds(), 3) if oldest else 0.0}
