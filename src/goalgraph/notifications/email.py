"""E-mail over SMTP: a plain-text and an HTML part, sent in a worker thread (smtplib)."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formataddr, formatdate

from goalgraph.notifications.messages import Message, Recipient
from goalgraph.settings import Settings

TIMEOUT_SECONDS = 20.0


def build(settings: Settings, message: Message, recipient: Recipient) -> EmailMessage:
    """The e-mail; its Message-ID derives from the idempotency key, so a repeat is recognisable."""
    mail = EmailMessage()
    mail["From"] = settings.smtp_from
    mail["To"] = formataddr((recipient.name, recipient.email or ""))
    mail["Subject"] = message.subject
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = f"<{message.idempotency_key}@goalgraph>"
    mail["X-Goalgraph-Event"] = message.event_kind
    mail.set_content(message.text)
    mail.add_alternative(message.html, subtype="html")
    return mail


def _send(settings: Settings, mail: EmailMessage) -> None:
    host, port = settings.smtp_host or "localhost", settings.smtp_port
    if settings.smtp_tls == "ssl":
        server: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=TIMEOUT_SECONDS,
                                                context=ssl.create_default_context())
    else:
        server = smtplib.SMTP(host, port, timeout=TIMEOUT_SECONDS)
    with server:
        if settings.smtp_tls == "starttls":
            server.starttls(context=ssl.create_default_context())
        if settings.smtp_username:
            server.login(settings.smtp_username, settings.smtp_password or "")
        server.send_message(mail)


async def send(settings: Settings, message: Message, recipient: Recipient) -> None:
    """Send one e-mail; raises (smtplib / OSError) when the server refuses or cannot be reached."""
    await asyncio.to_thread(_send, settings, build(settings, message, recipient))
