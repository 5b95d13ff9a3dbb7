""""Now" and "today" for the organisation: the only place that asks the system clock.

``now()`` is the current instant (aware, UTC). ``today(org, at)`` is the organisation's local
date at an instant — the day its periods, goal timeframes and "current period" are decided by.
Code that must agree within one request or push takes its instant from there (``Context.now``,
fed by ``Runtime.clock``, which tests replace to pin time) and passes it as ``at``; it never
takes a UTC date (``datetime.date()``) of an instant.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Protocol

from goalgraph.periods import Calendar, local_date


class HasTimeZone(Protocol):
    """Anything naming an IANA time zone: the organisation's settings, a :class:`Calendar`."""

    @property
    def time_zone(self) -> str: ...


def now() -> datetime:
    """The current instant, timezone-aware (UTC)."""
    return datetime.now(timezone.utc)


def today(org: HasTimeZone, at: datetime | None = None) -> date:
    """The organisation's local date at ``at`` (default: now), in its time zone."""
    cal = org if isinstance(org, Calendar) else Calendar(org.time_zone)
    return local_date(cal, now() if at is None else at)
