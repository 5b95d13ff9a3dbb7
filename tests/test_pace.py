"""Pace status: ON_TRACK / BEHIND / AT_RISK from a projection that stays sensible on a period's first day."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from test_goals_api import seeded  # noqa: F401 - the fixture
from hypothesis import given, settings
from hypothesis import strategies as st

from goalgraph.periods import Calendar, Interval, periods_for
from goalgraph.progress.status import Rules, PaceStatus, Status, pace, status

UTC = timezone.utc
CAL = Calendar("Europe/Oslo", 0, 1)
APRIL = periods_for(CAL, Interval.MONTHLY, date(2026, 4, 1), date(2026, 4, 30))[0]  # 30 days
COUNTS = Rules(whole=True)
CAP = Rules(lower_is_better=True, whole=True)
LEVEL = Rules(cumulative=False)
D = Decimal


def at(days: float) -> datetime:
    return APRIL.start + timedelta(days=days)


def test_no_pace_before_or_after_the_period() -> None:
    assert pace(D(3), D(10), APRIL, APRIL.start - timedelta(seconds=1)) is None
    assert pace(D(3), D(10), APRIL, APRIL.end) is None
    assert pace(D(3), D(10), APRIL, APRIL.start) is not None


def test_halfway_with_nothing_done_is_at_risk() -> None:
    """The audit's case: 0 of 25 half-way through showed a plain "In progress"."""
    p = pace(D(0), D(25), APRIL, at(15), COUNTS)
    assert p is not None and (p.projected, p.status) == (D(0), PaceStatus.AT_RISK)
    assert status(D(0), D(25), APRIL, at(15)) is Status.IN_PROGRESS  # the status itself is unchanged


def test_first_day_projections_stay_near_the_plan() -> None:
    """One early deal does not project thirty, and nothing done yet is not a failure after an hour."""
    one = pace(D(1), D(10), APRIL, at(1), COUNTS)
    # 1 + 29/30 × (1/15 × 30 + 14/15 × 10): the observed pace weighs in at 1/15 on day one.
    assert one is not None and one.projected == D(12) and one.status is PaceStatus.ON_TRACK
    assert one.projected == one.projected.to_integral_value()  # whole numbers for counts
    none_yet = pace(D(0), D(10), APRIL, at(1 / 24), COUNTS)
    assert none_yet is not None and none_yet.status is PaceStatus.ON_TRACK and none_yet.projected == D(10)
    # At the very start the projection is the plan itself.
    start = pace(D(0), D(10), APRIL, APRIL.start, COUNTS)
    assert start is not None and start.projected == D(10)


def test_a_big_early_win_projects_at_most_three_times_itself_plus_the_plan() -> None:
    big = pace(D("155232796"), D("1000000"), APRIL, at(1))
    # The observed pace weighs elapsed / 0.5, so before half-way it adds at most 2 × the actual: not 30 ×.
    assert big is not None and big.projected <= D("155232796") * 3 + D("1000000")
    assert big.status is PaceStatus.ON_TRACK


def test_thresholds_on_the_projection() -> None:
    # From half-way on the observed pace counts fully: projected = actual / elapsed.
    assert pace(D("9.0"), D(20), APRIL, at(15)).status is PaceStatus.ON_TRACK   # 18 = 90 %
    assert pace(D("8.9"), D(20), APRIL, at(15)).status is PaceStatus.BEHIND     # 17.8
    assert pace(D("7.0"), D(20), APRIL, at(15)).status is PaceStatus.BEHIND     # 14 = 70 %
    assert pace(D("6.9"), D(20), APRIL, at(15)).status is PaceStatus.AT_RISK    # 13.8
    assert pace(D(20), D(20), APRIL, at(2)).status is PaceStatus.ON_TRACK       # reached
    assert pace(D(0), D(0), APRIL, at(2)).status is PaceStatus.ON_TRACK         # a zero target


def test_forecasts_are_not_extrapolated() -> None:
    p = pace(D(800), D(1000), APRIL, at(1), LEVEL)
    assert p is not None and (p.projected, p.expected_by_now, p.status) == (D(800), D(1000), PaceStatus.BEHIND)


def test_lower_is_better_reads_the_other_way() -> None:
    assert pace(D(2), D(10), APRIL, at(15), CAP).status is PaceStatus.ON_TRACK  # heading for 4
    assert pace(D(6), D(10), APRIL, at(15), CAP).status is PaceStatus.BEHIND    # heading for 12 ≤ 14.3
    assert pace(D(8), D(10), APRIL, at(15), CAP).status is PaceStatus.AT_RISK   # heading for 16
    assert pace(D(11), D(10), APRIL, at(2), CAP).status is PaceStatus.AT_RISK   # the cap is broken
    assert status(D(11), D(10), APRIL, at(2), CAP) is Status.MISSED             # and cannot be mended
    assert status(D(3), D(10), APRIL, at(2), CAP) is Status.IN_PROGRESS         # judged at the end
    assert status(D(3), D(10), APRIL, APRIL.end, CAP) is Status.EXCEEDED        # beat the cap
    assert status(D(10), D(10), APRIL, APRIL.end, CAP) is Status.ACHIEVED
    assert pace(D(0), D(0), APRIL, at(3), CAP).status is PaceStatus.ON_TRACK
    assert pace(D(1), D(0), APRIL, at(3), CAP).status is PaceStatus.AT_RISK


@settings(max_examples=300, deadline=None, database=None)
@given(actual=st.integers(0, 10_000), target=st.integers(0, 10_000), hours=st.integers(0, 30 * 24 - 1))
def test_the_projection_is_bounded_and_monotonic(actual: int, target: int, hours: int) -> None:
    """Never below the actual; never above actual + (observed or planned pace) over the rest; more done
    never projects less; the verdict never gets worse for a higher actual."""
    now = APRIL.start + timedelta(hours=hours)
    p = pace(D(actual), D(target), APRIL, now, COUNTS)
    q = pace(D(actual + 1), D(target), APRIL, now, COUNTS)
    assert p is not None and q is not None
    assert p.projected >= actual
    share = D(str(round(p.elapsed, 6)))
    ceiling = actual + (1 - share) * max(D(actual) / share if share else D(target), D(target))
    assert p.projected <= ceiling.to_integral_value() + 1
    assert q.projected >= p.projected
    order = [PaceStatus.AT_RISK, PaceStatus.BEHIND, PaceStatus.ON_TRACK]
    assert order.index(q.status) >= order.index(p.status)


GOALS = """query($filter: GoalFilter, $order: GoalOrder) {
  goals(filter: $filter, orderBy: $order) { nodes { title currentPeriod { pace { status projectedAtEnd } } } } }"""
CREATE = """mutation($input: GoalInput!) { createGoal(input: $input) { __typename } }"""


async def test_goal_lists_filter_and_order_by_pace(seeded, gql) -> None:  # type: ignore[no-untyped-def]
    """Through the API (15 April, Oslo): 10 deals added so far this month; goals of 12 (on track), 25
    (behind), 100 (at risk) and a zero target; listed AT_RISK first and filtered by pace."""
    from goalgraph.ingest.batch import ingest_batch

    async with seeded.sessions() as session, session.begin():
        await ingest_batch(session, {"deals": [
            {"id": f"april-{i}", "title": "T", "value": "1", "currency": "EUR", "owner_id": "alice", "stage_id": "lead",
             "added_at": f"2026-04-{i + 2:02d}T09:00:00+02:00"} for i in range(10)]})
    for title, target in (("behind", "25"), ("zero", "0"), ("risk", "100"), ("track", "12")):
        result = await gql(CREATE, input={"title": title, "goalType": "DEALS_ADDED", "measure": "COUNT",
                                          "assignee": {"kind": "COMPANY"}, "interval": "MONTHLY",
                                          "startDate": "2026-04-01", "targetForAll": target})
        assert result["createGoal"]["__typename"] == "GoalSuccess", result
    listed = (await gql(GOALS, order="PACE"))["goals"]["nodes"]
    paces = {n["title"]: n["currentPeriod"]["pace"] for n in listed}
    assert {t: p["status"] for t, p in paces.items()} == {
        "risk": "AT_RISK", "behind": "BEHIND", "track": "ON_TRACK", "zero": "ON_TRACK"}
    assert paces["track"]["projectedAtEnd"] == "20"  # 10 in 14.6 of 30 days: whole numbers for counts
    assert [n["title"] for n in listed][:2] == ["risk", "behind"]
    at_risk = (await gql(GOALS, filter={"paceStatus": ["AT_RISK", "BEHIND"]}))["goals"]["nodes"]
    assert {n["title"] for n in at_risk} == {"risk", "behind"}
