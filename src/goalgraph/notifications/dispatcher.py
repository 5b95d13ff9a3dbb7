"""The dispatcher: claims due outbox rows, delivers them, records the outcome, retries with backoff.

One asyncio task per server process (started and stopped with the app, unless ``GOALGRAPH_DISPATCHER=0``)
and in ``goalgraph dispatch`` processes. A row is claimed by
setting it SENDING with a lease (``locked_until``) in a short transaction — on PostgreSQL the
candidates are read ``FOR UPDATE SKIP LOCKED``, so concurrent processes never claim the same row;
every claim is also a conditional update, so SQLite behaves the same. The send happens outside any
transaction. A process killed mid-send leaves the row SENDING; when its lease runs out another
claim sends it again — with the same idempotency key. Each claim counts as an attempt; after
``notify_max_attempts`` failed ones the row is FAILED with its last error.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import and_, case, literal, null, or_, select, tuple_, update

from goalgraph.access import policy
from goalgraph.access.viewer import viewer_of
from goalgraph.db.dialect import conflict_insert
from goalgraph.db.models import Goal, Notice, OutboxMessage, User, WebhookEndpoint
from goalgraph.notifications import email, webhooks
from goalgraph.notifications.http import WebhookClient
from goalgraph.notifications.messages import Message, Recipient, render

if TYPE_CHECKING:
    from goalgraph.runtime import Runtime

log = logging.getLogger(__name__)

#: How long a claim holds a row: longer than any send may take (webhook and SMTP timeouts).
LEASE_SECONDS = 60.0
#: A round's sends not finished by then count as failed attempts (e-mails wait for the few threads of
#: the default executor; a round of 100 must not outlive its lease).
SEND_DEADLINE_SECONDS = LEASE_SECONDS - 15
#: Longest wait between two attempts.
MAX_BACKOFF_SECONDS = 3600.0
#: Rows claimed per round (sent concurrently, each ending by SEND_DEADLINE_SECONDS).
BATCH = 100
HOOK = "goalgraph_send_notification"
GAVE_UP = "gave up: the process making the last attempt stopped before it finished"


def backoff(settings_backoff: float, attempts: int) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt: base × 2^(attempts−1), capped."""
    return min(settings_backoff * 2 ** max(attempts - 1, 0), MAX_BACKOFF_SECONDS)


@dataclass(frozen=True)
class Outcome:
    """How one attempt ended."""

    status: str  # DELIVERED, SKIPPED or RETRY
    error: str | None = None
    code: int | None = None


@dataclass(frozen=True)
class Ready:
    """A claimed row read and checked, ready to send (no database needed any more)."""

    channel: str
    message: Message
    endpoint: WebhookEndpoint | None
    recipient: Recipient | None
    user_id: int | None
    goal_id: int | None


#: How often a process looks whether the weekly digests are due.
DIGEST_CHECK_SECONDS = 3600.0


class Dispatcher:
    """Delivers the outbox of one database; :meth:`start` runs it in the background."""

    def __init__(self, runtime: "Runtime") -> None:
        self.runtime = runtime
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._http: WebhookClient | None = None

    @property
    def plugin_channels(self) -> list[str]:
        """Names of the plugins implementing ``goalgraph_send_notification`` (pass to ``enqueue``)."""
        return sorted({impl.plugin_name for impl in getattr(self.runtime.plugins.manager.hook, HOOK).get_hookimpls()})

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._loop())

    def wake(self) -> None:
        """Look for due rows now (call after committing new ones)."""
        self._wake.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def _loop(self) -> None:
        poll = self.runtime.settings.notify_poll_seconds
        loop = asyncio.get_running_loop()
        reported = -math.inf  # when a failing round was last logged: at most once a minute
        digest_due = 0.0
        while True:
            try:
                if loop.time() >= digest_due:  # the weekly digests: looked at hourly, written once a week
                    digest_due = loop.time() + DIGEST_CHECK_SECONDS
                    await self.write_digests()
                done = await self.run_once()
                reported = -math.inf
            except Exception:  # noqa: BLE001 - a failed round (database away) must not end the loop
                if loop.time() - reported > 60:
                    log.exception("delivering notifications failed (retrying every %s s)", poll)
                    reported = loop.time()
                done = 0
            if done == 0:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=poll)
                self._wake.clear()

    async def write_digests(self, now: datetime | None = None) -> int:
        """The scheduled notifications: periods that just closed and, when due, this week's digests
        (notifications.produce); returns the outbox rows written."""
        from goalgraph.notifications.produce import periods_closed, weekly_digests

        now = now or self.runtime.clock()
        async with self.runtime.sessions() as session, session.begin():
            written = await periods_closed(session, self.runtime.registry, now, plugin_channels=self.plugin_channels)
            return written + await weekly_digests(session, self.runtime.registry, now,
                                                  plugin_channels=self.plugin_channels)

    async def run_once(self, now: datetime | None = None) -> int:
        """Claim one batch of due rows and deliver them concurrently; returns how many were claimed.

        The batch is read in one session and its outcomes recorded in (at most) two transactions — first
        what needs no send (in-app notices, skips), then the sends' (which happen outside any transaction):
        a round holds one pooled connection at a time, not one per message.
        """
        now = now or self.runtime.clock()
        claimed = await self.claim(now)
        if claimed:
            try:
                ready = await self._prepare([row_id for row_id, _ in claimed], now)
            except Exception as exc:  # noqa: BLE001 - recorded on the rows, retried
                failed = Outcome("RETRY", error=f"{type(exc).__name__}: {exc}"[:1000])
                ready = {row_id: failed for row_id, _ in claimed}
            # In-app notices and skips need no send: recorded first, so a slow receiver never delays a bell.
            at_once = [(r, a) for r, a in claimed if isinstance(ready[r], Outcome) or ready[r].channel == "IN_APP"]
            later = [(r, a) for r, a in claimed if (r, a) not in at_once]
            # Records are shielded: a round cancelled (shutdown) while one commits must not leave its
            # transaction half-done on the connection (on SQLite that would hold the write lock).
            if at_once:
                await asyncio.shield(self._record([(r, a, *await self._attempt(ready[r], now)) for r, a in at_once]))
            # Every send ends well inside the lease, so its outcome is recorded while the claim still holds.
            deadline = asyncio.get_running_loop().time() + SEND_DEADLINE_SECONDS
            results = await asyncio.gather(*(self._attempt(ready[r], now, deadline) for r, _ in later))
            if later:
                await asyncio.shield(self._record([(r, a, *result) for (r, a), result in zip(later, results)]))
        return len(claimed)

    async def claim(self, now: datetime, limit: int = BATCH) -> list[tuple[int, int]]:
        """Mark due rows SENDING under a lease; returns (id, attempt number) of each one claimed.

        One statement: an UPDATE of the due rows picked by its subquery (``FOR UPDATE SKIP LOCKED`` on
        PostgreSQL, so concurrent processes pick different rows), still due when updated. A row whose
        last attempt was cut short is given up (FAILED) by the same statement instead of claimed.
        """
        o = OutboxMessage
        due = or_(and_(o.status == "PENDING", o.next_attempt_at <= now),
                  and_(o.status == "SENDING", o.locked_until < now))
        async with self.runtime.sessions() as session, session.begin():
            pick = select(o.id).where(due).order_by(o.next_attempt_at, o.id).limit(limit)
            if session.bind.dialect.name == "postgresql":
                pick = pick.with_for_update(skip_locked=True)
            spent = o.attempts >= self.runtime.settings.notify_max_attempts
            lease = literal(now + timedelta(seconds=LEASE_SECONDS), o.locked_until.type)
            rows = (await session.execute(update(o).where(o.id.in_(pick.scalar_subquery()), due).values(
                status=case((spent, "FAILED"), else_="SENDING"),
                attempts=case((spent, o.attempts), else_=o.attempts + 1),
                locked_until=case((spent, null()), else_=lease),
                last_error=case((spent, GAVE_UP), else_=o.last_error),
            ).returning(o.id, o.attempts, o.status))).all()
        return sorted((row_id, attempt) for row_id, attempt, status in rows if status == "SENDING")

    async def _attempt(self, ready: "Ready | Outcome", now: datetime,
                       deadline: float | None = None) -> tuple[Outcome, dict | None]:
        if isinstance(ready, Outcome):
            return ready, None
        limit = asyncio.timeout_at(deadline)
        try:
            async with limit:
                return await self._deliver(ready, now)
        except Exception as exc:  # noqa: BLE001 - recorded on the row, retried
            if isinstance(exc, TimeoutError) and limit.expired():
                return Outcome("RETRY", error=f"not sent within the round's {SEND_DEADLINE_SECONDS:g} s"), None
            return Outcome("RETRY", error=f"{type(exc).__name__}: {exc}"[:1000]), None

    async def _prepare(self, row_ids: list[int], now: datetime) -> dict[int, "Ready | Outcome"]:
        """What each claimed row needs to be sent (read in one session), or why it is skipped.

        The rows are read as plain rows (no ORM objects); whether a user may see a goal is decided once
        per user and goal in a round (an event's in-app notice and e-mail ask the same question)."""
        out: dict[int, Ready | Outcome] = {}
        o = OutboxMessage.__table__
        async with self.runtime.sessions() as session:
            rows = {r.id: r for r in (await session.execute(select(o).where(o.c.id.in_(row_ids)))).all()}
            endpoint_ids = {r.endpoint_id for r in rows.values() if r.endpoint_id}
            endpoints = {e.id: e for e in (await session.scalars(
                select(WebhookEndpoint).where(WebhookEndpoint.id.in_(endpoint_ids)))).all()} if endpoint_ids else {}
            decided: dict[tuple[int, int | None], tuple[Recipient | None, str]] = {}
            for row_id in row_ids:
                row = rows.get(row_id)
                if row is None:
                    out[row_id] = Outcome("SKIPPED", error="the message is gone")
                    continue
                recipient: Recipient | None = None
                if row.recipient_user_id is not None:
                    asked = (row.recipient_user_id, row.goal_id)
                    if asked not in decided:
                        decided[asked] = await self._recipient(session, *asked)
                    recipient, why = decided[asked]
                    if recipient is None:
                        out[row_id] = Outcome("SKIPPED", error=why)
                        continue
                out[row_id] = Ready(
                    channel=row.channel, message=render(row.idempotency_key, row.event_kind, row.created_at, row.payload),
                    endpoint=endpoints.get(row.endpoint_id) if row.endpoint_id else None, recipient=recipient,
                    user_id=row.recipient_user_id, goal_id=row.goal_id)
        return out

    async def _deliver(self, ready: "Ready", now: datetime) -> tuple[Outcome, dict | None]:
        settings = self.runtime.settings
        channel, message, endpoint, recipient = ready.channel, ready.message, ready.endpoint, ready.recipient
        user_id, goal_id = ready.user_id, ready.goal_id
        if channel == "WEBHOOK":
            if endpoint is None or not endpoint.active:
                return Outcome("SKIPPED", error="the endpoint was removed or switched off"), None
            answer = await webhooks.post(self._client(), endpoint, message, now)
            return Outcome("DELIVERED" if answer.ok else "RETRY", error=answer.error, code=answer.code), None
        assert recipient is not None and user_id is not None
        if channel == "IN_APP":
            notice = {"user_id": user_id, "idempotency_key": message.idempotency_key, "event_kind": message.event_kind,
                      "goal_id": goal_id, "title": message.subject[:300], "body": message.text,
                      "payload": message.body, "created_at": now, "read_at": None}
            return Outcome("DELIVERED"), notice
        if channel == "EMAIL":
            if not settings.smtp_host:
                return Outcome("SKIPPED", error="e-mail is off: GOALGRAPH_SMTP_HOST is not set"), None
            if not recipient.email:
                return Outcome("SKIPPED", error="the recipient has no e-mail address"), None
            await email.send(settings, message, recipient)
            return Outcome("DELIVERED"), None
        if channel.startswith("plugin:"):
            return await self._plugin(channel.removeprefix("plugin:"), message, recipient), None
        return Outcome("SKIPPED", error=f"unknown channel {channel!r}"), None

    async def _recipient(self, session, user_id: int, goal_id: int | None) -> tuple[Recipient | None, str]:  # type: ignore[no-untyped-def]
        """The recipient if the access policy lets them see the goal now, else why not."""
        user = await session.get(User, user_id)
        if user is None or not user.active:
            return None, "the recipient is no longer an active user"
        if goal_id is not None:
            goal = await session.get(Goal, goal_id)
            if goal is None or goal.deleted_at is not None:
                return None, "the goal was deleted"
            if not policy.can_see_goal(await viewer_of(session, user), goal):
                return None, "the recipient may not see the goal"
        return Recipient(user_id=user.id, external_id=user.external_id, name=user.name, email=user.email), ""

    async def _plugin(self, name: str, message: Message, recipient: Recipient) -> Outcome:
        impls = [i for i in getattr(self.runtime.plugins.manager.hook, HOOK).get_hookimpls() if i.plugin_name == name]
        if not impls:
            return Outcome("SKIPPED", error=f"plugin {name!r} is not installed")
        kwargs = {"message": message, "recipient": recipient}
        for impl in impls:
            args = {a: kwargs[a] for a in impl.argnames}
            if inspect.iscoroutinefunction(impl.function):
                await impl.function(**args)
            else:
                result = await asyncio.to_thread(impl.function, **args)
                if inspect.isawaitable(result):
                    await result
        return Outcome("DELIVERED")

    def _client(self) -> WebhookClient:
        """The process's one webhook client (connections kept alive across rounds)."""
        if self._http is None:
            self._http = WebhookClient()
        return self._http

    async def _record(self, results: list[tuple[int, int, Outcome, dict | None]]) -> None:
        """Store the outcomes of a round in one transaction, each unless its claim was lost meanwhile
        (lease expired, claimed again): one UPDATE per distinct outcome (usually one or two a round) and
        one INSERT of the round's new in-app notices."""
        settings = self.runtime.settings
        finished = self.runtime.clock()
        o = OutboxMessage
        groups: dict[tuple, list[tuple[int, int]]] = {}  # rows ending alike: one UPDATE for them all
        for row_id, attempt, outcome, _ in results:
            values: dict = {"locked_until": None, "last_error": outcome.error, "last_response_code": outcome.code}
            if outcome.status in {"DELIVERED", "SKIPPED"}:
                values.update(status=outcome.status, delivered_at=finished if outcome.status == "DELIVERED" else None)
            elif attempt >= settings.notify_max_attempts:
                values.update(status="FAILED")
            else:
                values.update(status="PENDING", next_attempt_at=finished + timedelta(
                    seconds=backoff(settings.notify_backoff_seconds, attempt)))
            groups.setdefault(tuple(sorted(values.items())), []).append((row_id, attempt))
        async with self.runtime.sessions() as session, session.begin():
            recorded: set[int] = set()
            for values_key, claims in groups.items():
                recorded.update((await session.scalars(
                    update(o).where(tuple_(o.id, o.attempts).in_(claims), o.status == "SENDING")
                    .values(**dict(values_key)).returning(o.id))).all())
            notices = [notice for row_id, _, _, notice in results if notice is not None and row_id in recorded]
            if notices:
                stmt = conflict_insert(session.bind.dialect.name, Notice.__table__).values(notices)
                written = (await session.scalars(stmt.on_conflict_do_nothing(index_elements=["idempotency_key"])
                                                 .returning(Notice.user_id))).all()
                if written:  # new notices: their recipients' bells (notifications_live) hear it
                    await self.runtime.broker.announce_notices(session, sorted(set(written)))
        for row_id, attempt, outcome, _ in results:
            if outcome.status == "RETRY":
                log.info("notification %s attempt %s failed: %s", row_id, attempt, outcome.error)
