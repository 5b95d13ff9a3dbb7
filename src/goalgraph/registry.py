"""What plugins register: goal types, measures, filters, features and dimensions.

Plugins return these frozen dataclasses from the registration hooks; the core keeps them
in :class:`Registry`. Duplicate keys fail at start-up, naming both plugins.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Select

#: Column labels a fact source must provide.
FACT_ID = "fact_id"
#: Optional: the source row's own key, unique among its rows (defaults to ``fact_id``). Drill-down
#: orders and pages by it; a source where one fact appears in several rows (a deal entering a stage
#: twice, from stage history) must provide it, or paging by ``fact_id`` would skip rows.
FACT_KEY = "fact_key"
USER_ID = "user_id"
OCCURRED_AT = "occurred_at"
#: Optional: a local calendar date placing the fact (instead of, or besides, ``occurred_at``).
OCCURRED_ON = "occurred_on"
CURRENCY = "currency"
#: Optional: the fact's custom attributes (JSON); needed for dimension filters and splits.
ATTRIBUTES = "attributes"


class Category(str, enum.Enum):
    """Families of goal types, for grouping in UIs."""

    DEAL = "DEAL"
    ACTIVITY = "ACTIVITY"
    FORECAST = "FORECAST"
    CUSTOM = "CUSTOM"


class FactKind(str, enum.Enum):
    """Which table a fact source's ``fact_id`` points into (for drill-down)."""

    DEAL = "DEAL"
    ACTIVITY = "ACTIVITY"
    CUSTOM = "CUSTOM"


class Direction(str, enum.Enum):
    """Which way a goal's actual is better: up (a quota) or down (a cap, a resolution time)."""

    HIGHER_IS_BETTER = "HIGHER_IS_BETTER"
    LOWER_IS_BETTER = "LOWER_IS_BETTER"


class Aggregation(str, enum.Enum):
    """How a measure combines the facts counted: the sum of a column, their number, or the column's mean."""

    SUM = "SUM"
    COUNT = "COUNT"
    AVERAGE = "AVERAGE"


@dataclass(frozen=True)
class Measure:
    """How a goal measures the facts it counts.

    ``column`` is the label of the amount column in the fact source (None: count facts).
    ``money`` amounts are converted to the goal's currency. ``scale`` multiplies the summed
    column (e.g. 0.01 when the source sums value × probability in whole percent), so the
    database can keep exact integers. ``lower_is_better`` is the default direction of goals that
    use it (a goal may set its own: ``Goal.direction``); ``cumulative`` and ``average`` steer status,
    pace and summaries (goalgraph.progress.status.Rules).
    """

    key: str
    label: str
    column: str | None = None
    money: bool = False
    scale: Decimal = Decimal(1)
    #: Lower actuals are better (a cap, a resolution time) for goals that do not say otherwise:
    #: their default direction (:attr:`default_direction`).
    lower_is_better: bool = False
    #: The actual accumulates over the period (counts, sums); False for a level that is already an
    #: estimate of the period's end (a forecast), which pace does not extrapolate.
    cumulative: bool = True
    #: The actual is the mean of ``column`` over the facts counted (converted first for money), not
    #: their sum: computed from the same batched sums and counts. Averages are levels (see ``cumulative``).
    average: bool = False

    def __post_init__(self) -> None:
        if self.average and self.column is None:
            raise ValueError(f"measure {self.key!r}: an average needs a column")
        if self.average and self.cumulative:
            object.__setattr__(self, "cumulative", False)  # a mean does not grow with time

    @property
    def default_direction(self) -> Direction:
        """The direction a goal using this measure gets when its input leaves it out."""
        return Direction.LOWER_IS_BETTER if self.lower_is_better else Direction.HIGHER_IS_BETTER

    @property
    def aggregation(self) -> Aggregation:
        """SUM of ``column``, COUNT of facts, or AVERAGE of ``column``."""
        if self.average:
            return Aggregation.AVERAGE
        return Aggregation.COUNT if self.column is None else Aggregation.SUM


COUNT = Measure("COUNT", "Number")


def fold_case(text: str) -> str:
    """Case-insensitive text as facts store it and filters match it (activity types): trimmed, lower-case.

    Ingest writes such fields through it and a filter spec with ``normalise=fold_case`` passes its
    values through it too, so ``"CALL"`` and ``" Call "`` match stored ``call``.
    """
    return text.strip().lower()


class FilterKind(str, enum.Enum):
    """How a filter's values are written and matched."""

    #: External ids of a stored model (``model``), matched against the fact column's internal id.
    REFERENCE = "REFERENCE"
    #: Plain strings matched exactly against the fact column (activity types, dimension values).
    TEXT = "TEXT"


@dataclass(frozen=True)
class FilterSpec:
    """A filter a goal type accepts, and the fact-source column it narrows."""

    key: str
    label: str
    column: str
    kind: FilterKind = FilterKind.TEXT
    #: For REFERENCE filters: the model whose ``external_id`` the values are (e.g. Pipeline).
    model: Any = None
    required: bool = False
    multiple: bool = True
    #: Allowed values for TEXT filters (None: any non-empty string).
    choices: tuple[str, ...] | None = None
    description: str = ""
    #: Set for dimension filters: the key inside the source's ``attributes`` column to compare.
    attribute: str | None = None
    #: Set for dimension filters: the dimension whose elements are the allowed values.
    dimension: str | None = None
    #: For TEXT filters over a normalised fact column: the function the facts were written through
    #: (e.g. :func:`fold_case`). Values are compared after it; ``choices`` are in its output form.
    normalise: Callable[[str], str] | None = None

    def normalised(self, values: Sequence[str]) -> list[str]:
        """``values`` as they are compared with the fact column (duplicates dropped, order kept)."""
        if self.normalise is None:
            return list(values)
        return list(dict.fromkeys(self.normalise(str(v)) for v in values))


@dataclass(frozen=True)
class FactQuery:
    """What a fact source is asked for. Sources may use it to narrow their scan (optional)."""

    goal_type: str


FactSource = Callable[[FactQuery], Select[Any]]


@dataclass(frozen=True)
class GoalType:
    """A kind of goal: which facts count, when, and how they are measured.

    ``source`` returns a SQLAlchemy ``Select`` whose columns carry the agreed labels:
    ``fact_id`` (the fact a drill-down shows, in ``fact_kind``'s table), optionally ``fact_key``
    (the row's own key when ``fact_id`` repeats), ``user_id`` (the credited user), ``occurred_at``
    (the instant placing the fact in a period) and/or ``occurred_on`` (a local date), ``currency``
    when any measure is money, each measure's ``column`` and each filter's ``column``. The core does the
    bucketing, assignee resolution, filtering, conversion and aggregation.
    """

    key: str
    label: str
    category: Category
    description: str
    source: FactSource
    fact_kind: FactKind
    measures: tuple[Measure, ...] = (COUNT,)
    filters: tuple[FilterSpec, ...] = ()
    per_period_targets: bool = True
    #: Licence feature this goal type needs (None: always available).
    feature: str | None = None
    #: The source has an ``attributes`` column: custom dimensions can filter and split it.
    dimensions: bool = False

    def measure(self, key: str) -> Measure | None:
        return next((m for m in self.measures if m.key == key), None)

    def filter(self, key: str) -> FilterSpec | None:
        return next((f for f in self.filters if f.key == key), None)

    def validate_filters(
        self, filters: Mapping[str, Sequence[str]], extra: Sequence["FilterSpec"] = ()
    ) -> list[tuple[str, str]]:
        """Problems with ``filters`` as ``(filter key, message)``; empty when valid.

        ``extra`` adds filters the registry offers on top (dimension filters). References are
        checked against the database by the caller (they need I/O).
        """
        problems: list[tuple[str, str]] = []
        specs = {f.key: f for f in (*self.filters, *extra)}
        for key, values in filters.items():
            spec = specs.get(key)
            if spec is None:
                accepted = ", ".join(specs) or "none"
                problems.append((key, f"goal type {self.key} does not accept this filter (accepted: {accepted})"))
                continue
            if not values:
                problems.append((key, "needs at least one value (or leave the filter out)"))
            if any(not str(v).strip() for v in values):
                problems.append((key, "an empty value matches nothing"))
            values = spec.normalised(values)
            if not spec.multiple and len(values) > 1:
                problems.append((key, f"takes one value, got {len(values)}"))
            if spec.choices is not None:
                for value in values:
                    if value not in spec.choices:
                        problems.append((key, f"{value!r} is not one of {', '.join(spec.choices)}"))
        for spec in self.filters:
            if spec.required and not filters.get(spec.key):
                problems.append((spec.key, f"is required for goal type {self.key}"))
        return problems


@dataclass(frozen=True)
class Feature:
    """A licensable capability; goal types and core functions name the feature they need."""

    key: str
    label: str
    description: str = ""


@dataclass(frozen=True)
class Dimension:
    """A custom dimension (sale type, company category …) read from facts' attributes."""

    key: str
    label: str
    attribute: str
    applies_to: tuple[FactKind, ...] = (FactKind.DEAL,)
    #: Registered elements; admins may add more over GraphQL (``setDimensionElements``).
    elements: tuple[str, ...] = ()
    #: Licence feature needed to filter or split by it.
    feature: str | None = None
    description: str = ""

    def as_filter(self) -> FilterSpec:
        """The filter every goal type with dimensions accepts for this dimension."""
        return FilterSpec(self.key, self.label, column=ATTRIBUTES, attribute=self.attribute, dimension=self.key,
                          description=self.description or f"Only facts whose {self.label.lower()} is one of these.")


@dataclass(frozen=True)
class GoalTemplate:
    """A ready-made goal a user starts from: what is measured, how often, and a suggested target.

    ``title`` may hold ``{assignee}`` and ``{period}`` placeholders (filled by the SPA or by whoever
    creates the goal). ``filters`` are as a goal takes them (CRM ids for REFERENCE filters); a template
    naming a pipeline or stage that does not exist is still listed, and creating a goal from it gets the
    goal's usual validation error.
    """

    key: str
    label: str
    goal_type: str
    measure: str
    interval: str = "MONTHLY"
    title: str = ""
    description: str = ""
    assignee_kind: str = "USER"
    filters: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    suggested_target: Decimal | None = None
    #: Notification defaults for goals made from it (goalgraph.notifications.rules.NotificationSettings fields).
    notifications: Mapping[str, Any] = field(default_factory=dict)


class DuplicateKeyError(RuntimeError):
    """Two plugins registered the same key."""


@dataclass
class Registry:
    """Everything plugins registered, by key, with the plugin that registered it."""

    goal_types: dict[str, GoalType] = field(default_factory=dict)
    features: dict[str, Feature] = field(default_factory=dict)
    dimensions: dict[str, Dimension] = field(default_factory=dict)
    templates: dict[str, GoalTemplate] = field(default_factory=dict)
    owners: dict[tuple[str, str], str] = field(default_factory=dict)

    def _add(self, table: dict[str, Any], what: str, item: Any, plugin: str) -> None:
        if not isinstance(item.key, str) or not item.key:
            raise ValueError(f"plugin {plugin!r} registered a {what} without a key")
        if item.key in table:
            first = self.owners[(what, item.key)]
            raise DuplicateKeyError(
                f"{what} key {item.key!r} is registered twice: by plugin {first!r} and by plugin {plugin!r}"
            )
        table[item.key] = item
        self.owners[(what, item.key)] = plugin

    def add_goal_type(self, item: GoalType, plugin: str) -> None:
        if not isinstance(item, GoalType):
            raise TypeError(f"plugin {plugin!r} returned {item!r} from goalgraph_register_goal_types; expected GoalType")
        self._add(self.goal_types, "goal type", item, plugin)

    def add_feature(self, item: Feature, plugin: str) -> None:
        if not isinstance(item, Feature):
            raise TypeError(f"plugin {plugin!r} returned {item!r} from goalgraph_register_features; expected Feature")
        self._add(self.features, "feature", item, plugin)

    def add_dimension(self, item: Dimension, plugin: str) -> None:
        if not isinstance(item, Dimension):
            raise TypeError(f"plugin {plugin!r} returned {item!r} from goalgraph_register_dimensions; expected Dimension")
        self._add(self.dimensions, "dimension", item, plugin)

    def add_template(self, item: GoalTemplate, plugin: str) -> None:
        if not isinstance(item, GoalTemplate):
            raise TypeError(f"plugin {plugin!r} returned {item!r} from goalgraph_register_goal_templates; "
                            "expected GoalTemplate")
        self._add(self.templates, "goal template", item, plugin)

    def filters_for(self, goal_type: GoalType) -> tuple[FilterSpec, ...]:
        """Every filter a goal type accepts: its own plus the dimensions that apply to its facts."""
        if not goal_type.dimensions:
            return goal_type.filters
        extra = tuple(d.as_filter() for d in self.dimensions.values() if goal_type.fact_kind in d.applies_to)
        return (*goal_type.filters, *extra)

    def check(self) -> None:
        """Cross-checks after registration: features named exist; dimension keys clash with no filter."""
        for dimension in self.dimensions.values():
            if dimension.feature is not None and dimension.feature not in self.features:
                raise ValueError(f"dimension {dimension.key!r} needs feature {dimension.feature!r}, which no plugin registers")
            for goal_type in self.goal_types.values():
                if goal_type.filter(dimension.key) is not None:
                    raise ValueError(f"dimension key {dimension.key!r} clashes with a filter of goal type {goal_type.key!r}")
        for template in self.templates.values():
            owner = self.owners[("goal template", template.key)]
            goal_type = self.goal_types.get(template.goal_type)
            if goal_type is None:
                raise ValueError(f"goal template {template.key!r} (plugin {owner!r}) names goal type "
                                 f"{template.goal_type!r}, which no plugin registers")
            if goal_type.measure(template.measure) is None:
                raise ValueError(f"goal template {template.key!r} (plugin {owner!r}): goal type {goal_type.key} has no "
                                 f"measure {template.measure!r}")
            unknown = [k for k in template.filters if k not in {f.key for f in self.filters_for(goal_type)}]
            if unknown:
                raise ValueError(f"goal template {template.key!r} (plugin {owner!r}): goal type {goal_type.key} has no "
                                 f"filter {unknown[0]!r}")
        for goal_type in self.goal_types.values():
            if goal_type.feature is not None and goal_type.feature not in self.features:
                owner = self.owners[("goal type", goal_type.key)]
                raise ValueError(
                    f"goal type {goal_type.key!r} (plugin {owner!r}) needs feature {goal_type.feature!r}, "
                    "which no plugin registers"
                )
