"""Status and pace of a period: the rules in one place."""

from __future__ import annotations

import enum
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
    """actual / target (1 = 100 %); None for a zero target."""
    return None if target == 0 else (actual / target).quantize(_Q)


def status(actual: Decimal, target: Decimal, period: Period, now: datetime) -> Status:
    """PENDING before the start; ACHIEVED at ≥ 100 %, EXCEEDED above; MISSED once ended below; else IN_PROGRESS."""
    if now < period.start:
        return Status.PENDING
    if actual > target:
        return Status.EXCEEDED
    if actual >= target:
        return Status.ACHIEVED
    return Status.MISSED if now >= period.end else Status.IN_PROGRESS


@dataclass(frozen=True)
class Pace:
    """For the current period: where the actual should be by now, and where it is heading."""

    elapsed: float
    expected_by_now: Decimal
    projected: Decimal | None


def pace(actual: Decimal, target: Decimal, period: Period, now: datetime) -> Pace | None:
    """Pace of a period that is under way; None before it starts or after it ends."""
    if not period.start <= now < period.end:
        return None
    elapsed = elapsed_fraction(period, now)
    share = Decimal(str(round(elapsed, 6)))
    projected = (actual / share).quantize(_Q) if share > 0 else None
    return Pace(elapsed=elapsed, expected_by_now=(target * share).quantize(_Q), projected=projected)
