"""Notifications: outbox, dispatcher (retries, give-up, crash, SKIP LOCKED), webhooks, in-app, e-mail, plugin hook.

Real receivers: an HTTP server (uvicorn) and an SMTP server (aiosmtpd) started by the tests.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy as email_policy
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import event, select, update

from goalgraph.app import create_app
from goalgraph.db.models import Goal, OutboxMessage, User
from goalgraph.hookspecs import hookimpl
from goalgraph.notifications import outbox
from goalgraph.notifications.dispatcher import LEASE_SECONDS, Dispatcher, backoff
from goalgraph.notifications.listeners import StatusChangeListener, status_changed
from goalgraph.notifications.messages import EventKind
from goalgraph.plugins import load_plugins
from goalgraph.runtime import Runtime, open_runtime
from goalgraph.settings import Settings, SettingsError
from goalgraph.testing.credentials import system_token, user_token
from goalgraph.testing.plugin_helpers import seed_facts
from goalgraph.testing.servers import free_port

NOW = datetime.now(timezone.utc)


class Receiver:
    """A real HTTP server recording POSTs; answers ``statuses`` in turn, then the last one forever."""

    def __init__(self, statuses: list[int], hang_first: bool = False) -> None:
        self.statuses = statuses
        self.hang_first = hang_first
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.got = asyncio.Event()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            event = await receive()
            body += event.get("body", b"")
            if not event.get("more_body"):
                break
        self.requests.append(({k.decode().lower(): v.decode() for k, v in scope["headers"]}, body))
        self.got.set()
        if self.hang_first and len(self.requests) == 1:
            await asyncio.sleep(30)
        status = self.statuses[min(len(self.requests) - 1, len(self.statuses) - 1)]
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok" if status < 300 else b"receiver says no"})

    async def __aenter__(self) -> "Receiver":
        config = uvicorn.Config(self, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            await asyncio.sleep(0.02)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.server.force_exit = True
        await asyncio.wait_for(self.task, 10)


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """What a receiver does (docs/notifications.md)."""
    expected = hmac.new(secret.encode(), headers["goalgraph-timestamp"].encode() + b"." + body,
                        hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers["goalgraph-signature"], f"sha256={expected}")


FAST = {"notify_backoff_seconds": 0.05, "notify_max_attempts": 3, "notify_poll_seconds": 0.05}


class App:
    def __init__(self, runtime: Runtime, client: httpx.AsyncClient, settings: Settings) -> None:
        self.runtime, self.client, self.settings = runtime, client, settings

    async def gql(self, query: str, *, as_user: str | None = None, **variables: Any) -> dict[str, Any]:
        token = user_token(self.settings, as_user) if as_user else system_token(self.settings)
        body = (await self.client.post("/graphql", json={"query": query, "variables": variables or None},
                                       headers={"authorization": f"Bearer {token}"})).json()
        assert "errors" not in body, body
        return body["data"]


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[App]:
    async with _app(replace(settings, **FAST)) as opened:
        yield opened


class _app:
    def __init__(self, settings: Settings, plugins: Any = None) -> None:
        self.settings, self.plugins = settings, plugins

    async def __aenter__(self) -> App:
        self._runtime_cm = open_runtime(self.settings, migrate=True, plugins=self.plugins)
        runtime = await self._runtime_cm.__aenter__()
        web = create_app(self.settings, runtime=runtime)
        self._client = httpx.AsyncClient(transport=httpx.ASGITransport(app=web), base_url="http://t")
        await seed_facts(runtime.sessions, users=[
            {"id": "anna", "name": "Anna", "email": "anna@example.com"}, {"id": "bo", "name": "Bo"},
            {"id": "lea", "name": "Lea", "email": "lea@example.com"}],
            teams=[{"id": "t", "name": "Team", "member_ids": ["bo"], "leader_ids": ["lea"]}])
        return App(runtime, self._client, self.settings)

    async def __aexit__(self, *exc: object) -> None:
        await self._client.aclose()
        await self._runtime_cm.__aexit__(*exc)


async def _goal(runtime: Runtime, kind: str = "USER", who: str = "anna") -> int:
    async with runtime.sessions() as session, session.begin():
        from goalgraph.db.models import Team

        user_id = team_id = None
        if kind == "USER":
            user_id = await session.scalar(select(User.id).where(User.external_id == who))
        else:
            team_id = await session.scalar(select(Team.id).where(Team.external_id == who))
        goal = Goal(title=f"Goal of {who}", goal_type="DEALS_ADDED", assignee_kind=kind, assignee_user_id=user_id,
                    assignee_team_id=team_id, filters={}, measure="COUNT", interval="MONTHLY",
                    start_date=NOW.date().replace(day=1), target=2, created_at=NOW, updated_at=NOW)
        session.add(goal)
        await session.flush()
        return goal.id


CREATE = """mutation($i: WebhookEndpointInput!) { createWebhookEndpoint(input: $i) {
  __typename ... on WebhookEndpointCreated { secret endpoint { id eventKinds active } }
  ... on ValidationError { fieldErrors { path message } } ... on ForbiddenError { message } } }"""
LOG = """query($s: DeliveryStatus, $c: String) { notificationDeliveries(first: 200, status: $s, channel: $c) { totalCount nodes {
  idempotencyKey channel kind status attempts lastResponseCode lastError deliveredAt endpointId recipientUserId } } }"""


async def _endpoint(app: App, url: str, kinds: list[str] | None = None) -> tuple[str, str]:
    data = (await app.gql(CREATE, i={"url": url, "eventKinds": kinds or ["STATUS_CHANGED"]}))["createWebhookEndpoint"]
    assert data["__typename"] == "WebhookEndpointCreated", data
    return data["endpoint"]["id"], data["secret"]


async def _status_event(runtime: Runtime, goal_id: int) -> int:
    async with runtime.sessions() as session, session.begin():
        return await status_changed(session, goal_id, 0, "IN_PROGRESS", "ACHIEVED",
                                    plugin_channels=runtime.dispatcher.plugin_channels, now=runtime.clock())


async def _until(check: Any, seconds: float = 15) -> Any:
    for _ in range(int(seconds / 0.05)):
        if result := await check():
            return result
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


async def _deliveries(app: App, channel: str) -> list[dict[str, Any]]:
    return (await app.gql(LOG, c=channel))["notificationDeliveries"]["nodes"]


async def _settled(app: App, channel: str, count: int = 1) -> list[dict[str, Any]]:
    async def done() -> Any:
        rows = await _deliveries(app, channel)
        return rows if len(rows) >= count and all(r["status"] in {"DELIVERED", "FAILED", "SKIPPED"}
                                                  for r in rows) else None
    return await _until(done)


async def test_a_webhook_failing_at_first_is_retried_until_it_succeeds_signed_with_one_key(app: App) -> None:
    async with Receiver([500, 503, 200]) as receiver:
        endpoint_id, secret = await _endpoint(app, receiver.url)
        goal_id = await _goal(app.runtime)
        assert await _status_event(app.runtime, goal_id) == 3  # in-app + e-mail for anna, one webhook
        app.runtime.dispatcher.start()
        [row] = await _settled(app, "WEBHOOK")
    assert row["status"] == "DELIVERED" and row["attempts"] == 3 and row["lastResponseCode"] == 200
    assert row["endpointId"] == endpoint_id and row["kind"] == "STATUS_CHANGED" and row["deliveredAt"]
    assert len(receiver.requests) == 3
    keys = {h["goalgraph-idempotency-key"] for h, _ in receiver.requests}
    assert keys == {row["idempotencyKey"]}
    assert len({body for _, body in receiver.requests}) == 1  # the same body every time
    for headers, body in receiver.requests:
        assert verify(secret, headers, body) and headers["goalgraph-event"] == "STATUS_CHANGED"
        assert abs(int(headers["goalgraph-timestamp"]) - datetime.now(timezone.utc).timestamp()) < 120
        assert not verify(secret, {**headers, "goalgraph-timestamp": str(int(headers["goalgraph-timestamp"]) + 1)},
                          body)
    event = json.loads(receiver.requests[0][1])
    assert event == {"id": row["idempotencyKey"], "event": "STATUS_CHANGED", "createdAt": event["createdAt"],
                     "goal": {"id": str(goal_id), "title": "Goal of anna"},
                     "data": {"periodIndex": 0, "oldStatus": "IN_PROGRESS", "newStatus": "ACHIEVED"}}


async def test_a_webhook_that_always_fails_is_given_up_and_shown_failed(app: App) -> None:
    async with Receiver([500]) as receiver:
        await _endpoint(app, receiver.url)
        await _status_event(app.runtime, await _goal(app.runtime))
        app.runtime.dispatcher.start()
        [row] = await _settled(app, "WEBHOOK")
        await asyncio.sleep(0.3)  # nothing more is tried after giving up
    assert row["status"] == "FAILED" and row["attempts"] == 3 == len(receiver.requests)
    assert row["lastResponseCode"] == 500 and row["lastError"] == "HTTP 500: receiver says no"
    failed = (await app.gql(LOG, s="FAILED"))["notificationDeliveries"]
    assert failed["totalCount"] == 1


async def test_an_unreachable_endpoint_fails_with_the_connection_error(app: App) -> None:
    await _endpoint(app, f"http://127.0.0.1:{free_port()}/nothing-listens")
    await _status_event(app.runtime, await _goal(app.runtime))
    app.runtime.dispatcher.start()
    [row] = await _settled(app, "WEBHOOK")
    assert row["status"] == "FAILED" and row["lastResponseCode"] is None and "ConnectError" in row["lastError"]


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff(5, n) for n in (1, 2, 3, 4)] == [5, 10, 20, 40]
    assert backoff(5, 30) == 3600


async def test_the_test_mutation_sends_a_test_event(app: App) -> None:
    async with Receiver([200]) as receiver:
        endpoint_id, secret = await _endpoint(app, receiver.url, ["PACE_CHANGED"])
        data = await app.gql("""mutation($id: ID!) { testWebhookEndpoint(id: $id) { __typename
          ... on WebhookTestQueued { delivery { status kind idempotencyKey } } } }""", id=endpoint_id)
        queued = data["testWebhookEndpoint"]["delivery"]
        assert queued["status"] == "PENDING" and queued["kind"] == "TEST"
        app.runtime.dispatcher.start()
        await asyncio.wait_for(receiver.got.wait(), 10)
        [row] = await _settled(app, "WEBHOOK")
    headers, body = receiver.requests[0]
    assert verify(secret, headers, body) and json.loads(body)["event"] == "TEST"
    assert row["status"] == "DELIVERED" and headers["goalgraph-idempotency-key"] == queued["idempotencyKey"]
    missing = await app.gql('mutation { testWebhookEndpoint(id: "999") { __typename } }')
    assert missing["testWebhookEndpoint"]["__typename"] == "NotFoundError"


async def test_only_admins_manage_webhooks_and_input_is_validated(app: App) -> None:
    refused = await app.gql(CREATE, as_user="anna", i={"url": "http://x.test/h", "eventKinds": ["STATUS_CHANGED"]})
    assert refused["createWebhookEndpoint"]["__typename"] == "ForbiddenError"
    body = (await app.client.post("/graphql", json={"query": "{ webhookEndpoints { id } }"},
                                  headers={"authorization": f"Bearer {user_token(app.settings, 'anna')}"})).json()
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    bad = (await app.gql(CREATE, i={"url": "ftp://x", "eventKinds": ["TEST"], "secret": "short"}))
    paths = [e["path"] for e in bad["createWebhookEndpoint"]["fieldErrors"]]
    assert paths == [["input", "url"], ["input", "eventKinds"], ["input", "secret"]]
    endpoint_id, _ = await _endpoint(app, "http://x.test/h")
    saved = await app.gql("""mutation($id: ID!) { updateWebhookEndpoint(id: $id, input: {active: false,
      eventKinds: [PERIOD_CLOSED]}) { ... on WebhookEndpointSaved { endpoint { active eventKinds } } } }""",
                          id=endpoint_id)
    assert saved["updateWebhookEndpoint"]["endpoint"] == {"active": False, "eventKinds": ["PERIOD_CLOSED"]}
    listed = await app.gql("{ webhookEndpoints { id url } }")
    assert listed["webhookEndpoints"] == [{"id": endpoint_id, "url": "http://x.test/h"}]
    gone = await app.gql("""mutation($id: ID!) { deleteWebhookEndpoint(id: $id) { __typename } }""", id=endpoint_id)
    assert gone["deleteWebhookEndpoint"]["__typename"] == "WebhookEndpointDeleted"
    assert (await app.gql("{ webhookEndpoints { id } }"))["webhookEndpoints"] == []


async def test_a_delivery_killed_mid_send_is_resent_with_the_same_key(app: App) -> None:
    async with Receiver([200], hang_first=True) as receiver:
        await _endpoint(app, receiver.url)
        await _status_event(app.runtime, await _goal(app.runtime))
        now = app.runtime.clock()
        doomed = asyncio.create_task(app.runtime.dispatcher.run_once(now))
        await asyncio.wait_for(receiver.got.wait(), 10)
        doomed.cancel()  # the process dies while the receiver holds the request
        with pytest.raises(asyncio.CancelledError):
            await doomed
        async with app.runtime.sessions() as session:
            row = await session.scalar(select(OutboxMessage).where(OutboxMessage.channel == "WEBHOOK"))
        assert row.status == "SENDING" and row.attempts == 1
        # Another process, before the lease ran out, leaves it alone; after it, sends it again.
        other = Dispatcher(app.runtime)
        assert await other.claim(now + timedelta(seconds=LEASE_SECONDS - 1)) == []
        await other.run_once(now + timedelta(seconds=LEASE_SECONDS + 1))
        await other.stop()
        [row] = await _deliveries(app, "WEBHOOK")
    assert row["status"] == "DELIVERED" and row["attempts"] == 2
    assert [h["goalgraph-idempotency-key"] for h, _ in receiver.requests] == [row["idempotencyKey"]] * 2


async def test_two_processes_deliver_each_message_once(settings: Settings) -> None:
    """Two runtimes (two engines, as two server processes) drain one outbox concurrently."""
    fast = replace(settings, **FAST)
    async with Receiver([200]) as receiver, _app(fast) as first, _app(fast) as second:
        await _endpoint(first, receiver.url, ["MILESTONE_REACHED"])
        goal_id = await _goal(first.runtime)
        async with first.runtime.sessions() as session, session.begin():
            goal = await session.get(Goal, goal_id)
            for n in range(60):
                await outbox.enqueue(session, EventKind.MILESTONE_REACHED, goal, {"milestone": n}, recipients=[])
        statements: list[str] = []
        event.listen(first.runtime.engine.sync_engine, "before_cursor_execute",
                     lambda conn, cursor, text, *rest: statements.append(text))
        first.runtime.dispatcher.start()
        second.runtime.dispatcher.start()
        await _settled(first, "WEBHOOK", 60)
    if first.runtime.engine.dialect.name == "postgresql":
        assert any("FOR UPDATE SKIP LOCKED" in text for text in statements)
    keys = [h["goalgraph-idempotency-key"] for h, _ in receiver.requests]
    assert len(keys) == 60 == len(set(keys))


async def test_in_app_notices_reach_who_may_see_the_goal_unread_first(app: App) -> None:
    rt = app.runtime
    team_goal = await _goal(rt, "TEAM", "t")
    await _status_event(rt, team_goal)  # members bo and lea: only the leader may see a team goal
    await rt.dispatcher.run_once()
    rows = {(r["recipientUserId"], r["status"], r["lastError"]) for r in await _deliveries(app, "IN_APP")}
    assert rows == {("lea", "DELIVERED", None), ("bo", "SKIPPED", "the recipient may not see the goal")}
    anna_goal = await _goal(rt)
    await _status_event(rt, anna_goal)
    await _status_event(rt, anna_goal)
    await rt.dispatcher.run_once()
    query = """{ unreadNotificationCount notifications(first: 10) { totalCount nodes { id kind title read goalId
      data } } }"""
    seen = await app.gql(query, as_user="anna")
    assert seen["unreadNotificationCount"] == 2 and seen["notifications"]["totalCount"] == 2
    first, second = seen["notifications"]["nodes"]
    assert first["title"] == "“Goal of anna” is now ACHIEVED" and first["goalId"] == str(anna_goal)
    assert first["data"]["data"]["newStatus"] == "ACHIEVED" and int(first["id"]) > int(second["id"])
    marked = await app.gql("""mutation($ids: [ID!]) { markNotificationsRead(ids: $ids) {
      ... on NotificationsMarkedRead { marked unreadCount } } }""", as_user="anna", ids=[first["id"]])
    assert marked["markNotificationsRead"] == {"marked": 1, "unreadCount": 1}
    after = (await app.gql(query, as_user="anna"))["notifications"]["nodes"]
    assert [(n["id"], n["read"]) for n in after] == [(second["id"], False), (first["id"], True)]  # unread first
    page = (await app.gql("""{ notifications(first: 1) { pageInfo { endCursor hasNextPage } } }""", as_user="anna"))
    cursor = page["notifications"]["pageInfo"]["endCursor"]
    rest = await app.gql("""query($a: String) { notifications(first: 5, after: $a) { nodes { id } } }""",
                         as_user="anna", a=cursor)
    assert [n["id"] for n in rest["notifications"]["nodes"]] == [first["id"]]
    assert (await app.gql("{ unreadNotificationCount }", as_user="bo"))["unreadNotificationCount"] == 0
    # A recipient who lost the right to use goals by send time gets nothing.
    async with rt.sessions() as session, session.begin():
        await session.execute(update(User).where(User.external_id == "anna").values(can_use_targets=False))
    await _status_event(rt, anna_goal)
    await rt.dispatcher.run_once()
    async with rt.sessions() as session:
        last = await session.scalar(select(OutboxMessage).where(OutboxMessage.channel == "IN_APP")
                                    .order_by(OutboxMessage.id.desc()))
    assert last.status == "SKIPPED" and last.last_error == "the recipient may not see the goal"


async def test_email_goes_out_over_smtp_with_text_and_html(settings: Settings) -> None:
    from aiosmtpd.controller import Controller

    class Inbox:
        def __init__(self) -> None:
            self.mails: list[tuple[str, list[str], bytes]] = []

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
            self.mails.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
            return "250 OK"

    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        smtp = replace(settings, **FAST, smtp_host="127.0.0.1", smtp_port=port, smtp_tls="none",
                       smtp_from="goals@example.com")
        async with _app(smtp) as app:
            await _status_event(app.runtime, await _goal(app.runtime))
            await app.runtime.dispatcher.run_once()
            [row] = await _deliveries(app, "EMAIL")
            team = await _goal(app.runtime, "TEAM", "t")
            await _status_event(app.runtime, team)
            await app.runtime.dispatcher.run_once()
            emails = {r["recipientUserId"]: (r["status"], r["lastError"]) for r in await _deliveries(app, "EMAIL")}
    finally:
        controller.stop()
    assert row["status"] == "DELIVERED"
    assert emails["lea"] == ("DELIVERED", None) and emails["bo"][0] == "SKIPPED"
    sender, to, raw = inbox.mails[0]
    assert sender == "goals@example.com" and to == ["anna@example.com"] and len(inbox.mails) == 2
    mail = message_from_bytes(raw, policy=email_policy.default)
    assert mail["Subject"] == "“Goal of anna” is now ACHIEVED"
    assert mail["Message-ID"] == f"<{row['idempotencyKey']}@goalgraph>"
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert "New status: ACHIEVED" in text and "<h2>“Goal of anna” is now ACHIEVED</h2>" in html


async def test_email_without_an_smtp_server_configured_is_skipped(app: App) -> None:
    await _status_event(app.runtime, await _goal(app.runtime))
    await app.runtime.dispatcher.run_once()
    [row] = await _deliveries(app, "EMAIL")
    assert row["status"] == "SKIPPED" and "GOALGRAPH_SMTP_HOST" in row["lastError"]


class SlackLike:
    def __init__(self, fail_first: bool) -> None:
        self.sent: list[tuple[Any, Any]] = []
        self.fail_first = fail_first

    @hookimpl
    async def goalgraph_send_notification(self, message, recipient):  # type: ignore[no-untyped-def]
        self.sent.append((message, recipient))
        if self.fail_first and len(self.sent) == 1:
            raise RuntimeError("slack is down")


async def test_a_plugin_channel_gets_the_rendered_message_and_is_retried(settings: Settings) -> None:
    slack = SlackLike(fail_first=True)
    plugins = load_plugins(strict=True, extra=[("slacklike", slack)])
    async with _app(replace(settings, **FAST), plugins) as app:
        assert app.runtime.dispatcher.plugin_channels == ["slacklike"]
        await _status_event(app.runtime, await _goal(app.runtime))
        app.runtime.dispatcher.start()
        [row] = await _settled(app, "plugin:slacklike")
    assert row["status"] == "DELIVERED" and row["attempts"] == 2
    (first, recipient), (again, _) = slack.sent
    assert first == again and first.idempotency_key == row["idempotencyKey"]
    assert recipient.external_id == "anna" and recipient.email == "anna@example.com"
    assert first.subject == "“Goal of anna” is now ACHIEVED" and "<h2>" in first.html


async def test_enqueue_with_an_event_key_writes_once_and_rolls_back_with_the_change(app: App) -> None:
    rt = app.runtime
    goal_id = await _goal(rt)
    async with rt.sessions() as session, session.begin():
        goal = await session.get(Goal, goal_id)
        assert await outbox.enqueue(session, "MILESTONE_REACHED", goal, {"milestone": 50}, event_key="m50") == 2
        await outbox.enqueue(session, "MILESTONE_REACHED", goal, {"milestone": 50}, event_key="m50")
    with pytest.raises(RuntimeError):
        async with rt.sessions() as session, session.begin():
            await outbox.enqueue(session, "GOAL_ASSIGNED", await session.get(Goal, goal_id), {})
            raise RuntimeError("the change failed")
    async with rt.sessions() as session:
        kinds = (await session.scalars(select(OutboxMessage.event_kind))).all()
    assert sorted(kinds) == ["MILESTONE_REACHED", "MILESTONE_REACHED"]


async def test_status_changes_from_ingest_reach_a_webhook_end_to_end(settings: Settings) -> None:
    from factsets import INGEST

    listener = StatusChangeListener(runtime=None)  # type: ignore[arg-type]
    plugins = load_plugins(strict=True, extra=[("notify-status", listener)])
    async with Receiver([200]) as receiver, _app(replace(settings, **FAST), plugins) as app:
        listener.runtime = app.runtime
        app.runtime.dispatcher.start()
        await _endpoint(app, receiver.url)
        await app.gql(INGEST, input={"pipelines": [{"id": "p", "name": "P",
                                                    "stages": [{"id": "s", "name": "S", "probability": 5}]}]})
        created = await app.gql("""mutation($i: GoalInput!) { createGoal(input: $i) { ... on GoalSuccess {
          goal { id } } } }""", i={"title": "Two deals", "goalType": "DEALS_ADDED", "measure": "COUNT",
                                   "interval": "MONTHLY", "startDate": f"{NOW.year}-01-01", "targetForAll": "2",
                                   "assignee": {"kind": "USER", "id": "anna"}})
        goal_id = created["createGoal"]["goal"]["id"]
        deals = [{"id": f"d{n}", "title": "d", "value": "1", "currency": "EUR", "ownerId": "anna", "stageId": "s",
                  "addedAt": NOW.isoformat()} for n in (1, 2)]
        await app.gql(INGEST, input={"deals": deals})
        await asyncio.wait_for(receiver.got.wait(), 20)
    event = json.loads(receiver.requests[0][1])
    assert event["event"] == "STATUS_CHANGED" and event["goal"]["id"] == goal_id
    assert event["data"]["oldStatus"] == "IN_PROGRESS" and event["data"]["newStatus"] == "ACHIEVED"


def test_smtp_settings_come_from_the_environment() -> None:
    s = Settings.from_env({"GOALGRAPH_SMTP_HOST": "mail", "GOALGRAPH_SMTP_PORT": "465", "GOALGRAPH_SMTP_TLS": "SSL",
                           "GOALGRAPH_SMTP_USERNAME": "u", "GOALGRAPH_SMTP_PASSWORD": "p",
                           "GOALGRAPH_NOTIFY_MAX_ATTEMPTS": "4"})
    assert (s.smtp_host, s.smtp_port, s.smtp_tls, s.smtp_username, s.smtp_password, s.notify_max_attempts) == \
        ("mail", 465, "ssl", "u", "p", 4)
    with pytest.raises(SettingsError, match="GOALGRAPH_SMTP_TLS"):
        Settings.from_env({"GOALGRAPH_SMTP_TLS": "maybe"})


async def test_a_last_attempt_cut_short_gives_up_instead_of_trying_forever(app: App) -> None:
    await _endpoint(app, f"http://127.0.0.1:{free_port()}/x")
    await _status_event(app.runtime, await _goal(app.runtime))
    now = app.runtime.clock()
    async with app.runtime.sessions() as session, session.begin():
        await session.execute(update(OutboxMessage).where(OutboxMessage.channel == "WEBHOOK").values(
            status="SENDING", attempts=3, locked_until=now - timedelta(seconds=1)))
    await app.runtime.dispatcher.run_once(now)
    [row] = await _deliveries(app, "WEBHOOK")
    assert row["status"] == "FAILED" and row["attempts"] == 3 and "gave up" in row["lastError"]


async def test_a_dispatch_process_delivers_for_servers_started_without_a_dispatcher(settings: Settings) -> None:
    """GOALGRAPH_DISPATCHER=0: `goalgraph serve`'s app leaves the outbox alone; `goalgraph dispatch` delivers it."""
    import os
    import signal
    import subprocess
    import sys

    assert Settings.from_env({}).dispatcher and not Settings.from_env({"GOALGRAPH_DISPATCHER": "0"}).dispatcher
    fast = replace(settings, **FAST)
    async with Receiver([200]) as receiver, _app(fast) as app:
        await _endpoint(app, receiver.url)
        await _status_event(app.runtime, await _goal(app.runtime))
        web = create_app(replace(fast, dispatcher=False))  # opens a runtime of its own, as `goalgraph serve`
        async with web.router.lifespan_context(web):
            await asyncio.sleep(0.5)  # ten poll intervals
        [row] = await _deliveries(app, "WEBHOOK")
        assert row["status"] == "PENDING" and receiver.requests == []
        env = {**os.environ, "GOALGRAPH_DATABASE_URL": fast.database_url, "GOALGRAPH_DATABASE_SCHEMA":
               fast.database_schema or "", "GOALGRAPH_MIGRATE_ON_START": "0", "GOALGRAPH_NOTIFY_POLL_SECONDS": "0.05"}
        proc = subprocess.Popen([sys.executable, "-m", "goalgraph.cli", "dispatch"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            [row] = await _settled(app, "WEBHOOK")
            assert row["status"] == "DELIVERED" and len(receiver.requests) == 1
        finally:
            proc.send_signal(signal.SIGTERM)
            out = await asyncio.to_thread(proc.communicate, timeout=30)
        assert proc.returncode == 0, out


class Stuck:
    """A plugin channel whose send never returns."""

    @hookimpl
    async def goalgraph_send_notification(self, message, recipient):  # type: ignore[no-untyped-def]
        await asyncio.sleep(3600)


async def test_a_send_outliving_the_round_is_a_failed_attempt_recorded_inside_the_lease(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    from goalgraph.notifications import dispatcher

    monkeypatch.setattr(dispatcher, "SEND_DEADLINE_SECONDS", 0.3)  # LEASE_SECONDS − 15 s in production
    plugins = load_plugins(strict=True, extra=[("stuck", Stuck())])
    async with _app(replace(settings, **FAST), plugins) as app:
        await _status_event(app.runtime, await _goal(app.runtime))
        now = app.runtime.clock()
        await asyncio.wait_for(app.runtime.dispatcher.run_once(now), 10)
        async with app.runtime.sessions() as session:
            row = await session.scalar(select(OutboxMessage).where(OutboxMessage.channel == "plugin:stuck"))
    assert row.status == "PENDING" and row.attempts == 1 and row.locked_until is None
    assert row.last_error == "not sent within the round's 0.3 s"
