"""A realistic demo organisation: generated deterministically, loaded through the real ingest code.

``goalgraph serve --demo`` calls :func:`ensure_demo_data`, which fills an empty database with
*Nordlys Software AB*: a dozen sellers in three teams, two pipelines, ≈3,000 deals and ≈5,000
activities spread over the 18 months before ``now``, with seasonality (a quiet July and
Christmas, a busy Q4), stronger and weaker sellers, a seller who left and one who joined,
several currencies and custom attributes. :func:`generate_demo` returns the raw batch, in the
shape :func:`goalgraph.ingest.batch.ingest_batch` takes, so tests (and anyone curious) can look
at it without a database. When the service plugin is installed (fact kind ``ticket``), a support
team of four with ≈2,500 tickets in a "Support" ticket pipeline and a few service goals come too
(:func:`generate_service_demo`).

Everything is drawn from ``random.Random(seed)`` and placed relative to ``now``: the same seed
and ``now`` give the same batch. No timestamp lies after ``now`` except the due dates of open
activities (and expected close dates of open deals), which are plans.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from datetime import time as dtime
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from itertools import accumulate
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from goalgraph import clock
from goalgraph.access.admin import set_user_access
from goalgraph.access.gate import licence_status, unrestricted
from goalgraph.access.seats import set_seat
from goalgraph.access.viewer import SYSTEM, viewer_of
from goalgraph.db.models import Activity, Deal, Pipeline, Team, User
from goalgraph.goals.hierarchy import Split, cascade
from goalgraph.goals.entries import add_entry, correct_entry
from goalgraph.goals.service import create_goal
from goalgraph.goals.validation import GoalDraft
from goalgraph.ingest.batch import BATCH_KEYS, ingest_batch
from goalgraph.organisation import get_organisation, update_organisation
from goalgraph.registry import Registry
from goalgraph.rates import set_rates
from goalgraph.runtime import open_runtime
from goalgraph.settings import Settings

__all__ = ["ensure_demo_data", "generate_demo", "generate_service_demo", "ORGANISATION"]

#: The organisation settings the demo stores (fiscal year starting in April on purpose, so
#: fiscal-year alignment shows up in the demo instead of coinciding with calendar years).
ORGANISATION: dict[str, Any] = {
    "name": "Nordlys Software AB",
    "default_currency": "EUR",
    "time_zone": "Europe/Oslo",
    "week_start": 0,
    "fiscal_year_start_month": 4,
}
#: How far back the generated history reaches (≈ 18 months).
HISTORY_DAYS = 548
#: Facts per ``ingest_batch`` call.
CHUNK_SIZE = 5000
EMAIL_DOMAIN = "nordlys.example"

_TZ = ZoneInfo(ORGANISATION["time_zone"])
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


# -- the organisation -----------------------------------------------------------------------------

@dataclass(frozen=True)
class _Seller:
    id: str
    name: str
    team: str
    leader: bool = False
    #: Relative deal volume (and a little win rate).
    strength: float = 1.0
    #: Days before ``now`` the seller joined (None: before the history starts).
    joined_days_ago: int | None = None
    #: Days before ``now`` the seller left (None: still here).
    left_days_ago: int | None = None


_TEAMS = (
    ("team-north", "North"),
    ("team-south", "South"),
    ("team-enterprise", "Enterprise"),
)

_SELLERS = (
    _Seller("user-01", "Ingrid Johansen", "team-north", leader=True, strength=0.6),
    _Seller("user-02", "Lars Nilsen", "team-north", strength=1.7),
    _Seller("user-03", "Sofie Lindqvist", "team-north", strength=1.1),
    _Seller("user-04", "Bjørn Haugen", "team-north", strength=0.8),
    _Seller("user-05", "Pieter de Vries", "team-south", leader=True, strength=0.6),
    _Seller("user-06", "Anouk Bakker", "team-south", strength=1.4),
    _Seller("user-07", "Daan Visser", "team-south", strength=1.0),
    _Seller("user-08", "Freja Holm", "team-south", strength=0.9, joined_days_ago=150),
    _Seller("user-09", "Astrid Lindberg", "team-enterprise", leader=True, strength=0.5),
    _Seller("user-10", "Mikkel Sørensen", "team-enterprise", strength=1.2),
    _Seller("user-11", "Sanne Jansen", "team-enterprise", strength=0.9),
    _Seller("user-12", "Oskar Eriksson", "team-enterprise", strength=1.0, left_days_ago=200),
)

#: Currency mix of each team's customers (North sells in Norway and Sweden, South in the Benelux).
_TEAM_CURRENCIES = {
    "team-north": (("EUR", 35), ("NOK", 38), ("SEK", 27)),
    "team-south": (("EUR", 94), ("USD", 3), ("SEK", 3)),
    "team-enterprise": (("EUR", 68), ("USD", 16), ("NOK", 8), ("SEK", 8)),
}
_TEAM_CATEGORIES = {
    "team-north": (("SMB", 55), ("Mid-market", 38), ("Enterprise", 7)),
    "team-south": (("SMB", 58), ("Mid-market", 35), ("Enterprise", 7)),
    "team-enterprise": (("SMB", 4), ("Mid-market", 31), ("Enterprise", 65)),
}
#: Units of each currency per euro (rough, fixed: this is demo data).
_PER_EUR = {"EUR": 1.0, "NOK": 11.6, "SEK": 11.4, "USD": 1.08}
_LEGAL_FORMS = {"NOK": ("AS", "ASA"), "SEK": ("AB",), "EUR": ("B.V.", "B.V.", "N.V.", "Oy", "GmbH"),
                "USD": ("Inc.", "LLC")}

_NAME_HEADS = ("Fjord", "Nord", "Vest", "Øst", "Berg", "Lys", "Havn", "Skog", "Elv", "Vik", "Sol", "Storm", "Is",
               "Fjell", "Dal", "Ask", "Lind", "Polder", "Dijk", "Molen", "Tulp", "Duin", "Zee", "Brug", "Aurora",
               "Midnatt", "Kyst", "Myr", "Strand", "Sjø", "Vind", "Regn", "Eik", "Gran", "Heide", "Kade")
_NAME_TAILS = ("kraft", "data", "tech", "logistikk", "bygg", "media", "medic", "energi", "handel", "systemer",
               "analytics", "foods", "marine", "finans", "works", "labs", "grid", "soft", "transport", "retail",
               "bank", "vision", "health", "industri")

# -- pipelines -------------------------------------------------------------------------------------

_PIPELINES = (
    ("pipeline-new-business", "New business", (
        ("stage-nb-lead", "Lead", 10),
        ("stage-nb-qualified", "Qualified", 25),
        ("stage-nb-proposal", "Proposal", 50),
        ("stage-nb-negotiation", "Negotiation", 75),
        ("stage-nb-contract", "Contract sent", 90),
    )),
    ("pipeline-renewals", "Renewals", (
        ("stage-rn-due", "Renewal due", 50),
        ("stage-rn-discussion", "In discussion", 70),
        ("stage-rn-quote", "Quote sent", 85),
        ("stage-rn-verbal", "Verbal yes", 95),
    )),
)

#: Per sale type: pipeline, median value in EUR per company category, median sales cycle in days
#: per category, base win rate, and where lost deals stop (weights per stage reached).
_SALE_TYPES: dict[str, dict[str, Any]] = {
    "New business": {
        "pipeline": 0,
        "value": {"SMB": 4_800, "Mid-market": 19_000, "Enterprise": 78_000},
        "cycle": {"SMB": 24, "Mid-market": 50, "Enterprise": 95},
        "win": 0.27,
        "lost_at": (34, 26, 20, 14, 6),
        "products": ("Platform licence", "Starter package", "Team edition", "Pilot project", "Onboarding + licence",
                     "Analytics suite"),
    },
    "Upsell": {
        "pipeline": 0,
        "value": {"SMB": 1_900, "Mid-market": 6_500, "Enterprise": 26_000},
        "cycle": {"SMB": 14, "Mid-market": 28, "Enterprise": 50},
        "win": 0.48,
        "lost_at": (30, 25, 25, 15, 5),
        "products": ("Extra seats", "Analytics add-on", "Premium support", "API access", "Data warehouse connector"),
    },
    "Renewal": {
        "pipeline": 1,
        "value": {"SMB": 2_900, "Mid-market": 11_000, "Enterprise": 45_000},
        "cycle": {"SMB": 18, "Mid-market": 30, "Enterprise": 45},
        "win": 0.82,
        "lost_at": (35, 35, 22, 8),
        "products": ("Annual renewal", "Renewal, 3 years", "Renewal + seats", "Renewal, premium support"),
    },
}
_SALE_TYPE_MIX = {
    "team-north": (("New business", 58), ("Upsell", 18), ("Renewal", 24)),
    "team-south": (("New business", 60), ("Upsell", 16), ("Renewal", 24)),
    "team-enterprise": (("New business", 45), ("Upsell", 28), ("Renewal", 27)),
}

#: Relative number of deals started per month (quiet July and December, busy autumn and Q4).
_SEASON = {1: 0.95, 2: 1.0, 3: 1.1, 4: 0.95, 5: 1.0, 6: 0.9, 7: 0.4, 8: 0.8, 9: 1.15, 10: 1.2, 11: 1.3, 12: 0.85}

# -- activities -----------------------------------------------------------------------------------

_ACTIVITY_SUBJECTS = {
    "call": ("Intro call with {c}", "Follow-up call – {c}", "Check-in call with {c}", "Call back {c}"),
    "email": ("Follow-up email to {c}", "Sent pricing to {c}", "Answered questions from {c}", "Sent case study to {c}"),
    "meeting": ("Meeting at {c}", "Workshop with {c}", "Review meeting – {c}", "Lunch with {c}"),
    "task": ("Prepare quote for {c}", "Update account plan – {c}", "Send contract to {c}", "Check references for {c}"),
    "demo": ("Product demo for {c}", "Analytics demo – {c}", "Technical deep-dive with {c}"),
}
#: Activity types by where the deal is (early stages call and mail, late stages meet) and for
#: activities without a deal.
_TYPES_EARLY = (("call", 40), ("email", 30), ("demo", 12), ("meeting", 8), ("task", 10))
_TYPES_LATE = (("meeting", 30), ("email", 28), ("task", 22), ("call", 15), ("demo", 5))
_TYPES_FREE = (("call", 36), ("email", 30), ("task", 20), ("meeting", 10), ("demo", 4))
#: How long before it happens an activity is planned, in hours (min, max) per type.
_LEAD_HOURS = {"call": (0, 48), "email": (0, 8), "meeting": (48, 336), "demo": (72, 336), "task": (12, 168)}


# -- helpers --------------------------------------------------------------------------------------

@lru_cache(maxsize=None)
def _table(weighted: tuple[tuple[str, float], ...]) -> tuple[list[str], list[float]]:
    return [k for k, _ in weighted], list(accumulate(w for _, w in weighted))


def _pick(rng: random.Random, weighted: tuple[tuple[str, float], ...]) -> str:
    keys, cum_weights = _table(weighted)
    return rng.choices(keys, cum_weights=cum_weights)[0]


def _iso(moment: datetime) -> str:
    """An ISO 8601 timestamp in the organisation's time zone, with its offset."""
    return moment.astimezone(_TZ).isoformat(timespec="seconds")


def _local_day(moment: datetime) -> date:
    return moment.astimezone(_TZ).date()


def _at_local(day: date, minutes: int) -> datetime:
    """``minutes`` after local midnight of ``day``, as a UTC instant."""
    local = datetime.combine(day, dtime(minutes // 60, minutes % 60), tzinfo=_TZ)
    return local.astimezone(timezone.utc)


def _work_minutes(rng: random.Random) -> int:
    """A time of the working day (08:00–17:30), in minutes after midnight, busiest mid-morning."""
    return int(rng.triangular(8 * 60, 17 * 60 + 30, 10 * 60 + 30))


def _to_working_hours(rng: random.Random, moment: datetime) -> datetime:
    """The same instant if it falls in working hours, else a time in the next working day (never earlier)."""
    local = moment.astimezone(_TZ)
    day = local.date()
    minutes = local.hour * 60 + local.minute
    if day.weekday() < 5 and 8 * 60 <= minutes < 17 * 60 + 30:
        return moment.astimezone(timezone.utc).replace(second=0, microsecond=0)
    if day.weekday() < 5 and minutes < 8 * 60:
        return _at_local(day, _work_minutes(rng))
    day += timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return _at_local(day, _work_minutes(rng))


def _lognormal(rng: random.Random, median: float, sigma: float) -> float:
    return median * math.exp(rng.gauss(0.0, sigma))


def _money(amount: float, currency: str, rng: random.Random) -> Decimal:
    """A plausible price: mostly round (to 10, or 100 in NOK/SEK), sometimes to the cent."""
    if rng.random() < 0.15:
        return Decimal(str(amount)).quantize(Decimal("0.01"), ROUND_HALF_UP)
    step = 100 if currency in {"NOK", "SEK"} else 10
    return Decimal(max(1, round(amount / step)) * step).quantize(Decimal("0.01"))


def _day_weights(start: date, end: date, rng: random.Random) -> tuple[list[date], list[float]]:
    """Every day of the history with its relative business: weekdays, seasons, holidays, growth."""
    days: list[date] = []
    weights: list[float] = []
    total = (end - start).days or 1
    day = start
    while day <= end:
        w = _SEASON[day.month] * (0.85 + 0.3 * (day - start).days / total)  # the company grows
        if day.weekday() >= 5:
            w *= 0.03
        if (day.month == 12 and day.day >= 22) or (day.month == 1 and day.day <= 2):
            w *= 0.15
        w *= rng.uniform(0.85, 1.15)
        days.append(day)
        weights.append(w)
        day += timedelta(days=1)
    return days, weights


class _Companies:
    """A pool of customer names per (currency, category), reused across deals."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.pool: dict[tuple[str, str], list[str]] = {}
        self.used: set[str] = set()

    def _new(self, currency: str, category: str) -> str:
        while True:
            head, tail = self.rng.choice(_NAME_HEADS), self.rng.choice(_NAME_TAILS)
            group = " Group" if category == "Enterprise" and self.rng.random() < 0.5 else ""
            name = f"{head}{tail}{group} {self.rng.choice(_LEGAL_FORMS[currency])}"
            if name not in self.used:
                self.used.add(name)
                return name

    def pick(self, currency: str, category: str) -> str:
        names = self.pool.setdefault((currency, category), [])
        if not names or (len(names) < 400 and self.rng.random() < 0.35):
            names.append(self._new(currency, category))
            return names[-1]
        return self.rng.choice(names)

    def any(self) -> str:
        keys = sorted(self.pool)
        return self.rng.choice(self.pool[self.rng.choice(keys)])


_ALWAYS = (datetime.min.replace(tzinfo=timezone.utc), datetime.max.replace(tzinfo=timezone.utc))


def _tenures(
    sellers: Mapping[str, _Seller], now: datetime, notice: timedelta = timedelta(0)
) -> list[tuple[_Seller, datetime, datetime]]:
    """Each seller with the span in which they take on work (ending ``notice`` before they leave)."""
    out = []
    for s in sellers.values():
        joined = _ALWAYS[0] if s.joined_days_ago is None else now - timedelta(days=s.joined_days_ago)
        left = _ALWAYS[1] if s.left_days_ago is None else now - timedelta(days=s.left_days_ago) - notice
        out.append((s, joined, left))
    return out


# -- the generator ---------------------------------------------------------------------------------

def generate_demo(seed: int, now: datetime) -> dict[str, list[dict[str, Any]]]:
    """The demo organisation's facts as one raw batch (keys ``users`` … ``activities``).

    Deterministic for ``seed`` and ``now`` (which must be timezone-aware). Field names are the
    snake_case ones :mod:`goalgraph.ingest.validate` reads; amounts are strings with two
    decimals; timestamps are ISO 8601 strings with the Europe/Oslo offset.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    now = now.astimezone(timezone.utc).replace(microsecond=0)
    rng = random.Random(seed)
    start = now - timedelta(days=HISTORY_DAYS)
    setup_at = start - timedelta(days=30)
    sellers = {s.id: s for s in _SELLERS}

    users = []
    for s in _SELLERS:
        email_name = s.name.lower().replace(" ", ".").translate(str.maketrans({"ø": "o", "å": "a", "æ": "ae",
                                                                              "ö": "o", "ä": "a"}))
        updated = setup_at
        if s.joined_days_ago is not None:
            updated = now - timedelta(days=s.joined_days_ago)
        if s.left_days_ago is not None:
            updated = now - timedelta(days=s.left_days_ago)
        users.append({"id": s.id, "name": s.name, "email": f"{email_name}@{EMAIL_DOMAIN}",
                      "active": s.left_days_ago is None, "updated_at": _iso(updated)})
    teams = []
    for team_id, name in _TEAMS:
        members = [s for s in _SELLERS if s.team == team_id]
        joined = [now - timedelta(days=s.joined_days_ago) for s in members if s.joined_days_ago is not None]
        teams.append({"id": team_id, "name": name, "member_ids": [s.id for s in members],
                      "leader_ids": [s.id for s in members if s.leader], "updated_at": _iso(max([setup_at, *joined]))})
    pipelines = [
        {"id": pid, "name": name, "updated_at": _iso(setup_at),
         "stages": [{"id": sid, "name": sname, "probability": prob} for sid, sname, prob in stages]}
        for pid, name, stages in _PIPELINES
    ]

    companies = _Companies(rng)
    deals, timelines = _deals(rng, now, start, sellers, companies)
    activities = _activities(rng, now, start, sellers, companies, timelines)
    return {"users": users, "teams": teams, "pipelines": pipelines, "stages": [], "deals": deals,
            "activities": activities}


@dataclass
class _Timeline:
    """What activities need to know about a deal."""

    id: str
    company: str
    owner: str
    #: (stage position, entered at) of the stages reached, in order.
    entries: list[tuple[int, datetime]]
    #: When the deal closed (or stalled), else None (still open).
    end: datetime | None
    open: bool
    handover: tuple[str, datetime] | None = None


def _deals(
    rng: random.Random, now: datetime, start: datetime, sellers: Mapping[str, _Seller], companies: _Companies
) -> tuple[list[dict[str, Any]], list[_Timeline]]:
    days, weights = _day_weights(_local_day(start) + timedelta(days=1), _local_day(now), rng)
    count = rng.randint(2900, 3300)
    planned: list[tuple[datetime, str]] = []
    tenures = _tenures(sellers, now, notice=timedelta(days=45))  # no new deals in a leaver's last weeks
    for day in rng.choices(days, weights=weights, k=count):
        added = _at_local(day, _work_minutes(rng))
        if added > now:
            added = now - timedelta(minutes=rng.randint(5, 240))
        owners = [s for s, joined, left in tenures if joined <= added < left]
        owner = rng.choices(owners, weights=[s.strength for s in owners])[0]
        planned.append((added, owner.id))
    planned.sort()

    deals: list[dict[str, Any]] = []
    timelines: list[_Timeline] = []
    for n, (added, owner_id) in enumerate(planned, start=1):
        seller = sellers[owner_id]
        sale_type = _pick(rng, _SALE_TYPE_MIX[seller.team])
        spec = _SALE_TYPES[sale_type]
        pipeline_id, _, stages = _PIPELINES[spec["pipeline"]]
        category = _pick(rng, _TEAM_CATEGORIES[seller.team])
        currency = _pick(rng, _TEAM_CURRENCIES[seller.team])
        company = companies.pick(currency, category)
        value = _money(_lognormal(rng, spec["value"][category], 0.55) * _PER_EUR[currency], currency, rng)
        cost = (value * Decimal(str(round(rng.uniform(0.40, 0.70), 4)))).quantize(Decimal("0.01"), ROUND_HALF_UP)

        # The plan: the stages the deal will walk through and when it closes.
        won = rng.random() < min(0.95, spec["win"] * (0.85 + 0.15 * seller.strength))
        last = len(stages) - 1 if won else rng.choices(range(len(stages)), weights=spec["lost_at"])[0]
        # The stages walked through: now and then one is skipped, never the last.
        path = [0] + [i for i in range(1, last + 1) if i == last or rng.random() > 0.08]
        # Now and then a deal is forgotten instead of being marked lost: it stalls.
        stalls = not won and rng.random() < 0.03
        cycle = _lognormal(rng, spec["cycle"][category], 0.6) * (1.0 if won else rng.uniform(0.5, 1.0))
        cycle = min(max(cycle, 0.2 * len(path)), 4 * spec["cycle"][category])
        fractions = sorted(rng.uniform(0.05, 0.9) for _ in path[1:])
        moments = [added] + [added + timedelta(days=cycle * f) for f in fractions] + [added + timedelta(days=cycle)]
        for i in range(1, len(moments)):
            moment = _to_working_hours(rng, moments[i])
            moments[i] = max(moment, moments[i - 1] + timedelta(minutes=rng.randint(5, 90)))
        entries = [(pos, moment) for pos, moment in zip(path, moments)]
        close = moments[-1]

        rec: dict[str, Any] = {
            "id": f"deal-{n:05d}", "title": f"{company} – {rng.choice(spec['products'])}",
            "value": f"{value:.2f}", "currency": currency, "cost": f"{cost:.2f}", "owner_id": owner_id,
            "pipeline_id": pipeline_id, "added_at": _iso(added),
            "attributes": {"sale_type": sale_type, "company_category": category},
        }
        reached = [(pos, m) for pos, m in entries if m <= now]
        end: datetime | None = None
        if close <= now and stalls:
            rec["status"] = "STALLED"
            rec["expected_close_date"] = _local_day(close + timedelta(days=rng.uniform(7, 30))).isoformat()
            updated = end = close
        elif close <= now:
            rec["status"] = "WON" if won else "LOST"
            rec["won_at" if won else "lost_at"] = _iso(close)
            updated = end = close
        else:
            idle = now - reached[-1][1]
            if idle > timedelta(days=40) and rng.random() < 0.5:
                rec["status"] = "STALLED"
                end = _to_working_hours(rng, reached[-1][1] + timedelta(days=rng.uniform(21, min(40, idle.days))))
                end = min(end, now - timedelta(hours=1))
                updated = end
            else:
                rec["status"] = "OPEN"
                updated = reached[-1][1]
            rec["expected_close_date"] = _local_day(close).isoformat()
        rec["stage_id"] = stages[reached[-1][0]][0]
        rec["stage_entered_at"] = _iso(reached[-1][1])
        rec["stage_history"] = [{"stage_id": stages[pos][0], "entered_at": _iso(m)} for pos, m in reached]
        rec["updated_at"] = _iso(updated)

        timeline = _Timeline(rec["id"], company, owner_id, reached, end, rec["status"] == "OPEN")
        if seller.left_days_ago is not None:  # deals still running when the seller left were handed over
            left = now - timedelta(days=seller.left_days_ago)
            if end is None or end > left:
                heirs = [s for s in sellers.values() if s.team == seller.team and s.id != owner_id and not s.leader]
                heir = rng.choices(heirs, weights=[s.strength for s in heirs])[0]
                rec["owner_id"] = heir.id
                rec["updated_at"] = _iso(max(updated, left))
                timeline.handover = (heir.id, left)
        deals.append(rec)
        timelines.append(timeline)
    return deals, timelines


def _activity(
    rng: random.Random, now: datetime, kind: str, owner: str, company: str, happens: datetime,
    deal_id: str | None, not_before: datetime,
) -> dict[str, Any]:
    """One activity happening (due) at ``happens``; done shortly after unless that is still to come."""
    low, high = _LEAD_HOURS[kind]
    added = happens - timedelta(hours=rng.uniform(low, high))
    added = min(max(_to_working_hours(rng, added), not_before), happens, now - timedelta(minutes=1))
    rec: dict[str, Any] = {
        "type": kind, "subject": rng.choice(_ACTIVITY_SUBJECTS[kind]).format(c=company), "owner_id": owner,
        "added_at": _iso(added), "due_at": _iso(happens),
    }
    if deal_id is not None:
        rec["deal_id"] = deal_id
    done = happens + timedelta(minutes=rng.randint(0, 180) if kind in {"task", "email"} else rng.randint(15, 75))
    updated = added
    if done <= now and rng.random() < 0.94:  # a few are left open, overdue
        rec["done_at"] = _iso(done)
        updated = done
    rec["updated_at"] = _iso(updated)
    return rec


def _activities(
    rng: random.Random, now: datetime, start: datetime, sellers: Mapping[str, _Seller], companies: _Companies,
    timelines: list[_Timeline],
) -> list[dict[str, Any]]:
    planned: list[dict[str, Any]] = []

    # About the deals: a few per stage reached, while the deal was in that stage.
    for t in timelines:
        for i, (pos, entered) in enumerate(t.entries):
            left = t.entries[i + 1][1] if i + 1 < len(t.entries) else (t.end or now)
            for _ in range((rng.random() < 0.2) + (rng.random() < 0.04)):
                happens = _to_working_hours(rng, entered + (left - entered) * rng.random())
                if happens > (t.end or now):
                    continue
                owner = t.owner
                if t.handover is not None and happens >= t.handover[1]:
                    owner = t.handover[0]
                kind = _pick(rng, _TYPES_EARLY if pos < 2 else _TYPES_LATE)
                planned.append(_activity(rng, now, kind, owner, t.company, happens, t.id, entered))
        if t.open and rng.random() < 0.55:  # the next step, planned for the coming weeks
            owner = t.handover[0] if t.handover else t.owner
            happens = _to_working_hours(rng, now + timedelta(days=rng.uniform(0.5, 24)))
            kind = _pick(rng, _TYPES_LATE if t.entries[-1][0] >= 2 else _TYPES_EARLY)
            not_before = max(t.entries[-1][1], now - timedelta(days=10))
            planned.append(_activity(rng, now, kind, owner, t.company, happens, t.id, not_before))

    # Everything else: prospecting calls, admin tasks …, about as many as the deal-linked ones.
    target = rng.randint(4800, 5300)
    days, weights = _day_weights(_local_day(start) + timedelta(days=1), _local_day(now), rng)
    free = max(0, target - len(planned))
    tenures = _tenures(sellers, now)
    for i, day in enumerate(rng.choices(days, weights=weights, k=free)):
        if i % 25 == 0:  # a share of them still to come
            happens = _to_working_hours(rng, now + timedelta(days=rng.uniform(0.5, 21)))
        else:
            happens = _at_local(day, _work_minutes(rng))
            if happens > now:
                happens = now - timedelta(minutes=rng.randint(10, 300))
        active = [s for s, joined, left in tenures if joined <= min(happens, now) < left]
        owner = rng.choices(active, weights=[s.strength * (0.5 if s.leader else 1.0) for s in active])[0]
        kind = _pick(rng, _TYPES_FREE)
        planned.append(_activity(rng, now, kind, owner.id, companies.any(), happens, None, start))

    planned.sort(key=lambda a: (datetime.fromisoformat(a["added_at"]), a["due_at"], a["subject"]))
    for n, rec in enumerate(planned, start=1):
        rec["id"] = f"act-{n:05d}"
    return [{"id": rec.pop("id"), **rec} for rec in planned]


# -- service (tickets) -----------------------------------------------------------------------------

#: The support team: (id, name, relative ticket volume, speed — higher answers and closes faster).
_SUPPORT_TEAM = ("team-support", "Support")
_SUPPORT = (
    ("user-13", "Emma Strand", 0.6, 1.2, True),
    ("user-14", "Jonas Dahl", 1.3, 0.8, False),
    ("user-15", "Lotte Smit", 1.0, 1.1, False),
    ("user-16", "Nils Ekström", 1.1, 1.0, False),
)
#: A ticket pipeline is a pipeline like the deal pipelines (the CRM pushes it the same way).
_SUPPORT_PIPELINE = ("pipeline-support", "Support", (
    ("stage-sp-new", "New", 0), ("stage-sp-waiting", "Waiting", 0), ("stage-sp-closed", "Closed", 0)))
_PRIORITIES = (("LOW", 28), ("MEDIUM", 47), ("HIGH", 20), ("URGENT", 5))
_CHANNELS = (("EMAIL", 44), ("CHAT", 26), ("PHONE", 15), ("FORM", 12), ("OTHER", 3))
#: Median hours to the first response and to closing, per priority.
_RESPONSE_HOURS = {"LOW": 3.2, "MEDIUM": 2.0, "HIGH": 1.0, "URGENT": 0.4}
_CLOSE_HOURS = {"LOW": 30.0, "MEDIUM": 20.0, "HIGH": 10.0, "URGENT": 4.0}
_TICKET_SUBJECTS = ("Cannot log in", "Invoice question", "Export to Excel fails", "How do I add a user?",
                    "Report shows wrong totals", "API returns 429", "Password reset e-mail not received",
                    "Change of billing address", "Slow dashboard", "Integration with the CRM stopped syncing",
                    "Request for a training session", "Licence renewal question", "Data import error",
                    "Feature request: dark mode", "Two-factor authentication problem")


def generate_service_demo(seed: int, now: datetime) -> dict[str, list[dict[str, Any]]]:
    """The demo's support organisation as a raw batch: users, the support team, the ticket pipeline, tickets.

    Deterministic for ``seed`` and ``now`` (its own random stream: the sales batch is unchanged).
    Tickets are created on working days over the history, answered (mostly within the working day)
    and closed after a span that depends on their priority and on who handles them; the team gets
    a little faster over time. No timestamp lies after ``now``.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    now = now.astimezone(timezone.utc).replace(microsecond=0)
    rng = random.Random(f"service-{seed}")
    start = now - timedelta(days=HISTORY_DAYS)
    setup_at = _iso(start - timedelta(days=30))
    users = [{"id": uid, "name": name, "email": f"{name.split()[0].lower()}.support@{EMAIL_DOMAIN}",
              "active": True, "updated_at": setup_at} for uid, name, *_ in _SUPPORT]
    teams = [{"id": _SUPPORT_TEAM[0], "name": _SUPPORT_TEAM[1], "member_ids": [u[0] for u in _SUPPORT],
              "leader_ids": [u[0] for u in _SUPPORT if u[4]], "updated_at": setup_at}]
    pid, pname, stages = _SUPPORT_PIPELINE
    pipelines = [{"id": pid, "name": pname, "updated_at": setup_at,
                  "stages": [{"id": sid, "name": sname, "probability": prob} for sid, sname, prob in stages]}]

    days, weights = _day_weights(_local_day(start) + timedelta(days=1), _local_day(now), rng)
    created_times = sorted(_at_local(day, int(rng.triangular(7 * 60, 18 * 60, 10 * 60)))
                           for day in rng.choices(days, weights=weights, k=rng.randint(2300, 2600)))
    tickets = []
    for n, created in enumerate(created_times, start=1):
        created = min(created, now - timedelta(minutes=rng.randint(5, 120)))
        uid, _, _, speed, _ = rng.choices(_SUPPORT, weights=[u[2] for u in _SUPPORT])[0]
        priority = _pick(rng, _PRIORITIES)
        progress = (created - start) / (now - start)  # the team improves: up to 25 % faster by now
        pace = speed * (1 + 0.25 * progress)
        rec: dict[str, Any] = {
            "id": f"ticket-{n:05d}", "subject": rng.choice(_TICKET_SUBJECTS), "pipeline_id": pid,
            "priority": priority, "channel": _pick(rng, _CHANNELS), "owner_id": uid, "created_at": _iso(created),
            "attributes": {"company_category": _pick(rng, (("SMB", 55), ("Mid-market", 33), ("Enterprise", 12)))},
        }
        answered = created + timedelta(hours=_lognormal(rng, _RESPONSE_HOURS[priority] / pace, 0.6))
        if rng.random() < 0.3:  # some of what lands out of hours waits for the next working day
            answered = _to_working_hours(rng, answered)
        closed = answered + timedelta(hours=_lognormal(rng, _CLOSE_HOURS[priority] / pace, 0.8))
        status, stage, updated = "OPEN", stages[0][0], created
        if answered <= now:
            rec["first_response_at"] = _iso(answered)
            status, stage, updated = ("PENDING", stages[1][0], answered) if rng.random() < 0.6 else (status, stage, answered)
            if closed <= now and rng.random() < 0.97:  # a few stay open, forgotten
                rec["closed_at"] = _iso(closed)
                status, stage, updated = "CLOSED", stages[2][0], closed
        rec.update(status=status, stage_id=stage, updated_at=_iso(updated))
        tickets.append(rec)
    return {"users": users, "teams": teams, "pipelines": pipelines, "tickets": tickets}


# -- loading ---------------------------------------------------------------------------------------

def _chunks(
    batch: Mapping[str, list[dict[str, Any]]], size: int = CHUNK_SIZE
) -> Iterator[dict[str, list[dict[str, Any]]]]:
    """Sub-batches of at most ``size`` facts, in apply order (references always point backwards)."""
    chunk: dict[str, list[dict[str, Any]]] = {}
    filled = 0
    for key, _ in BATCH_KEYS:
        items = batch.get(key) or []
        i = 0
        while i < len(items):
            take = items[i : i + size - filled]
            chunk.setdefault(key, []).extend(take)
            filled += len(take)
            i += len(take)
            if filled >= size:
                yield chunk
                chunk, filled = {}, 0
    if chunk:
        yield chunk


async def _counts(session: AsyncSession, registry: Registry) -> dict[str, int]:
    out = {}
    models = [("users", User), ("teams", Team), ("pipelines", Pipeline), ("deals", Deal), ("activities", Activity)]
    models += [(k.plural, k.model) for k in registry.fact_kinds.values() if not k.builtin]
    for name, model in models:
        out[name] = int(await session.scalar(select(func.count()).select_from(model)) or 0)
    return out


def _describe(counts: Mapping[str, int]) -> str:
    core = ("users", "teams", "pipelines", "deals", "activities")
    plugin_kinds = [k for k in counts if k not in core and counts[k]]  # tickets (when the plugin is installed)
    return ", ".join(f"{counts[k]:,} {k}" for k in (*core, *plugin_kinds))


#: Demo people for each role (CRM ids): the demo prints a token for each.
DEMO_ADMIN, DEMO_LEADER, DEMO_USER = "user-09", "user-05", "user-06"
_ACCESS = {
    DEMO_ADMIN: {"is_admin": True, "can_lock_targets": True},
    DEMO_LEADER: {"can_see_company_statistics": True, "can_see_other_users_statistics": True, "can_lock_targets": True},
}


def demo_settings(settings: Settings) -> Settings:
    """``settings`` with a demo licence (enterprise) signed by a key pair kept beside the SQLite file.

    The key pair is the demo's own: a real deployment installs a licence signed by its vendor.
    """
    from dataclasses import replace

    from goalgraph.access.licence import generate_keypair, sign_licence

    path = settings.sqlite_path()
    if path is None or settings.licence:
        return settings
    public_file, licence_file = Path(f"{path}.licence-key.pem"), Path(f"{path}.licence")
    if not (public_file.exists() and licence_file.exists()):
        private, public = generate_keypair()
        licence = sign_licence(private, plan="enterprise", customer=ORGANISATION["name"], seats=25)
        public_file.write_text(public)
        licence_file.write_text(licence)
    return replace(settings, licence=licence_file.read_text().strip(), licence_public_key=public_file.read_text())


def demo_tokens(settings: Settings) -> dict[str, str]:
    """Tokens for the demo admin, team leader and regular user (12 hours)."""
    from goalgraph.access.tokens import mint_token

    return {role: mint_token(settings, user) for role, user in
            (("admin", DEMO_ADMIN), ("team leader", DEMO_LEADER), ("regular user", DEMO_USER))}


def _demo_goals(now: datetime) -> list[GoalDraft]:
    """A dashboard's worth of goals: company, teams and users; deals, activities, forecast, a split."""
    year = _local_day(now).year
    start, end = date(year, 1, 1), date(year, 12, 31)
    common = {"interval": "MONTHLY", "start_date": start, "end_date": end}
    drafts = [
        GoalDraft(title=f"Won revenue {year}", goal_type="DEALS_WON", assignee_kind="COMPANY", assignee_id=None,
                  measure="VALUE", currency="EUR", target=Decimal("1100000"), stretch_target=Decimal("1300000"), **common),
        GoalDraft(title="Revenue forecast", goal_type="REVENUE_FORECAST", assignee_kind="COMPANY", assignee_id=None,
                  measure="WEIGHTED_VALUE", currency="EUR", target=Decimal("1200000"), **common),
        GoalDraft(title="New business by sale type", goal_type="DEALS_WON", assignee_kind="COMPANY",
                  assignee_id=None, measure="COUNT", split_by="sale_type",
                  element_targets={"New business": Decimal(40), "Upsell": Decimal(15), "Renewal": Decimal(20)}, **common),
        GoalDraft(title="Meetings completed (open-ended, weekly)", goal_type="ACTIVITIES_COMPLETED",
                  assignee_kind="COMPANY", assignee_id=None, measure="COUNT", interval="WEEKLY",
                  start_date=start, filters={"activity_types": ["meeting", "demo"]}, target=Decimal(12)),
        # Entered by hand (see _demo_entries): the latest NPS of each month; demos booked in another tool.
        GoalDraft(title="NPS score", goal_type="MANUAL", assignee_kind="COMPANY", assignee_id=None,
                  measure="LAST", target=Decimal(40), **common),
        GoalDraft(title="Demos booked (webinar tool)", goal_type="MANUAL", assignee_kind="USER",
                  assignee_id=DEMO_USER, measure="SUM", target=Decimal(8), **common),
    ]
    for team_id, name in _TEAMS:
        drafts.append(GoalDraft(title=f"Deals won — {name}", goal_type="DEALS_WON", assignee_kind="TEAM",
                                assignee_id=team_id, measure="COUNT", target=Decimal(25), **common))
    for seller in _SELLERS:
        if seller.left_days_ago is None:
            drafts.append(GoalDraft(title=f"Calls — {seller.name}", goal_type="ACTIVITIES_COMPLETED",
                                    assignee_kind="USER", assignee_id=seller.id, measure="COUNT",
                                    filters={"activity_types": ["call"]}, target=Decimal(15), **common))
            drafts.append(GoalDraft(title=f"Deals added — {seller.name}", goal_type="DEALS_ADDED",
                                    assignee_kind="USER", assignee_id=seller.id, measure="COUNT",
                                    target=Decimal(12), **common))
    return drafts


def _service_goals(now: datetime) -> list[GoalDraft]:
    """The support team's goals: tickets closed per user, the team's first-response and close times."""
    year = _local_day(now).year
    common = {"interval": "MONTHLY", "start_date": date(year, 1, 1), "end_date": date(year, 12, 31)}
    team_id, team_name = _SUPPORT_TEAM
    drafts = [
        GoalDraft(title=f"First response time — {team_name}", goal_type="TIME_TO_FIRST_RESPONSE",
                  assignee_kind="TEAM", assignee_id=team_id, measure="AVERAGE_HOURS", target=Decimal(4), **common),
        GoalDraft(title=f"Time to close — {team_name}", goal_type="TIME_TO_CLOSE", assignee_kind="TEAM",
                  assignee_id=team_id, measure="AVERAGE_HOURS", target=Decimal(30),
                  **{**common, "interval": "QUARTERLY"}),
        GoalDraft(title="Urgent tickets: first response", goal_type="TIME_TO_FIRST_RESPONSE", assignee_kind="COMPANY",
                  assignee_id=None, measure="AVERAGE_HOURS", target=Decimal(1),
                  filters={"priority": ["URGENT"], "pipelines": [_SUPPORT_PIPELINE[0]]}, **common),
    ]
    for uid, name, *_ in _SUPPORT:
        drafts.append(GoalDraft(title=f"Tickets closed — {name}", goal_type="TICKETS_CLOSED", assignee_kind="USER",
                                assignee_id=uid, measure="COUNT", target=Decimal(30), **common))
    return drafts


async def _demo_entries(session: AsyncSession, runtime: Any, goals: list[Any], gate: Any, now: datetime,
                        rng: random.Random) -> None:
    """Values entered by hand for the manual demo goals, up to today: a monthly NPS survey entered by the
    admin (this month's first count corrected), and demos the regular user booked every few days."""
    today = _local_day(now)
    for goal in goals:
        user = await session.scalar(select(User).where(
            User.external_id == (DEMO_ADMIN if goal.assignee_kind == "COMPANY" else DEMO_USER)))
        viewer = await viewer_of(session, user)
        day, entries = goal.start_date, []
        while day <= today:
            if goal.measure == "LAST":
                value = Decimal(30 + day.month * 2 + rng.randint(-4, 4))
                entries.append(await add_entry(session, runtime.registry, goal.id, day.replace(day=min(today.day, 15))
                                               if day.month == today.month and day.year == today.year else
                                               day.replace(day=15), value, f"Survey, {rng.randint(80, 140)} responses",
                                               viewer=viewer, gate=gate, now=now, today=today))
                day = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
            else:
                entries.append(await add_entry(session, runtime.registry, goal.id, day, Decimal(rng.randint(1, 3)),
                                               None, viewer=viewer, gate=gate, now=now, today=today))
                day += timedelta(days=rng.randint(3, 6))
        if goal.measure == "LAST" and entries:
            await correct_entry(session, runtime.registry, entries[-1].id, entries[-1].value + 1, "Recounted: late responses",
                                None, viewer=viewer, gate=gate, now=now, today=today)


async def ensure_demo_data(settings: Settings, *, seed: int = 7, now: datetime | None = None) -> str:
    """Load the demo organisation into the database of ``settings`` unless it holds users already.

    Migrates first when the settings say so (the embedded SQLite default does). Everything goes
    through :func:`goalgraph.ingest.batch.ingest_batch` in one transaction. Returns a one-line
    summary for the console.
    """
    now = now or clock.now()
    async with open_runtime(settings) as runtime:
        registry = runtime.registry
        service = "ticket" in registry.fact_kinds and "TICKETS_CLOSED" in registry.goal_types
        async with runtime.sessions() as session:
            counts = await _counts(session, registry)
            if counts["users"]:
                org = await get_organisation(session)
                return f"Demo data already present: '{org.name}' with {_describe(counts)}; nothing loaded"
        started = time.perf_counter()
        batch = generate_demo(seed, now)
        support = generate_service_demo(seed, now) if service else None
        generated = time.perf_counter()
        async with runtime.sessions() as session, session.begin():
            await update_organisation(session, **ORGANISATION)
            for chunk in _chunks(batch):
                await ingest_batch(session, chunk, received_at=now)
            await set_rates(session, [
                {"currency": "EUR", "quote_currency": currency, "rate": str(rate),
                 "valid_from": (now - timedelta(days=HISTORY_DAYS + 30)).date().isoformat()}
                for currency, rate in _PER_EUR.items() if currency != "EUR"
            ])
            for user_id, rights in _ACCESS.items():
                await set_user_access(session, user_id, **rights)
            # Every active demo user holds the Targets right (the default) and one of the licence's seats.
            licence = await licence_status(session, settings, now.date())
            for user in batch["users"]:
                if user.get("active", True):
                    await set_user_access(session, user["id"], can_use_targets=True)
                    await set_seat(session, licence, user["id"], True, actor="demo", now=now)
            gate = unrestricted(runtime.registry)
            manual = []
            for draft in _demo_goals(now):
                goal = await create_goal(session, runtime.registry, draft, viewer=SYSTEM, gate=gate, now=now)
                if draft.title == f"Won revenue {_local_day(now).year}":
                    revenue = goal
                if draft.goal_type == "MANUAL":
                    manual.append(goal)
            # A hierarchy: the company's revenue goal broken down into one goal per team (its children;
            # the targets plan's team rows for won revenue), by shares.
            await cascade(session, runtime.registry, revenue.id, level="TEAMS", split=Split.SHARES,
                          shares={"team-north": Decimal(40), "team-south": Decimal(35), "team-enterprise": Decimal(25)},
                          viewer=SYSTEM, gate=gate, now=now)
            await _demo_entries(session, runtime, manual, gate, now, random.Random(seed))
            if support is not None:
                # The support team comes after the sales goals (it is no part of the revenue cascade); its
                # tickets go through the core's fact pipeline, as a CRM's would.
                await ingest_batch(session, support, received_at=now, registry=registry)
                for user in support["users"]:
                    await set_user_access(session, user["id"], can_use_targets=True)
                    await set_seat(session, licence, user["id"], True, actor="demo", now=now)
                for draft in _service_goals(now):
                    await create_goal(session, runtime.registry, draft, viewer=SYSTEM, gate=gate, now=now)
        loaded = time.perf_counter()
        async with runtime.sessions() as session:
            counts = await _counts(session, registry)
    currencies = sorted({d["currency"] for d in batch["deals"]})
    return (
        f"Loaded demo organisation '{ORGANISATION['name']}': {_describe(counts)} "
        f"(deal currencies {', '.join(currencies)}; default currency {ORGANISATION['default_currency']}, "
        f"time zone {ORGANISATION['time_zone']}, weeks start on {_WEEKDAYS[ORGANISATION['week_start']]}, "
        f"fiscal year starts in {_MONTHS[ORGANISATION['fiscal_year_start_month'] - 1]}) "
        f"in {loaded - started:.1f} s (generate {generated - started:.1f} s, load {loaded - generated:.1f} s)"
    )
