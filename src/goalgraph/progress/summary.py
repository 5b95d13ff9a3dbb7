"""What a goal shows as a whole, and goal lists filtered and ordered by progress or pace.

The rules the goals list applies to computed progress live here, not in resolvers: the summary
status of a span (:func:`summary_status`), the filters by status and pace, and the orders by
progress ratio and by pace (:func:`select_and_order`).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from goalgraph.progress import status as rules
from goalgraph.progress.service import GoalProgress


class Order(str, enum.Enum):
    CREATED = "CREATED"
    PROGRESS_ASC = "PROGRESS_ASC"
    PROGRESS_DESC = "PROGRESS_DESC"
    #: AT_RISK first, then BEHIND, ON_TRACK, and goals with no period under way last.
    PACE = "PACE"


_PACE_ORDER = {rules.PaceStatus.AT_RISK: 0, rules.PaceStatus.BEHIND: 1, rules.PaceStatus.ON_TRACK: 2}


def summary_status(progress: GoalProgress) -> rules.Status:
    """The status of the whole span (see :func:`goalgraph.progress.status.span_status`)."""
    if not progress.periods:
        return rules.Status.PENDING
    current = progress.current
    return rules.span_status([p.status for p in progress.periods], current.status if current else None,
                             progress.total_actual, progress.total_target, progress.rules,
                             sum(p.facts for p in progress.periods))


def progress_ratio(progress: GoalProgress) -> Decimal | None:
    """What PROGRESS_* orders by: the current period's ratio, else the whole span's (None: not started or
    a zero target — sorted last)."""
    current = progress.current
    if current is not None:
        return current.ratio
    if summary_status(progress) is rules.Status.PENDING:
        return None
    return rules.ratio(progress.total_actual, progress.total_target)


def pace_status(progress: GoalProgress) -> rules.PaceStatus | None:
    current = progress.current
    return current.pace.status if current is not None and current.pace is not None else None


def select_and_order(rows: Sequence[Any], progress: Sequence[GoalProgress], *, status: str | None,
                     paces: Sequence[rules.PaceStatus] | None, order: Order) -> list[Any]:
    """``rows`` (goals, with their ``progress`` in the same order) whose summary has ``status`` and whose
    period under way has one of ``paces`` (None: any), in ``order``; ties by goal id, unknown values last."""
    scored = []
    for row, p in zip(rows, progress):
        if status is not None and summary_status(p).value != status:
            continue
        pace = pace_status(p)
        if paces is not None and pace not in paces:
            continue
        key = _PACE_ORDER.get(pace) if order is Order.PACE else progress_ratio(p)
        scored.append((row, key))
    if order is not Order.CREATED:
        missing = [s for s in scored if s[1] is None]
        present = sorted((s for s in scored if s[1] is not None), key=lambda s: (s[1], s[0].id),
                         reverse=order is Order.PROGRESS_DESC)
        scored = present + missing
    return [row for row, _ in scored]
