"""Period arithmetic in one module.

Pure functions (no I/O, no database) that turn an organisation's calendar
settings (:class:`Calendar`) plus a goal's interval into period bounds
(:class:`Period`).

Conventions used throughout:

* Calendar *dates* (``datetime.date``) are local dates in the calendar's time
  zone.  Goal ``start``/``end`` dates and window ``first``/``last`` dates are
  inclusive.
* Instants (``datetime.datetime``) must be timezone-aware; returned instants
  are in UTC.  A period spans ``[start, end)`` where both bounds are the UTC
  instants of local midnights, so periods containing a DST switch are an hour
  shorter/longer than their nominal length.
* A period's position among the goal's periods (``Period.index``) is counted
  from the period containing the goal's start date (index 0) and is computed
  arithmetically, so paging far ahead never materialises earlier periods.
* ``fiscal=True`` aligns QUARTERLY and YEARLY periods to
  ``Calendar.fiscal_year_start_month``; it has no effect on WEEKLY/MONTHLY.
* Invalid values raise ``ValueError``; arguments of the wrong type (e.g. a
  ``datetime`` where a ``date`` is expected) raise ``TypeError``.  No call
  builds more than :data:`MAX_PERIODS` periods.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from datetime import date, datetime, timedelta, timezone
from enum import Enum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "MAX_PERIODS",
    "TooManyPeriods",
    "Calendar",
    "Interval",
    "Period",
    "elapsed_fraction",
    "local_midnight",
    "next_period_start",
    "period_containing",
    "period_start_date",
    "periods_for",
    "periods_in_range",
]

#: Upper bound on the number of periods a single call may produce.
MAX_PERIODS = 2000


class TooManyPeriods(ValueError):
    """A call would build more than :data:`MAX_PERIODS` periods."""

_UTC = timezone.utc
_ONE_DAY = timedelta(days=1)
# Months per period for the month-based intervals.
_MONTH_STEP = {"MONTHLY": 1, "QUARTERLY": 3, "YEARLY": 12}


class Interval(str, Enum):
    """How a goal's periods repeat."""

    WEEKLY = "WEEKLY"
    MONTHLY = "MONTHLY"
    QUARTERLY = "QUARTERLY"
    YEARLY = "YEARLY"
    CUSTOM = "CUSTOM"


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class Calendar:
    """An organisation's calendar settings."""

    time_zone: str = "UTC"
    week_start: int = 0  # 0=Monday ... 6=Sunday (date.weekday() convention)
    fiscal_year_start_month: int = 1  # 1..12

    def __post_init__(self) -> None:
        if not isinstance(self.time_zone, str) or not self.time_zone:
            raise ValueError(f"invalid time_zone {self.time_zone!r}: expected an IANA time zone name")
        try:
            ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
            raise ValueError(f"unknown time_zone {self.time_zone!r}") from exc
        if not _is_int(self.week_start) or not 0 <= self.week_start <= 6:
            raise ValueError(f"invalid week_start {self.week_start!r}: expected 0 (Monday) .. 6 (Sunday)")
        if not _is_int(self.fiscal_year_start_month) or not 1 <= self.fiscal_year_start_month <= 12:
            raise ValueError(
                f"invalid fiscal_year_start_month {self.fiscal_year_start_month!r}: expected 1..12"
            )

    @property
    def tz(self) -> ZoneInfo:
        """The calendar's time zone."""
        return ZoneInfo(self.time_zone)


@dataclass(frozen=True)
class Period:
    """One period of a goal: ``[start, end)`` in UTC, ``start_date..end_date`` locally."""

    index: int  # 0-based, goal-relative (period 0 contains the goal's start)
    start: datetime  # aware UTC, inclusive: local midnight of start_date
    end: datetime  # aware UTC, exclusive: local midnight after end_date
    start_date: date  # first local day
    end_date: date  # last local day, inclusive
    label: str  # e.g. "2026-W05", "2026-03", "FY2026/27 Q1"
    #: The organisation's time zone its local dates are in (exchange rates follow the same local dates).
    time_zone: str = "UTC"

    def contains(self, moment: datetime) -> bool:
        """Whether the aware instant ``moment`` lies in ``[start, end)``."""
        _require_aware(moment, "moment")
        return self.start <= moment < self.end

    @property
    def days(self) -> int:
        """Number of local calendar days in the period."""
        return (self.end_date - self.start_date).days + 1


# --------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------


def _require_aware(moment: object, name: str) -> None:
    if not isinstance(moment, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(moment).__name__}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {moment!r}")


def _require_date(value: object, name: str) -> None:
    # datetime is a subclass of date; a datetime here is almost always a bug.
    if not isinstance(value, date) or isinstance(value, datetime):
        raise TypeError(f"{name} must be a date, got {type(value).__name__}")


def _interval(interval: Interval | str) -> Interval:
    try:
        return Interval(interval)
    except ValueError:
        raise ValueError(f"unknown interval {interval!r}") from None


def _calendar_interval(interval: Interval | str) -> Interval:
    iv = _interval(interval)
    if iv is Interval.CUSTOM:
        raise ValueError("CUSTOM interval has no calendar-aligned periods")
    return iv


# --------------------------------------------------------------------------
# Date arithmetic
# --------------------------------------------------------------------------


def _month_number(day: date) -> int:
    return day.year * 12 + day.month - 1


def _from_month_number(n: int) -> date:
    year, month0 = divmod(n, 12)
    if not 1 <= year <= 9999:
        raise ValueError(f"date out of supported range (year {year})")
    return date(year, month0 + 1, 1)


def _add_days(day: date, days: int) -> date:
    try:
        return day + timedelta(days)
    except OverflowError:
        raise ValueError(f"date out of supported range ({day} + {days} days)") from None


def _base_month(cal: Calendar, fiscal: bool) -> int:
    return cal.fiscal_year_start_month if fiscal else 1


def _aligned_start(cal: Calendar, iv: Interval, day: date, fiscal: bool) -> date:
    if iv is Interval.WEEKLY:
        return _add_days(day, -((day.weekday() - cal.week_start) % 7))
    if iv is Interval.MONTHLY:
        return day.replace(day=1)
    step = _MONTH_STEP[iv.value]
    offset = (day.month - _base_month(cal, fiscal)) % step
    return _from_month_number(_month_number(day) - offset)


def _advance(iv: Interval, aligned: date, k: int) -> date:
    """Start of the period ``k`` periods after the aligned period start ``aligned``."""
    if iv is Interval.WEEKLY:
        return _add_days(aligned, 7 * k)
    return _from_month_number(_month_number(aligned) + _MONTH_STEP[iv.value] * k)


def _offset(iv: Interval, origin: date, aligned: date) -> int:
    """Number of periods from aligned start ``origin`` to aligned start ``aligned``."""
    if iv is Interval.WEEKLY:
        return (aligned - origin).days // 7
    return (_month_number(aligned) - _month_number(origin)) // _MONTH_STEP[iv.value]


def _fiscal_year_label(fy_start: date) -> str:
    if fy_start.month == 1:
        return f"FY{fy_start.year}"
    return f"FY{fy_start.year}/{(fy_start.year + 1) % 100:02d}"


def _label(cal: Calendar, iv: Interval, aligned: date, fiscal: bool) -> str:
    if iv is Interval.WEEKLY:
        if cal.week_start == 0:
            iso = aligned.isocalendar()
            return f"{iso.year}-W{iso.week:02d}"
        return f"Week of {aligned.isoformat()}"
    if iv is Interval.MONTHLY:
        return f"{aligned.year}-{aligned.month:02d}"
    if iv is Interval.QUARTERLY:
        if not fiscal:
            return f"{aligned.year}-Q{(aligned.month - 1) // 3 + 1}"
        fy = _aligned_start(cal, Interval.YEARLY, aligned, True)
        quarter = (_month_number(aligned) - _month_number(fy)) // 3 + 1
        return f"{_fiscal_year_label(fy)} Q{quarter}"
    # YEARLY
    return _fiscal_year_label(aligned) if fiscal else str(aligned.year)


def _custom_label(start: date, end: date) -> str:
    return f"{start.isoformat()} \u2013 {end.isoformat()}"


# --------------------------------------------------------------------------
# Instants
# --------------------------------------------------------------------------


def _midnight(tz: ZoneInfo, day: date) -> datetime:
    # Hot path: positional construction, no keyword calls (they are slow).
    local = datetime(day.year, day.month, day.day, 0, 0, 0, 0, tz)
    try:
        utc = local.astimezone(_UTC)  # fold=0: first occurrence if repeated
        if utc.astimezone(tz) == local:  # same tzinfo: compares wall times
            return utc
        # Midnight falls in a gap (clocks jump forward over it): the day starts
        # at the transition, which lies between the fold=1 and fold=0 readings.
        lo = int(local.replace(fold=1).timestamp())
        hi = int(utc.timestamp())
    except OverflowError:
        raise ValueError(f"date {day} out of supported range in time zone {tz.key}") from None
    naive = local.replace(tzinfo=None)
    while hi - lo > 1:  # bisection on whole seconds; rare, <= ~17 steps
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, tz).replace(tzinfo=None) >= naive:
            hi = mid
        else:
            lo = mid
    return datetime.fromtimestamp(hi, _UTC)


def local_midnight(cal: Calendar, day: date) -> datetime:
    """Aware UTC instant at which local ``day`` begins in the calendar's zone.

    If midnight does not exist locally (DST gap), the first valid instant of
    the day (the transition) is returned; if it occurs twice, the first one.
    """
    _require_date(day, "day")
    return _midnight(cal.tz, day)


def local_date(cal: Calendar, moment: datetime) -> date:
    """The calendar's local date at the aware instant ``moment`` (what "today" means there)."""
    return _local_date(cal, moment)


def _local_date(cal: Calendar, moment: datetime) -> date:
    """Local date ``d`` with ``local_midnight(d) <= moment < local_midnight(d + 1)``."""
    _require_aware(moment, "moment")
    tz = cal.tz
    day = moment.astimezone(tz).date()
    # Only exotic transitions (gaps/overlaps across midnight) need adjusting.
    while _midnight(tz, day) > moment:
        day -= _ONE_DAY
    while _midnight(tz, day + _ONE_DAY) <= moment:
        day += _ONE_DAY
    return day


# --------------------------------------------------------------------------
# Public period functions
# --------------------------------------------------------------------------


def period_start_date(cal: Calendar, interval: Interval, day: date, *, fiscal: bool = False) -> date:
    """First local day of the ``interval`` period containing ``day``."""
    _require_date(day, "day")
    return _aligned_start(cal, _calendar_interval(interval), day, fiscal)


def next_period_start(cal: Calendar, interval: Interval, start: date, *, fiscal: bool = False) -> date:
    """First local day of the period following the one containing ``start``."""
    _require_date(start, "start")
    iv = _calendar_interval(interval)
    return _advance(iv, _aligned_start(cal, iv, start, fiscal), 1)


def period_containing(
    cal: Calendar, interval: Interval, moment: datetime, *, fiscal: bool = False
) -> tuple[date, date]:
    """``(start_date, end_date_inclusive)`` of the whole period containing ``moment``."""
    iv = _calendar_interval(interval)
    day = _local_date(cal, moment)
    aligned = _aligned_start(cal, iv, day, fiscal)
    return aligned, _advance(iv, aligned, 1) - _ONE_DAY


def elapsed_fraction(period: Period, now: datetime) -> float:
    """Share (0..1) of ``period`` elapsed at the aware instant ``now``."""
    _require_aware(now, "now")
    if now <= period.start:
        return 0.0
    if now >= period.end:
        return 1.0
    return (now - period.start) / (period.end - period.start)


def _check_goal(start: date, end: date | None) -> None:
    _require_date(start, "start")
    if end is not None:
        _require_date(end, "end")
        if start > end:
            raise ValueError(f"start date {start} is after end date {end}")


@lru_cache(maxsize=2048)
def _built(
    cal: Calendar,
    iv: Interval,
    fiscal: bool,
    start: date,
    end: date | None,
    origin: date,
    k_first: int,
    k_last: int,
    clip: bool,
) -> tuple[Period, ...]:
    """Goal periods with indexes ``k_first..k_last`` (origin = aligned start of period 0).

    Memoised: every read of a goal builds the same periods (they depend only on these arguments, and
    Periods are immutable), and building them was a tenth of a read's CPU; callers take a list copy."""
    count = k_last - k_first + 1
    if count <= 0:
        return ()
    if count > MAX_PERIODS:
        raise TooManyPeriods(f"refusing to build {count} {iv.value.lower()} periods (limit {MAX_PERIODS})")
    # Aligned (whole-period) start dates of periods k_first .. k_last + 1.
    first_aligned = _advance(iv, origin, k_first)
    _advance(iv, first_aligned, count)  # range check before building the list
    if iv is Interval.WEEKLY:
        aligned = [first_aligned + timedelta(7 * i) for i in range(count + 1)]
    else:
        m0, step = _month_number(first_aligned), _MONTH_STEP[iv.value]
        aligned = [_from_month_number(m0 + step * i) for i in range(count + 1)]
    bounds = aligned
    if clip:
        bounds = aligned.copy()
        bounds[0] = max(bounds[0], start)
        if end is not None:
            bounds[-1] = min(bounds[-1], _add_days(end, 1))
    tz = cal.tz
    instants = [_midnight(tz, day) for day in bounds]
    one_day = _ONE_DAY
    # Positional arguments: index, start, end, start_date, end_date, label, time_zone.
    return tuple(
        Period(
            k_first + i,
            instants[i],
            instants[i + 1],
            bounds[i],
            bounds[i + 1] - one_day,
            _label(cal, iv, aligned[i], fiscal),
            cal.time_zone,
        )
        for i in range(count)
    )


def _custom_period(cal: Calendar, start: date, end: date | None) -> Period:
    if end is None:
        raise ValueError("CUSTOM interval requires an end date")
    tz = cal.tz
    return Period(
        index=0,
        start=_midnight(tz, start),
        end=_midnight(tz, _add_days(end, 1)),
        start_date=start,
        end_date=end,
        label=_custom_label(start, end),
        time_zone=cal.time_zone,
    )


def periods_for(
    cal: Calendar,
    interval: Interval,
    start: date,
    end: date | None,
    *,
    fiscal: bool = False,
    now: datetime | None = None,
    clip: bool = True,
) -> list[Period]:
    """All periods of a goal covering the local dates ``[start, end]``.

    Open-ended goals (``end=None``) produce periods up to and including the one
    containing the aware instant ``now`` (required), or ``[]`` if ``now`` is
    before ``start`` (``now`` is ignored when ``end`` is given).  With ``clip``
    the first/last periods are cut to the goal's start/end dates; otherwise
    whole periods are returned.  CUSTOM goals yield exactly one period.
    """
    iv = _interval(interval)
    _check_goal(start, end)
    if iv is Interval.CUSTOM:
        return [_custom_period(cal, start, end)]
    origin = _aligned_start(cal, iv, start, fiscal)
    if end is None:
        if now is None:
            raise ValueError("open-ended goals (end=None) require `now`")
        last_day = _local_date(cal, now)
        if last_day < start:
            return []
    else:
        last_day = end
    k_last = _offset(iv, origin, _aligned_start(cal, iv, last_day, fiscal))
    return list(_built(cal, iv, fiscal, start, end, origin, 0, k_last, clip))


def periods_in_range(
    cal: Calendar,
    interval: Interval,
    start: date,
    end: date | None,
    *,
    fiscal: bool = False,
    first: date,
    last: date,
    clip: bool = True,
    now: datetime | None = None,
) -> list[Period]:
    """The goal's periods that overlap the local-date window ``[first, last]``.

    Indexes are goal-relative (period 0 contains ``start``) and computed
    arithmetically, so windows far from ``start`` are cheap.  For open-ended
    goals the periods continue indefinitely unless ``now`` is given, in which
    case they stop at the period containing ``now`` (as in :func:`periods_for`).
    """
    iv = _interval(interval)
    _check_goal(start, end)
    _require_date(first, "first")
    _require_date(last, "last")
    if first > last:
        raise ValueError(f"window first date {first} is after last date {last}")
    if iv is Interval.CUSTOM:
        period = _custom_period(cal, start, end)
        overlaps = period.start_date <= last and first <= period.end_date
        return [period] if overlaps else []
    origin = _aligned_start(cal, iv, start, fiscal)
    # Index and last day of the goal's final period (None: unbounded).
    k_end: int | None = None
    last_day: date | None = None
    if end is not None:
        k_end = _offset(iv, origin, _aligned_start(cal, iv, end, fiscal))
    elif now is not None:
        now_day = _local_date(cal, now)
        if now_day < start:
            return []
        k_end = _offset(iv, origin, _aligned_start(cal, iv, now_day, fiscal))
    if k_end is not None:
        if clip and end is not None:
            last_day = end
        else:
            last_day = _advance(iv, origin, k_end + 1) - _ONE_DAY
    first_day = start if clip else origin
    if last < first_day or (last_day is not None and first > last_day):
        return []
    k_first = 0 if first <= first_day else _offset(iv, origin, _aligned_start(cal, iv, first, fiscal))
    if k_end is not None and last_day is not None and last >= last_day:
        k_last = k_end
    else:
        k_last = _offset(iv, origin, _aligned_start(cal, iv, last, fiscal))
    return list(_built(cal, iv, fiscal, start, end, origin, k_first, k_last, clip))
