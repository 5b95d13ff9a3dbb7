"""What contributors chose to hear about goals: per-goal settings, followers and mutes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from goalgraph.db.base import Base


class GoalNotificationSettings(Base):
    """A goal's notification settings (goalgraph.notifications.preferences.NotificationSettings as JSON)."""

    __tablename__ = "goal_notification_settings"

    goal_id: Mapped[int] = mapped_column(ForeignKey("goals.id", ondelete="CASCADE"), primary_key=True)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)


class GoalFollower(Base):
    """A user who follows a goal they are not assigned (hears about it like its assignee)."""

    __tablename__ = "goal_followers"

    goal_id: Mapped[int] = mapped_column(ForeignKey("goals.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)


class NotificationMute(Base):
    """A user muting one goal, one kind of notification, or one kind for one goal (empty = any)."""

    __tablename__ = "notification_mutes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    #: 0 for every goal (a foreign key would not allow "any" in a unique key on every database).
    goal_id: Mapped[int] = mapped_column(Integer, default=0)
    #: "" for every kind.
    kind: Mapped[str] = mapped_column(String(32), default="")

    __table_args__ = (UniqueConstraint("user_id", "goal_id", "kind"), Index("ix_notification_mutes_user", "user_id"))
