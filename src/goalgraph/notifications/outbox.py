"""The producer API: write outbox rows, in the caller's transaction, for every channel and recipient.

:func:`enqueue` is what the rest of goalgraph calls when something worth telling people happened.
Nothing is sent here: the dispatcher delivers after the transaction commits (and never if it rolls
back). Whether a recipient may see the goal is decided again by the access policy at send time.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from goalgraph import clock
from goalgraph.db.dialect import conflict_insert
from goalgraph.goals.audience import audiences
from goalgraph.db.models import Goal, OutboxMessage, WebhookEndpoint
from goalgraph.notifications.messages import EventKind, jsonable

#: Channels every user recipient gets (plugins' channels are added by name, ``plugin:<name>``).
USER_CHANNELS = ("IN_APP", "EMAIL")
WEBHOOK = "WEBHOOK"


async def assignee_users(session: AsyncSession, goal: Goal) -> list[int]:
    """Who a goal is for (goals.audience: its user, or every member of its team); a company goal has no one."""
    return sorted((await audiences(session, [goal])).get(goal.id) or ())


#: Longest event key stored as it is (longer ones are stored as their hash).
MAX_EVENT_KEY = 255


def _stored(event_key: str) -> str:
    return event_key if len(event_key) <= MAX_EVENT_KEY else "sha256:" + hashlib.sha256(event_key.encode()).hexdigest()


async def known_event_keys(session: AsyncSession, event_keys: Iterable[str]) -> set[str]:
    """The keys among ``event_keys`` already in the outbox (one indexed query): enqueueing them again would
    write nothing, so producers skip them before working out recipients."""
    wanted = {_stored(k): k for k in event_keys}
    found: set[str] = set()
    stored = sorted(wanted)
    for start in range(0, len(stored), 1000):
        found |= set((await session.scalars(select(OutboxMessage.event_key).distinct().where(
            OutboxMessage.event_key.in_(stored[start:start + 1000])))).all())
    return {wanted[k] for k in found}


def _key(event_key: str | None, channel: str, recipient: int | None) -> str:
    if event_key is None:
        return uuid.uuid4().hex
    return hashlib.sha256(f"{event_key}\x00{channel}\x00{recipient}".encode()).hexdigest()[:32]


async def enqueue(
    session: AsyncSession,
    event_kind: EventKind | str,
    goal: Goal | None,
    payload: dict[str, Any],
    recipients: Iterable[int] | None = None,
    *,
    plugin_channels: Sequence[str] = (),
    event_key: str | None = None,
    now: datetime | None = None,
) -> int:
    """Record one event for delivery; returns how many outbox rows were written.

    ``recipients`` are user ids; None means the goal's assignee (a team goal's members). Each user
    gets an in-app notice, an e-mail and one message per plugin channel (``plugin_channels``: plugin
    names implementing ``goalgraph_send_notification``, see :attr:`Dispatcher.plugin_channels`); each
    active webhook endpoint wanting ``event_kind`` gets a POST. ``event_key`` names the event for
    de-duplication: enqueueing the same key again writes nothing new. Call it inside the
    transaction of the change (the session's, uncommitted); ``payload`` may hold Decimals and dates.
    """
    kind = EventKind(event_kind).value
    now = now or clock.now()
    users = sorted(set(recipients)) if recipients is not None else (
        await assignee_users(session, goal) if goal is not None else [])
    stored = {"goal": {"id": str(goal.id), "title": goal.title} if goal is not None else None,
              "data": jsonable(payload)}
    base = {"event_kind": kind, "goal_id": goal.id if goal is not None else None, "payload": stored,
            "status": "PENDING", "attempts": 0, "next_attempt_at": now, "created_at": now,
            "event_key": _stored(event_key) if event_key is not None else None}
    rows = []
    for user_id in users:
        for channel in (*USER_CHANNELS, *(f"plugin:{name}" for name in plugin_channels)):
            rows.append({**base, "channel": channel, "recipient_user_id": user_id, "endpoint_id": None,
                         "idempotency_key": _key(event_key, channel, user_id)})
    endpoints = (await session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.active.is_(True)))).all()
    for endpoint in endpoints:
        if kind in endpoint.event_kinds:
            rows.append({**base, "channel": WEBHOOK, "recipient_user_id": None, "endpoint_id": endpoint.id,
                         "idempotency_key": _key(event_key, f"{WEBHOOK}:{endpoint.id}", None)})
    if not rows:
        return 0
    stmt = conflict_insert(session.bind.dialect.name, OutboxMessage.__table__).on_conflict_do_nothing(
        index_elements=["idempotency_key"])
    result = await session.execute(stmt, rows)
    return result.rowcount if result.rowcount is not None and result.rowcount >= 0 else len(rows)


async def enqueue_test(session: AsyncSession, endpoint: WebhookEndpoint, *, actor: str | None,
                       now: datetime | None = None) -> OutboxMessage:
    """A TEST event for one endpoint (whatever kinds it wants); returns the outbox row."""
    now = now or clock.now()
    row = OutboxMessage(
        idempotency_key=uuid.uuid4().hex, channel=WEBHOOK, event_kind=EventKind.TEST.value, goal_id=None,
        recipient_user_id=None, endpoint_id=endpoint.id, status="PENDING", attempts=0, next_attempt_at=now,
        created_at=now, payload={"goal": None, "data": {"message": "It works: goalgraph can reach this endpoint.",
                                                         "requestedBy": actor or "?"}})
    session.add(row)
    await session.flush()
    return row
