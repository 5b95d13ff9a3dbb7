"""Notifications over GraphQL: the viewer's in-app notices, webhook endpoints and the delivery log."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated, Any

import strawberry
from sqlalchemy import BigInteger, case, func, literal, select, update
from strawberry.scalars import JSON
from strawberry.types import Info

from goalgraph.access import policy
from goalgraph.db.models import Notice, OutboxMessage, WebhookEndpoint
from goalgraph.errors import IngestRejected
from goalgraph.graphql.errors import ErrorCode, ForbiddenError, NotFoundError, ValidationError, query_error
from goalgraph.graphql.pagination import Connection, Edge, PageInfo, check_page_size, decode_cursor, encode_cursor
from goalgraph.notifications import outbox, webhooks
from goalgraph.notifications.messages import EventKind

DEFAULT_PAGE = 50
#: Unread notices sort before read ones, newest first within each: one integer key per row.
_READ_BIT = 2**40


@strawberry.enum(name="NotificationEventKind", description="What a notification is about (docs/notifications.md).")
class EventKindEnum(enum.Enum):
    GOAL_ASSIGNED = strawberry.enum_value("GOAL_ASSIGNED", description="A goal was assigned to you.")
    MILESTONE_REACHED = strawberry.enum_value("MILESTONE_REACHED", description="A goal reached a milestone (%).")
    PACE_CHANGED = strawberry.enum_value("PACE_CHANGED", description="A goal's pace status changed.")
    PERIOD_CLOSED = strawberry.enum_value("PERIOD_CLOSED", description="A period closed, achieved or missed.")
    STATUS_CHANGED = strawberry.enum_value("STATUS_CHANGED", description="A current period's status changed.")
    WEEKLY_DIGEST = strawberry.enum_value("WEEKLY_DIGEST", description="A weekly summary of one's goals.")
    TEST = strawberry.enum_value("TEST", description="A test sent with testWebhookEndpoint.")


@strawberry.enum(description="Where a notification is in its delivery.")
class DeliveryStatus(enum.Enum):
    PENDING = strawberry.enum_value("PENDING", description="Waiting for its (next) attempt.")
    SENDING = strawberry.enum_value("SENDING", description="Being sent now.")
    DELIVERED = strawberry.enum_value("DELIVERED", description="Accepted by the receiver.")
    FAILED = strawberry.enum_value("FAILED", description="Every attempt failed; goalgraph gave up (see lastError).")
    SKIPPED = strawberry.enum_value("SKIPPED", description="Not sent, on purpose (see lastError: e.g. the "
                                    "recipient may no longer see the goal, e-mail is off).")


@strawberry.type(description="An in-app notification for the viewer.")
class Notification:
    id: strawberry.ID = strawberry.field(description="The notification's id.")
    kind: EventKindEnum = strawberry.field(description="What it is about.")
    title: str = strawberry.field(description="One line for people.")
    body: str = strawberry.field(description="The plain-text message.")
    goal_id: strawberry.ID | None = strawberry.field(description="The goal it is about, if any.")
    data: JSON = strawberry.field(description="The event as webhooks receive it (docs/notifications.md).")
    created_at: datetime = strawberry.field(description="When it arrived.")
    read_at: datetime | None = strawberry.field(description="When the viewer marked it read; null while unread.")

    @strawberry.field(description="Marked read.")
    def read(self) -> bool:
        return self.read_at is not None

    @classmethod
    def of(cls, row: Notice) -> "Notification":
        return cls(id=strawberry.ID(str(row.id)), kind=EventKindEnum(row.event_kind), title=row.title, body=row.body,
                   goal_id=strawberry.ID(str(row.goal_id)) if row.goal_id is not None else None, data=row.payload,
                   created_at=row.created_at, read_at=row.read_at)


@strawberry.type(description="A URL that receives notification events as signed JSON POSTs.")
class WebhookEndpointType:
    id: strawberry.ID = strawberry.field(description="The endpoint's id.")
    url: str = strawberry.field(description="Where events are POSTed.")
    event_kinds: list[EventKindEnum] = strawberry.field(description="The kinds of events it receives.")
    description: str | None = strawberry.field(description="What it is for.")
    active: bool = strawberry.field(description="Receives events; switched-off endpoints get none.")
    created_at: datetime = strawberry.field(description="When it was registered.")
    created_by: str | None = strawberry.field(description="Who registered it.")

    @classmethod
    def of(cls, row: WebhookEndpoint) -> "WebhookEndpointType":
        return cls(id=strawberry.ID(str(row.id)), url=row.url, event_kinds=[EventKindEnum(k) for k in row.event_kinds],
                   description=row.description, active=row.active, created_at=row.created_at,
                   created_by=row.created_by)


@strawberry.type(description="One notification to deliver over one channel to one recipient, with its attempts.")
class NotificationDelivery:
    id: strawberry.ID = strawberry.field(description="The delivery's id.")
    idempotency_key: str = strawberry.field(description="Sent with every attempt (the same each time).")
    channel: str = strawberry.field(description="WEBHOOK, EMAIL, IN_APP, or plugin:<name>.")
    kind: EventKindEnum = strawberry.field(description="What it is about.")
    status: DeliveryStatus = strawberry.field(description="Where it is.")
    attempts: int = strawberry.field(description="Attempts made so far.")
    last_response_code: int | None = strawberry.field(description="The HTTP status of the last webhook answer.")
    last_error: str | None = strawberry.field(description="Why the last attempt failed (or why it was skipped).")
    next_attempt_at: datetime | None = strawberry.field(description="When it is tried next (PENDING only).")
    created_at: datetime = strawberry.field(description="When the event was recorded.")
    delivered_at: datetime | None = strawberry.field(description="When the receiver accepted it.")
    endpoint_id: strawberry.ID | None = strawberry.field(description="The webhook endpoint, for WEBHOOK.")
    recipient_user_id: strawberry.ID | None = strawberry.field(description="The recipient's CRM id, for user channels.")
    goal_id: strawberry.ID | None = strawberry.field(description="The goal it is about, if any.")

    @classmethod
    def of(cls, row: OutboxMessage, user_ids: dict[int, str]) -> "NotificationDelivery":
        return cls(id=strawberry.ID(str(row.id)), idempotency_key=row.idempotency_key, channel=row.channel,
                   kind=EventKindEnum(row.event_kind), status=DeliveryStatus(row.status), attempts=row.attempts,
                   last_response_code=row.last_response_code, last_error=row.last_error,
                   next_attempt_at=row.next_attempt_at if row.status == "PENDING" else None,
                   created_at=row.created_at, delivered_at=row.delivered_at,
                   endpoint_id=strawberry.ID(str(row.endpoint_id)) if row.endpoint_id else None,
                   recipient_user_id=strawberry.ID(user_ids[row.recipient_user_id])
                   if row.recipient_user_id in user_ids else None,
                   goal_id=strawberry.ID(str(row.goal_id)) if row.goal_id is not None else None)


@strawberry.input(description="A webhook endpoint to register.")
class WebhookEndpointInput:
    url: str = strawberry.field(description="http(s) URL receiving POSTs.")
    event_kinds: list[EventKindEnum] = strawberry.field(description="The kinds of events wanted (not TEST).")
    secret: str | None = strawberry.field(default=None, description="Signing secret, 16–200 characters; omitted: "
                                          "one is generated and returned once.")
    description: str | None = strawberry.field(default=None, description="What it is for.")


@strawberry.input(description="Changes to a webhook endpoint; omitted fields stay as they are.")
class WebhookEndpointChanges:
    url: str | None = strawberry.field(default=None, description="New URL.")
    event_kinds: list[EventKindEnum] | None = strawberry.field(default=None, description="New kinds wanted.")
    secret: str | None = strawberry.field(default=None, description="New signing secret (16–200 characters).")
    description: str | None = strawberry.field(default=None, description="New description.")
    active: bool | None = strawberry.field(default=None, description="Switch it on or off.")


@strawberry.type(description="The endpoint was registered.")
class WebhookEndpointCreated:
    endpoint: WebhookEndpointType = strawberry.field(description="The endpoint.")
    secret: str = strawberry.field(description="Its signing secret: shown only here, keep it for verifying.")


@strawberry.type(description="The endpoint was saved.")
class WebhookEndpointSaved:
    endpoint: WebhookEndpointType = strawberry.field(description="The endpoint now.")


@strawberry.type(description="The endpoint was removed, with its delivery log.")
class WebhookEndpointDeleted:
    id: strawberry.ID = strawberry.field(description="The removed endpoint's id.")


@strawberry.type(description="A TEST event was queued for the endpoint; follow it in `delivery` or the log.")
class WebhookTestQueued:
    delivery: NotificationDelivery = strawberry.field(description="The test delivery (PENDING until sent).")


@strawberry.type(description="Notifications were marked read.")
class NotificationsMarkedRead:
    marked: int = strawberry.field(description="How many were unread and are read now.")
    unread_count: int = strawberry.field(description="The viewer's unread notifications now.")


CreateWebhookEndpointPayload = Annotated[
    WebhookEndpointCreated | ValidationError | ForbiddenError,
    strawberry.union("CreateWebhookEndpointPayload", description="The endpoint and its secret, or why not.")]
UpdateWebhookEndpointPayload = Annotated[
    WebhookEndpointSaved | ValidationError | ForbiddenError | NotFoundError,
    strawberry.union("UpdateWebhookEndpointPayload", description="The endpoint, or why not.")]
DeleteWebhookEndpointPayload = Annotated[
    WebhookEndpointDeleted | ForbiddenError | NotFoundError,
    strawberry.union("DeleteWebhookEndpointPayload", description="Removed, or why not.")]
TestWebhookEndpointPayload = Annotated[
    WebhookTestQueued | ForbiddenError | NotFoundError,
    strawberry.union("TestWebhookEndpointPayload", description="The queued test, or why not.")]
MarkNotificationsReadPayload = Annotated[
    NotificationsMarkedRead | ValidationError,
    strawberry.union("MarkNotificationsReadPayload", description="How many were marked, or why not.")]


def _forbidden() -> ForbiddenError:
    return ForbiddenError(code=ErrorCode.FORBIDDEN, message="only admins (or service tokens) may manage webhooks")


def _not_found(id_: str) -> NotFoundError:
    return NotFoundError(code=ErrorCode.NOT_FOUND, message=f"no webhook endpoint {id_!r}", missing_id=strawberry.ID(id_))


def _int_id(id_: str) -> int | None:
    return int(id_) if id_.isascii() and id_.isdigit() and len(id_) < 19 else None


async def _admin(info: Info) -> bool:
    return policy.can_manage(await info.context.viewer())


async def _viewer_user(info: Info) -> int | None:
    return (await info.context.viewer()).user_id


def _page(rows: list[Any], kind: str, first: int, after: str | None, total: int, key: Any, node: Any) -> Connection:
    has_next = len(rows) > first
    edges = [Edge(cursor=encode_cursor(kind, key(r)), node=node(r)) for r in rows[:first]]
    return Connection(edges=edges, total=total, page_info=PageInfo(
        has_next_page=has_next, has_previous_page=after is not None,
        start_cursor=edges[0].cursor if edges else None, end_cursor=edges[-1].cursor if edges else None))


def notice_order() -> Any:
    """The order of a user's notices (ascending): unread first, newest first within each."""
    n = Notice
    return case((n.read_at.is_(None), literal(0, BigInteger)), else_=literal(_READ_BIT, BigInteger)) + (
        literal(_READ_BIT - 1, BigInteger) - n.id)


def unread_count(user_id: int) -> Any:
    """The statement counting a user's unread notices."""
    return select(func.count()).select_from(Notice).where(Notice.user_id == user_id, Notice.read_at.is_(None))


@strawberry.type(description="Notifications: the viewer's own, and (admins) webhooks and deliveries.")
class NotificationQueries:
    @strawberry.field(description="The viewer's in-app notifications: unread first, newest first within each. "
                      "Empty for service tokens.")
    async def notifications(self, info: Info, first: int = DEFAULT_PAGE, after: str | None = None,
                            unread_only: bool = False) -> Connection[Notification]:
        check_page_size(first, info.context.runtime.settings.max_page_size)
        user_id = await _viewer_user(info)
        if user_id is None:
            return _page([], "Notification", first, after, 0, lambda r: 0, Notification.of)
        n = Notice
        key = notice_order()
        query = select(n).where(n.user_id == user_id)
        if unread_only:
            query = query.where(n.read_at.is_(None))
        async with info.context.db() as session:
            total = await session.scalar(select(func.count()).select_from(query.subquery()))
            if after is not None:
                query = query.where(key > literal(decode_cursor("Notification", after), BigInteger))
            rows = list((await session.scalars(query.order_by(key).limit(first + 1))).all())

        def key_of(row: Notice) -> int:
            return (0 if row.read_at is None else _READ_BIT) + _READ_BIT - 1 - row.id

        return _page(rows, "Notification", first, after, total or 0, key_of, Notification.of)

    @strawberry.field(description="How many of the viewer's notifications are unread (the bell's count).")
    async def unread_notification_count(self, info: Info) -> int:
        user_id = await _viewer_user(info)
        if user_id is None:
            return 0
        async with info.context.db() as session:
            return int(await session.scalar(unread_count(user_id)) or 0)

    @strawberry.field(description="Registered webhook endpoints (admins only: FORBIDDEN for others).")
    async def webhook_endpoints(self, info: Info) -> list[WebhookEndpointType]:
        if not await _admin(info):
            raise query_error("only admins (or service tokens) may see webhook endpoints", ErrorCode.FORBIDDEN)
        async with info.context.db() as session:
            return [WebhookEndpointType.of(e) for e in await webhooks.endpoints(session)]

    @strawberry.field(description="The delivery log, newest first (admins only: FORBIDDEN for others).")
    async def notification_deliveries(
        self, info: Info, first: int = DEFAULT_PAGE, after: str | None = None,
        status: DeliveryStatus | None = None, endpoint_id: strawberry.ID | None = None, channel: str | None = None,
    ) -> Connection[NotificationDelivery]:
        if not await _admin(info):
            raise query_error("only admins (or service tokens) may read the delivery log", ErrorCode.FORBIDDEN)
        check_page_size(first, info.context.runtime.settings.max_page_size)
        o = OutboxMessage
        query = select(o)
        if status is not None:
            query = query.where(o.status == status.value)
        if endpoint_id is not None:
            query = query.where(o.endpoint_id == (_int_id(endpoint_id) or -1))
        if channel is not None:
            query = query.where(o.channel == channel)
        from goalgraph.db.models import User

        async with info.context.db() as session:
            total = await session.scalar(select(func.count()).select_from(query.subquery()))
            if after is not None:
                query = query.where(o.id < literal(_READ_BIT - decode_cursor("NotificationDelivery", after), BigInteger))
            rows = list((await session.scalars(query.order_by(o.id.desc()).limit(first + 1))).all())
            ids = {r.recipient_user_id for r in rows if r.recipient_user_id is not None}
            users = dict((await session.execute(select(User.id, User.external_id).where(User.id.in_(ids)))).all()) \
                if ids else {}
        return _page(rows, "NotificationDelivery", first, after, total or 0, lambda r: _READ_BIT - r.id,
                     lambda r: NotificationDelivery.of(r, users))


@strawberry.type(description="Notification mutations.")
class NotificationMutations:
    @strawberry.mutation(description="Mark the viewer's notifications read: those named, or all with `all: true`.")
    async def mark_notifications_read(self, info: Info, ids: list[strawberry.ID] | None = None,
                                      all: bool = False) -> MarkNotificationsReadPayload:
        user_id = await _viewer_user(info)
        if not all and not ids:
            return ValidationError(code=ErrorCode.VALIDATION, message="ids: name notifications, or pass all: true",
                                   field_errors=[])
        if user_id is None:
            return NotificationsMarkedRead(marked=0, unread_count=0)
        n = Notice
        stmt = update(n).where(n.user_id == user_id, n.read_at.is_(None)).values(read_at=info.context.now)
        if not all:
            stmt = stmt.where(n.id.in_([i for i in (_int_id(x) for x in ids or []) if i is not None]))
        async with info.context.transaction() as session:
            marked = (await session.execute(stmt)).rowcount
            unread = int(await session.scalar(unread_count(user_id)) or 0)
            if marked:  # the viewer's other tabs and devices (the notifications subscription) hear it on commit
                await info.context.runtime.broker.announce_notices(session, [user_id])
        return NotificationsMarkedRead(marked=marked, unread_count=unread)

    @strawberry.mutation(description="Register a webhook endpoint (admins only).")
    async def create_webhook_endpoint(self, info: Info, input: WebhookEndpointInput) -> CreateWebhookEndpointPayload:
        viewer = await info.context.viewer()
        if not policy.can_manage(viewer):
            return _forbidden()
        try:
            async with info.context.transaction() as session:
                row = await webhooks.create_endpoint(session, input.url, [k.value for k in input.event_kinds],
                                                     input.secret, input.description, actor=viewer.subject,
                                                     now=info.context.now)
        except IngestRejected as rejected:
            return ValidationError.from_fact_errors(rejected.errors, prefix=("input",))
        return WebhookEndpointCreated(endpoint=WebhookEndpointType.of(row), secret=row.secret)

    @strawberry.mutation(description="Change a webhook endpoint (admins only).")
    async def update_webhook_endpoint(self, info: Info, id: strawberry.ID,
                                      input: WebhookEndpointChanges) -> UpdateWebhookEndpointPayload:
        if not await _admin(info):
            return _forbidden()
        try:
            async with info.context.transaction() as session:
                row = await session.get(WebhookEndpoint, _int_id(id) or -1)
                if row is None:
                    return _not_found(id)
                await webhooks.update_endpoint(
                    session, row, url=input.url, secret=input.secret, description=input.description,
                    active=input.active,
                    event_kinds=[k.value for k in input.event_kinds] if input.event_kinds is not None else None)
        except IngestRejected as rejected:
            return ValidationError.from_fact_errors(rejected.errors, prefix=("input",))
        return WebhookEndpointSaved(endpoint=WebhookEndpointType.of(row))

    @strawberry.mutation(description="Remove a webhook endpoint and its delivery log (admins only).")
    async def delete_webhook_endpoint(self, info: Info, id: strawberry.ID) -> DeleteWebhookEndpointPayload:
        if not await _admin(info):
            return _forbidden()
        async with info.context.transaction() as session:
            row = await session.get(WebhookEndpoint, _int_id(id) or -1)
            if row is None:
                return _not_found(id)
            await session.execute(OutboxMessage.__table__.delete().where(OutboxMessage.endpoint_id == row.id))
            await session.delete(row)
        return WebhookEndpointDeleted(id=id)

    @strawberry.mutation(description="Send a TEST event to a webhook endpoint (admins only); the result shows in "
                         "the delivery log.")
    async def test_webhook_endpoint(self, info: Info, id: strawberry.ID) -> TestWebhookEndpointPayload:
        viewer = await info.context.viewer()
        if not policy.can_manage(viewer):
            return _forbidden()
        async with info.context.transaction() as session:
            row = await session.get(WebhookEndpoint, _int_id(id) or -1)
            if row is None:
                return _not_found(id)
            message = await outbox.enqueue_test(session, row, actor=viewer.subject, now=info.context.now)
            delivery = NotificationDelivery.of(message, {})
        info.context.runtime.dispatcher.wake()
        return WebhookTestQueued(delivery=delivery)
