"""Notification preferences over GraphQL: a goal's settings, following goals, muting goals or kinds."""

from __future__ import annotations

import enum
from dataclasses import replace
from typing import Annotated

import strawberry
from strawberry.types import Info

from goalgraph.goals.errors import GoalInvalid, GoalNotFound
from goalgraph.goals.service import get_goal
from goalgraph.graphql.errors import ErrorCode, ForbiddenError, NotFoundError, ValidationError
from goalgraph.inputs import parse_internal_id
from goalgraph.notifications import rules


@strawberry.enum(description="A kind of notification a contributor can get (and mute).")
class NotificationKind(enum.Enum):
    GOAL_ASSIGNED = rules.ASSIGNED
    MILESTONE_REACHED = rules.MILESTONE
    PACE_CHANGED = rules.PACE
    PERIOD_CLOSED = rules.CLOSED
    WEEKLY_DIGEST = rules.DIGEST


@strawberry.type(description="What a goal's contributors are told (docs/notifications.md).")
class NotificationSettings:
    assigned: bool = strawberry.field(description="Tell the assignee when the goal is assigned to them.")
    milestones: list[int] = strawberry.field(description="Percentages of the current period's target that are "
                                                         "announced once each when reached (default 50 and 100).")
    pace: bool = strawberry.field(description="Tell when the period under way turns BEHIND or AT_RISK.")
    period_closed: bool = strawberry.field(description="Tell when a period closes: achieved or missed, with figures.")
    weekly_digest: bool = strawberry.field(description="Include the goal in its contributors' weekly digest.")
    team_leaders: bool = strawberry.field(description="Team goals: the team's leaders are told too (members always are).")

    @classmethod
    def of(cls, s: rules.NotificationSettings) -> "NotificationSettings":
        return cls(assigned=s.assigned, milestones=list(s.milestones), pace=s.pace, period_closed=s.period_closed,
                   weekly_digest=s.weekly_digest, team_leaders=s.team_leaders)


@strawberry.input(description="Notification settings of a goal; fields left out keep their value (the defaults "
                              "for a new goal).")
class NotificationSettingsInput:
    assigned: bool | None = strawberry.field(default=None, description="See NotificationSettings.assigned.")
    milestones: list[int] | None = strawberry.field(default=None, description="Percentages, 1–1000, at most 10; [] for none.")
    pace: bool | None = strawberry.field(default=None, description="See NotificationSettings.pace.")
    period_closed: bool | None = strawberry.field(default=None, description="See NotificationSettings.periodClosed.")
    weekly_digest: bool | None = strawberry.field(default=None, description="See NotificationSettings.weeklyDigest.")
    team_leaders: bool | None = strawberry.field(default=None, description="See NotificationSettings.teamLeaders.")

    def applied_to(self, current: rules.NotificationSettings) -> rules.NotificationSettings:
        """``current`` with the given fields changed, checked (GoalInvalid names the bad field)."""
        changes = {k: v for k, v in vars(self).items() if v is not None}
        if "milestones" in changes:
            changes["milestones"] = tuple(changes["milestones"])
        merged, problems = rules.checked(replace(current, **changes))
        if problems:
            raise GoalInvalid(problems)
        return merged


@strawberry.type(description="A mute: notifications one user does not want.")
class NotificationMuteType:
    goal_id: strawberry.ID | None = strawberry.field(description="The goal muted; null for every goal.")
    kind: NotificationKind | None = strawberry.field(description="The kind muted; null for every kind.")


@strawberry.type(description="The viewer's own notification preferences.")
class MyNotificationPreferences:
    followed_goal_ids: list[strawberry.ID] = strawberry.field(description="Goals the viewer follows.")
    mutes: list[NotificationMuteType] = strawberry.field(description="What the viewer muted.")


@strawberry.type(description="The viewer's preferences after the change.")
class PreferencesSuccess:
    preferences: MyNotificationPreferences = strawberry.field(description="The viewer's preferences now.")


PreferencesPayload = Annotated[PreferencesSuccess | NotFoundError | ForbiddenError | ValidationError,
                               strawberry.union("PreferencesPayload", description="The preferences, or why not.")]


async def _preferences(session, user_id: int) -> MyNotificationPreferences:  # type: ignore[no-untyped-def]
    follows = sorted(await rules.followed(session, user_id))
    mutes = await rules.mutes_of(session, user_id)
    return MyNotificationPreferences(
        followed_goal_ids=[strawberry.ID(str(g)) for g in follows],
        mutes=[NotificationMuteType(goal_id=strawberry.ID(str(g)) if g else None,
                                    kind=NotificationKind(k) if k else None) for g, k in mutes])


def _not_a_user() -> ForbiddenError:
    return ForbiddenError(code=ErrorCode.FORBIDDEN, message="notification preferences belong to users, not services")


@strawberry.type(description="Notification preference queries.")
class NotificationPrefsQueries:
    @strawberry.field(description="The viewer's followed goals and mutes; null for a service token.")
    async def my_notification_preferences(self, info: Info) -> MyNotificationPreferences | None:
        viewer = await info.context.viewer()
        if viewer.user_id is None:
            return None
        async with info.context.db() as session:
            return await _preferences(session, viewer.user_id)


@strawberry.type(description="Notification preference mutations.")
class NotificationPrefsMutations:
    @strawberry.mutation(description="Follow a goal (or stop following it): followers are told about it as its "
                                     "assignee is. Only goals the viewer may see can be followed.")
    async def follow_goal(self, info: Info, goal_id: strawberry.ID, follow: bool = True) -> PreferencesPayload:
        viewer = await info.context.viewer()
        if viewer.user_id is None:
            return _not_a_user()
        async with info.context.transaction() as session:
            try:
                goal = await get_goal(session, goal_id, viewer)
            except GoalNotFound:
                return NotFoundError(code=ErrorCode.NOT_FOUND, message=f"goalId: no goal with id {goal_id}",
                                     missing_id=goal_id)
            await rules.follow(session, goal.id, viewer.user_id, follow)
            return PreferencesSuccess(preferences=await _preferences(session, viewer.user_id))

    @strawberry.mutation(description="Mute (or unmute with muted: false) notifications for oneself: one goal, one "
                                     "kind, or one kind of one goal (leave out what should be 'any').")
    async def mute_notifications(self, info: Info, goal_id: strawberry.ID | None = None,
                                 kind: NotificationKind | None = None, muted: bool = True) -> PreferencesPayload:
        viewer = await info.context.viewer()
        if viewer.user_id is None:
            return _not_a_user()
        if goal_id is None and kind is None and muted:
            return ValidationError(code=ErrorCode.VALIDATION, field_errors=[],
                                   message="goalId or kind: say what to mute (both may be given)")
        async with info.context.transaction() as session:
            numeric = None
            if goal_id is not None:
                try:
                    numeric = (await get_goal(session, goal_id, viewer)).id
                except GoalNotFound:
                    if parse_internal_id(goal_id) is None or muted:
                        return NotFoundError(code=ErrorCode.NOT_FOUND, message=f"goalId: no goal with id {goal_id}",
                                             missing_id=goal_id)
                    numeric = parse_internal_id(goal_id)  # unmuting a goal one can no longer see
            await rules.mute(session, viewer.user_id, numeric, kind.value if kind else None, muted)
            return PreferencesSuccess(preferences=await _preferences(session, viewer.user_id))
