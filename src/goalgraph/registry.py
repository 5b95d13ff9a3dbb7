"""What plugins register: goal types, measures, filters, features and dimensions.

Plugins return these frozen dataclasses from the registration hooks; the core keeps them
in :class:`Registry`. Duplicate keys fail at start-up, naming both plugins.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar

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
#: Optional: the goal a fact belongs to (values entered by hand for one goal). A source providing it is
#: goal-scoped: a fact counts only for the goal with this id, whoever the goal's assignee is, and the
#: source needs no ``user_id``.
GOAL_ID = "goal_id"


class Category(str, enum.Enum):
    """Families of goal types, for grouping in UIs."""

    DEAL = "DEAL"
    ACTIVITY = "ACTIVITY"
    FORECAST = "FORECAST"
    #: Customer service: tickets (the service plugin).
    SERVICE = "SERVICE"
    CUSTOM = "CUSTOM"


class FieldType(str, enum.Enum):
    """How a fact kind's field is written and validated (goalgraph.ingest.kinds reads them)."""

    TEXT = "TEXT"
    INTEGER = "INTEGER"
    DECIMAL = "DECIMAL"
    BOOLEAN = "BOOLEAN"
    #: An instant with a time-zone offset (stored in UTC).
    TIMESTAMP = "TIMESTAMP"
    DATE = "DATE"
    #: An ISO 4217 code.
    CURRENCY = "CURRENCY"
    #: One of ``choices`` (upper-cased on input).
    CHOICE = "CHOICE"
    #: The CRM id of a stored thing (``references``); stored as its internal id.
    REFERENCE = "REFERENCE"
    #: Custom attributes (a flat JSON object), for dimensions.
    ATTRIBUTES = "ATTRIBUTES"


#: What a REFERENCE field may point to besides other fact kinds (by their keys).
CORE_REFERENCES = ("user", "team", "pipeline", "stage")


@dataclass(frozen=True)
class FactField:
    """One field of a fact kind: its input key, type, rules and the model column holding it."""

    key: str
    label: str
    type: FieldType = FieldType.TEXT
    required: bool = False
    #: The model attribute (default: ``key``). A REFERENCE column holds the internal id.
    column: str | None = None
    #: CHOICE: the allowed values (upper case).
    choices: tuple[str, ...] = ()
    #: REFERENCE: ``user``, ``team``, ``pipeline``, ``stage`` or a fact kind's key (``deal`` …).
    references: str | None = None
    #: TEXT: the longest value accepted.
    max_length: int = 200
    #: Written when the field is left out (None: null, or the CHOICE's first value when required).
    default: Any = None
    description: str = ""

    @property
    def attr(self) -> str:
        """The model attribute the field is stored in."""
        return self.column or self.key


@dataclass(frozen=True)
class FactKind:
    """A kind of fact a plugin owns: its table, how a record is read and written, and how it is shown.

    Every fact kind gets ingest over GraphQL (``ingestFacts(input: {facts: …})``), bulk import
    (``goalgraph import``, NDJSON lines carrying ``"kind"`` or CSV files naming it), access filtering
    by its credited user, drill-down, stale marks of the progress store, live pushes and
    ``goalgraph_facts_ingested`` from the core's one pipeline (goalgraph.ingest). The model must have
    ``id`` (primary key), ``external_id`` (unique) and ``source_updated_at``; a record is matched on
    ``external_id``, and a version whose ``version`` field is older than the stored one is ignored.

    ``DEAL``, ``ACTIVITY`` and ``CUSTOM`` name the first-party kinds for goal types' ``fact_kind``
    (CUSTOM, i.e. None: the goal type's facts have no fact kind, so drill-down lists amounts only).
    """

    DEAL: ClassVar[str] = "deal"
    ACTIVITY: ClassVar[str] = "activity"
    CUSTOM: ClassVar[None] = None

    key: str
    label: str
    #: The batch key (``ingestFacts``, error paths): ``tickets``.
    plural: str
    #: The plugin's SQLAlchemy model (its own table and Alembic branch).
    model: Any
    fields: tuple[FactField, ...]
    #: The field holding the credited user (a REFERENCE to ``user``): who the fact counts for.
    owner: str = "owner_id"
    #: The fields that can place a fact in a period (every timestamp or date a goal type may use).
    timestamps: tuple[str, ...] = ()
    #: The input key of the CRM's id.
    external_id: str = "id"
    #: The input field whose value decides staleness (stored in ``source_updated_at``); the time
    #: received when left out.
    version: str = "updated_at"
    #: How a drill-down shows one: the fields holding a title, an amount (with ``currency``) and a time.
    title: str | None = None
    amount: str | None = None
    currency: str | None = None
    time: str | None = None
    description: str = ""
    #: Licence feature needed to write facts of this kind (None: always).
    feature: str | None = None
    #: Cross-field checks of one clean record: ``(field key, message)`` or ``(field key, message, code)``
    #: problems (codes as in docs/errors.md: INVALID by default, REQUIRED …).
    check: Callable[[Mapping[str, Any]], Sequence[tuple[str, ...]]] | None = None
    #: More column values computed from one clean record (e.g. hours to close), written with it.
    derive: Callable[[Mapping[str, Any]], Mapping[str, Any]] | None = None
    #: The core writes it with its own specialised path (deals, activities: stage history, COPY).
    builtin: bool = False

    def field(self, key: str) -> FactField | None:
        return next((f for f in self.fields if f.key == key), None)

    @property
    def value(self) -> str:
        """The key, as the core's own kinds (an enum) spell theirs: import reports and rejects files use it."""
        return self.key


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
    #: The actual is ``column`` of the period's latest fact (by its placement, then the greater
    #: ``fact_id``: the one entered later), not a sum. A level, like averages; never money.
    last: bool = False

    def __post_init__(self) -> None:
        if (self.average or self.last) and self.column is None:
            raise ValueError(f"measure {self.key!r}: an average or last value needs a column")
        if self.last and (self.money or self.average):
            raise ValueError(f"measure {self.key!r}: a last value is neither money nor an average")
        if self.last and self.cumulative:
            object.__setattr__(self, "cumulative", False)  # the latest value does not grow with time
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
    when any measure is money, each measure's ``column`` and each filter's ``column``; a goal-scoped
    source has ``goal_id`` instead of ``user_id``. The core does the bucketing, assignee resolution,
    filtering, conversion and aggregation.
    """

    key: str
    label: str
    category: Category
    description: str
    source: FactSource
    #: The fact kind (its key) whose ids the source's ``fact_id`` holds, for drill-down; None (FactKind.CUSTOM):
    #: facts of no registered kind (drill-down lists amounts and times only).
    fact_kind: str | None
    measures: tuple[Measure, ...] = (COUNT,)
    filters: tuple[FilterSpec, ...] = ()
    per_period_targets: bool = True
    #: Licence feature this goal type needs (None: always available).
    feature: str | None = None
    #: The source has an ``attributes`` column: custom dimensions can filter and split it.
    dimensions: bool = False
    #: Its actuals are values entered by hand for each goal (goalgraph.goals.entries: ``addGoalEntry``);
    #: its source is goal-scoped (``goal_id``).
    manual: bool = False

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
    #: Fact kinds (keys) whose attributes hold it.
    applies_to: tuple[str, ...] = (FactKind.DEAL,)
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
    fact_kinds: dict[str, FactKind] = field(default_factory=dict)
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

    def add_fact_kind(self, item: FactKind, plugin: str) -> None:
        if not isinstance(item, FactKind):
            raise TypeError(f"plugin {plugin!r} returned {item!r} from goalgraph_register_fact_kinds; expected FactKind")
        clash = next((k for k in self.fact_kinds.values() if k.plural == item.plural), None)
        if clash is not None:
            raise DuplicateKeyError(f"fact kind {item.key!r} (plugin {plugin!r}) uses the batch key {item.plural!r} of "
                                    f"fact kind {clash.key!r} (plugin {self.owners[('fact kind', clash.key)]!r})")
        self._add(self.fact_kinds, "fact kind", item, plugin)

    def fact_kind_by_name(self, text: str) -> FactKind | None:
        """A fact kind by its key or batch key, any case (``ticket``, ``tickets``, ``Ticket``)."""
        name = text.strip().lower()
        return self.fact_kinds.get(name) or next((k for k in self.fact_kinds.values() if k.plural == name), None)

    def filters_for(self, goal_type: GoalType) -> tuple[FilterSpec, ...]:
        """Every filter a goal type accepts: its own plus the dimensions that apply to its facts."""
        if not goal_type.dimensions:
            return goal_type.filters
        extra = tuple(d.as_filter() for d in self.dimensions.values() if goal_type.fact_kind in d.applies_to)
        return (*goal_type.filters, *extra)

    def check(self) -> None:
        """Cross-checks after registration: features and fact kinds named exist, fact kinds are well formed,
        dimension keys clash with no filter, and every goal type's source has the columns the contract needs."""
        for kind in self.fact_kinds.values():
            _check_fact_kind(kind, self.owners[("fact kind", kind.key)], self)
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
            owner = self.owners[("goal type", goal_type.key)]
            if goal_type.fact_kind is not None and goal_type.fact_kind not in self.fact_kinds:
                raise ValueError(f"goal type {goal_type.key!r} (plugin {owner!r}) names fact kind {goal_type.fact_kind!r}, "
                                 "which no plugin registers")
            if goal_type.feature is not None and goal_type.feature not in self.features:
                owner = self.owners[("goal type", goal_type.key)]
                raise ValueError(
                    f"goal type {goal_type.key!r} (plugin {owner!r}) needs feature {goal_type.feature!r}, "
                    "which no plugin registers"
                )
        for goal_type in self.goal_types.values():
            check_source(goal_type, self.owners[("goal type", goal_type.key)])


def _check_fact_kind(kind: FactKind, plugin: str, registry: Registry) -> None:
    """A fact kind's declaration is consistent with itself and its model; fails naming the plugin and field."""
    where = f"fact kind {kind.key!r} (plugin {plugin!r})"
    columns = set(getattr(getattr(kind.model, "__table__", None), "columns", {}).keys())
    for needed in ("id", "external_id", "source_updated_at"):
        if needed not in columns:
            raise ValueError(f"{where}: its model has no column {needed!r}")
    keys = [f.key for f in kind.fields]
    if len(set(keys)) != len(keys) or kind.external_id in keys or kind.version in keys:
        raise ValueError(f"{where}: field keys must be unique and differ from {kind.external_id!r} and {kind.version!r}")
    for spec in kind.fields:
        if spec.attr not in columns:
            raise ValueError(f"{where}: field {spec.key!r} has no column {spec.attr!r} in table {kind.model.__tablename__}")
        if spec.type is FieldType.CHOICE and not spec.choices:
            raise ValueError(f"{where}: field {spec.key!r} is a CHOICE without choices")
        if spec.type is FieldType.REFERENCE:
            target = spec.references
            if target not in CORE_REFERENCES and target not in registry.fact_kinds:
                raise ValueError(f"{where}: field {spec.key!r} references {target!r}, which is neither one of "
                                 f"{', '.join(CORE_REFERENCES)} nor a registered fact kind")
    owner = kind.field(kind.owner)
    if owner is None or owner.type is not FieldType.REFERENCE or owner.references != "user":
        raise ValueError(f"{where}: owner {kind.owner!r} must be a REFERENCE field to user")
    for name in (*kind.timestamps, kind.title, kind.amount, kind.currency, kind.time):
        if name is not None and kind.field(name) is None:
            raise ValueError(f"{where}: names field {name!r}, which it does not declare")
    for name in kind.timestamps:
        if kind.field(name).type not in (FieldType.TIMESTAMP, FieldType.DATE):  # type: ignore[union-attr]
            raise ValueError(f"{where}: timestamp {name!r} is neither a TIMESTAMP nor a DATE field")


def source_columns(goal_type: GoalType) -> dict[str, Any]:
    """The labelled columns of a goal type's source (label → column), built without the database."""
    query = goal_type.source(FactQuery(goal_type.key))
    return {c.key: c for c in query.selected_columns}


def check_source(goal_type: GoalType, plugin: str) -> None:
    """The source provides every label the contract needs, with a plausible type; fails naming the column."""
    from sqlalchemy import Date, DateTime, Numeric, Integer, Float  # local: registry stays importable cheaply

    where = f"goal type {goal_type.key!r} (plugin {plugin!r})"
    try:
        columns = source_columns(goal_type)
    except Exception as exc:  # noqa: BLE001 - a broken source must name its goal type
        raise ValueError(f"{where}: its source failed to build: {exc}") from exc
    needed = [FACT_ID]
    needed += [m.column for m in goal_type.measures if m.column is not None]
    needed += [f.column for f in goal_type.filters]
    if any(m.money for m in goal_type.measures):
        needed.append(CURRENCY)
    if goal_type.dimensions:
        needed.append(ATTRIBUTES)
    for label in needed:
        if label not in columns:
            raise ValueError(f"{where}: its source has no column labelled {label!r} "
                             f"(it has {', '.join(columns) or 'none'})")
    if USER_ID not in columns and GOAL_ID not in columns:
        raise ValueError(f"{where}: its source needs a column labelled {USER_ID!r} (the credited user) or "
                         f"{GOAL_ID!r} (facts of one goal)")
    if OCCURRED_AT not in columns and OCCURRED_ON not in columns:
        raise ValueError(f"{where}: its source needs a column labelled {OCCURRED_AT!r} or {OCCURRED_ON!r}")

    def typed(label: str, *types: type, what: str) -> None:
        column = columns.get(label)
        kind = getattr(column, "type", None)
        if column is None or kind is None or type(kind).__name__ == "NullType":
            return
        impl = getattr(kind, "impl_instance", None) or getattr(kind, "impl", None)  # TypeDecorators (Money, UTCDateTime)
        if not isinstance(kind, types) and not isinstance(impl, types):
            raise ValueError(f"{where}: source column {label!r} is {kind!r}; {what} is needed")

    typed(OCCURRED_AT, DateTime, what="a timestamp")
    typed(OCCURRED_ON, Date, what="a date")
    for measure in goal_type.measures:
        if measure.column is not None:
            typed(measure.column, Numeric, Integer, Float, what="a number")
