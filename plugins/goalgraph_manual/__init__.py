"""First-party goal type for values entered by hand: NPS, churned customers, demos booked elsewhere.

The entries (``goal_entries``, with their correction history) and the mutations that write them
(``addGoalEntry``, ``correctGoalEntry``, ``deleteGoalEntry``) are the core's
(:mod:`goalgraph.goals.entries`); this plugin registers the goal type that counts them. Each goal
chooses how a period's entries make its actual: their sum, the last value, or their average.
"""

from __future__ import annotations

from decimal import Decimal

from goalgraph.goals.entries import entry_facts
from goalgraph.hookspecs import hookimpl
from goalgraph.registry import Category, FactKind, GoalTemplate, GoalType, Measure

__version__ = "0.1.0"

#: The goal type's key.
GOAL_TYPE = "MANUAL"
SUM = Measure("SUM", "Sum of entries", column="value")
LAST = Measure("LAST", "Last value", column="value", last=True)
AVERAGE = Measure("AVERAGE", "Average of entries", column="value", average=True)


@hookimpl
def goalgraph_register_goal_types() -> list[GoalType]:
    return [
        GoalType(
            key=GOAL_TYPE, label="Entered by hand", category=Category.CUSTOM, fact_kind=FactKind.CUSTOM,
            description="Values entered by hand for the goal (addGoalEntry), dated; a period's actual is their sum, "
                        "the last value or their average, as the goal's measure says.",
            source=entry_facts, measures=(SUM, LAST, AVERAGE), manual=True,
        ),
    ]


@hookimpl
def goalgraph_register_goal_templates() -> list[GoalTemplate]:
    return [
        GoalTemplate("MONTHLY_NPS", "Monthly NPS score", GOAL_TYPE, "LAST", title="NPS {period}",
                     assignee_kind="COMPANY", suggested_target=Decimal(50),
                     description="The latest Net Promoter Score entered each month."),
        GoalTemplate("MONTHLY_DEMOS_BOOKED", "Demos booked per month (entered by hand)", GOAL_TYPE, "SUM",
                     title="Demos booked – {assignee}", suggested_target=Decimal(10),
                     description="Demos booked in another tool, entered by the rep."),
    ]
