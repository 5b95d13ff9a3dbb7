"""Tests for goalgraph.periods (period arithmetic)."""

from __future__ import annotations

import time
from bisect import bisect_right
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from goalgraph.periods import (
    MAX_PERIODS,
    Calendar,
    Interval,
    Period,
    elapsed_fraction,
    local_midnight,
    next_period_start,
    period_containing,
    period_start_date,
    periods_for,
    periods_in_range,
)

UTC = timezone.utc
D = date
W, M, Q, Y, C = (Interval.WEEKLY, Interval.MONTHLY, Interval.QUARTERLY, Interval.YEARLY, Interval.CUSTOM)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def hours(p: Period) -> float:
    return (p.end - p.start).total_seconds() / 3600


def spans(periods: list[Period]) -> list[tuple[date, date]]:
    return [(p.start_date, p.end_date) for p in periods]


# --------------------------------------------------------------------------
# Calendar / Interval
# --------------------------------------------------------------------------


def test_calendar_defaults() -> None:
    cal = Calendar()
    assert (cal.time_zone, cal.week_start, cal.fiscal_year_start_month) == ("UTC", 0, 1)
    assert cal.tz == ZoneInfo("UTC")
    assert Calendar("Europe/Stockholm").tz.key == "Europe/Stockholm"


@pytest.mark.parametrize("tz", ["Mars/Olympus_Mons", "", "../etc/passwd", "utc ", "America"])
def test_calendar_rejects_bad_time_zone(tz: str) -> None:
    with pytest.raises(ValueError, match="time_zone"):
        Calendar(tz)


def test_calendar_bad_time_zone_message_names_value() -> None:
    with pytest.raises(ValueError, match="Mars/Olympus_Mons"):
        Calendar("Mars/Olympus_Mons")


@pytest.mark.parametrize("week_start", [-1, 7, True, "0", 1.0])
def test_calendar_rejects_bad_week_start(week_start: object) -> None:
    with pytest.raises(ValueError, match="week_start"):
        Calendar(week_start=week_start)  # type: ignore[arg-type]


@pytest.mark.parametrize("month", [0, 13, -1, None, "4"])
def test_calendar_rejects_bad_fiscal_month(month: object) -> None:
    with pytest.raises(ValueError, match="fiscal_year_start_month"):
        Calendar(fiscal_year_start_month=month)  # type: ignore[arg-type]


def test_calendar_error_messages_name_the_value() -> None:
    with pytest.raises(ValueError, match="13"):
        Calendar(fiscal_year_start_month=13)
    with pytest.raises(ValueError, match="9"):
        Calendar(week_start=9)


def test_calendar_is_frozen_and_hashable() -> None:
    cal = Calendar("Asia/Kolkata", 6, 4)
    with pytest.raises(AttributeError):
        cal.week_start = 1  # type: ignore[misc]
    assert hash(cal) == hash(Calendar("Asia/Kolkata", 6, 4))


def test_interval_is_str_enum_and_strings_accepted() -> None:
    assert Interval("MONTHLY") is M
    assert M == "MONTHLY"
    cal = Calendar()
    assert periods_for(cal, "MONTHLY", D(2026, 1, 1), D(2026, 2, 28)) == periods_for(  # type: ignore[arg-type]
        cal, M, D(2026, 1, 1), D(2026, 2, 28)
    )
    with pytest.raises(ValueError, match="interval"):
        periods_for(cal, "DAILY", D(2026, 1, 1), D(2026, 2, 28))  # type: ignore[arg-type]


# --------------------------------------------------------------------------
# Alignment
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cal", "interval", "fiscal", "day", "expected"),
    [
        (Calendar(), W, False, D(2026, 3, 4), D(2026, 3, 2)),  # Wed -> Monday
        (Calendar(), W, False, D(2026, 3, 2), D(2026, 3, 2)),
        (Calendar(), W, False, D(2026, 3, 8), D(2026, 3, 2)),  # Sunday -> previous Monday
        (Calendar(week_start=6), W, False, D(2026, 3, 4), D(2026, 3, 1)),  # -> Sunday
        (Calendar(week_start=6), W, False, D(2026, 3, 1), D(2026, 3, 1)),
        (Calendar(week_start=6), W, False, D(2026, 2, 28), D(2026, 2, 22)),
        (Calendar(), M, False, D(2024, 2, 29), D(2024, 2, 1)),
        (Calendar(), Q, False, D(2026, 5, 31), D(2026, 4, 1)),
        (Calendar(fiscal_year_start_month=7), Q, False, D(2026, 5, 31), D(2026, 4, 1)),  # not fiscal
        (Calendar(fiscal_year_start_month=7), Q, True, D(2026, 5, 31), D(2026, 4, 1)),
        (Calendar(fiscal_year_start_month=2), Q, True, D(2026, 1, 10), D(2025, 11, 1)),  # crosses year
        (Calendar(fiscal_year_start_month=2), Q, True, D(2026, 2, 1), D(2026, 2, 1)),
        (Calendar(), Y, False, D(2026, 12, 31), D(2026, 1, 1)),
        (Calendar(fiscal_year_start_month=7), Y, False, D(2026, 3, 1), D(2026, 1, 1)),
        (Calendar(fiscal_year_start_month=7), Y, True, D(2026, 3, 1), D(2025, 7, 1)),
        (Calendar(fiscal_year_start_month=7), Y, True, D(2026, 7, 1), D(2026, 7, 1)),
        (Calendar(fiscal_year_start_month=4), Y, True, D(2026, 3, 31), D(2025, 4, 1)),
    ],
)
def test_period_start_date(cal: Calendar, interval: Interval, fiscal: bool, day: date, expected: date) -> None:
    assert period_start_date(cal, interval, day, fiscal=fiscal) == expected


@pytest.mark.parametrize(
    ("cal", "interval", "fiscal", "day", "expected"),
    [
        (Calendar(), W, False, D(2026, 12, 30), D(2027, 1, 4)),
        (Calendar(week_start=6), W, False, D(2026, 3, 1), D(2026, 3, 8)),
        (Calendar(), M, False, D(2024, 1, 31), D(2024, 2, 1)),
        (Calendar(), M, False, D(2026, 12, 15), D(2027, 1, 1)),
        (Calendar(), Q, False, D(2026, 11, 15), D(2027, 1, 1)),
        (Calendar(fiscal_year_start_month=11), Q, True, D(2025, 12, 15), D(2026, 2, 1)),
        (Calendar(fiscal_year_start_month=7), Y, True, D(2025, 7, 1), D(2026, 7, 1)),
        (Calendar(), Y, False, D(2024, 2, 29), D(2025, 1, 1)),
    ],
)
def test_next_period_start(cal: Calendar, interval: Interval, fiscal: bool, day: date, expected: date) -> None:
    assert next_period_start(cal, interval, day, fiscal=fiscal) == expected


def test_custom_has_no_calendar_alignment() -> None:
    cal = Calendar()
    with pytest.raises(ValueError, match="CUSTOM"):
        period_start_date(cal, C, D(2026, 1, 1))
    with pytest.raises(ValueError, match="CUSTOM"):
        next_period_start(cal, C, D(2026, 1, 1))
    with pytest.raises(ValueError, match="CUSTOM"):
        period_containing(cal, C, utc(2026, 1, 1))


# --------------------------------------------------------------------------
# Labels
# --------------------------------------------------------------------------


def test_labels_non_fiscal() -> None:
    cal = Calendar()
    assert periods_for(cal, W, D(2026, 1, 26), D(2026, 2, 1))[0].label == "2026-W05"
    assert periods_for(cal, M, D(2026, 3, 1), D(2026, 3, 31))[0].label == "2026-03"
    assert [p.label for p in periods_for(cal, Q, D(2026, 1, 1), D(2026, 12, 31))] == [
        "2026-Q1",
        "2026-Q2",
        "2026-Q3",
        "2026-Q4",
    ]
    assert periods_for(cal, Y, D(2026, 5, 1), D(2026, 5, 1))[0].label == "2026"


def test_iso_week_label_uses_iso_year() -> None:
    cal = Calendar()
    assert [p.label for p in periods_for(cal, W, D(2024, 12, 23), D(2025, 1, 5))] == ["2024-W52", "2025-W01"]
    assert periods_for(cal, W, D(2021, 1, 1), D(2021, 1, 1))[0].label == "2020-W53"


def test_week_label_non_monday_start() -> None:
    cal = Calendar(week_start=6)  # Sunday
    ps = periods_for(cal, W, D(2026, 3, 3), D(2026, 3, 20))
    assert [p.label for p in ps] == ["Week of 2026-03-01", "Week of 2026-03-08", "Week of 2026-03-15"]
    assert spans(ps) == [
        (D(2026, 3, 3), D(2026, 3, 7)),
        (D(2026, 3, 8), D(2026, 3, 14)),
        (D(2026, 3, 15), D(2026, 3, 20)),
    ]
    assert all(p.start_date.weekday() == 6 for p in ps[1:])


def test_fiscal_year_starting_july() -> None:
    cal = Calendar(fiscal_year_start_month=7)
    (fy,) = periods_for(cal, Y, D(2025, 7, 1), D(2026, 6, 30), fiscal=True)
    assert fy.label == "FY2025/26"
    assert (fy.start_date, fy.end_date) == (D(2025, 7, 1), D(2026, 6, 30))
    assert fy.days == 365
    qs = periods_for(cal, Q, D(2025, 7, 1), D(2026, 6, 30), fiscal=True)
    assert [p.label for p in qs] == ["FY2025/26 Q1", "FY2025/26 Q2", "FY2025/26 Q3", "FY2025/26 Q4"]
    assert spans(qs) == [
        (D(2025, 7, 1), D(2025, 9, 30)),
        (D(2025, 10, 1), D(2025, 12, 31)),
        (D(2026, 1, 1), D(2026, 3, 31)),
        (D(2026, 4, 1), D(2026, 6, 30)),
    ]


def test_fiscal_year_april_and_century_label() -> None:
    cal = Calendar(fiscal_year_start_month=4)
    assert periods_for(cal, Y, D(2026, 4, 1), D(2026, 4, 1), fiscal=True)[0].label == "FY2026/27"
    assert periods_for(cal, Y, D(2099, 5, 1), D(2099, 5, 1), fiscal=True)[0].label == "FY2099/00"
    assert periods_for(cal, Q, D(2027, 3, 31), D(2027, 3, 31), fiscal=True)[0].label == "FY2026/27 Q4"


def test_fiscal_quarter_crossing_calendar_year() -> None:
    cal = Calendar(fiscal_year_start_month=11)
    (q1,) = periods_for(cal, Q, D(2025, 11, 1), D(2026, 1, 31), fiscal=True)
    assert q1.label == "FY2025/26 Q1"
    assert (q1.start_date, q1.end_date) == (D(2025, 11, 1), D(2026, 1, 31))
    assert q1.days == 92
    assert period_containing(cal, Q, utc(2026, 1, 15), fiscal=True) == (D(2025, 11, 1), D(2026, 1, 31))


def test_fiscal_year_starting_january() -> None:
    cal = Calendar(fiscal_year_start_month=1)
    assert periods_for(cal, Y, D(2026, 1, 1), D(2026, 12, 31), fiscal=True)[0].label == "FY2026"
    assert periods_for(cal, Q, D(2026, 4, 1), D(2026, 4, 2), fiscal=True)[0].label == "FY2026 Q2"


def test_fiscal_flag_off_uses_calendar_quarters_and_years() -> None:
    cal = Calendar(fiscal_year_start_month=7)
    assert periods_for(cal, Q, D(2026, 7, 1), D(2026, 7, 1))[0].label == "2026-Q3"
    (y,) = periods_for(cal, Y, D(2026, 7, 1), D(2026, 7, 1), clip=False)
    assert (y.start_date, y.end_date, y.label) == (D(2026, 1, 1), D(2026, 12, 31), "2026")


def test_custom_period() -> None:
    cal = Calendar("Europe/Stockholm")
    (p,) = periods_for(cal, C, D(2026, 3, 15), D(2026, 6, 30))
    assert p.label == "2026-03-15 \u2013 2026-06-30"
    assert (p.index, p.start_date, p.end_date) == (0, D(2026, 3, 15), D(2026, 6, 30))
    assert p.start == local_midnight(cal, D(2026, 3, 15)) == utc(2026, 3, 14, 23)
    assert p.end == local_midnight(cal, D(2026, 7, 1)) == utc(2026, 6, 30, 22)
    assert periods_for(cal, C, D(2026, 3, 15), D(2026, 6, 30), clip=False) == [p]
    with pytest.raises(ValueError, match="end"):
        periods_for(cal, C, D(2026, 3, 15), None, now=utc(2026, 4, 1))


# --------------------------------------------------------------------------
# DST, leap years, time zones
# --------------------------------------------------------------------------


def test_stockholm_months_with_dst_switch() -> None:
    cal = Calendar("Europe/Stockholm")
    ps = periods_for(cal, M, D(2026, 1, 1), D(2026, 12, 31))
    by_label = {p.label: p for p in ps}
    assert hours(by_label["2026-03"]) == 743  # spring forward
    assert hours(by_label["2026-10"]) == 745  # fall back
    assert hours(by_label["2026-04"]) == 720
    assert by_label["2026-03"].days == 31
    assert by_label["2026-03"].start == utc(2026, 2, 28, 23)
    assert by_label["2026-03"].end == utc(2026, 3, 31, 22)


def test_stockholm_week_with_dst_switch_is_167_hours() -> None:
    cal = Calendar("Europe/Stockholm")
    (p,) = periods_for(cal, W, D(2026, 3, 23), D(2026, 3, 29))
    assert hours(p) == 167
    assert p.days == 7


def test_leap_years() -> None:
    cal = Calendar()
    feb24 = periods_for(cal, M, D(2024, 2, 1), D(2024, 2, 29))[0]
    assert (feb24.end_date, feb24.days, hours(feb24)) == (D(2024, 2, 29), 29, 29 * 24)
    assert period_containing(cal, M, utc(2023, 2, 10)) == (D(2023, 2, 1), D(2023, 2, 28))
    assert period_containing(cal, M, utc(2024, 2, 10)) == (D(2024, 2, 1), D(2024, 2, 29))
    (y24,) = periods_for(cal, Y, D(2024, 1, 1), D(2024, 12, 31))
    assert (y24.days, hours(y24)) == (366, 366 * 24)
    (y23,) = periods_for(cal, Y, D(2023, 1, 1), D(2023, 12, 31))
    assert y23.days == 365
    assert period_containing(cal, Y, utc(2100, 6, 1)) == (D(2100, 1, 1), D(2100, 12, 31))
    assert periods_for(cal, M, D(2100, 2, 1), D(2100, 2, 28))[0].days == 28  # 2100 is not leap


@pytest.mark.parametrize(
    ("tz", "day", "expected"),
    [
        ("UTC", D(2026, 3, 1), utc(2026, 3, 1)),
        ("Pacific/Auckland", D(2026, 1, 1), utc(2025, 12, 31, 11)),  # NZDT +13
        ("Pacific/Auckland", D(2026, 7, 1), utc(2026, 6, 30, 12)),  # NZST +12
        ("America/Los_Angeles", D(2026, 3, 1), utc(2026, 3, 1, 8)),  # PST -8
        ("America/Los_Angeles", D(2026, 7, 1), utc(2026, 7, 1, 7)),  # PDT -7
        ("Asia/Kolkata", D(2026, 3, 1), utc(2026, 2, 28, 18, 30)),  # +05:30
        ("Europe/Stockholm", D(2026, 3, 29), utc(2026, 3, 28, 23)),  # DST day itself
    ],
)
def test_local_midnight(tz: str, day: date, expected: datetime) -> None:
    got = local_midnight(Calendar(tz), day)
    assert got == expected
    assert got.tzinfo is UTC


def test_local_midnight_in_dst_gap_resolves_to_first_valid_instant() -> None:
    # Sao Paulo 2018-11-04: clocks jumped 00:00 -> 01:00 (-03 -> -02).
    cal = Calendar("America/Sao_Paulo")
    m = local_midnight(cal, D(2018, 11, 4))
    assert m == utc(2018, 11, 4, 3)
    assert m.astimezone(cal.tz).replace(tzinfo=None) == datetime(2018, 11, 4, 1, 0)
    assert (m - timedelta(seconds=1)).astimezone(cal.tz).date() == D(2018, 11, 3)
    # Havana 2024-03-10: 00:00 -> 01:00.
    assert local_midnight(Calendar("America/Havana"), D(2024, 3, 10)) == utc(2024, 3, 10, 5)


def test_local_midnight_repeated_takes_first_occurrence() -> None:
    # Havana 2024-11-03: clocks went back 01:00 -> 00:00, so midnight happened twice.
    assert local_midnight(Calendar("America/Havana"), D(2024, 11, 3)) == utc(2024, 11, 3, 4)


def test_skipped_day_in_samoa() -> None:
    # Samoa skipped 2011-12-30 entirely; the day has zero length.
    cal = Calendar("Pacific/Apia")
    assert local_midnight(cal, D(2011, 12, 30)) == local_midnight(cal, D(2011, 12, 31))
    (week,) = periods_for(cal, W, D(2011, 12, 26), D(2012, 1, 1))
    assert hours(week) == 6 * 24
    assert period_containing(cal, W, local_midnight(cal, D(2011, 12, 30))) == (D(2011, 12, 26), D(2012, 1, 1))


@pytest.mark.parametrize(
    ("tz", "boundary", "interval", "before", "after"),
    [
        ("America/Los_Angeles", utc(2026, 3, 1, 8), M, (D(2026, 2, 1), D(2026, 2, 28)), (D(2026, 3, 1), D(2026, 3, 31))),
        ("Asia/Kolkata", utc(2026, 3, 31, 18, 30), Q, (D(2026, 1, 1), D(2026, 3, 31)), (D(2026, 4, 1), D(2026, 6, 30))),
        ("Pacific/Auckland", utc(2025, 12, 31, 11), Y, (D(2025, 1, 1), D(2025, 12, 31)), (D(2026, 1, 1), D(2026, 12, 31))),
        ("UTC", utc(2026, 3, 2), W, (D(2026, 2, 23), D(2026, 3, 1)), (D(2026, 3, 2), D(2026, 3, 8))),
    ],
)
def test_instant_around_local_midnight(
    tz: str, boundary: datetime, interval: Interval, before: tuple[date, date], after: tuple[date, date]
) -> None:
    cal = Calendar(tz)
    just_before = boundary - timedelta(microseconds=1)
    assert period_containing(cal, interval, just_before) == before
    assert period_containing(cal, interval, boundary) == after
    # The same instant expressed in another zone gives the same answer.
    assert period_containing(cal, interval, boundary.astimezone(ZoneInfo("Asia/Tokyo"))) == after
    ps = periods_for(cal, interval, before[0], after[1])
    assert len(ps) == 2
    assert ps[0].contains(just_before) and not ps[1].contains(just_before)
    assert ps[1].contains(boundary) and not ps[0].contains(boundary)
    assert ps[0].end == ps[1].start == boundary


def test_contains_requires_aware() -> None:
    (p,) = periods_for(Calendar(), M, D(2026, 3, 1), D(2026, 3, 31))
    assert p.contains(utc(2026, 3, 10))
    assert not p.contains(utc(2026, 4, 1))
    assert p.contains(datetime(2026, 3, 31, 23, 0, tzinfo=timezone(timedelta(hours=-5)))) is False
    with pytest.raises(ValueError, match="aware"):
        p.contains(datetime(2026, 3, 10))
    with pytest.raises(ValueError, match="aware"):
        period_containing(Calendar(), M, datetime(2026, 3, 10))


# --------------------------------------------------------------------------
# Open-ended goals, clipping, indexes
# --------------------------------------------------------------------------


def test_open_ended_goal_grows_with_now() -> None:
    cal = Calendar("America/Los_Angeles")
    start = D(2026, 1, 15)
    assert periods_for(cal, M, start, None, now=utc(2026, 1, 15, 7, 59)) == []  # still Jan 14 locally
    one = periods_for(cal, M, start, None, now=utc(2026, 1, 15, 8))
    assert spans(one) == [(D(2026, 1, 15), D(2026, 1, 31))]
    # Last period is the whole period containing now (no end date to clip to).
    three = periods_for(cal, M, start, None, now=utc(2026, 3, 10))
    assert spans(three) == [
        (D(2026, 1, 15), D(2026, 1, 31)),
        (D(2026, 2, 1), D(2026, 2, 28)),
        (D(2026, 3, 1), D(2026, 3, 31)),
    ]
    assert three[:1] == one
    assert three[-1].contains(utc(2026, 3, 10))
    # The instant just before local April 1st is still in March.
    assert len(periods_for(cal, M, start, None, now=utc(2026, 4, 1, 6, 59, 59))) == 3
    assert len(periods_for(cal, M, start, None, now=utc(2026, 4, 1, 7))) == 4
    assert [p.index for p in three] == [0, 1, 2]


def test_open_ended_requires_aware_now() -> None:
    cal = Calendar()
    with pytest.raises(ValueError, match="now"):
        periods_for(cal, M, D(2026, 1, 1), None)
    with pytest.raises(ValueError, match="aware"):
        periods_for(cal, M, D(2026, 1, 1), None, now=datetime(2026, 3, 1))


def test_clipping() -> None:
    cal = Calendar()
    clipped = periods_for(cal, M, D(2026, 1, 15), D(2026, 3, 10))
    assert spans(clipped) == [
        (D(2026, 1, 15), D(2026, 1, 31)),
        (D(2026, 2, 1), D(2026, 2, 28)),
        (D(2026, 3, 1), D(2026, 3, 10)),
    ]
    assert [p.days for p in clipped] == [17, 28, 10]
    assert clipped[0].start == utc(2026, 1, 15) and clipped[-1].end == utc(2026, 3, 11)
    whole = periods_for(cal, M, D(2026, 1, 15), D(2026, 3, 10), clip=False)
    assert spans(whole) == [
        (D(2026, 1, 1), D(2026, 1, 31)),
        (D(2026, 2, 1), D(2026, 2, 28)),
        (D(2026, 3, 1), D(2026, 3, 31)),
    ]
    assert [p.label for p in whole] == [p.label for p in clipped] == ["2026-01", "2026-02", "2026-03"]
    assert [p.index for p in whole] == [0, 1, 2]


def test_single_day_goal() -> None:
    (p,) = periods_for(Calendar("Asia/Kolkata"), Y, D(2026, 5, 5), D(2026, 5, 5))
    assert (p.start_date, p.end_date, p.days, hours(p)) == (D(2026, 5, 5), D(2026, 5, 5), 1, 24)


# --------------------------------------------------------------------------
# periods_in_range
# --------------------------------------------------------------------------


def test_periods_in_range_far_future_for_open_ended_goal() -> None:
    cal = Calendar("Europe/Stockholm")
    start = D(1990, 1, 3)
    # Materialising every week since 1990 would exceed MAX_PERIODS ...
    with pytest.raises(ValueError, match="periods"):
        periods_for(cal, W, start, None, now=utc(2090, 1, 1))
    # ... but a window far ahead is computed arithmetically.
    got = periods_in_range(cal, W, start, None, first=D(2090, 3, 4), last=D(2090, 3, 20))
    origin = period_start_date(cal, W, start)
    assert [p.index for p in got] == [(p.start_date - origin).days // 7 for p in got]
    assert spans(got) == [
        (D(2090, 2, 27), D(2090, 3, 5)),
        (D(2090, 3, 6), D(2090, 3, 12)),
        (D(2090, 3, 13), D(2090, 3, 19)),
        (D(2090, 3, 20), D(2090, 3, 26)),
    ]
    assert all(p.start_date.weekday() == 0 for p in got)
    assert all(p.start == local_midnight(cal, p.start_date) for p in got)


def test_periods_in_range_matches_periods_for_slice() -> None:
    cal = Calendar("Pacific/Auckland", fiscal_year_start_month=4)
    start, end = D(2020, 2, 10), D(2031, 8, 20)
    for interval in (W, M, Q, Y):
        for clip in (True, False):
            full = periods_for(cal, interval, start, end, fiscal=True, clip=clip)
            first, last = D(2027, 5, 17), D(2028, 1, 2)
            window = periods_in_range(cal, interval, start, end, fiscal=True, first=first, last=last, clip=clip)
            assert window == [p for p in full if p.start_date <= last and p.end_date >= first]
            assert window


def test_periods_in_range_with_now_stops_at_current_period() -> None:
    cal = Calendar()
    now = utc(2026, 5, 10)
    got = periods_in_range(cal, M, D(2026, 1, 15), None, first=D(2026, 4, 1), last=D(2026, 12, 31), now=now)
    assert [p.label for p in got] == ["2026-04", "2026-05"]
    assert got == periods_for(cal, M, D(2026, 1, 15), None, now=now)[3:]
    assert periods_in_range(cal, M, D(2026, 1, 15), None, first=D(2026, 6, 1), last=D(2026, 6, 2), now=now) == []
    without_now = periods_in_range(cal, M, D(2026, 1, 15), None, first=D(2026, 4, 1), last=D(2026, 12, 31))
    assert len(without_now) == 9


def test_periods_in_range_outside_goal_and_custom() -> None:
    cal = Calendar()
    assert periods_in_range(cal, M, D(2026, 1, 15), D(2026, 3, 1), first=D(2025, 1, 1), last=D(2026, 1, 14)) == []
    assert periods_in_range(cal, M, D(2026, 1, 15), D(2026, 3, 1), first=D(2026, 3, 2), last=D(2026, 9, 1)) == []
    # Unclipped, the first period reaches back to Jan 1.
    (p,) = periods_in_range(cal, M, D(2026, 1, 15), D(2026, 3, 1), first=D(2025, 1, 1), last=D(2026, 1, 14), clip=False)
    assert (p.index, p.start_date) == (0, D(2026, 1, 1))
    custom = periods_for(cal, C, D(2026, 3, 15), D(2026, 6, 30))
    assert periods_in_range(cal, C, D(2026, 3, 15), D(2026, 6, 30), first=D(2026, 6, 30), last=D(2026, 7, 1)) == custom
    assert periods_in_range(cal, C, D(2026, 3, 15), D(2026, 6, 30), first=D(2026, 7, 1), last=D(2026, 7, 1)) == []


# --------------------------------------------------------------------------
# elapsed_fraction
# --------------------------------------------------------------------------


def test_elapsed_fraction() -> None:
    cal = Calendar("Europe/Stockholm")
    (p,) = periods_for(cal, M, D(2026, 3, 1), D(2026, 3, 31))  # 743 hours
    assert elapsed_fraction(p, p.start - timedelta(days=3)) == 0.0
    assert elapsed_fraction(p, p.start) == 0.0
    assert elapsed_fraction(p, p.end) == 1.0
    assert elapsed_fraction(p, p.end + timedelta(days=3)) == 1.0
    assert elapsed_fraction(p, p.start + timedelta(hours=371.5)) == pytest.approx(0.5)
    # Local noon on March 29 (after the switch): 28 days + 11 hours elapsed.
    noon = datetime(2026, 3, 29, 12, tzinfo=cal.tz)
    assert elapsed_fraction(p, noon) == pytest.approx((28 * 24 + 11) / 743)
    with pytest.raises(ValueError, match="aware"):
        elapsed_fraction(p, datetime(2026, 3, 10))


# --------------------------------------------------------------------------
# Invalid input
# --------------------------------------------------------------------------


def test_start_after_end_is_rejected() -> None:
    with pytest.raises(ValueError, match="2026-03-01 is after end date 2026-02-01"):
        periods_for(Calendar(), M, D(2026, 3, 1), D(2026, 2, 1))
    with pytest.raises(ValueError, match="after"):
        periods_for(Calendar(), C, D(2026, 3, 1), D(2026, 2, 1))
    with pytest.raises(ValueError, match="after"):
        periods_in_range(Calendar(), M, D(2026, 1, 1), None, first=D(2026, 3, 1), last=D(2026, 2, 1))


def test_absurd_span_is_rejected_with_count() -> None:
    with pytest.raises(ValueError, match=r"10436 weekly periods"):
        periods_for(Calendar(), W, D(1900, 1, 1), D(2099, 12, 31))
    with pytest.raises(ValueError, match=str(MAX_PERIODS)):
        periods_for(Calendar(), M, D(1000, 1, 1), None, now=utc(2026, 1, 1))
    # Exactly at the limit is fine.
    assert MAX_PERIODS == 2000
    assert len(periods_for(Calendar(), M, D(2000, 1, 1), D(2166, 8, 31))) == 2000
    with pytest.raises(ValueError, match="2001 monthly periods"):
        periods_for(Calendar(), M, D(2000, 1, 1), D(2166, 9, 1))
    with pytest.raises(ValueError, match="periods"):
        periods_in_range(Calendar(), W, D(1900, 1, 1), None, first=D(1900, 1, 1), last=D(2099, 1, 1))


def test_wrong_types_are_rejected() -> None:
    cal = Calendar()
    with pytest.raises(TypeError, match="start"):
        periods_for(cal, M, datetime(2026, 1, 1, tzinfo=UTC), D(2026, 2, 1))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="end"):
        periods_for(cal, M, D(2026, 1, 1), "2026-02-01")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="day"):
        local_midnight(cal, datetime(2026, 1, 1))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="first"):
        periods_in_range(cal, M, D(2026, 1, 1), None, first=None, last=D(2026, 1, 1))  # type: ignore[arg-type]


def test_out_of_range_dates_raise_value_error() -> None:
    with pytest.raises(ValueError, match="range"):
        periods_for(Calendar(), Y, D(9999, 6, 1), D(9999, 12, 31), clip=False)
    with pytest.raises(ValueError, match="range"):
        local_midnight(Calendar("Pacific/Auckland"), D(1, 1, 1))


# --------------------------------------------------------------------------
# Performance
# --------------------------------------------------------------------------


def test_ten_year_weekly_goal_is_fast() -> None:
    cal = Calendar("Europe/Stockholm")
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        ps = periods_for(cal, W, D(2020, 1, 1), D(2029, 12, 31))
        best = min(best, time.perf_counter() - t0)
    assert len(ps) == 523
    assert best < 0.010


# --------------------------------------------------------------------------
# Property tests
# --------------------------------------------------------------------------

ZONES = [
    "UTC",
    "Europe/Stockholm",
    "America/Los_Angeles",
    "Pacific/Auckland",
    "Asia/Kolkata",
    "Australia/Lord_Howe",  # 30-minute DST shift
    "Pacific/Chatham",  # +12:45 / +13:45
    "America/St_Johns",  # -03:30
    "America/Sao_Paulo",  # historic DST gaps at midnight, southern hemisphere
    "America/Havana",  # DST gaps and repeats at midnight
    "Asia/Tehran",  # historic DST gaps at midnight
    "Pacific/Apia",  # skipped 2011-12-30
]
CALENDAR_INTERVALS = [W, M, Q, Y]

calendars = st.builds(
    Calendar,
    time_zone=st.sampled_from(ZONES),
    week_start=st.integers(0, 6),
    fiscal_year_start_month=st.integers(1, 12),
)
start_dates = st.dates(D(2000, 1, 1), D(2040, 12, 31))
PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _check_well_formed(cal: Calendar, ps: list[Period]) -> None:
    assert [p.index for p in ps] == list(range(ps[0].index, ps[0].index + len(ps)))
    for p in ps:
        assert p.start == local_midnight(cal, p.start_date)
        assert p.end == local_midnight(cal, p.end_date + timedelta(1))
        assert p.start <= p.end
        assert p.start_date <= p.end_date
        assert p.start.tzinfo is UTC and p.end.tzinfo is UTC
    for a, b in zip(ps, ps[1:]):
        assert a.end == b.start  # contiguous, hence non-overlapping
        assert a.end_date + timedelta(1) == b.start_date


def _containing(ps: list[Period], moment: datetime) -> list[Period]:
    return [p for p in ps if p.contains(moment)]


@PROPS
@given(
    cal=calendars,
    interval=st.sampled_from(CALENDAR_INTERVALS + [C]),
    fiscal=st.booleans(),
    start=start_dates,
    span=st.integers(0, 4000),
    clip=st.booleans(),
    data=st.data(),
)
def test_prop_periods_cover_goal(
    cal: Calendar, interval: Interval, fiscal: bool, start: date, span: int, clip: bool, data: st.DataObject
) -> None:
    end = start + timedelta(span)
    ps = periods_for(cal, interval, start, end, fiscal=fiscal, clip=clip)
    assert ps and ps[0].index == 0
    _check_well_formed(cal, ps)
    lo, hi = local_midnight(cal, start), local_midnight(cal, end + timedelta(1))
    if clip or interval is C:
        assert ps[0].start == lo and ps[-1].end == hi
        assert (ps[0].start_date, ps[-1].end_date) == (start, end)
    else:
        assert ps[0].start <= lo and ps[-1].end >= hi
    if interval is not C:
        whole = periods_for(cal, interval, start, end, fiscal=fiscal, clip=False)
        for p in whole:
            assert period_start_date(cal, interval, p.start_date, fiscal=fiscal) == p.start_date
            assert next_period_start(cal, interval, p.start_date, fiscal=fiscal) == p.end_date + timedelta(1)
            assert p.days in {W: {7}, M: {28, 29, 30, 31}, Q: {89, 90, 91, 92}, Y: {365, 366}}[interval]
        assert [p.label for p in whole] == [p.label for p in ps]
        assert len(set(p.label for p in whole)) == len(whole)
    # Random instants inside the goal's range lie in exactly one period.
    starts = [p.start for p in ps]
    total = int((hi - lo).total_seconds())
    assume(total > 0)
    for _ in range(5):
        offset = data.draw(st.integers(0, total - 1), label="offset")
        moment = lo + timedelta(seconds=offset)
        moment = moment.astimezone(data.draw(st.sampled_from([UTC, cal.tz, ZoneInfo("Asia/Tokyo")])))
        hits = _containing(ps, moment)
        assert len(hits) == 1
        assert hits[0] is ps[bisect_right(starts, moment) - 1]
        if interval is not C:
            s, e = period_containing(cal, interval, moment, fiscal=fiscal)
            assert s <= hits[0].start_date and hits[0].end_date <= e
            assert period_start_date(cal, interval, hits[0].end_date, fiscal=fiscal) == s
            assert 0.0 <= elapsed_fraction(hits[0], moment) < 1.0


@PROPS
@given(
    cal=calendars,
    interval=st.sampled_from(CALENDAR_INTERVALS + [C]),
    fiscal=st.booleans(),
    start=start_dates,
    span=st.integers(0, 3000),
    clip=st.booleans(),
    open_ended=st.booleans(),
    window_shift=st.integers(-500, 3500),
    window_len=st.integers(0, 900),
    now_days=st.integers(-30, 3000),
    now_seconds=st.integers(0, 86399),
)
def test_prop_periods_in_range_is_slice_of_periods_for(
    cal: Calendar,
    interval: Interval,
    fiscal: bool,
    start: date,
    span: int,
    clip: bool,
    open_ended: bool,
    window_shift: int,
    window_len: int,
    now_days: int,
    now_seconds: int,
) -> None:
    assume(not (open_ended and interval is C))
    end = None if open_ended else start + timedelta(span)
    now = local_midnight(cal, start) + timedelta(days=now_days, seconds=now_seconds)
    full = periods_for(cal, interval, start, end, fiscal=fiscal, now=now, clip=clip)
    first = start + timedelta(window_shift)
    last = first + timedelta(window_len)
    expected = [p for p in full if p.start_date <= last and p.end_date >= first]
    got = periods_in_range(cal, interval, start, end, fiscal=fiscal, first=first, last=last, clip=clip, now=now)
    assert got == expected
    if open_ended:
        assert (full == []) == (now < local_midnight(cal, start))
        if full:
            assert full[-1].contains(now)
            _check_well_formed(cal, full)
            # Without `now`, the window is not capped; it still agrees up to the current period.
            uncapped = periods_in_range(cal, interval, start, None, fiscal=fiscal, first=first, last=last, clip=clip)
            assert uncapped[: len(got)] == got
            assert all(p.index > full[-1].index for p in uncapped[len(got):])


@PROPS
@given(
    cal=calendars,
    interval=st.sampled_from(CALENDAR_INTERVALS),
    fiscal=st.booleans(),
    start=start_dates,
    first_days=st.integers(0, 2000),
    more_days=st.integers(0, 2000),
)
def test_prop_open_ended_goal_only_grows(
    cal: Calendar, interval: Interval, fiscal: bool, start: date, first_days: int, more_days: int
) -> None:
    base = local_midnight(cal, start)
    now1 = base + timedelta(days=first_days, hours=5)
    now2 = now1 + timedelta(days=more_days)
    p1 = periods_for(cal, interval, start, None, fiscal=fiscal, now=now1)
    p2 = periods_for(cal, interval, start, None, fiscal=fiscal, now=now2)
    assert p2[: len(p1)] == p1
    assert p1[-1].contains(now1) and p2[-1].contains(now2)
    s, e = period_containing(cal, interval, now2, fiscal=fiscal)
    assert (p2[-1].start_date, p2[-1].end_date) == (max(s, start), e)  # only the start is clipped


@PROPS
@given(cal=calendars, day=st.dates(D(1990, 1, 1), D(2045, 12, 31)))
def test_prop_local_midnight_starts_the_day(cal: Calendar, day: date) -> None:
    m = local_midnight(cal, day)
    nxt = local_midnight(cal, day + timedelta(1))
    assert m <= nxt
    assert (nxt - m) <= timedelta(hours=26)
    if m < nxt:  # the day exists locally
        assert m.astimezone(cal.tz).date() == day
        assert (m - timedelta(seconds=1)).astimezone(cal.tz).date() < day


@pytest.mark.parametrize("tz", ["America/Sao_Paulo", "America/Havana", "Asia/Tehran", "Pacific/Apia", "Europe/Stockholm"])
def test_every_local_midnight_1995_2025(tz: str) -> None:
    """Exhaustive check over zones whose DST transitions happen at midnight."""
    cal = Calendar(tz)
    day, stop = D(1995, 1, 1), D(2026, 1, 1)
    prev = local_midnight(cal, day)
    while day < stop:
        nxt_day = day + timedelta(1)
        nxt = local_midnight(cal, nxt_day)
        assert prev <= nxt
        if prev < nxt:
            assert prev.astimezone(cal.tz).date() == day
            assert (prev - timedelta(seconds=1)).astimezone(cal.tz).date() < day
            assert (nxt - timedelta(seconds=1)).astimezone(cal.tz).date() == day
        day, prev = nxt_day, nxt
