"""Event kinds and how a notification reads: subject, plain text and HTML, from the stored event."""

from __future__ import annotations

import enum
import html
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any


class EventKind(str, enum.Enum):
    """What a notification is about."""

    GOAL_ASSIGNED = "GOAL_ASSIGNED"
    MILESTONE_REACHED = "MILESTONE_REACHED"
    PACE_CHANGED = "PACE_CHANGED"
    PERIOD_CLOSED = "PERIOD_CLOSED"
    STATUS_CHANGED = "STATUS_CHANGED"
    WEEKLY_DIGEST = "WEEKLY_DIGEST"
    TEST = "TEST"


#: The subject line of each kind; ``{title}`` is the goal's, other names come from the event's data.
SUBJECTS: dict[EventKind, str] = {
    EventKind.GOAL_ASSIGNED: "You were assigned the goal “{title}”",
    EventKind.MILESTONE_REACHED: "“{title}” reached {milestone} %",
    EventKind.PACE_CHANGED: "“{title}” is {pace}",
    EventKind.PERIOD_CLOSED: "“{title}”: {period} closed, {outcome}",
    EventKind.STATUS_CHANGED: "“{title}” is now {newStatus}",
    EventKind.WEEKLY_DIGEST: "Your goals this week",
    EventKind.TEST: "A test notification from goalgraph",
}


@dataclass(frozen=True)
class Recipient:
    """A user a notification is for."""

    user_id: int
    external_id: str
    name: str
    email: str | None


@dataclass(frozen=True)
class Message:
    """A notification rendered for people; the same on every attempt (``idempotency_key`` included)."""

    idempotency_key: str
    event_kind: str
    subject: str
    text: str
    html: str
    #: The event as webhooks receive it (docs/notifications.md, "Payloads").
    body: dict[str, Any] = field(default_factory=dict)


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "?"


def jsonable(value: Any) -> Any:
    """``value`` with Decimals, dates and datetimes as strings (money stays exact), for JSON columns."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    return value


def render(idempotency_key: str, event_kind: str, created_at: datetime, stored: dict[str, Any]) -> Message:
    """The message for an outbox row's stored event (``{"goal": {...} | None, "data": {...}}``)."""
    goal = stored.get("goal") or {}
    data = stored.get("data") or {}
    names = _Blank({k: v for k, v in data.items() if isinstance(v, (str, int, float))})
    names["title"] = goal.get("title", "")
    subject = SUBJECTS[EventKind(event_kind)].format_map(names)
    lines = [f"{_label(k)}: {v}" for k, v in data.items() if isinstance(v, (str, int, float))]
    text = "\n".join([subject, "", *lines, "", "— goalgraph"])
    rows = "".join(f"<tr><th align=\"left\">{html.escape(_label(k))}</th><td>{html.escape(str(v))}</td></tr>"
                   for k, v in data.items() if isinstance(v, (str, int, float)))
    body_html = (f"<html><body><h2>{html.escape(subject)}</h2>"
                 + (f"<table>{rows}</table>" if rows else "") + "<p>— goalgraph</p></body></html>")
    body = {"id": idempotency_key, "event": event_kind, "createdAt": created_at.isoformat(),
            "goal": stored.get("goal"), "data": data}
    return Message(idempotency_key=idempotency_key, event_kind=event_kind, subject=subject, text=text,
                   html=body_html, body=body)


def _label(key: str) -> str:
    """``periodIndex`` → ``Period index``."""
    out = "".join(" " + c.lower() if c.isupper() else c for c in key)
    return out[:1].upper() + out[1:]
