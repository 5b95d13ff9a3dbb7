"""Status and pace of a period: the rules in one place."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from goalgraph.periods import Period, elapsed_fraction

_Q = Decimal("0.0001")


class Status(str, enum.Enum):
    """Where a period stands against its target."""

    PENDING = "PENDING"
    IN_PROGRESS = "IN_PROGRESS"
    ACHIEVED = "ACHIEVED"
    EXCEEDED = "EXCEEDED"
    MISSED = "MISSED"


def ratio(actual: Decimal, target: Decimal) -> Decimal | None:
    """actual / target (1 = 100 %); None for a zero target (no percentage of nothing)."""
    return None if target == 0 else (actual / target).quantize(_Q)


def reached(actual: Decimal, target: Decimal) -> Status | None:
    """ACHIEVED at ≥ 100 %, EXCEEDED above; None while below the target.

    A zero target is reached at once and never exceeded: EXCEEDED means above 100 %, and a zero
    target has no percentage (its ratio is null), whatever the actual.
    """
    if target == 0:
        return Status.ACHIEVED
    if actual > target:
        return Status.EXCEEDED
    return Status.ACHIEVED if actual >= target else None


def status(actual: Decimal, target: Decimal, period: Period, now: datetime) -> Status:
    """PENDING before the start; then :func:`reached` as soon as it is; MISSED once ended below; else IN_PROGRESS."""
    if now < period.start:
        return Status.PENDING
    hit = reached(actual, target)
    if hit is not None:
        return hit
    return Status.MISSED if now >= period.end else Status.IN_PROGRESS


def span_status(statuses: Sequence[Status], current: Status | None, actual: Decimal, target: Decimal) -> Status:
    """The status of several periods together (a goal's summary), by the same rules as one period's.

    The period under way decides while there is one; PENDING while none has started; else the
    totals: :func:`reached`, or MISSED (every period of the span has ended or not begun).
    """
    if current is not None:
        return current
    if all(s is Status.PENDING for s in statuses):
        return Status.PENDING
    return reached(actual, target) or Status.MISSED


@dataclass(frozen=True)
class Pace:
    """For the current period: where the actual should be by now, and where it is heading."""

    elapsed: float
    expected_by_now: Decimal
    projected: Decimal | None


def pace(actual: Decimal, target: Decimal, period: Period, now: datetime) -> Pace | None:
    """Pace of a period that is under way; None before it starts or after it ends.

    ``expected_by_now`` is target × share elapsed (0 for a zero target); ``projected`` the actual
    extrapolated to the end (None at the very start)."""
    if not period.start <= now < period.end:
        return None
    elapsed = elapsed_fraction(period, now)
    share = Decimal(str(round(elapsed, 6)))
    projected = (actual / share).quantize(_Q) if share > 0 else None
    return Pace(elapsed=elapsed, expected_by_now=(target * share).quantize(_Q), projected=projected)
