"""Notifications: webhook endpoints, the outbox the dispatcher delivers, and in-app notices."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from goalgraph.db.base import Base
from goalgraph.db.types import UTCDateTime


class WebhookEndpoint(Base):
    """A URL an admin registered to receive notification events, signed with its secret."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    #: Event kinds wanted (``["STATUS_CHANGED", …]``); TEST events always reach the endpoint tested.
    event_kinds: Mapped[list[str]] = mapped_column(JSON)
    secret: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str | None] = mapped_column(String(128))


class OutboxMessage(Base):
    """One delivery to make: an event for one channel and one recipient (a user or an endpoint).

    Written in the transaction of the change that causes it; the dispatcher claims, sends and
    records the outcome. ``idempotency_key`` is the same on every attempt.
    """

    __tablename__ = "notification_outbox"
    __table_args__ = (Index("ix_notification_outbox_status_next_attempt_at", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    #: The event it announces (``enqueue``'s ``event_key``; null for unkeyed events): producers skip known ones.
    event_key: Mapped[str | None] = mapped_column(String(255), index=True)
    #: WEBHOOK, EMAIL, IN_APP, or ``plugin:<name>`` for a plugin's channel.
    channel: Mapped[str] = mapped_column(String(80))
    event_kind: Mapped[str] = mapped_column(String(32))
    goal_id: Mapped[int | None] = mapped_column(ForeignKey("goals.id", ondelete="CASCADE"), index=True)
    recipient_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    endpoint_id: Mapped[int | None] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"),
                                                    index=True)
    #: The event as delivered (the webhook body's ``data``).
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: PENDING, SENDING (claimed until ``locked_until``), DELIVERED, FAILED (gave up) or SKIPPED.
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    last_response_code: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Notice(Base):
    """An in-app notification for one user (the ``notifications`` connection)."""

    __tablename__ = "notices"
    __table_args__ = (Index("ix_notices_user_id_read_at", "user_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    #: The outbox message it was delivered from: a repeated delivery adds nothing.
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    event_kind: Mapped[str] = mapped_column(String(32))
    goal_id: Mapped[int | None] = mapped_column(ForeignKey("goals.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
