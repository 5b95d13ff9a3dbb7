"""First-party revenue forecast: weighted open pipeline by expected close date plus won value."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Date, DateTime, Select, cast, literal, null, select, type_coerce, union_all

from goalgraph.db.models import Deal, DealStatus, Stage
from goalgraph.db.types import Money
from goalgraph.hookspecs import hookimpl
from goalgraph.registry import Category, FactKind, FactQuery, Feature, GoalType, Measure
from goalgraph_deals import PIPELINES

__version__ = "0.1.0"

FEATURE = "REVENUE_FORECAST"
#: value × probability (whole percent) summed exactly, then × 0.01.
#: Already an estimate of the period's end (won + weighted open deals closing in it): pace does not extrapolate it.
WEIGHTED_VALUE = Measure("WEIGHTED_VALUE", "Weighted value", column="weighted_value", money=True, scale=Decimal("0.01"),
                         cumulative=False)


def revenue_forecast(_: FactQuery) -> Select:
    """Won deals at full value by won time; open deals at value × stage probability by expected close date."""
    won = select(
        Deal.id.label("fact_id"),
        Deal.owner_id.label("user_id"),
        Deal.won_at.label("occurred_at"),
        cast(null(), Date).label("occurred_on"),
        Deal.currency.label("currency"),
        type_coerce(Deal.value * literal(100), Money()).label("weighted_value"),
        Deal.pipeline_id.label("pipeline_id"),
        Deal.attributes.label("attributes"),
    ).where(Deal.status == DealStatus.WON, Deal.won_at.is_not(None))
    open_ = select(
        Deal.id,
        Deal.owner_id,
        cast(null(), DateTime(timezone=True)),
        Deal.expected_close_date,
        Deal.currency,
        type_coerce(Deal.value * Stage.probability, Money()),
        Deal.pipeline_id,
        Deal.attributes,
    ).join(Stage, Stage.id == Deal.stage_id).where(
        Deal.status == DealStatus.OPEN, Deal.expected_close_date.is_not(None)
    )
    return union_all(won, open_).subquery("forecast").select()


@hookimpl
def goalgraph_register_features() -> list[Feature]:
    return [Feature(FEATURE, "Revenue forecast goals", "Goals on weighted pipeline plus won revenue.")]


@hookimpl
def goalgraph_register_goal_types() -> list[GoalType]:
    return [
        GoalType(
            key="REVENUE_FORECAST", label="Revenue forecast", category=Category.FORECAST, fact_kind=FactKind.DEAL,
            description="Value of deals won in the period plus the weighted value (value × stage probability) "
            "of open deals expected to close in it.",
            source=revenue_forecast, measures=(WEIGHTED_VALUE,), filters=(PIPELINES,), feature=FEATURE,
            dimensions=True,
        )
    ]
