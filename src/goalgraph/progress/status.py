"""Status and pace of a period: the rules in one place (documented in docs/goals.md, "Status and pace").

How a goal reads comes from two things: its **direction** (the goal's own, ``Goal.direction``;
higher or lower is better) and its measure's **aggregation** (a sum or count accumulates over the
period; an average, or a forecast, is a level). :func:`rules_for` turns them into :class:`Rules`;
every reader of the direction (status, pace, summaries, hierarchy sums, leaderboards,
notifications) goes through it.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from goalgraph.periods import Period, elapsed_fraction
from goalgraph.registry import Direction, Measure

_Q = Decimal("0.0001")

#: Pace: projected ≥ 90 % of the target is ON_TRACK, ≥ 70 % BEHIND, below AT_RISK (mirrored for
#: lower-is-better measures: ≤ 1/0.9 and ≤ 1/0.7 of the target).
ON_TRACK_SHARE = Decimal("0.9")
AT_RISK_SHARE = Decimal("0.7")
#: Share of the period after which the projection trusts the pace observed so far fully; before it,
#: the remaining time is projected at a blend of the observed and the planned pace (see :func:`pace`).
FULL_CONFIDENCE_AT = Decimal("0.5")


@dataclass(frozen=True)
class Rules:
    """How a goal reads: which way is better, and whether its actual accumulates over the period."""

    #: Lower actuals are better (a cap, a resolution time): reached at or below the target.
    lower_is_better: bool = False
    #: The actual grows as the period passes (counts, sums). False for a level read at any time
    #: (a forecast, an average): its projection is the actual itself.
    cumulative: bool = True
    #: Projections are whole numbers (counts).
    whole: bool = False
    #: The actual is a mean of the facts counted: over several periods (a summary, a hierarchy's
    #: children) it combines as the mean weighted by their facts, not as a sum (:func:`combined`).
    average: bool = False


HIGHER = Rules()


def rules_for(measure: Measure | None, direction: Direction | str | None = None) -> Rules:
    """The rules of a goal measured by ``measure`` with ``direction`` (None: the measure's default).

    The one place that turns a direction and an aggregation into rules: status, pace, summaries,
    leaderboards and notifications read them from here.
    """
    if measure is None:
        return HIGHER if direction is None else Rules(lower_is_better=Direction(direction) is Direction.LOWER_IS_BETTER)
    chosen = measure.default_direction if direction is None else Direction(direction)
    return Rules(lower_is_better=chosen is Direction.LOWER_IS_BETTER, cumulative=measure.cumulative,
                 whole=measure.column is None, average=measure.average)


def combined(parts: Sequence[tuple[Decimal, Decimal, int]], rules: Rules = HIGHER) -> tuple[Decimal, Decimal]:
    """(target, actual) of several (target, actual, facts) taken together — periods of a span, children of a goal.

    Sums and counts add up. An average does not: the actual is the parts' means weighted by their
    facts (the mean over all their facts; 0 without any), the target the mean of the parts' targets
    (each is a level to hold), both to 4 places. None of it depends on the direction.
    """
    if not rules.average:
        return (sum((t for t, _, _ in parts), Decimal(0)), sum((a for _, a, _ in parts), Decimal(0)))
    if not parts:
        return Decimal(0), Decimal(0)
    facts = sum(n for _, _, n in parts)
    actual = sum((a * n for _, a, n in parts), Decimal(0)) / facts if facts else Decimal(0)
    target = sum((t for t, _, _ in parts), Decimal(0)) / len(parts)
    return target.quantize(_Q), actual.quantize(_Q)  # half to even, as the engine's amounts and ratios


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


def reached(actual: Decimal, target: Decimal, rules: Rules = HIGHER) -> Status | None:
    """ACHIEVED at ≥ 100 %, EXCEEDED above; None while below the target.

    A zero target is reached at once and never exceeded: EXCEEDED means above 100 %, and a zero
    target has no percentage (its ratio is null), whatever the actual. Lower-is-better: ACHIEVED at
    the target, EXCEEDED below it, None above it.
    """
    if rules.lower_is_better:
        if actual > target:
            return None
        return Status.EXCEEDED if actual < target else Status.ACHIEVED
    if target == 0:
        return Status.ACHIEVED
    if actual > target:
        return Status.EXCEEDED
    return Status.ACHIEVED if actual >= target else None


def status(actual: Decimal, target: Decimal, period: Period, now: datetime, rules: Rules = HIGHER,
           facts: int | None = None) -> Status:
    """PENDING before the start; then :func:`reached` as soon as it is; MISSED once ended below; else IN_PROGRESS.

    Lower-is-better: judged at the end (a lower actual may still come), except that a cumulative
    actual above its cap is MISSED at once (it can only grow). An average over no facts (``facts`` 0)
    has no level to meet the target with, in either direction: IN_PROGRESS while the period runs,
    MISSED once it ended (no ticket answered is no response time within the goal).
    """
    if now < period.start:
        return Status.PENDING
    if rules.average and facts == 0:
        return Status.IN_PROGRESS if now < period.end else Status.MISSED
    if rules.lower_is_better:
        if rules.cumulative and actual > target:
            return Status.MISSED
        if now < period.end:
            return Status.IN_PROGRESS
        return reached(actual, target, rules) or Status.MISSED
    hit = reached(actual, target)
    if hit is not None:
        return hit
    return Status.MISSED if now >= period.end else Status.IN_PROGRESS


def span_status(statuses: Sequence[Status], current: Status | None, actual: Decimal, target: Decimal,
                rules: Rules = HIGHER, facts: int | None = None) -> Status:
    """The status of several periods together (a goal's summary), by the same rules as one period's.

    The period under way decides while there is one; PENDING while none has started; else the
    totals: :func:`reached`, or MISSED (every period of the span has ended or not begun; an average
    over no facts at all, as for one period).
    """
    if current is not None:
        return current
    if all(s is Status.PENDING for s in statuses):
        return Status.PENDING
    if rules.average and facts == 0:
        return Status.MISSED
    return reached(actual, target, rules) or Status.MISSED


class PaceStatus(str, enum.Enum):
    """Where the period under way is heading."""

    ON_TRACK = "ON_TRACK"
    BEHIND = "BEHIND"
    AT_RISK = "AT_RISK"


@dataclass(frozen=True)
class Pace:
    """For the current period: where the actual should be by now, where it is heading, and the verdict."""

    elapsed: float
    expected_by_now: Decimal
    projected: Decimal
    status: PaceStatus


def _judge(actual: Decimal, projected: Decimal, target: Decimal, rules: Rules) -> PaceStatus:
    if rules.lower_is_better:
        if rules.cumulative and actual > target:
            return PaceStatus.AT_RISK  # the cap is already broken
        if target == 0:
            return PaceStatus.ON_TRACK if projected == 0 else PaceStatus.AT_RISK
        if projected * ON_TRACK_SHARE <= target:
            return PaceStatus.ON_TRACK
        return PaceStatus.BEHIND if projected * AT_RISK_SHARE <= target else PaceStatus.AT_RISK
    if target == 0 or actual >= target or projected >= target * ON_TRACK_SHARE:
        return PaceStatus.ON_TRACK
    return PaceStatus.BEHIND if projected >= target * AT_RISK_SHARE else PaceStatus.AT_RISK


def pace(actual: Decimal, target: Decimal, period: Period, now: datetime, rules: Rules = HIGHER,
         facts: int | None = None) -> Pace | None:
    """Pace of a period that is under way; None before it starts or after it ends.

    ``expected_by_now`` is target × share elapsed (the target itself for a level — an average, a
    forecast: there is no "so far" of a mean, only where it stands).
    ``projected``: for a cumulative measure, the actual plus the remaining share of the period at a
    blend of the pace observed so far (actual / elapsed) and the planned pace (the target), the
    observed one weighing elapsed / :data:`FULL_CONFIDENCE_AT` (fully from half-way on) — so on the
    first day one early deal does not project thirty, and nothing done yet projects nearly the plan;
    for a level (non-cumulative) measure the actual itself, not extrapolated. Whole numbers for
    counts. ``status`` compares the projection with the target (:data:`ON_TRACK_SHARE`,
    :data:`AT_RISK_SHARE`); lower-is-better mirrors it (the projection within the target / 0.9 is
    ON_TRACK, within target / 0.7 BEHIND) and a cumulative cap already broken is AT_RISK.
    An average over no facts yet (``facts`` 0) has no level to judge: it projects the target, ON_TRACK.
    """
    if not period.start <= now < period.end:
        return None
    elapsed = elapsed_fraction(period, now)
    share = Decimal(str(round(elapsed, 6)))
    if rules.cumulative:
        expected = target * share
        confidence = min(Decimal(1), share / FULL_CONFIDENCE_AT)
        observed = actual / share if share > 0 else target
        projected = actual + (1 - share) * (confidence * observed + (1 - confidence) * target)
    elif rules.average and facts == 0:
        expected, projected = target, target  # nothing measured yet: no evidence against the plan
    else:
        expected, projected = target, actual
    quantum = Decimal(1) if rules.whole else _Q
    projected = projected.quantize(quantum, rounding=ROUND_HALF_UP)
    return Pace(elapsed=elapsed, expected_by_now=expected.quantize(_Q), projected=projected,
                status=_judge(actual, projected, target, rules))
