"""Goal templates: plugins register ready-made goals; goalTemplates lists them; a goal is created from one."""

from __future__ import annotations

import pytest

from goalgraph.hookspecs import hookimpl
from goalgraph.plugins import PluginError, load_plugins
from goalgraph.registry import GoalTemplate

TEMPLATES = """{ goalTemplates { key label title goalType measure interval assigneeKind filters { key values }
  suggestedTarget notifications plugin available } }"""
CREATE = """mutation($input: GoalInput!) { createGoal(input: $input) {
  __typename ... on GoalSuccess { goal { title interval notifications { milestones } } } } }"""


async def test_first_party_templates_are_listed_and_make_goals(gql) -> None:  # type: ignore[no-untyped-def]
    listed = {t["key"]: t for t in (await gql(TEMPLATES))["goalTemplates"]}
    assert {"MONTHLY_WON_REVENUE_PER_REP", "WEEKLY_CALLS_COMPLETED", "QUARTERLY_DEALS_INTO_STAGE",
            "QUARTERLY_REVENUE_FORECAST"} <= set(listed)
    calls = listed["WEEKLY_CALLS_COMPLETED"]
    assert (calls["goalType"], calls["measure"], calls["interval"], calls["plugin"]) == (
        "ACTIVITIES_COMPLETED", "COUNT", "WEEKLY", "activities")
    assert calls["filters"] == [{"key": "activity_types", "values": ["call"]}] and calls["suggestedTarget"] == "50"
    quarterly = listed["QUARTERLY_WON_REVENUE"]
    # A goal straight from the template (as the dashboard's form does).
    made = (await gql(CREATE, input={
        "title": quarterly["title"].replace("{period}", "2026"), "goalType": quarterly["goalType"],
        "measure": quarterly["measure"], "interval": quarterly["interval"], "assignee": {"kind": quarterly["assigneeKind"]},
        "startDate": "2026-01-01", "endDate": "2026-12-31", "targetForAll": "100000",
        "notifications": quarterly["notifications"]}))["createGoal"]
    assert made == {"__typename": "GoalSuccess", "goal": {"title": "Won revenue 2026", "interval": "QUARTERLY",
                                                          "notifications": {"milestones": [25, 50, 75, 100]}}}


class BadTemplates:
    @hookimpl
    def goalgraph_register_goal_templates(self):  # type: ignore[no-untyped-def]
        return [GoalTemplate("BROKEN", "Broken", "NO_SUCH_TYPE", "COUNT")]


class BadMeasure:
    @hookimpl
    def goalgraph_register_goal_templates(self):  # type: ignore[no-untyped-def]
        return [GoalTemplate("BROKEN", "Broken", "DEALS_WON", "HAPPINESS")]


@pytest.mark.parametrize("plugin, words", [(BadTemplates(), "names goal type 'NO_SUCH_TYPE'"),
                                           (BadMeasure(), "has no measure 'HAPPINESS'")])
def test_a_broken_template_stops_start_up_naming_the_plugin(plugin, words) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises((PluginError, ValueError), match=words) as raised:
        load_plugins(strict=True, extra=[("broken-templates", plugin)])
    assert "broken-templates" in str(raised.value)
