"""Expected failures of goal operations; the GraphQL layer turns each into a typed error."""

from __future__ import annotations

from datetime import datetime

from goalgraph.errors import FactError


class GoalProblem(Exception):
    """Base of the expected failures."""

    code = "VALIDATION"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class GoalInvalid(GoalProblem):
    """The input was refused; ``errors`` name every bad field."""

    def __init__(self, errors: list[FactError]) -> None:
        self.errors = errors
        first = errors[0] if errors else None
        super().__init__(str(first) if first else "invalid goal")


class GoalNotFound(GoalProblem):
    code = "NOT_FOUND"

    def __init__(self, goal_id: object) -> None:
        super().__init__(f"no goal with id {goal_id!r}")


class VersionConflict(GoalProblem):
    """The update was based on an older version; nothing changed."""

    code = "CONFLICT"

    def __init__(self, given: int, current: int) -> None:
        self.given, self.current = given, current
        super().__init__(f"the goal changed since version {given}: it is at version {current}; reload and retry")


class GoalLocked(GoalProblem):
    """A locked goal's targets cannot change."""

    code = "LOCKED"

    def __init__(self, locked_at: datetime | None, locked_by: str | None) -> None:
        self.locked_at, self.locked_by = locked_at, locked_by
        who = f" by {locked_by}" if locked_by else ""
        super().__init__(f"the goal's targets are locked{who}; unlock it first")


class GoalForbidden(GoalProblem):
    """The viewer may see the goal (or its assignee) but not make this change."""

    code = "FORBIDDEN"
