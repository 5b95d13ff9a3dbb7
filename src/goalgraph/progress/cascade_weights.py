"""Last year's actuals of the parts a goal cascades to (goals.hierarchy, Split.LAST_YEAR): one engine batch."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from goalgraph.db.models import Goal
from goalgraph.goals.schedule import calendar_of, goal_periods
from goalgraph.organisation import get_organisation
from goalgraph.periods import Interval, periods_for
from goalgraph.progress.engine import Assignee, AssigneeKind, GoalQuery, compute_actuals
from goalgraph.registry import Registry


async def last_year_actuals(session: AsyncSession, registry: Registry, parent: Goal, who: Sequence[tuple[str, str, int]],
                     now: datetime) -> dict[str, Decimal]:
    """Each part's actual over the parent's periods one year earlier (one batched engine call)."""

    cal = calendar_of(await get_organisation(session))
    mine = goal_periods(parent, cal, now)
    if not mine:
        return {ext: Decimal(0) for _, ext, _ in who}
    first, last = mine[0].start_date, mine[-1].end_date
    try:
        start, end = first.replace(year=first.year - 1), last.replace(year=last.year - 1)
    except ValueError:  # 29 February
        start, end = first.replace(year=first.year - 1, day=28), last.replace(year=last.year - 1, day=28)
    interval = Interval(parent.interval)
    periods = periods_for(cal, interval, start, end, fiscal=parent.fiscal) if interval is not Interval.CUSTOM \
        else periods_for(cal, interval, start, end)
    queries = [GoalQuery(key=ext, goal_type=parent.goal_type, measure=parent.measure,
                         assignee=Assignee(AssigneeKind(kind), internal), periods=periods,
                         filters=parent.filters or {}, currency=parent.currency) for kind, ext, internal in who]
    actuals = await compute_actuals(session, registry, queries)  # type: ignore[arg-type]
    return {q.key: sum((actuals[(q.key, p.index)].value for p in periods), Decimal(0)) for q in queries}  # type: ignore[misc]
