"""Webhook endpoints: registration rules, the signature, and one POST."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from goalgraph.db.models import WebhookEndpoint
from goalgraph.errors import FactError, IngestRejected
from goalgraph.notifications.http import ConnectError, RemoteProtocolError, Timeout, WebhookClient
from goalgraph.notifications.messages import EventKind, Message

#: Headers of every POST (docs/notifications.md, "Verifying a webhook").
KEY_HEADER = "Goalgraph-Idempotency-Key"
TIMESTAMP_HEADER = "Goalgraph-Timestamp"
SIGNATURE_HEADER = "Goalgraph-Signature"
EVENT_HEADER = "Goalgraph-Event"
#: Seconds a receiver waits for: slower answers count as failed attempts.
TIMEOUT_SECONDS = 10.0


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 with the endpoint's secret over ``"<timestamp>." + body``."""
    digest = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def encode_body(message: Message) -> bytes:
    """The POST body: the event as JSON (the same bytes on every attempt)."""
    return orjson.dumps(message.body)


@dataclass(frozen=True)
class Response:
    """What an endpoint answered (``code`` None when it could not be reached)."""

    ok: bool
    code: int | None
    error: str | None


async def post(http: WebhookClient, endpoint: WebhookEndpoint, message: Message, now: datetime) -> Response:
    """POST ``message`` to ``endpoint``, signed now; any 2xx answer is success."""
    body = encode_body(message)
    timestamp = int(now.timestamp())
    headers = {"content-type": "application/json", "user-agent": "goalgraph-webhooks/1",
               KEY_HEADER: message.idempotency_key, TIMESTAMP_HEADER: str(timestamp),
               SIGNATURE_HEADER: sign(endpoint.secret, timestamp, body), EVENT_HEADER: message.event_kind}
    try:
        answer = await http.post(endpoint.url, body, headers, TIMEOUT_SECONDS)
    except (ConnectError, RemoteProtocolError, Timeout) as exc:
        return Response(ok=False, code=None, error=f"{type(exc).__name__}: {exc}"[:500] or type(exc).__name__)
    if 200 <= answer.status_code < 300:
        return Response(ok=True, code=answer.status_code, error=None)
    return Response(ok=False, code=answer.status_code, error=f"HTTP {answer.status_code}: {answer.text[:300]}")


def _check(url: str | None, event_kinds: Sequence[str] | None, secret: str | None) -> list[FactError]:
    errors = []
    if url is not None:
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.netloc or len(url) > 2000:
            errors.append(FactError(("url",), f"{url[:100]!r} is not an http(s) URL (at most 2000 characters)",
                                    "INVALID"))
    if event_kinds is not None:
        known = {k.value for k in EventKind if k is not EventKind.TEST}
        unknown = [k for k in event_kinds if k not in known]
        if unknown or not event_kinds:
            errors.append(FactError(("eventKinds",), f"unknown event kinds {unknown}" if unknown else
                                    "name at least one event kind", "INVALID"))
    if secret is not None and not 16 <= len(secret) <= 200:
        errors.append(FactError(("secret",), "must be 16–200 characters (or omitted: one is generated)", "INVALID"))
    return errors


async def create_endpoint(session: AsyncSession, url: str, event_kinds: Sequence[str], secret: str | None,
                          description: str | None, *, actor: str | None, now: datetime) -> WebhookEndpoint:
    """Register an endpoint (a secret is generated when none is given); IngestRejected when invalid."""
    if errors := _check(url, event_kinds, secret):
        raise IngestRejected(errors)
    endpoint = WebhookEndpoint(url=url, event_kinds=sorted(set(event_kinds)),
                               secret=secret or secrets.token_urlsafe(32), description=description,
                               active=True, created_at=now, created_by=actor)
    session.add(endpoint)
    await session.flush()
    return endpoint


async def update_endpoint(session: AsyncSession, endpoint: WebhookEndpoint, *, url: str | None,
                          event_kinds: Sequence[str] | None, secret: str | None, description: str | None,
                          active: bool | None) -> WebhookEndpoint:
    """Change the given fields; IngestRejected when invalid."""
    if errors := _check(url, event_kinds, secret):
        raise IngestRejected(errors)
    if url is not None:
        endpoint.url = url
    if event_kinds is not None:
        endpoint.event_kinds = sorted(set(event_kinds))
    if secret is not None:
        endpoint.secret = secret
    if description is not None:
        endpoint.description = description
    if active is not None:
        endpoint.active = active
    await session.flush()
    return endpoint


async def endpoints(session: AsyncSession) -> list[WebhookEndpoint]:
    return list((await session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id))).all())
