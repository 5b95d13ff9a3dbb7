"""A batch of facts changed: which stored progress it moves (marked in the batch's transaction), and
what this process does once it committed."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from goalgraph.db.models import Activity, Deal, DealStageChange
from goalgraph.events import fire
from goalgraph.goals.audience import Audience, audience_of
from goalgraph.progress.store import mark_facts

if TYPE_CHECKING:
    from goalgraph.runtime import Runtime

log = logging.getLogger(__name__)

#: Kinds whose change can move any goal (memberships, activation, stage probabilities …).
EVERYONE_KINDS = ("users", "teams", "pipelines", "stages")
#: Per fact model, the columns whose days place it in periods (every timestamp a goal type may use).
_DAY_COLUMNS = {
    Deal: (Deal.added_at, Deal.won_at, Deal.lost_at, Deal.expected_close_date, Deal.source_updated_at),
    Activity: (Activity.added_at, Activity.due_at, Activity.done_at, Activity.source_updated_at),
}
_CHUNK = 5000


@dataclass
class FactEffect:
    """Whose facts a batch touches (None: anyone's) and on which days (None: any)."""

    owners: Audience = field(default_factory=frozenset)
    days: set[date] | None = field(default_factory=set)

    def __or__(self, other: "FactEffect") -> "FactEffect":
        owners = None if self.owners is None or other.owners is None else self.owners | other.owners
        days = None if self.days is None or other.days is None else self.days | other.days
        return FactEffect(owners, days)


def utc_day(value: date | datetime | None) -> date | None:
    """The UTC date of a timestamp (a date as it is): the day a stale mark covers for it."""
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).date()
    return value


def touches_everyone(raw: Mapping[str, Sequence[Mapping[str, Any]] | None]) -> bool:
    """Whether the batch changes references every goal may depend on (users, teams, pipelines, stages)."""
    return any(raw.get(key) for key in EVERYONE_KINDS)


async def stored_effect(session: AsyncSession, raw: Mapping[str, Sequence[Mapping[str, Any]] | None]) -> FactEffect:
    """Owners and days of the batch's deals and activities as stored now (call before and after applying)."""
    if touches_everyone(raw):
        return FactEffect(None, None)
    owners: set[int] = set()
    days: set[date] = set()
    for key, model in (("deals", Deal), ("activities", Activity)):
        ids = [str(item["id"]) for item in raw.get(key) or () if item.get("id") is not None]
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start:start + _CHUNK]
            for owner, *stamps in await session.execute(
                    select(model.owner_id, *_DAY_COLUMNS[model]).where(model.external_id.in_(chunk))):
                owners.add(owner)
                days.update(d for d in map(utc_day, stamps) if d is not None)
            if model is Deal:  # stage history: "progressed" goals count when a stage was entered
                change = DealStageChange
                for owner, entered in await session.execute(
                        select(change.owner_id, change.entered_at).join(Deal, Deal.id == change.deal_id)
                        .where(Deal.external_id.in_(chunk))):
                    owners.add(owner)
                    days.add(utc_day(entered))  # type: ignore[arg-type]
    return FactEffect(frozenset(owners), days)


async def mark_effect(session: AsyncSession, effect: FactEffect) -> int:
    """Mark the stored progress the effect moves stale (in the batch's transaction)."""
    return await mark_facts(session, effect.owners, effect.days)


async def goal_followers(session: AsyncSession, goal_ids: Iterable[int]) -> frozenset[int] | None:
    """Users whose facts move these goals (goals.audience; None: a company goal is among them).

    A change to the goals themselves is announced as a change for these users, so every
    subscription following one of the goals is pushed again (see graphql/subscriptions.py).
    """
    return await audience_of(session, goal_ids)


def facts_committed(runtime: "Runtime", summary: Any) -> None:
    """After a batch of facts committed (ingest mutation and bulk import alike): wake the recompute
    worker (which pushes subscribers and checks statuses) and fire ``goalgraph_facts_ingested``.

    Both only schedule work and never raise: the batch is stored, its answer must say so.
    """
    try:
        worker = getattr(runtime, "recompute", None)
        if worker is not None:
            worker.wake()
        fire(runtime.plugins.manager, "goalgraph_facts_ingested", counts=summary.as_dict())
    except Exception:  # noqa: BLE001
        log.exception("after-commit announcements of a batch failed (the batch is stored)")
