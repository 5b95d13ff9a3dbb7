"""The core's own licensable features, registered like a plugin's (through the same hook)."""

from __future__ import annotations

from goalgraph.hookspecs import hookimpl
from goalgraph.registry import Feature

TEAM_GOALS = "TEAM_GOALS"
COMPANY_GOALS = "COMPANY_GOALS"
MULTIPLE_TEAMS = "MULTIPLE_TEAMS"
CUSTOM_DIMENSIONS = "CUSTOM_DIMENSIONS"
SPLIT_TARGETS = "SPLIT_TARGETS"


@hookimpl
def goalgraph_register_features() -> list[Feature]:
    return [
        Feature(TEAM_GOALS, "Team goals", "Goals assigned to a team, counting its members' facts."),
        Feature(COMPANY_GOALS, "Company goals", "Goals for the whole company."),
        Feature(MULTIPLE_TEAMS, "More than one team", "Goals for more than one team."),
        Feature(CUSTOM_DIMENSIONS, "Custom dimensions", "Filter goals by custom dimensions (additional target types)."),
        Feature(SPLIT_TARGETS, "Separate targets per element", "Split a goal by a dimension, one target per element."),
    ]
