"""A goal's periods and the target of each, from the organisation's calendar."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal

from goalgraph import clock
from goalgraph.db.models import Goal
from goalgraph.organisation import OrganisationSettings
from goalgraph.periods import Calendar, Interval, Period, periods_for, periods_in_range


def calendar_of(org: OrganisationSettings) -> Calendar:
    """The organisation's calendar settings as period arithmetic takes them."""
    return Calendar(org.time_zone, org.week_start, org.fiscal_year_start_month)


def goal_periods(
    goal: Goal, cal: Calendar, now: datetime, *, first: date | None = None, last: date | None = None
) -> list[Period]:
    """The goal's periods; with ``first``/``last`` only those overlapping that window (paging history)."""
    interval = Interval(goal.interval)
    if first is None and last is None:
        return periods_for(cal, interval, goal.start_date, goal.end_date, fiscal=goal.fiscal, now=now)
    first = first or goal.start_date
    last = last or (goal.end_date or clock.today(cal, now))
    if first > last:  # e.g. from a date beyond today of an open-ended goal: nothing there yet
        return []
    return periods_in_range(cal, interval, goal.start_date, goal.end_date, fiscal=goal.fiscal,
                            first=first, last=last, now=now)


def period_target(goal: Goal, period: Period, overrides: Mapping[date, Decimal]) -> Decimal:
    """A period's override, or the goal's target for every period."""
    return overrides.get(period.start_date, goal.target)
