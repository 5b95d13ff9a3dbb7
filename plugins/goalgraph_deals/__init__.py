"""First-party goal types about deals: added, progressed (entered a stage), won."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Select, select, type_coerce

from goalgraph.db.models import Deal, DealStageChange, DealStatus, Pipeline, Stage
from goalgraph.db.types import Money
from goalgraph.hookspecs import hookimpl
from goalgraph.registry import (
    COUNT,
    Category,
    FactField,
    FactKind,
    FactQuery,
    FieldType,
    FilterKind,
    FilterSpec,
    GoalTemplate,
    GoalType,
    Measure,
)

__version__ = "0.1.0"

VALUE = Measure("VALUE", "Deal value", column="value", money=True)
GROSS_PROFIT = Measure("GROSS_PROFIT", "Gross profit", column="gross_profit", money=True)
DEAL_MEASURES = (COUNT, VALUE, GROSS_PROFIT)

#: Deals as a fact kind. The core writes them itself (``builtin``: stage history, the bulk COPY path);
#: the declaration describes them to the API (``factKinds``), drill-down and stale marks. docs/facts.md
#: has every field's rules.
DEAL = FactKind(
    key=FactKind.DEAL, label="Deal", plural="deals", model=Deal, builtin=True,
    description="A deal (opportunity) in a pipeline, with its value, owner, stage and status.",
    fields=(
        FactField("title", "Title", required=True, max_length=300),
        FactField("value", "Value", FieldType.DECIMAL, required=True),
        FactField("currency", "Currency", FieldType.CURRENCY, required=True),
        FactField("cost", "Cost", FieldType.DECIMAL, description="Cost of the deal; gross profit = value − cost."),
        FactField("owner_id", "Owner", FieldType.REFERENCE, required=True, references="user"),
        FactField("pipeline_id", "Pipeline", FieldType.REFERENCE, references="pipeline",
                  description="Defaults to the stage's pipeline."),
        FactField("stage_id", "Stage", FieldType.REFERENCE, required=True, references="stage"),
        FactField("status", "Status", FieldType.CHOICE, choices=tuple(s.value for s in DealStatus)),
        FactField("added_at", "Added at", FieldType.TIMESTAMP, required=True),
        FactField("won_at", "Won at", FieldType.TIMESTAMP, description="Required when status is WON."),
        FactField("lost_at", "Lost at", FieldType.TIMESTAMP, description="Required when status is LOST."),
        FactField("expected_close_date", "Expected close date", FieldType.DATE),
        FactField("attributes", "Custom attributes", FieldType.ATTRIBUTES),
    ),
    timestamps=("added_at", "won_at", "lost_at", "expected_close_date"),
    title="title", amount="value", currency="currency", time="added_at",
)

PIPELINES = FilterSpec(
    "pipelines", "Pipelines", column="pipeline_id", kind=FilterKind.REFERENCE, model=Pipeline,
    description="Only deals in these pipelines (all pipelines when left out).",
)
STAGE = FilterSpec(
    "stage", "Stage", column="stage_id", kind=FilterKind.REFERENCE, model=Stage, required=True, multiple=False,
    description="The stage deals must enter to count.",
)


def _deal_columns(moment) -> list:  # type: ignore[no-untyped-def]
    return [
        Deal.id.label("fact_id"),
        Deal.owner_id.label("user_id"),
        moment.label("occurred_at"),
        Deal.currency.label("currency"),
        type_coerce(Deal.value, Money()).label("value"),
        type_coerce(Deal.value - Deal.cost, Money()).label("gross_profit"),
        Deal.pipeline_id.label("pipeline_id"),
        Deal.stage_id.label("stage_id"),
        Deal.attributes.label("attributes"),
    ]


def deals_added(_: FactQuery) -> Select:
    """Every deal, placed by when it was added, credited to its owner."""
    return select(*_deal_columns(Deal.added_at))


def deals_won(_: FactQuery) -> Select:
    """Won deals, placed by when they were won."""
    return select(*_deal_columns(Deal.won_at)).where(Deal.status == DealStatus.WON, Deal.won_at.is_not(None))


def deals_progressed(_: FactQuery) -> Select:
    """Entries into a stage (from stage history), credited to the owner at the time.

    A deal may enter a stage more than once: each entry is a fact of its own, keyed by its history
    row (``fact_key``), while ``fact_id`` names the deal a drill-down shows."""
    change = DealStageChange
    return select(
        change.deal_id.label("fact_id"),
        change.id.label("fact_key"),
        change.owner_id.label("user_id"),
        change.entered_at.label("occurred_at"),
        Deal.currency.label("currency"),
        type_coerce(Deal.value, Money()).label("value"),
        type_coerce(Deal.value - Deal.cost, Money()).label("gross_profit"),
        change.pipeline_id.label("pipeline_id"),
        change.stage_id.label("stage_id"),
        Deal.attributes.label("attributes"),
    ).join(Deal, Deal.id == change.deal_id)


@hookimpl
def goalgraph_register_fact_kinds() -> list[FactKind]:
    return [DEAL]


@hookimpl
def goalgraph_register_goal_types() -> list[GoalType]:
    return [
        GoalType(
            key="DEALS_ADDED", label="Deals added", category=Category.DEAL, fact_kind=FactKind.DEAL,
            description="Deals added in the period, by the time they were added.",
            source=deals_added, measures=DEAL_MEASURES, filters=(PIPELINES,), dimensions=True,
        ),
        GoalType(
            key="DEALS_PROGRESSED", label="Deals progressed", category=Category.DEAL, fact_kind=FactKind.DEAL,
            description="Deals that entered the chosen stage in the period (from stage history).",
            source=deals_progressed, measures=DEAL_MEASURES, filters=(PIPELINES, STAGE), dimensions=True,
        ),
        GoalType(
            key="DEALS_WON", label="Deals won", category=Category.DEAL, fact_kind=FactKind.DEAL,
            description="Deals won in the period, by the time they were won.",
            source=deals_won, measures=DEAL_MEASURES, filters=(PIPELINES,), dimensions=True,
        ),
    ]


@hookimpl
def goalgraph_register_goal_templates() -> list[GoalTemplate]:
    return [
        GoalTemplate("MONTHLY_WON_REVENUE_PER_REP", "Monthly won revenue per rep", "DEALS_WON", "VALUE",
                     title="Won revenue – {assignee}", description="The value of the deals a rep wins each month."),
        GoalTemplate("QUARTERLY_WON_REVENUE", "Quarterly won revenue for the company", "DEALS_WON", "VALUE",
                     interval="QUARTERLY", assignee_kind="COMPANY", title="Won revenue {period}",
                     description="The value of every deal won in the quarter.",
                     notifications={"milestones": [25, 50, 75, 100]}),
        GoalTemplate("MONTHLY_NEW_DEALS_PER_REP", "New deals per month per rep", "DEALS_ADDED", "COUNT",
                     title="New deals – {assignee}", description="Deals a rep adds each month.",
                     suggested_target=Decimal(20)),
        GoalTemplate("QUARTERLY_DEALS_INTO_STAGE", "Deals into a stage per quarter (e.g. Proposal)", "DEALS_PROGRESSED",
                     "COUNT", interval="QUARTERLY", assignee_kind="TEAM", title="Deals into proposal – {assignee}",
                     description="Deals a team moves into the chosen stage each quarter; choose the stage in the form."),
    ]
