"""Live progress: follow goals and receive their new values as facts arrive."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Any

import strawberry
from sqlalchemy import select
from strawberry.types import Info

from goalgraph.access import policy
from goalgraph.db.models import Goal
from goalgraph.goals.audience import Audience, audiences, moved, union
from goalgraph.graphql.errors import ErrorCode, query_error
from goalgraph.graphql.types.goals import GoalNode
from goalgraph.inputs import parse_internal_id
from goalgraph.live.broker import FactsChanged

#: Events arriving within this window are handled as one batch (one recomputation, one push).
COALESCE_SECONDS = 0.25
MAX_FOLLOWED = 200


@strawberry.type(description="New values of followed goals.")
class GoalProgressUpdate:
    goals: list[GoalNode] = strawberry.field(description="The goals that changed (all of them on the first push).")
    reason: str = strawberry.field(description="INITIAL for the first push, FACTS after a change: facts "
                                               "ingested, the goals edited, settings or rates changed.")
    at: datetime = strawberry.field(description="When the values were computed.")


async def _load_followed(ctx: Any, ids: tuple[int, ...]) -> tuple[list[Goal], dict[int, Audience]]:
    """The live goals among ``ids`` as stored now, and whose facts move each (goals.audience)."""
    async with ctx.db() as session:
        goals = list((await session.scalars(
            select(Goal).where(Goal.id.in_(ids), Goal.deleted_at.is_(None)).order_by(Goal.id))).all())
        return goals, await audiences(session, goals)


async def _followed(info: Info, ids: list[strawberry.ID]) -> tuple[list[Goal], dict[int, Audience]]:
    """The followed goals as they are now and, per goal, whose facts move it (None: anyone's).

    Run for the first push and again for every later one, with the viewer loaded afresh: a goal
    the viewer may no longer see (rights revoked) answers exactly as a deleted or unknown one —
    NOT_FOUND — and a deactivated user's or expired token's viewer UNAUTHENTICATED; either ends
    the stream.
    """
    if not 1 <= len(ids) <= MAX_FOLLOWED:
        raise query_error(f"goalIds: follow 1–{MAX_FOLLOWED} goals", ErrorCode.BAD_USER_INPUT)
    ctx = info.context
    viewer = await ctx.viewer()
    numeric = tuple(sorted({n for n in map(parse_internal_id, ids) if n is not None}))
    if ctx.share_progress:  # a push: subscribers woken by the same event share one load
        stored, who = await ctx.runtime.broker.shared(("followed", numeric), lambda: _load_followed(ctx, numeric))
    else:
        stored, who = await _load_followed(ctx, numeric)
    goals = [g for g in stored if policy.can_see_goal(viewer, g)]
    missing = sorted(set(map(str, ids)) - {str(g.id) for g in goals})
    if missing:
        raise query_error(f"goalIds: no goal with id {', '.join(missing)}", ErrorCode.NOT_FOUND)
    return goals, {g.id: who[g.id] for g in goals}


def _touched(events: list[FactsChanged], users: dict[int, Audience]) -> set[int]:
    """The followed goals an event moves: through whose facts count for them, or their stored figures."""
    recomputed = frozenset().union(*(e.goals for e in events))
    facts = union(*(e.users for e in events))
    return (moved(users, facts) if facts is None or facts else set()) | (recomputed & users.keys())


@strawberry.type(description="Live progress of followed goals.")
class ProgressSubscriptions:
    @strawberry.subscription(description="Follow goals: their current values first, then new values within about "
                                         "a second after facts that count for them are ingested or the goals "
                                         "change (batched). Each push is computed from the goals as they are then "
                                         "and checks the viewer again: losing sight of a goal ends the stream with "
                                         "NOT_FOUND, a deactivated user or expired token with UNAUTHENTICATED.")
    async def goal_progress(self, info: Info, goal_ids: list[strawberry.ID]) -> AsyncGenerator[GoalProgressUpdate, None]:
        ctx = info.context
        broker = ctx.runtime.broker
        with broker.listen() as queue:
            # Nothing cached from an earlier operation on this connection (loaders, viewer) is reused.
            await ctx.refresh()
            goals, users = await _followed(info, goal_ids)
            for goal in goals:
                ctx.loaders.goal.prime(goal.id, goal)
            # The first push is this subscriber's own read, never one shared within the broker's generation:
            # a change another process made without an announcement here (an import on SQLite) would not
            # have moved the generation, and a shared result from before it would be served as fresh.
            yield GoalProgressUpdate(goals=[GoalNode(row=g) for g in goals], reason="INITIAL", at=ctx.now)
            while True:
                await ctx.close()  # an idle subscriber holds no database connection
                events = [await queue.get()]
                await asyncio.sleep(COALESCE_SECONDS)
                while not queue.empty():
                    events.append(queue.get_nowait())
                touched = _touched(events, users)
                if not touched:
                    continue
                await ctx.refresh()
                ctx.share_progress = True
                goals, users = await _followed(info, goal_ids)
                rows = [g for g in goals if g.id in touched]
                for row in rows:
                    ctx.loaders.goal.prime(row.id, row)
                if rows:
                    yield GoalProgressUpdate(goals=[GoalNode(row=g) for g in rows], reason="FACTS", at=ctx.now)
