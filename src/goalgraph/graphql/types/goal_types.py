"""GraphQL types describing registered goal types, so an SPA can build its goal form from data."""

from __future__ import annotations

import enum

import strawberry

from goalgraph import registry


@strawberry.enum(description="Family of a goal type.")
class GoalTypeCategory(enum.Enum):
    DEAL = "DEAL"
    ACTIVITY = "ACTIVITY"
    FORECAST = "FORECAST"
    SERVICE = "SERVICE"
    CUSTOM = "CUSTOM"


@strawberry.enum(description="How a filter's values are written.")
class FilterValueKind(enum.Enum):
    REFERENCE = "REFERENCE"
    TEXT = "TEXT"


@strawberry.enum(description="Which way a goal's actual is better. Status, ratio, pace, summaries, leaderboards "
                             "and notifications follow it (see docs/goals.md, \"Direction\").")
class GoalDirection(enum.Enum):
    HIGHER_IS_BETTER = strawberry.enum_value(
        "HIGHER_IS_BETTER", description="A quota: reached at or above the target (won deals, revenue, calls).")
    LOWER_IS_BETTER = strawberry.enum_value(
        "LOWER_IS_BETTER", description="A cap: reached at or below the target (response times, churn, discounts "
                                       "given); a sum above its cap is missed at once.")


@strawberry.enum(description="How a measure combines the facts a goal counts.")
class MeasureAggregation(enum.Enum):
    SUM = strawberry.enum_value("SUM", description="The sum of an amount (value, gross profit): grows as the "
                                                   "period passes.")
    COUNT = strawberry.enum_value("COUNT", description="The number of facts: grows as the period passes.")
    AVERAGE = strawberry.enum_value("AVERAGE", description="The mean of an amount over the facts: a level, not "
                                                           "extrapolated by pace; over several periods the mean "
                                                           "weighted by their facts.")


@strawberry.type(description="A way a goal type can measure its facts.")
class MeasureInfo:
    key: str = strawberry.field(description="Measure key, e.g. COUNT, VALUE, GROSS_PROFIT, WEIGHTED_VALUE.")
    label: str = strawberry.field(description="Human label.")
    money: bool = strawberry.field(description="True for money measures: goals need a currency.")
    lower_is_better: bool = strawberry.field(default=False, description="The default direction is LOWER_IS_BETTER "
                                                                        "(caps, resolution times); same as "
                                                                        "defaultDirection.")
    default_direction: GoalDirection = strawberry.field(
        default=GoalDirection.HIGHER_IS_BETTER,
        description="The direction a goal with this measure gets when its input leaves it out (to preselect it).")
    aggregation: MeasureAggregation = strawberry.field(
        default=MeasureAggregation.SUM, description="SUM, COUNT or AVERAGE of the facts counted.")
    cumulative: bool = strawberry.field(
        default=True, description="The actual grows as the period passes (sums, counts): pace extrapolates it. "
                                  "False for levels (averages, forecasts).")

    @classmethod
    def of(cls, m: registry.Measure) -> "MeasureInfo":
        return cls(key=m.key, label=m.label, money=m.money, lower_is_better=m.lower_is_better,
                   default_direction=GoalDirection(m.default_direction.value),
                   aggregation=MeasureAggregation(m.aggregation.value), cumulative=m.cumulative)


@strawberry.type(description="A filter a goal type accepts.")
class FilterInfo:
    key: str = strawberry.field(description="Filter key used in goal inputs, e.g. pipelines, stage, activity_types.")
    label: str = strawberry.field(description="Human label.")
    kind: FilterValueKind = strawberry.field(description="REFERENCE: CRM ids of pipelines/stages; TEXT: plain values.")
    required: bool = strawberry.field(description="A goal of this type must set it.")
    multiple: bool = strawberry.field(description="More than one value may be given.")
    choices: list[str] | None = strawberry.field(description="Allowed values, when the list is fixed.")
    description: str = strawberry.field(description="What the filter does.")
    dimension: str | None = strawberry.field(description="For dimension filters: the dimension key (see dimensions).")


@strawberry.type(name="GoalType", description="A kind of goal registered by a plugin.")
class GoalTypeInfo:
    key: str = strawberry.field(description="Goal type key, e.g. DEALS_WON.")
    label: str = strawberry.field(description="Human label.")
    category: GoalTypeCategory = strawberry.field(description="Family, for grouping in UIs.")
    description: str = strawberry.field(description="What counts and when.")
    measures: list[MeasureInfo] = strawberry.field(description="Measures goals of this type may use.")
    filters: list[FilterInfo] = strawberry.field(description="Filters goals of this type may set.")
    per_period_targets: bool = strawberry.field(description="Targets may differ per period.")
    feature: str | None = strawberry.field(description="Licence feature this goal type needs, if any.")
    plugin: str = strawberry.field(description="The plugin that registered it.")

    @classmethod
    def of(cls, goal_type: registry.GoalType, plugin: str, reg: registry.Registry | None = None) -> "GoalTypeInfo":
        filters = reg.filters_for(goal_type) if reg is not None else goal_type.filters
        return cls(
            key=goal_type.key, label=goal_type.label, category=GoalTypeCategory(goal_type.category.value),
            description=goal_type.description,
            measures=[MeasureInfo.of(m) for m in goal_type.measures],
            filters=[
                FilterInfo(key=f.key, label=f.label, kind=FilterValueKind(f.kind.value), required=f.required,
                           multiple=f.multiple, choices=list(f.choices) if f.choices is not None else None,
                           description=f.description, dimension=f.dimension)
                for f in filters
            ],
            per_period_targets=goal_type.per_period_targets, feature=goal_type.feature, plugin=plugin,
        )


@strawberry.type(name="Dimension", description="A custom dimension (sale type, company category …) goals can filter and split by.")
class DimensionInfo:
    key: str = strawberry.field(description="Dimension key; also the filter key in goal inputs.")
    label: str = strawberry.field(description="Human label.")
    attribute: str = strawberry.field(description="The facts' custom attribute it reads.")
    applies_to: list[str] = strawberry.field(description="Fact kinds it applies to (DEAL, ACTIVITY …).")
    elements: list[str] = strawberry.field(description="Allowed elements: registered, then added by admins.")
    custom_elements: list[str] = strawberry.field(description="The elements admins added.")
    feature: str | None = strawberry.field(description="Licence feature it needs.")
    plugin: str = strawberry.field(description="The plugin that registered it.")


@strawberry.type(description="A filter value a template presets.")
class TemplateFilter:
    key: str = strawberry.field(description="Filter key.")
    values: list[str] = strawberry.field(description="Values, as a goal takes them.")


@strawberry.type(description="A ready-made goal to start from (plugins register them; see docs/goals.md).")
class GoalTemplateInfo:
    key: str = strawberry.field(description="Template key.")
    label: str = strawberry.field(description="Human label, e.g. \"Monthly won revenue per rep\".")
    description: str = strawberry.field(description="What the goal measures.")
    title: str = strawberry.field(description="Suggested title; may hold {assignee} and {period}.")
    goal_type: str = strawberry.field(description="Goal type key.")
    measure: str = strawberry.field(description="Measure key.")
    interval: str = strawberry.field(description="WEEKLY, MONTHLY, QUARTERLY or YEARLY.")
    assignee_kind: str = strawberry.field(description="USER, TEAM or COMPANY: whom it is meant for.")
    filters: list[TemplateFilter] = strawberry.field(description="Filters it presets (required ones it cannot know, "
                                                                 "such as a stage, are left for the form).")
    suggested_target: str | None = strawberry.field(description="A starting target per period, if the template has one.")
    notifications: strawberry.scalars.JSON = strawberry.field(description="Notification settings it suggests "
                                                                          "(fields of NotificationSettingsInput).")
    plugin: str = strawberry.field(description="The plugin that registered it.")
    available: bool = strawberry.field(description="False when its goal type's licence feature is off.")
