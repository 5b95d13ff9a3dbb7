"""Turn raw incoming facts (GraphQL inputs or file rows) into clean records.

Every parser takes a mapping with snake_case keys — values may be strings (CSV),
JSON scalars (NDJSON) or already-typed Python values (GraphQL) — and returns a
normalised dict, or ``None`` after appending :class:`FactError` s naming each bad
field. References (owner, stage …) stay external ids here; :mod:`goalgraph.ingest.upsert`
resolves them.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from goalgraph.currencies import is_currency
from goalgraph.db.models import EXTERNAL_ID_LENGTH, DealStatus
from goalgraph.errors import FactError, Path
from goalgraph.inputs import MAX_AMOUNT, InputRefused, amount_problem, check_json, text_problem
from goalgraph.registry import fold_case

EARLIEST = datetime(1970, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(2100, 1, 1, tzinfo=timezone.utc)
MAX_ATTRIBUTES = 50


class Kind(str, enum.Enum):
    """The kinds of fact goalgraph stores, in the order a batch applies them."""

    USER = "user"
    TEAM = "team"
    PIPELINE = "pipeline"
    STAGE = "stage"
    DEAL = "deal"
    ACTIVITY = "activity"

    @classmethod
    def parse(cls, text: str) -> "Kind":
        """Accept ``deal``, ``deals``, ``Deal`` …"""
        key = text.strip().lower()
        key = {"users": "user", "teams": "team", "pipelines": "pipeline", "stages": "stage", "deals": "deal",
               "activities": "activity"}.get(key, key)
        return cls(key)


_MISSING = object()


class FieldReader:
    """Reads typed fields from one raw fact, collecting errors instead of raising."""

    __slots__ = ("raw", "path", "errors", "seen")

    def __init__(self, raw: Mapping[str, Any], path: Path, errors: list[FactError]) -> None:
        self.raw = raw
        self.path = path
        self.errors = errors
        self.seen: set[str] = set()

    def fail(self, name: str, message: str, code: str = "INVALID") -> None:
        self.errors.append(FactError((*self.path, name), message, code))

    def get(self, name: str, required: bool) -> Any:
        self.seen.add(name)
        value = self.raw.get(name, _MISSING)
        if isinstance(value, str) and (problem := text_problem(value)) is not None:
            self.fail(name, problem)
            return None
        if value is _MISSING or value is None or value == "":
            if required:
                self.fail(name, "is required", "REQUIRED")
            return None
        return value

    def string(self, name: str, *, required: bool = False, max_length: int = 200) -> str | None:
        value = self.get(name, required)
        if value is None:
            return None
        if not isinstance(value, str):
            if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
                self.fail(name, f"must be a string, got {type(value).__name__}")
                return None
            value = str(value)
        value = value.strip()
        if not value:
            if required:
                self.fail(name, "is required", "REQUIRED")
            return None
        if len(value) > max_length:
            self.fail(name, f"is {len(value)} characters long; at most {max_length} are accepted")
            return None
        return value

    def external_id(self, name: str, *, required: bool = True) -> str | None:
        return self.string(name, required=required, max_length=EXTERNAL_ID_LENGTH)

    def id_list(self, name: str) -> list[str]:
        value = self.get(name, False)
        if value is None:
            return []
        if isinstance(value, str):  # CSV: "u1;u2"
            items: list[Any] = [v for v in value.replace(",", ";").split(";") if v.strip()]
        elif isinstance(value, (list, tuple)):
            items = list(value)
        else:
            self.fail(name, f"must be a list of ids, got {type(value).__name__}")
            return []
        out: list[str] = []
        for i, item in enumerate(items):
            if isinstance(item, (int, str)) and not isinstance(item, bool) and str(item).strip():
                text = str(item).strip()
                if (problem := text_problem(text)) is not None:
                    self.fail(name, f"item {i} {problem}")
                elif len(text) > EXTERNAL_ID_LENGTH:
                    self.fail(name, f"item {i} is longer than {EXTERNAL_ID_LENGTH} characters")
                elif text not in out:
                    out.append(text)
            else:
                self.fail(name, f"item {i} must be a non-empty id, got {item!r}")
        return out

    def timestamp(self, name: str, *, required: bool = False) -> datetime | None:
        value = self.get(name, required)
        if value is None:
            return None
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value.strip())
            except ValueError:
                self.fail(name, f"{value!r} is not an ISO 8601 timestamp (e.g. 2026-03-01T09:30:00+01:00)")
                return None
        elif isinstance(value, date) and not isinstance(value, datetime):
            self.fail(name, f"{value.isoformat()!r} is a date; a timestamp with a time and offset is needed")
            return None
        if not isinstance(value, datetime):
            self.fail(name, f"must be an ISO 8601 timestamp, got {type(value).__name__}")
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            self.fail(name, f"{value.isoformat()!r} has no time zone offset (add Z or +01:00)")
            return None
        if not EARLIEST <= value < LATEST:
            self.fail(name, f"{value.isoformat()} is outside the accepted range 1970–2099")
            return None
        return value.astimezone(timezone.utc)

    def day(self, name: str, *, required: bool = False) -> date | None:
        value = self.get(name, required)
        if value is None:
            return None
        if isinstance(value, datetime):
            value = value.date()
        elif isinstance(value, str):
            try:
                value = date.fromisoformat(value.strip())
            except ValueError:
                self.fail(name, f"{value!r} is not an ISO 8601 date (YYYY-MM-DD)")
                return None
        if not isinstance(value, date):
            self.fail(name, f"must be a date, got {type(value).__name__}")
            return None
        if not EARLIEST.date() <= value < LATEST.date():
            self.fail(name, f"{value.isoformat()} is outside the accepted range 1970–2099")
            return None
        return value

    def amount(self, name: str, *, required: bool = False, default: Decimal | None = None) -> Decimal | None:
        value = self.get(name, required)
        if value is None:
            return default
        if isinstance(value, bool):
            self.fail(name, "must be a number, got a boolean")
            return None
        try:
            amount = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
        except InvalidOperation:
            self.fail(name, f"{value!r} is not a number")
            return None
        problem = amount_problem(amount)
        if problem is None:
            return amount
        self.fail(name, problem)
        return None

    def integer(self, name: str, *, low: int, high: int, required: bool = False, default: int | None = None) -> int | None:
        value = self.get(name, required)
        if value is None:
            return default
        try:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            number = int(value)
        except (TypeError, ValueError):
            self.fail(name, f"{value!r} is not a whole number")
            return None
        if not low <= number <= high:
            self.fail(name, f"{number} is outside {low}–{high}")
            return None
        return number

    def boolean(self, name: str, default: bool) -> bool:
        value = self.get(name, False)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in {"true", "1", "yes"}:
            return True
        if text in {"false", "0", "no"}:
            return False
        self.fail(name, f"{value!r} is not a boolean (true/false)")
        return default

    def currency(self, name: str, *, required: bool = True) -> str | None:
        code = self.string(name, required=required, max_length=8)
        if code is None:
            return None
        code = code.upper()
        if not is_currency(code):
            self.fail(name, f"{code!r} is not an ISO 4217 currency code", "UNKNOWN_CURRENCY")
            return None
        return code

    def choice(self, name: str, enum_type: type[enum.Enum], default: enum.Enum) -> Any:
        value = self.get(name, False)
        if value is None:
            return default
        if isinstance(value, enum_type):
            return value
        try:
            return enum_type(str(value).strip().upper())
        except ValueError:
            allowed = ", ".join(m.value for m in enum_type)
            self.fail(name, f"{value!r} is not one of {allowed}")
            return None

    def attributes(self, name: str = "attributes") -> dict[str, Any]:
        value = self.get(name, False)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.fail(name, f"must be an object of custom attributes, got {type(value).__name__}")
            return {}
        if len(value) > MAX_ATTRIBUTES:
            self.fail(name, f"has {len(value)} entries; at most {MAX_ATTRIBUTES} are accepted")
            return {}
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str) or not key or len(key) > 64:
                self.fail(name, f"attribute name {str(key)[:70]!r} must be a string of 1–64 characters")
            elif (problem := text_problem(key)) is not None:
                self.fail(name, f"an attribute name {problem}")
            elif item is not None and not isinstance(item, (str, int, float, bool)):
                self.fail(name, f"attribute {key!r} must be a string, number or boolean")
            elif isinstance(item, str) and len(item) > 500:
                self.fail(name, f"attribute {key!r} is longer than 500 characters")
            else:
                try:
                    check_json(item, max_depth=0)  # the input rules: valid text, finite 64-bit numbers
                except InputRefused as exc:
                    self.fail(name, f"attribute {key!r}: {exc}")
                else:
                    out[key] = item
        return out

    def finish(self, allowed_extra: frozenset[str] = frozenset()) -> None:
        for key in self.raw:
            if key not in self.seen and key not in allowed_extra:
                self.fail(key, "is not a known field", "UNKNOWN_FIELD")


def _source_time(row: FieldReader, received_at: datetime) -> datetime:
    return row.timestamp("updated_at") or received_at


def parse_user(raw: Mapping[str, Any], path: Path, errors: list[FactError], received_at: datetime) -> dict[str, Any] | None:
    """A user: ``id``, ``name``, optional ``email``, ``active``, ``updated_at``."""
    start = len(errors)
    row = FieldReader(raw, path, errors)
    rec = {
        "external_id": row.external_id("id"),
        "name": row.string("name", required=True),
        "email": row.string("email", max_length=320),
        "active": row.boolean("active", True),
        "source_updated_at": _source_time(row, received_at),
    }
    row.finish()
    return rec if len(errors) == start else None


def parse_team(raw: Mapping[str, Any], path: Path, errors: list[FactError], received_at: datetime) -> dict[str, Any] | None:
    """A team: ``id``, ``name``, ``member_ids``, ``leader_ids`` (leaders are members too)."""
    start = len(errors)
    row = FieldReader(raw, path, errors)
    members = row.id_list("member_ids")
    leaders = row.id_list("leader_ids")
    rec = {
        "external_id": row.external_id("id"),
        "name": row.string("name", required=True),
        "member_ids": members + [u for u in leaders if u not in members],
        "leader_ids": leaders,
        "source_updated_at": _source_time(row, received_at),
    }
    row.finish()
    return rec if len(errors) == start else None


def parse_stage(raw: Mapping[str, Any], path: Path, errors: list[FactError], received_at: datetime) -> dict[str, Any] | None:
    """A stage: ``id``, ``pipeline_id``, ``name``, ``position``, ``probability`` (0–100)."""
    start = len(errors)
    row = FieldReader(raw, path, errors)
    rec = {
        "external_id": row.external_id("id"),
        "pipeline_ref": row.external_id("pipeline_id"),
        "name": row.string("name", required=True),
        "position": row.integer("position", low=0, high=10_000, required=True),
        "probability": row.integer("probability", low=0, high=100, required=True),
        "source_updated_at": _source_time(row, received_at),
    }
    row.finish()
    return rec if len(errors) == start else None


def parse_pipeline(
    raw: Mapping[str, Any], path: Path, errors: list[FactError], received_at: datetime
) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    """A pipeline with its stages in order: ``id``, ``name``, ``stages`` (list, optional)."""
    start = len(errors)
    row = FieldReader(raw, path, errors)
    rec = {
        "external_id": row.external_id("id"),
        "name": row.string("name", required=True),
        "source_updated_at": _source_time(row, received_at),
    }
    stages_raw = row.get("stages", False) or []
    stages: list[dict[str, Any]] = []
    if not isinstance(stages_raw, list):
        row.fail("stages", "must be a list of stages")
    else:
        for i, stage_raw in enumerate(stages_raw):
            if not isinstance(stage_raw, Mapping):
                errors.append(FactError((*path, "stages", i), "must be an object"))
                continue
            merged = {"pipeline_id": rec["external_id"], "position": i, "updated_at": rec["source_updated_at"], **stage_raw}
            stage = parse_stage(merged, (*path, "stages", i), errors, received_at)
            if stage is not None:
                if stage["pipeline_ref"] != rec["external_id"]:
                    errors.append(FactError((*path, "stages", i, "pipeline_id"), "must be the enclosing pipeline's id"))
                stages.append(stage)
    row.finish()
    return (rec, stages) if len(errors) == start else None


_DEAL_FIELDS = frozenset({
    "id", "title", "value", "currency", "cost", "owner_id", "pipeline_id", "stage_id", "status", "added_at",
    "won_at", "lost_at", "expected_close_date", "stage_entered_at", "attributes", "updated_at", "stage_history",
})
_BAD_CHARACTER = re.compile("[\x00\ud800-\udfff]")  # as goalgraph.inputs.text_problem
_EARLIEST_DAY, _LATEST_DAY = EARLIEST.date(), LATEST.date()
_STATUSES = {m.value: m for m in DealStatus}
_UTC = timezone.utc


def _plain_timestamp(value: str) -> datetime | None:
    """A timestamp string that FieldReader.timestamp accepts, converted as it does; None for anything else."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if moment.tzinfo is None or moment.utcoffset() is None or not EARLIEST <= moment < LATEST:
        return None
    return moment.astimezone(_UTC)


def _plain_deal(raw: Mapping[str, Any], received_at: datetime) -> dict[str, Any] | None:
    """The common deal — every field a plain JSON string or number, nothing wrong — read in one pass.

    Returns exactly what the field-by-field reading of :func:`parse_deal` returns for it, or None
    when the deal is anything else (a problem, a typed value from GraphQL, stage history): then the
    field-by-field reading decides and explains. tests/test_import.py holds the two together."""
    if type(raw) is not dict or not _DEAL_FIELDS.issuperset(raw):
        return None
    get = raw.get
    ext, title, currency, owner, stage = get("id"), get("title"), get("currency"), get("owner_id"), get("stage_id")
    added = get("added_at")
    if (type(ext) is not str or type(title) is not str or type(currency) is not str or type(owner) is not str
            or type(stage) is not str or type(added) is not str or get("stage_history") is not None):
        return None
    pipeline, status, won, lost, updated, entered, close = (
        get("pipeline_id"), get("status"), get("won_at"), get("lost_at"), get("updated_at"),
        get("stage_entered_at"), get("expected_close_date"))
    texts = [ext, title, currency, owner, stage, added]
    for item in (pipeline, status, won, lost, updated, entered, close):
        if item is not None:
            if type(item) is not str or not item:
                return None
            texts.append(item)
    value, cost, attributes = get("value"), get("cost"), get("attributes")
    if attributes is None:
        attributes = {}
    elif type(attributes) is not dict or len(attributes) > MAX_ATTRIBUTES:
        return None
    for key, item in attributes.items():
        kind = type(item)
        if type(key) is not str or not 0 < len(key) <= 64:
            return None
        if kind is str:
            if len(item) > 500:
                return None
            texts.append(item)
        elif kind is int:
            if not -(2**63) <= item < 2**63:
                return None
        elif kind is float:
            if not math.isfinite(item):
                return None
        elif item is not None and kind is not bool:
            return None
        texts.append(key)
    if _BAD_CHARACTER.search("".join(texts)) is not None:
        return None
    ext, title, owner, stage = ext.strip(), title.strip(), owner.strip(), stage.strip()
    currency = currency.strip().upper()
    if (not 0 < len(ext) <= EXTERNAL_ID_LENGTH or not 0 < len(title) <= 300 or not 0 < len(owner) <= EXTERNAL_ID_LENGTH
            or not 0 < len(stage) <= EXTERNAL_ID_LENGTH or len(currency) > 8 or not is_currency(currency)):
        return None
    if pipeline is not None:
        pipeline = pipeline.strip()
        if not 0 < len(pipeline) <= EXTERNAL_ID_LENGTH:
            return None
    amounts: list[Decimal] = []
    for amount in (value, cost):
        if amount is None:
            amounts.append(Decimal(0))  # only cost may be missing: value is checked below
            continue
        kind = type(amount)
        if kind is not float and kind is not int and kind is not str:
            return None
        try:
            number = Decimal(str(amount).strip())
        except InvalidOperation:
            return None
        if amount_problem(number) is not None:
            return None
        amounts.append(number)
    if value is None:
        return None
    if status is None:
        deal_status = DealStatus.OPEN
    else:
        deal_status = _STATUSES.get(status.strip().upper())
        if deal_status is None:
            return None
    added_at = _plain_timestamp(added)
    if added_at is None:
        return None
    times: list[datetime | None] = []
    for text_value in (won, lost, entered, updated):
        if text_value is None:
            times.append(None)
            continue
        moment = _plain_timestamp(text_value)
        if moment is None:
            return None
        times.append(moment)
    won_at, lost_at, entered_at, updated_at = times
    if ((deal_status is DealStatus.WON and won_at is None) or (deal_status is DealStatus.LOST and lost_at is None)
            or (won_at is not None and won_at < added_at) or (lost_at is not None and lost_at < added_at)):
        return None
    close_date = None
    if close is not None:
        try:
            close_date = date.fromisoformat(close.strip())
        except ValueError:
            return None
        if not _EARLIEST_DAY <= close_date < _LATEST_DAY:
            return None
    return {
        "external_id": ext, "title": title, "value": amounts[0], "currency": currency, "cost": amounts[1],
        "owner_ref": owner, "pipeline_ref": pipeline, "stage_ref": stage, "status": deal_status,
        "added_at": added_at, "won_at": won_at, "lost_at": lost_at, "expected_close_date": close_date,
        "stage_entered_at": entered_at, "attributes": dict(attributes),
        "source_updated_at": updated_at or received_at, "stage_history": [],
    }


def parse_deal(raw: Mapping[str, Any], path: Path, errors: list[FactError], received_at: datetime) -> dict[str, Any] | None:
    """A deal; see docs/facts.md for every field."""
    plain = _plain_deal(raw, received_at)
    return plain if plain is not None else _read_deal(raw, path, errors, received_at)


def _read_deal(raw: Mapping[str, Any], path: Path, errors: list[FactError], received_at: datetime) -> dict[str, Any] | None:
    """A deal read field by field, naming every problem."""
    start = len(errors)
    row = FieldReader(raw, path, errors)
    value = row.amount("value", required=True)
    cost = row.amount("cost", default=Decimal(0))
    status = row.choice("status", DealStatus, DealStatus.OPEN)
    added_at = row.timestamp("added_at", required=True)
    won_at = row.timestamp("won_at")
    lost_at = row.timestamp("lost_at")
    rec = {
        "external_id": row.external_id("id"),
        "title": row.string("title", required=True, max_length=300),
        "value": value,
        "currency": row.currency("currency"),
        "cost": cost,
        "owner_ref": row.external_id("owner_id"),
        "pipeline_ref": row.external_id("pipeline_id", required=False),
        "stage_ref": row.external_id("stage_id"),
        "status": status,
        "added_at": added_at,
        "won_at": won_at,
        "lost_at": lost_at,
        "expected_close_date": row.day("expected_close_date"),
        "stage_entered_at": row.timestamp("stage_entered_at"),
        "attributes": row.attributes(),
        "source_updated_at": _source_time(row, received_at),
    }
    history = row.get("stage_history", False) or []
    rec["stage_history"] = []
    if not isinstance(history, list):
        row.fail("stage_history", "must be a list of {stage_id, entered_at}")
    for i, entry in enumerate(history if isinstance(history, list) else []):
        if not isinstance(entry, Mapping):
            errors.append(FactError((*path, "stage_history", i), "must be an object"))
            continue
        sub = FieldReader(entry, (*path, "stage_history", i), errors)
        stage_ref, entered = sub.external_id("stage_id"), sub.timestamp("entered_at", required=True)
        sub.finish()
        if stage_ref and entered:
            rec["stage_history"].append((stage_ref, entered))
    if status is DealStatus.WON and won_at is None:
        row.fail("won_at", "is required when status is WON", "REQUIRED")
    if status is DealStatus.LOST and lost_at is None:
        row.fail("lost_at", "is required when status is LOST", "REQUIRED")
    if cost is not None and value is not None and cost > MAX_AMOUNT:
        row.fail("cost", "is too large")
    for name in ("won_at", "lost_at"):
        moment = rec[name]
        if moment is not None and added_at is not None and moment < added_at:
            row.fail(name, f"{moment.isoformat()} is before added_at {added_at.isoformat()}")
    row.finish()
    return rec if len(errors) == start else None


def parse_activity(raw: Mapping[str, Any], path: Path, errors: list[FactError], received_at: datetime) -> dict[str, Any] | None:
    """An activity; ``done_at`` set means completed."""
    start = len(errors)
    row = FieldReader(raw, path, errors)
    rec = {
        "external_id": row.external_id("id"),
        "type": fold_case(row.string("type", required=True, max_length=64) or "") or None,
        "subject": row.string("subject", max_length=300) or "",
        "owner_ref": row.external_id("owner_id"),
        "deal_ref": row.external_id("deal_id", required=False),
        "added_at": row.timestamp("added_at", required=True),
        "due_at": row.timestamp("due_at"),
        "done_at": row.timestamp("done_at"),
        "attributes": row.attributes(),
        "source_updated_at": _source_time(row, received_at),
    }
    if rec["done_at"] is not None and rec["added_at"] is not None and rec["done_at"] < rec["added_at"]:
        row.fail("done_at", f"{rec['done_at'].isoformat()} is before added_at {rec['added_at'].isoformat()}")
    row.finish()
    return rec if len(errors) == start else None


Parser = Callable[[Mapping[str, Any], Path, list[FactError], datetime], Any]

PARSERS: dict[Kind, Parser] = {
    Kind.USER: parse_user,
    Kind.TEAM: parse_team,
    Kind.PIPELINE: parse_pipeline,
    Kind.STAGE: parse_stage,
    Kind.DEAL: parse_deal,
    Kind.ACTIVITY: parse_activity,
}
