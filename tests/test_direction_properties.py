"""Property test: directions and averages, through the store and the engine, against a plain-Python reference.

Hypothesis draws an organisation time zone and week start, won (and open) deals of two users in EUR
over the first half of 2026 and 1–4 goals —
DEALS_WON COUNT or VALUE, or the mean deal value (an AVERAGE measure registered for the test), each
higher- or lower-is-better, weekly or monthly, for the company or a user, with a target (0 now and
then) — and a moment "now" around them. Each goal's periods from
:func:`goalgraph.progress.service.compute_progress` (rows computed by the engine on the real
database) are compared with the reference, written out here from docs/goals.md ("Direction",
"Status and pace"): the actual (count, sum, or mean to 4 places), the ratio, the status, the pace
(expected by now, projection, verdict) of the period under way, and the summary over all periods
(sums; for an average the fact-weighted mean and the mean target) with its status.

``GOALGRAPH_PROPERTY_EXAMPLES`` sets the examples per database (default here 25: the suite stays fast).
"""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from goalgraph.db.models import Deal, DealStageChange, Goal, Pipeline, ProgressMark, Stage, StoredProgress, User
from goalgraph.ingest.batch import ingest_batch
from goalgraph.organisation import OrganisationSettings
from goalgraph.progress.service import compute_progress
from goalgraph.progress.summary import summary_status
from goalgraph.registry import Measure
from goalgraph.runtime import Runtime

UTC = timezone.utc
EXAMPLES = int(os.environ.get("GOALGRAPH_PROPERTY_EXAMPLES", "25"))
Q = Decimal("0.0001")
START = datetime(2026, 1, 1, tzinfo=UTC)
HALF_YEAR = 181 * 86400
USERS = ("u1", "u2")
MEASURES = (("DEALS_WON", "COUNT"), ("DEALS_WON", "VALUE"), ("AVERAGE_WON_DEAL", "AVERAGE_VALUE"))

DEAL = st.tuples(st.integers(0, 1), st.integers(1, 500_000), st.integers(0, HALF_YEAR - 1), st.booleans())
GOAL = st.fixed_dictionaries({
    "measure": st.sampled_from(MEASURES),
    "lower": st.booleans(),
    "interval": st.sampled_from(("MONTHLY", "MONTHLY", "WEEKLY")),
    "start": st.integers(0, 120),
    "span": st.integers(0, 60),
    "user": st.sampled_from((None, 0, 1)),
    "target": st.one_of(st.just(0), st.integers(1, 12), st.integers(1, 500_000)),
})


def q(value: Decimal) -> Decimal:
    """To 4 places, half to even: how amounts, means and ratios are rounded (projections round half up)."""
    return value.quantize(Q)


# --------------------------------------------------------------------------
# The reference: the rules as docs/goals.md states them, written out again.
# --------------------------------------------------------------------------

def ref_actual(measure: str, values: list[Decimal]) -> Decimal:
    if measure == "COUNT":
        return Decimal(len(values))
    if measure == "VALUE":
        return q(sum(values, Decimal(0)))
    return q(sum(values, Decimal(0)) / len(values)) if values else q(Decimal(0))


def ref_reached(actual: Decimal, target: Decimal, lower: bool) -> str | None:
    if lower:
        return None if actual > target else "EXCEEDED" if actual < target else "ACHIEVED"
    if target == 0:
        return "ACHIEVED"
    return "EXCEEDED" if actual > target else "ACHIEVED" if actual == target else None


def ref_status(actual: Decimal, target: Decimal, start: datetime, end: datetime, now: datetime, lower: bool,
               cumulative: bool, facts: int | None = None) -> str:
    if now < start:
        return "PENDING"
    if not cumulative and facts == 0:  # an average of nothing meets no target
        return "IN_PROGRESS" if now < end else "MISSED"
    if lower:
        if cumulative and actual > target:
            return "MISSED"  # a sum over its cap can only grow
        return "IN_PROGRESS" if now < end else ref_reached(actual, target, True) or "MISSED"
    hit = ref_reached(actual, target, False)
    return hit or ("MISSED" if now >= end else "IN_PROGRESS")


def ref_pace(actual: Decimal, target: Decimal, facts: int, start: datetime, end: datetime, now: datetime,
             lower: bool, measure: str) -> tuple[Decimal, Decimal, str]:
    share = Decimal(str(round((now - start) / (end - start), 6)))
    if measure == "AVERAGE_VALUE":  # a level: the target is where it should stand; not extrapolated
        expected, projected = target, (target if facts == 0 else actual)
    else:
        expected = target * share
        trust = min(Decimal(1), share * 2)
        observed = actual / share if share else target
        projected = actual + (1 - share) * (trust * observed + (1 - trust) * target)
    projected = projected.quantize(Decimal(1) if measure == "COUNT" else Q, rounding=ROUND_HALF_UP)
    if lower:
        if measure != "AVERAGE_VALUE" and actual > target:
            verdict = "AT_RISK"
        elif target == 0:
            verdict = "ON_TRACK" if projected == 0 else "AT_RISK"
        else:
            verdict = ("ON_TRACK" if projected <= target / Decimal("0.9") else
                       "BEHIND" if projected <= target / Decimal("0.7") else "AT_RISK")
    elif target == 0 or actual >= target or projected >= target * Decimal("0.9"):
        verdict = "ON_TRACK"
    else:
        verdict = "BEHIND" if projected >= target * Decimal("0.7") else "AT_RISK"
    return q(expected), projected, verdict


# --------------------------------------------------------------------------
# The property
# --------------------------------------------------------------------------

WIPE = (StoredProgress, ProgressMark, Goal, DealStageChange, Deal, Stage, Pipeline, User)


def _register_average(runtime: Runtime) -> None:
    if "AVERAGE_WON_DEAL" not in runtime.registry.goal_types:
        won = runtime.registry.goal_types["DEALS_WON"]
        mean = Measure("AVERAGE_VALUE", "Average deal value", column="value", money=True, average=True)
        runtime.registry.add_goal_type(replace(won, key="AVERAGE_WON_DEAL", label="Average won deal",
                                               measures=(mean,)), "test")


@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(deals=st.lists(DEAL, max_size=25), goals=st.lists(GOAL, min_size=1, max_size=4),
       now_offset=st.integers(-10 * 86400, HALF_YEAR + 40 * 86400),
       zone=st.sampled_from(("UTC", "Europe/Oslo", "America/New_York", "Pacific/Auckland")), week_start=st.integers(0, 6))
async def test_directions_and_averages_match_the_reference(runtime: Runtime, deals: list, goals: list,
                                                           now_offset: int, zone: str, week_start: int) -> None:
    _register_average(runtime)
    now = START + timedelta(seconds=now_offset)
    batch_deals = []
    for i, (owner, cents, at, won) in enumerate(deals):
        moment = START + timedelta(seconds=at)
        deal = {"id": f"d{i}", "title": f"D{i}", "value": Decimal(cents) / 100, "currency": "EUR",
                "owner_id": USERS[owner], "stage_id": "s1", "status": "WON" if won else "OPEN",
                "added_at": START - timedelta(days=1)}
        if won:
            deal["won_at"] = moment
        batch_deals.append(deal)
    async with runtime.sessions() as session, session.begin():
        for model in WIPE:
            await session.execute(delete(model))
        await ingest_batch(session, {
            "users": [{"id": u, "name": u.upper()} for u in USERS],
            "pipelines": [{"id": "p1", "name": "P1", "stages": [{"id": "s1", "name": "S1", "probability": 50}]}],
            "deals": batch_deals})
        user_ids = {u.external_id: u.id for u in (await session.scalars(select(User))).all()}
        rows = []
        for n, g in enumerate(goals):
            goal_type, measure = g["measure"]
            start = date(2026, 1, 1) + timedelta(g["start"])
            start = start.replace(day=1) if g["interval"] == "MONTHLY" else start
            end = start + timedelta(g["span"] if g["interval"] == "WEEKLY" else g["span"] * 3)
            user = None if g["user"] is None else user_ids[USERS[g["user"]]]
            rows.append(Goal(
                title=f"g{n}", goal_type=goal_type, measure=measure, assignee_kind="USER" if user else "COMPANY",
                assignee_user_id=user, filters={}, currency=None if measure == "COUNT" else "EUR",
                interval=g["interval"], start_date=start, end_date=end, fiscal=False, target=Decimal(g["target"]),
                direction="LOWER_IS_BETTER" if g["lower"] else "HIGHER_IS_BETTER", created_at=START, updated_at=START))
        session.add_all(rows)
    async with runtime.sessions() as session:
        progress = await compute_progress(session, runtime.registry, rows, now,
                                          organisation=OrganisationSettings(time_zone=zone, week_start=week_start))

    won_deals = [(user_ids[USERS[o]], Decimal(c) / 100, START + timedelta(seconds=at)) for o, c, at, w in deals if w]
    problems: list[str] = []
    for goal, g in zip(rows, goals):
        measure, lower, average = goal.measure, g["lower"], goal.measure == "AVERAGE_VALUE"
        got = progress[goal.id]
        parts = []
        for p in got.periods:
            values = [v for who, v, at in won_deals if p.period.start <= at < p.period.end
                      and (goal.assignee_user_id is None or who == goal.assignee_user_id)]
            target = goal.target if measure == "COUNT" else q(goal.target)
            actual = ref_actual(measure, values)
            want = {"actual": actual, "facts": len(values), "ratio": None if target == 0 else q(actual / target),
                    "status": ref_status(actual, target, p.period.start, p.period.end, now, lower, not average,
                                         len(values)),
                    "pace": ref_pace(actual, target, len(values), p.period.start, p.period.end, now, lower, measure)
                    if p.period.start <= now < p.period.end else None}
            have = {"actual": p.actual, "facts": p.facts, "ratio": p.ratio, "status": p.status.value,
                    "pace": None if p.pace is None else (p.pace.expected_by_now, p.pace.projected, p.pace.status.value)}
            if have != want:
                problems.append(f"{goal.title} {measure} lower={lower} {p.period.label} now={now}: {have} != {want}")
            parts.append((target, actual, len(values), want["status"]))
        # The summary over every period: sums, or for an average the mean over all facts and the mean target.
        if average and parts:
            facts = sum(n for _, _, n, _ in parts)
            totals = (q(sum((t for t, _, _, _ in parts), Decimal(0)) / len(parts)),
                      q(sum((a * n for _, a, n, _ in parts), Decimal(0)) / facts) if facts else q(Decimal(0)))
        else:
            totals = (sum((t for t, _, _, _ in parts), Decimal(0)), sum((a for _, a, _, _ in parts), Decimal(0)))
        under_way = [s for (_, _, _, s), p in zip(parts, got.periods) if p.period.start <= now < p.period.end]
        if not parts or all(s == "PENDING" for *_, s in parts) and not under_way:
            want_status = "PENDING"
        elif under_way:
            want_status = under_way[0]
        elif average and not sum(n for _, _, n, _ in parts):
            want_status = "MISSED"
        else:
            want_status = ref_reached(totals[1], totals[0], lower) or "MISSED"
        have_summary = ((got.total_target, got.total_actual) if parts else totals, summary_status(got).value)
        if have_summary != (totals, want_status):
            problems.append(f"{goal.title} {measure} lower={lower} summary now={now}: {have_summary} != "
                            f"{(totals, want_status)}")
    assert not problems, "\n".join(problems)
