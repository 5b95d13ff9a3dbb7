"""goalgraph-quotes: a third-party goal-type plugin — "quotes sent".

goalgraph finds this module through the ``goalgraph`` entry-point group (see pyproject.toml)
and calls the hook implementations below. It registers:

* the licence feature ``QUOTES``;
* the fact kind ``quote`` (batch key ``quotes``), stored in the plugin's own ``quotes`` table: the
  core's fact pipeline then ingests quotes over GraphQL (``ingestFacts(input: {facts: [{kind: "quote",
  records: [...]}]})``) and ``goalgraph import`` (NDJSON lines with ``"kind": "quote"``), idempotently and
  out of order, marks the goals they move, pushes them live and fires ``goalgraph_facts_ingested``;
* the goal type ``QUOTES_SENT`` (measures ``COUNT`` and ``VALUE``, filter ``status``) over that table;
* the directory of its own Alembic migrations, which create that table.

The guide docs/plugins/writing-a-plugin.md in goalgraph's repository builds this plugin step by step.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import Select, select

from goalgraph.hookspecs import hookimpl
from goalgraph.registry import (
    COUNT,
    Category,
    FactField,
    FactKind,
    FactQuery,
    Feature,
    FieldType,
    FilterKind,
    FilterSpec,
    GoalType,
    Measure,
)
from goalgraph_quotes.models import STATUSES, Quote, QuoteStatus

__version__ = "0.2.0"
__all__ = ["FEATURE", "GOAL_TYPE", "MIGRATIONS", "QUOTE", "Quote", "QuoteStatus", "quotes_sent"]

#: The licence feature a goal on quotes needs.
FEATURE = "QUOTES"
#: The goal type's key.
GOAL_TYPE = "QUOTES_SENT"
#: This plugin's Alembic version directory (its own branch, label ``quotes``).
MIGRATIONS = Path(__file__).parent / "migrations"

VALUE = Measure("VALUE", "Quoted value", column="value", money=True)
STATUS = FilterSpec(
    "status", "Status", column="status", kind=FilterKind.TEXT,
    choices=(QuoteStatus.SENT.value, QuoteStatus.ACCEPTED.value, QuoteStatus.DECLINED.value),
    description="Only quotes whose current status is one of these (all sent quotes when left out).",
)


def _check(quote: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """A quote that is more than a draft was sent: it needs ``sent_at``."""
    status = quote["status"]
    if status not in (None, QuoteStatus.DRAFT.value) and quote["sent_at"] is None:
        return [("sent_at", f"is required for a quote with status {status}", "REQUIRED")]
    return []


def _status(quote: Mapping[str, Any]) -> dict[str, Any]:
    """Without a status a quote is SENT once it has ``sent_at``, else a DRAFT."""
    status = quote["status"] or (QuoteStatus.SENT.value if quote["sent_at"] is not None else QuoteStatus.DRAFT.value)
    return {"status": status}


QUOTE = FactKind(
    key="quote", label="Quote", plural="quotes", model=Quote, feature=FEATURE,
    description="A quote (offer) a salesperson sent, optionally about a deal.",
    fields=(
        FactField("owner_id", "Owner", FieldType.REFERENCE, required=True, references="user"),
        FactField("deal_id", "Deal", FieldType.REFERENCE, references="deal"),
        FactField("amount", "Amount", FieldType.DECIMAL, required=True),
        FactField("currency", "Currency", FieldType.CURRENCY, required=True),
        FactField("sent_at", "Sent at", FieldType.TIMESTAMP, description="When it was sent; none for drafts."),
        FactField("status", "Status", FieldType.CHOICE, choices=STATUSES,
                  description="Default SENT when sent_at is given, else DRAFT."),
    ),
    timestamps=("sent_at",), amount="amount", currency="currency", time="sent_at",
    check=_check, derive=_status,
)


def quotes_sent(_: FactQuery) -> Select:
    """Every quote that was sent, placed by when it was sent, credited to its owner."""
    return select(
        Quote.id.label("fact_id"),
        Quote.owner_id.label("user_id"),
        Quote.sent_at.label("occurred_at"),
        Quote.currency.label("currency"),
        Quote.amount.label("value"),
        Quote.status.label("status"),
    ).where(Quote.sent_at.is_not(None), Quote.status != QuoteStatus.DRAFT.value)


@hookimpl
def goalgraph_register_features() -> list[Feature]:
    return [Feature(FEATURE, "Quote goals", "Goals on quotes sent: how many, and their value.")]


@hookimpl
def goalgraph_register_fact_kinds() -> list[FactKind]:
    return [QUOTE]


@hookimpl
def goalgraph_register_goal_types() -> list[GoalType]:
    return [
        GoalType(
            key=GOAL_TYPE, label="Quotes sent", category=Category.CUSTOM, fact_kind=QUOTE.key,
            description="Quotes sent in the period, by the time they were sent, credited to their owner.",
            source=quotes_sent, measures=(COUNT, VALUE), filters=(STATUS,), feature=FEATURE,
        ),
    ]


@hookimpl
def goalgraph_register_migrations() -> list[str]:
    return [str(MIGRATIONS)]
