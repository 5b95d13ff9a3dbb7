"""A batch of facts changed: which users' facts it touches (so only their followers' goals are
recomputed), and what this process does once it committed."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from goalgraph.db.models import Activity, Deal, User
from goalgraph.events import fire
from goalgraph.goals.audience import audience_of
from goalgraph.live.broker import FactsChanged

if TYPE_CHECKING:
    from goalgraph.runtime import Runtime

log = logging.getLogger(__name__)

#: Kinds whose change can move any goal (memberships, stage probabilities …).
_EVERYONE = ("users", "teams", "pipelines", "stages")


async def previous_owners(session: AsyncSession, raw: Mapping[str, Sequence[Mapping[str, Any]] | None]) -> set[int]:
    """Owners of the batch's deals and activities as stored *before* it is applied."""
    owners: set[int] = set()
    for key, model in (("deals", Deal), ("activities", Activity)):
        ids = [str(item["id"]) for item in raw.get(key) or () if item.get("id") is not None]
        for start in range(0, len(ids), 5000):
            owners |= set((await session.scalars(
                select(model.owner_id).where(model.external_id.in_(ids[start:start + 5000]))
            )).all())
    return owners


async def facts_changed(session: AsyncSession, raw: Mapping[str, Sequence[Mapping[str, Any]] | None],
                        before: set[int]) -> FactsChanged:
    """The event for an applied batch: its deals' and activities' owners, before and after."""
    if any(raw.get(key) for key in _EVERYONE):
        return FactsChanged(None)
    refs = {str(item["owner_id"]) for key in ("deals", "activities") for item in raw.get(key) or ()
            if item.get("owner_id") is not None}
    now = set((await session.scalars(select(User.id).where(User.external_id.in_(refs))))) if refs else set()
    return FactsChanged.of(before | now)


async def goal_followers(session: AsyncSession, goal_ids: Iterable[int]) -> frozenset[int] | None:
    """Users whose facts move these goals (goals.audience; None: a company goal is among them).

    A change to the goals themselves is announced as a change for these users, so every
    subscription following one of the goals is pushed again (see graphql/subscriptions.py).
    """
    return await audience_of(session, goal_ids)


def facts_committed(runtime: "Runtime", summary: Any, change: FactsChanged | None) -> None:
    """After a batch of facts committed (ingest mutation and bulk import alike): fire
    ``goalgraph_facts_ingested`` and, for a change, let the status watch check the goals it moves.

    Both only schedule work and never raise: the batch is stored, its answer must say so.
    """
    try:
        if change is not None and runtime.status_watch is not None:
            runtime.status_watch.notify(change)
        fire(runtime.plugins.manager, "goalgraph_facts_ingested", counts=summary.as_dict())
    except Exception:  # noqa: BLE001
        log.exception("after-commit announcements of a batch failed (the batch is stored)")
