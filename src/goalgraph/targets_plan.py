"""The targets plan (SuperOffice's targets dialog): one grid of targets and actuals for a year.

Rows are the company, every team and every active user; columns are the year's periods. The rows
form the organisation's hierarchy (goals.hierarchy's rules): the company's children are the teams and
the users in no team, a team's children are its members; each parent row carries its children's sums
and a mismatch flag per period. A row's targets live in its *plan goal*: the unfiltered goal of that assignee, goal type,
measure, interval and currency spanning exactly the (fiscal) year. Setting cells creates
missing plan goals and writes per-period targets, atomically; a plan can be copied to
another year, scaled.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from goalgraph.access import policy
from goalgraph.access.gate import Gate
from goalgraph.access.viewer import Viewer
from goalgraph.db.models import Goal, Team, TeamMembership, User
from goalgraph.goals.errors import GoalForbidden, GoalInvalid
from goalgraph.goals.hierarchy import children_sum, organisation_children, target_mismatch
from goalgraph.goals.schedule import calendar_of
from goalgraph.goals.service import create_goal, draft_of, overrides_of, update_goal
from goalgraph.goals.validation import GoalDraft
from goalgraph.errors import FactError
from goalgraph.organisation import get_organisation
from goalgraph.periods import Calendar, Interval, Period, periods_for
from goalgraph.progress.engine import Assignee, AssigneeKind, GoalQuery, compute_actuals, shape_amount
from goalgraph.registry import Registry


@dataclass(frozen=True)
class PlanKey:
    """Which plan: year, goal type, measure, interval, currency, fiscal alignment."""

    year: int
    goal_type: str
    measure: str
    interval: str
    currency: str | None = None
    fiscal: bool = False


@dataclass
class PlanRow:
    """One assignee's line of the grid."""

    kind: str
    user: User | None = None
    team: Team | None = None
    goal: Goal | None = None
    targets: list[Decimal | None] = field(default_factory=list)
    actuals: list[Decimal] = field(default_factory=list)
    #: Team rows: per period, the sum of the members' targets (None where no member has one).
    member_sums: list[Decimal | None] = field(default_factory=list)
    #: The row's key: "COMPANY", "TEAM:<CRM id>" or "USER:<CRM id>".
    key: str = ""
    #: The key of the row it sits under (None for a top row); a user in several teams sits under the first.
    parent_key: str | None = None
    depth: int = 0
    #: The keys of the rows under it (a user in several teams is under each).
    child_keys: list[str] = field(default_factory=list)
    #: Rows with children: per period, the children's targets summed (None where none has one) and actuals.
    children_targets: list[Decimal | None] = field(default_factory=list)
    children_actuals: list[Decimal] = field(default_factory=list)
    #: Per period: the row's target differs from its children's sum (goals.hierarchy.target_mismatch).
    mismatch: list[bool] = field(default_factory=list)


@dataclass
class Plan:
    key: PlanKey
    periods: list[Period]
    rows: list[PlanRow]


def year_span(cal: Calendar, key: PlanKey) -> tuple[date, date]:
    """First and last day of the plan's (fiscal) year."""
    month = cal.fiscal_year_start_month if key.fiscal else 1
    start = date(key.year, month, 1)
    end = date(key.year + 1, month, 1) if month != 1 else date(key.year + 1, 1, 1)
    return start, date.fromordinal(end.toordinal() - 1)


def check_key(registry: Registry, key: PlanKey) -> None:
    """GoalInvalid naming what is wrong with a plan's key (goal type, measure, interval, year)."""
    errors = []
    goal_type = registry.goal_types.get(key.goal_type)
    if goal_type is None:
        errors.append(FactError(("goal_type",), f"{key.goal_type!r} is not a goal type", "UNKNOWN_REFERENCE"))
    elif goal_type.measure(key.measure) is None:
        errors.append(FactError(("measure",), f"goal type {key.goal_type} does not measure {key.measure!r}"))
    elif not goal_type.per_period_targets:
        errors.append(FactError(("goal_type",), f"goal type {key.goal_type} takes one target for every period"))
    if key.interval == Interval.CUSTOM.value or key.interval not in Interval.__members__:
        errors.append(FactError(("interval",), "a plan needs WEEKLY, MONTHLY, QUARTERLY or YEARLY"))
    if not 1970 <= key.year <= 2098:
        errors.append(FactError(("year",), f"{key.year} is outside 1970–2098"))
    if errors:
        raise GoalInvalid(errors)


async def _plan_goals(session: AsyncSession, key: PlanKey, span: tuple[date, date], currency: str | None) -> list[Goal]:
    rows = (await session.scalars(select(Goal).where(
        Goal.deleted_at.is_(None), Goal.goal_type == key.goal_type, Goal.measure == key.measure,
        Goal.interval == key.interval, Goal.fiscal == key.fiscal, Goal.start_date == span[0], Goal.end_date == span[1],
    ).order_by(Goal.id))).all()
    return [g for g in rows if not g.filters and g.currency == currency]


def _currency(registry: Registry, key: PlanKey, default: str) -> str | None:
    measure = registry.goal_types[key.goal_type].measure(key.measure)
    return (key.currency or default).upper() if measure is not None and measure.money else None


async def load_plan(session: AsyncSession, registry: Registry, key: PlanKey, viewer: Viewer) -> Plan:
    """The grid: targets from plan goals, actuals measured live for every row the viewer may see (batched)."""
    check_key(registry, key)
    org = await get_organisation(session)
    cal = calendar_of(org)
    span = year_span(cal, key)
    currency = _currency(registry, key, org.default_currency)
    periods = periods_for(cal, Interval(key.interval), span[0], span[1], fiscal=key.fiscal)
    goals = await _plan_goals(session, key, span, currency)
    overrides = await overrides_of(session, [g.id for g in goals])
    teams = (await session.scalars(select(Team).order_by(Team.name))).all()
    users = (await session.scalars(select(User).where(User.active.is_(True)).order_by(User.name))).all()
    members = (await session.execute(select(TeamMembership.team_id, TeamMembership.user_id))).all()

    by_assignee = {(g.assignee_kind, g.assignee_user_id or g.assignee_team_id): g for g in goals}
    rows = [PlanRow("COMPANY", goal=by_assignee.get(("COMPANY", None)))]
    rows += [PlanRow("TEAM", team=t, goal=by_assignee.get(("TEAM", t.id))) for t in teams]
    rows += [PlanRow("USER", user=u, goal=by_assignee.get(("USER", u.id))) for u in users]
    rows = [r for r in rows if policy.can_see_assignee(viewer, r.kind, r.user.id if r.user else None,
                                                       r.team.id if r.team else None)]
    money = registry.goal_types[key.goal_type].measure(key.measure).money  # type: ignore[union-attr]
    for row in rows:
        goal = row.goal
        row.targets = [None if goal is None else shape_amount(overrides.get(goal.id, {}).get(p.start_date, goal.target), money)
                       for p in periods]

    queries = [GoalQuery(key=i, goal_type=key.goal_type, measure=key.measure, periods=periods, currency=currency,
                         assignee=Assignee(AssigneeKind(r.kind), (r.user or r.team).id if r.kind != "COMPANY" else None))  # type: ignore[union-attr]
               for i, r in enumerate(rows)]
    actuals = await compute_actuals(session, registry, queries)
    for i, row in enumerate(rows):
        row.actuals = [actuals[(i, p.index)].value for p in periods]
    _arrange(rows, members, len(periods), money)
    return Plan(key=key, periods=periods, rows=rows)


def _key(row: PlanRow) -> str:
    return "COMPANY" if row.kind == "COMPANY" else f"{row.kind}:{(row.user or row.team).external_id}"  # type: ignore[union-attr]


def _arrange(rows: list[PlanRow], members: Sequence[tuple[int, int]], width: int, money: bool) -> None:
    """Place the rows in the hierarchy (keys, parents, children) and sum each parent's children per period.

    Only rows the viewer sees take part: a user whose teams are hidden sits under the company, or on top.
    """
    for row in rows:
        row.key = _key(row)
    user_rows = {r.user.id: r for r in rows if r.user is not None}
    team_rows = {r.team.id: r for r in rows if r.team is not None}
    order = {r.key: i for i, r in enumerate(rows)}
    members_of: dict[int, list[PlanRow]] = {}
    for team_id, user_id in members:
        if team_id in team_rows and user_id in user_rows:
            members_of.setdefault(team_id, []).append(user_rows[user_id])
    children: dict[str, list[PlanRow]] = {}
    for team_id, team_row in team_rows.items():
        children[team_row.key] = sorted(members_of.get(team_id, []), key=lambda r: order[r.key])
    company = next((r for r in rows if r.kind == "COMPANY"), None)
    if company is not None:
        teams, alone = organisation_children(list(team_rows), {t: [m.user.id for m in ms]  # type: ignore[union-attr]
                                                               for t, ms in members_of.items()}, list(user_rows))
        children[company.key] = [team_rows[t] for t in teams] + [user_rows[u] for u in alone]
    for parent in [r for r in (company, *team_rows.values()) if r is not None]:
        for child in children.get(parent.key, []):
            if child.parent_key is None:
                child.parent_key = parent.key
    by_key = {r.key: r for r in rows}
    for row in rows:
        up, depth = row.parent_key, 0
        while up is not None:
            depth, up = depth + 1, by_key[up].parent_key
        row.depth = depth
        kids = children.get(row.key, [])
        row.child_keys = [k.key for k in kids]
        if not kids:
            row.mismatch = [False] * width
            continue
        targets = [children_sum(k.targets[col] for k in kids) for col in range(width)]
        row.children_targets = [None if t is None else shape_amount(t, money) for t in targets]
        row.children_actuals = [shape_amount(children_sum(k.actuals[col] for k in kids) or Decimal(0), money)
                                for col in range(width)]
        row.mismatch = [target_mismatch(row.targets[col], targets[col]) for col in range(width)]
        if row.team is not None:
            row.member_sums = row.children_targets
    for row in rows:
        if row.team is not None and not row.member_sums:
            row.member_sums = [None] * width


@dataclass(frozen=True)
class PlanCell:
    """One target to set: assignee (kind and external id), period start, value."""

    assignee_kind: str
    assignee_id: str | None
    period_start: date
    target: Decimal


async def set_plan_targets(session: AsyncSession, registry: Registry, key: PlanKey, cells: Sequence[PlanCell], *,
                           viewer: Viewer, gate: Gate, now: datetime) -> int:
    """Write many cells at once (inside the caller's transaction); creates missing plan goals.

    Returns how many plan goals were created or changed. Any bad cell refuses them all.
    """
    check_key(registry, key)
    org = await get_organisation(session)
    cal = calendar_of(org)
    span = year_span(cal, key)
    currency = _currency(registry, key, org.default_currency)
    starts = {p.start_date for p in periods_for(cal, Interval(key.interval), span[0], span[1], fiscal=key.fiscal)}
    errors = [FactError(("cells", i, "period_start"), f"{c.period_start.isoformat()} does not start a period of {key.year}")
              for i, c in enumerate(cells) if c.period_start not in starts]
    if errors:
        raise GoalInvalid(errors)
    grouped: dict[tuple[str, str | None], dict[date, Decimal]] = {}
    for cell in cells:
        grouped.setdefault((cell.assignee_kind, cell.assignee_id), {})[cell.period_start] = cell.target
    await _check_rows(session, list(grouped), viewer)

    goals = await _plan_goals(session, key, span, currency)
    external = {}
    for g in goals:
        draft = await draft_of(session, g)
        external[(g.assignee_kind, draft.assignee_id)] = (g, draft)
    changed = 0
    for (kind, ext_id), targets in grouped.items():
        found = external.get((kind, ext_id))
        if found is None:
            name = ext_id or "company"
            label = registry.goal_types[key.goal_type].label
            draft = GoalDraft(
                title=f"{label} {key.year} — {name}", goal_type=key.goal_type, assignee_kind=kind, assignee_id=ext_id,
                measure=key.measure, interval=key.interval, start_date=span[0], end_date=span[1], fiscal=key.fiscal,
                currency=currency, target=Decimal(0), period_targets=dict(targets),
            )
            await create_goal(session, registry, draft, viewer=viewer, gate=gate, now=now)
        else:
            goal, draft = found
            merged = {**draft.period_targets, **targets}
            await update_goal(session, registry, goal.id, goal.version, {"period_targets": merged}, viewer=viewer,
                              gate=gate, now=now)
        changed += 1
    return changed


async def _check_rows(session: AsyncSession, rows: list[tuple[str, str | None]], viewer: Viewer) -> None:
    """Refuse rows the viewer may not see or change, all alike, before looking for their plan goals.

    Whether a hidden row has a goal (and its id) must not show: the answer does not depend on it.
    Unknown ids are left to validation (users and teams are not secret).
    """
    if not policy.can_use_targets(viewer):
        raise GoalForbidden(policy.TARGETS_RIGHT_NEEDED)
    user_ids = {ext for kind, ext in rows if kind == "USER" and ext}
    team_ids = {ext for kind, ext in rows if kind == "TEAM" and ext}
    users = dict((await session.execute(select(User.external_id, User.id).where(User.external_id.in_(user_ids)))).all()) \
        if user_ids else {}
    teams = dict((await session.execute(select(Team.external_id, Team.id).where(Team.external_id.in_(team_ids)))).all()) \
        if team_ids else {}
    for kind, ext in rows:
        if (kind == "USER" and ext not in users) or (kind == "TEAM" and ext not in teams):
            continue
        user_id, team_id = (users.get(ext) if kind == "USER" else None), (teams.get(ext) if kind == "TEAM" else None)
        if not (policy.can_see_assignee(viewer, kind, user_id, team_id)
                and policy.can_change_assignee(viewer, kind, user_id, team_id)):
            raise GoalForbidden(f"you may not set targets for this {kind.lower()}")


async def copy_plan(session: AsyncSession, registry: Registry, key: PlanKey, to_year: int, scale_percent: Decimal, *,
                    viewer: Viewer, gate: Gate, now: datetime) -> int:
    """Start ``to_year``'s plan from ``key``'s, every target scaled by ``scale_percent`` (110 = +10 %)."""
    if not Decimal(0) <= scale_percent <= Decimal(1000):
        raise GoalInvalid([FactError(("scale_percent",), f"{scale_percent} is outside 0–1000")])
    target_key = PlanKey(to_year, key.goal_type, key.measure, key.interval, key.currency, key.fiscal)
    check_key(registry, target_key)
    source = await load_plan(session, registry, key, viewer)
    org = await get_organisation(session)
    span = year_span(calendar_of(org), target_key)
    new_periods = periods_for(calendar_of(org), Interval(key.interval), span[0], span[1], fiscal=key.fiscal)
    cells = []
    for row in source.rows:
        if row.goal is None:
            continue
        ext = None if row.kind == "COMPANY" else (row.user or row.team).external_id  # type: ignore[union-attr]
        for period, value in zip(new_periods, row.targets):
            if value is not None:
                scaled = (value * scale_percent / 100).quantize(Decimal("0.0001"))
                cells.append(PlanCell(row.kind, ext, period.start_date, scaled))
    return await set_plan_targets(session, registry, target_key, cells, viewer=viewer, gate=gate, now=now)
