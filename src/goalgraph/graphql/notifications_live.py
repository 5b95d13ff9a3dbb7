"""The bell, live: the viewer's unread count and first notices, pushed when a notice is written for them or
they mark some read (in any process: the dispatcher and markNotificationsRead announce it through the broker
in their transaction)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Any

import strawberry
from sqlalchemy import select
from strawberry.types import Info

from goalgraph.db.models import Notice
from goalgraph.graphql.errors import ErrorCode, query_error
from goalgraph.graphql.notifications_api import Notification, notice_order, unread_count
from goalgraph.live.broker import FactsChanged

#: Events arriving within this window are handled as one batch (one read, at most one push).
COALESCE_SECONDS = 0.25
MAX_FIRST = 50


@strawberry.type(description="The viewer's in-app notifications now.")
class NotificationsUpdate:
    unread_count: int = strawberry.field(description="How many are unread (the bell's count).")
    notifications: list[Notification] = strawberry.field(
        description="The first `first` of them in the order of the `notifications` query: unread first, "
                    "newest first within each.")
    reason: str = strawberry.field(description="INITIAL for the first push, CHANGED after a notice arrived or "
                                               "some were marked read.")
    at: datetime = strawberry.field(description="When they were read.")


async def _state(info: Info, first: int) -> tuple[int | None, int, list[Notice]]:
    """The viewer (checked afresh: a deactivated user or an expired token raises UNAUTHENTICATED), their
    unread count and first notices. A service token has no notices."""
    ctx = info.context
    user_id = (await ctx.viewer()).user_id
    if user_id is None:
        return None, 0, []
    async with ctx.db() as session:
        count = int(await session.scalar(unread_count(user_id)) or 0)
        rows = list((await session.scalars(
            select(Notice).where(Notice.user_id == user_id).order_by(notice_order()).limit(first))).all())
    return user_id, count, rows


def _concerns(events: list[FactsChanged], user_id: int | None) -> bool:
    """Whether the viewer's notices may have changed (``users=None``: anything may have, e.g. the broker
    reconnected, users were deactivated, rights changed — the viewer is checked again too)."""
    return any(e.users is None or user_id in e.notices for e in events)


def _shown(count: int, rows: list[Notice]) -> Any:
    return count, tuple((r.id, r.read_at) for r in rows)


@strawberry.type(description="Live in-app notifications.")
class NotificationSubscriptions:
    @strawberry.subscription(description="The viewer's unread count and first notifications: now, then again "
                                         "within about a second whenever a notice arrives for them or they mark "
                                         "some read (in any tab or process). Each push checks the viewer again: "
                                         "a deactivated user or expired token ends the stream with "
                                         "UNAUTHENTICATED. Service tokens get 0 and no notifications.")
    async def notifications(self, info: Info, first: int = 5) -> AsyncGenerator[NotificationsUpdate, None]:
        if not 0 <= first <= MAX_FIRST:
            raise query_error(f"first: 0–{MAX_FIRST}", ErrorCode.BAD_USER_INPUT)
        ctx = info.context
        with ctx.runtime.broker.listen() as queue:
            await ctx.refresh()  # nothing cached from an earlier operation on this connection is reused
            user_id, count, rows = await _state(info, first)
            shown = _shown(count, rows)
            yield NotificationsUpdate(unread_count=count, notifications=[Notification.of(r) for r in rows],
                                      reason="INITIAL", at=ctx.now)
            while True:
                await ctx.close()  # an idle subscriber holds no database connection
                events = [await queue.get()]
                await asyncio.sleep(COALESCE_SECONDS)
                while not queue.empty():
                    events.append(queue.get_nowait())
                if not _concerns(events, user_id):
                    continue
                await ctx.refresh()
                user_id, count, rows = await _state(info, first)
                if _shown(count, rows) == shown:
                    continue
                shown = _shown(count, rows)
                yield NotificationsUpdate(unread_count=count, notifications=[Notification.of(r) for r in rows],
                                          reason="CHANGED", at=ctx.now)
