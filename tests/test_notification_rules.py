"""Notification rules: a goal's settings, followers and mutes decide who hears what; events are keyed per crossing."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from goalgraph.db.models import Goal, User
from goalgraph.notifications import rules
from goalgraph.progress.service import compute_progress
from test_goals_api import NOW, seeded  # noqa: F401 - the fixture

CREATE = """mutation($input: GoalInput!) { createGoal(input: $input) {
  __typename ... on GoalSuccess { goal { id version notifications { assigned milestones pace periodClosed weeklyDigest teamLeaders } } }
  ... on ValidationError { fieldErrors { path message } } } }"""
UPDATE = """mutation($id: ID!, $version: Int!, $input: GoalUpdateInput!) { updateGoal(id: $id, version: $version, input: $input) {
  __typename ... on GoalSuccess { goal { notifications { milestones pace teamLeaders } } }
  ... on ValidationError { fieldErrors { path message } } } }"""
FOLLOW = """mutation($id: ID!, $follow: Boolean!) { followGoal(goalId: $id, follow: $follow) {
  __typename ... on PreferencesSuccess { preferences { followedGoalIds } } ... on NotFoundError { missingId } } }"""
MUTE = """mutation($id: ID, $kind: NotificationKind, $muted: Boolean!) { muteNotifications(goalId: $id, kind: $kind, muted: $muted) {
  __typename ... on PreferencesSuccess { preferences { mutes { goalId kind } } } } }"""


def goal_input(**over):  # type: ignore[no-untyped-def]
    base = {"title": "Deals added", "goalType": "DEALS_ADDED", "measure": "COUNT", "interval": "MONTHLY",
            "startDate": "2026-04-01", "targetForAll": "4", "assignee": {"kind": "TEAM", "id": "north"}}
    return {**base, **over}


async def _ids(runtime) -> dict[str, int]:  # type: ignore[no-untyped-def]
    async with runtime.sessions() as session:
        return dict((await session.execute(select(User.external_id, User.id))).all())


async def _rights(runtime, user: str, granted: bool) -> None:  # type: ignore[no-untyped-def]
    async with runtime.sessions() as session, session.begin():
        await session.execute(update(User).where(User.external_id == user).values(
            can_see_other_users_statistics=granted, can_see_company_statistics=granted))


async def test_settings_default_change_and_refuse_bad_milestones(seeded, gql) -> None:  # type: ignore[no-untyped-def]
    made = (await gql(CREATE, input=goal_input()))["createGoal"]
    assert made["goal"]["notifications"] == {"assigned": True, "milestones": [50, 100], "pace": True,
                                             "periodClosed": True, "weeklyDigest": False, "teamLeaders": False}
    chosen = (await gql(CREATE, input=goal_input(notifications={"milestones": [100, 25, 25], "pace": False})))["createGoal"]
    assert chosen["goal"]["notifications"]["milestones"] == [25, 100] and chosen["goal"]["notifications"]["pace"] is False
    bad = (await gql(CREATE, input=goal_input(notifications={"milestones": [0, 2000]})))["createGoal"]
    assert bad["__typename"] == "ValidationError"
    assert {tuple(e["path"]) for e in bad["fieldErrors"]} == {("input", "notifications", "milestones")}
    goal = made["goal"]
    changed = (await gql(UPDATE, id=goal["id"], version=goal["version"],
                         input={"notifications": {"teamLeaders": True}}))["updateGoal"]
    assert changed["goal"]["notifications"] == {"milestones": [50, 100], "pace": True, "teamLeaders": True}


async def test_recipients_follow_assignees_followers_mutes_and_sight(seeded, gql) -> None:  # type: ignore[no-untyped-def]
    ids = await _ids(seeded)
    team_goal = (await gql(CREATE, input=goal_input()))["createGoal"]["goal"]
    carl_goal = (await gql(CREATE, input=goal_input(title="Carl's", assignee={"kind": "USER", "id": "carl"})))["createGoal"]["goal"]

    async def who(goal_id: str, kind: str = rules.MILESTONE) -> set[str]:
        async with seeded.sessions() as session:
            goal = await session.get(Goal, int(goal_id))
            found = await rules.recipients(session, goal, kind)
        return {name for name, i in ids.items() if i in found}

    # North's members who may see the goal: its leader Alice; Bob (a member) sees team goals only with the
    # statistics rights — a notification never tells anyone about a goal they may not see.
    assert await who(team_goal["id"]) == {"alice"}
    assert await who(carl_goal["id"]) == {"carl"}
    await _rights(seeded, "bob", True)
    assert await who(team_goal["id"]) == {"alice", "bob"}
    # Carl may not see North's goal: following it is refused as for an unknown goal.
    refused = (await gql(FOLLOW, {"id": team_goal["id"], "follow": True}, as_user="carl"))["followGoal"]
    assert refused["__typename"] == "NotFoundError"
    # Bob mutes milestones; Alice mutes the team goal altogether.
    await gql(MUTE, {"kind": "MILESTONE_REACHED", "muted": True}, as_user="bob")
    muted = (await gql(MUTE, {"id": team_goal["id"], "muted": True}, as_user="alice"))["muteNotifications"]
    assert muted["preferences"]["mutes"] == [{"goalId": team_goal["id"], "kind": None}]
    assert await who(team_goal["id"]) == set()
    assert await who(team_goal["id"], rules.PACE) == {"bob"}
    await gql(MUTE, {"id": team_goal["id"], "muted": False}, as_user="alice")
    assert await who(team_goal["id"], rules.PACE) == {"alice", "bob"}
    # A follower who may see the goal hears about it; once they may not, they do not.
    await _rights(seeded, "carl", True)
    followed = (await gql(FOLLOW, {"id": team_goal["id"], "follow": True}, as_user="carl"))["followGoal"]
    assert followed["preferences"]["followedGoalIds"] == [team_goal["id"]]
    assert await who(team_goal["id"], rules.PACE) == {"alice", "bob", "carl"}
    await _rights(seeded, "carl", False)
    assert await who(team_goal["id"], rules.PACE) == {"alice", "bob"}
    # Team leaders on request; deactivated users never.
    await gql(UPDATE, id=team_goal["id"], version=team_goal["version"], input={"notifications": {"teamLeaders": True}})
    async with seeded.sessions() as session, session.begin():
        await session.execute(update(User).where(User.external_id == "bob").values(active=False))
    assert await who(team_goal["id"], rules.PACE) == {"alice"}
    prefs = await gql("{ myNotificationPreferences { followedGoalIds mutes { goalId kind } } }", as_user="carl")
    assert prefs["myNotificationPreferences"] == {"followedGoalIds": [team_goal["id"]], "mutes": []}


async def test_events_are_keyed_per_crossing(seeded, gql) -> None:  # type: ignore[no-untyped-def]
    """Milestones reached in the current period, pace BEHIND / AT_RISK, and closed periods: one key each."""
    goal_id = (await gql(CREATE, input=goal_input(startDate="2026-01-01", targetForAll="2",
                                                  assignee={"kind": "COMPANY"})))["createGoal"]["goal"]["id"]
    async with seeded.sessions() as session:
        goal = await session.get(Goal, int(goal_id))
        progress = (await compute_progress(session, seeded.registry, [goal], NOW))[goal.id]
    settings = rules.NotificationSettings()
    assert not any(e.kind == rules.CLOSED for e in rules.events_of(goal, settings, progress.periods, NOW))  # made today
    goal.created_at = NOW.replace(year=2025)  # as if it had run all along
    assert not any(e.kind == rules.CLOSED for e in rules.events_of(goal, settings, progress.periods, NOW))  # old news
    events = rules.events_of(goal, settings, progress.periods, NOW)
    march_closed = rules.events_of(goal, settings, progress.periods, progress.periods[2].period.end + timedelta(days=1))
    assert [e.key for e in march_closed if e.kind == rules.CLOSED] == [f"closed:{goal.id}:2026-03-01"]
    keys = {e.key for e in events}
    # Jan: 2 of 2 added, Feb: 2 of 2, Mar: 0 of 2; April under way with nothing: AT_RISK (day 15 of 30).
    assert [e.payload["outcome"] for e in march_closed if e.kind == rules.CLOSED] == ["MISSED"]
    assert f"pace:{goal.id}:2026-04-01:AT_RISK" in keys
    assert not any(e.kind == rules.MILESTONE for e in events)
    # Asking again later gives the same keys (the outbox writes one message per key).
    later = rules.events_of(goal, settings, progress.periods, NOW + timedelta(minutes=5))
    assert {e.key for e in later} == keys
    quiet = rules.events_of(goal, rules.NotificationSettings(pace=False, period_closed=False), progress.periods, NOW)
    assert quiet == []


NOTICES = "{ unreadNotificationCount notifications(first: 10) { nodes { kind goalId } } }"


async def test_assignment_and_progress_reach_the_outbox_once(seeded, gql) -> None:  # type: ignore[no-untyped-def]
    """Creating Carl's goal tells Carl (in the app, after delivery); measuring it announces its crossings once."""
    from goalgraph.notifications.produce import progress_changed

    await seeded.recompute.stop()  # progress is announced by hand below, not by the worker's status checks
    made = (await gql(CREATE, input=goal_input(title="Carl adds", assignee={"kind": "USER", "id": "carl"},
                                               startDate="2026-01-01", targetForAll="1")))["createGoal"]["goal"]
    await gql(CREATE, input=goal_input(title="Quiet", assignee={"kind": "USER", "id": "carl"},
                                       notifications={"assigned": False}))
    await seeded.dispatcher.run_once(NOW)
    notices = (await gql(NOTICES, as_user="carl"))
    assert [n["kind"] for n in notices["notifications"]["nodes"]] == ["GOAL_ASSIGNED"]
    assert notices["notifications"]["nodes"][0]["goalId"] == made["id"]  # not the quiet goal's
    from sqlalchemy import func

    from goalgraph.db.models import OutboxMessage

    async def outbox() -> int:
        async with seeded.sessions() as session:
            return await session.scalar(select(func.count()).select_from(OutboxMessage))

    for _ in range(2):  # asked twice (two processes, or a later check): announced once
        async with seeded.sessions() as session, session.begin():
            goal = await session.get(Goal, int(made["id"]))
            progress = await compute_progress(session, seeded.registry, [goal], NOW)
            await progress_changed(session, [goal], progress, NOW)
        counted = await outbox()
        if _ == 0:
            first = counted
    assert counted == first
    await seeded.dispatcher.run_once(NOW)
    kinds = [n["kind"] for n in (await gql(NOTICES, as_user="carl"))["notifications"]["nodes"]]
    # April under way with nothing: at risk (January to March had closed before the goal was made: no news).
    assert sorted(kinds) == ["GOAL_ASSIGNED", "PACE_CHANGED"]


async def test_weekly_digest_once_per_user_and_week(seeded, gql) -> None:  # type: ignore[no-untyped-def]
    from datetime import datetime, timezone

    from sqlalchemy import func

    from goalgraph.db.models import OutboxMessage

    await gql(CREATE, input=goal_input(title="Carl adds", assignee={"kind": "USER", "id": "carl"},
                                       notifications={"weeklyDigest": True, "assigned": False}))
    await gql(CREATE, input=goal_input(title="Carl, no digest", assignee={"kind": "USER", "id": "carl"},
                                       notifications={"assigned": False}))
    monday = datetime(2026, 4, 13, 9, 0, tzinfo=timezone.utc)  # the organisation's week starts on Monday
    tuesday = datetime(2026, 4, 14, 9, 0, tzinfo=timezone.utc)
    assert await seeded.dispatcher.write_digests(tuesday) == 0  # (the goals were made after March closed)
    assert await seeded.dispatcher.write_digests(monday) > 0
    await seeded.dispatcher.write_digests(monday)  # again (another process, the next hour): the same key, no new row
    async with seeded.sessions() as session:
        digests = await session.scalar(select(func.count()).select_from(OutboxMessage)
                                       .where(OutboxMessage.event_kind == "WEEKLY_DIGEST"))
    assert digests == 2  # in the app and by e-mail, once
    await seeded.dispatcher.run_once(monday)
    nodes = (await gql(NOTICES, as_user="carl"))["notifications"]["nodes"]
    assert [n["kind"] for n in nodes] == ["WEEKLY_DIGEST"]


async def test_an_ingested_fact_announces_the_milestone_it_crosses(seeded, gql) -> None:  # type: ignore[no-untyped-def]
    """End to end: ingestFacts → the status watch measures the goal → MILESTONE_REACHED in Carl's notices."""
    await gql(CREATE, input=goal_input(title="Carl adds", assignee={"kind": "USER", "id": "carl"}, targetForAll="2",
                                       notifications={"assigned": False, "pace": False}))
    ingest = """mutation($input: IngestFactsInput!) { ingestFacts(input: $input) { __typename } }"""
    deal = {"id": "april-1", "title": "New", "value": "1", "currency": "EUR", "ownerId": "carl", "stageId": "lead",
            "addedAt": "2026-04-14T09:00:00+02:00"}
    assert (await gql(ingest, input={"deals": [deal]}))["ingestFacts"]["__typename"] == "IngestFactsResult"
    await seeded.recompute.settled()
    await seeded.dispatcher.run_once(NOW)
    kinds = [n["kind"] for n in (await gql(NOTICES, as_user="carl"))["notifications"]["nodes"]]
    assert kinds == ["MILESTONE_REACHED"]  # 1 of 2: 50 %, not yet 100 %


async def test_a_period_that_just_closed_is_announced_on_schedule(seeded, gql) -> None:  # type: ignore[no-untyped-def]
    from datetime import datetime, timezone

    await seeded.recompute.stop()  # only the hourly announcement of closed periods is looked at here
    await gql(CREATE, input=goal_input(title="Carl adds", assignee={"kind": "USER", "id": "carl"},
                                       startDate="2026-04-01", endDate="2026-04-30", targetForAll="1",
                                       notifications={"assigned": False}))
    may_3 = datetime(2026, 5, 3, 9, 0, tzinfo=timezone.utc)
    await seeded.dispatcher.write_digests(may_3)
    await seeded.dispatcher.write_digests(may_3)  # the next hour, or another process: once
    await seeded.dispatcher.run_once(may_3)
    kinds = [n["kind"] for n in (await gql(NOTICES, as_user="carl"))["notifications"]["nodes"]]
    assert kinds == ["PERIOD_CLOSED"]  # April missed (no deal by Carl in April)
