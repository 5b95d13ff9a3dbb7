"""Typed SQLAlchemy models: the CRM facts (``facts``) and goals with their targets (``goals``)."""

from goalgraph.db.models.facts import (
    EXTERNAL_ID_LENGTH,
    Activity,
    Deal,
    DealStageChange,
    DealStatus,
    ExchangeRate,
    Organisation,
    Pipeline,
    Stage,
    Team,
    TeamMembership,
    User,
)
from goalgraph.db.models.goals import (
    DimensionElement,
    Goal,
    GoalElementTarget,
    GoalPeriodTarget,
    GoalRevision,
    PeriodSnapshot,
)

__all__ = [
    "EXTERNAL_ID_LENGTH", "Activity", "Deal", "DealStageChange", "DealStatus", "DimensionElement", "ExchangeRate",
    "Goal", "GoalElementTarget",
    "GoalPeriodTarget", "GoalRevision", "Organisation", "PeriodSnapshot", "Pipeline", "Stage", "Team",
    "TeamMembership", "User",
]
