"""Typed SQLAlchemy models: the CRM facts (``facts``) and goals with their targets (``goals``)."""

from goalgraph.db.models.access import RevokedToken, SeatAssignment, ServiceSubject, TokenCutoff
from goalgraph.db.models.facts import (
    EXTERNAL_ID_LENGTH,
    Activity,
    Deal,
    DealStageChange,
    DealStatus,
    ExchangeRate,
    FeatureToggle,
    InstalledLicence,
    Organisation,
    Pipeline,
    Stage,
    Team,
    TeamMembership,
    User,
)
from goalgraph.db.models.entries import GoalEntry
from goalgraph.db.models.goal_notifications import GoalFollower, GoalNotificationSettings, NotificationMute
from goalgraph.db.models.goals import (
    DimensionElement,
    Goal,
    GoalElementTarget,
    GoalPeriodTarget,
    GoalRevision,
    GoalStatusMark,
)
from goalgraph.db.models.progress import ProgressMark, StoredProgress
from goalgraph.db.models.notifications import Notice, OutboxMessage, WebhookEndpoint

__all__ = [
    "EXTERNAL_ID_LENGTH", "Activity", "Deal", "DealStageChange", "DealStatus", "DimensionElement", "ExchangeRate",
    "FeatureToggle", "Goal", "GoalEntry", "GoalFollower", "GoalNotificationSettings", "InstalledLicence", "GoalElementTarget",
    "NotificationMute",
    "GoalPeriodTarget", "GoalRevision", "GoalStatusMark", "Organisation", "Pipeline", "ProgressMark", "StoredProgress", "RevokedToken", "SeatAssignment", "ServiceSubject", "Stage", "Team",
    "TokenCutoff",
    "TeamMembership", "User",
    "Notice", "OutboxMessage", "WebhookEndpoint",
]
