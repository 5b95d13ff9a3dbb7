"""goalgraph-quotes: a third-party goal-type plugin — "quotes sent".

goalgraph finds this module through the ``goalgraph`` entry-point group (see pyproject.toml)
and calls the hook implementations below. It registers:

* the licence feature ``QUOTES``;
* the goal type ``QUOTES_SENT`` (measures ``COUNT`` and ``VALUE``, filter ``status``), whose facts
  come from the plugin's own ``quotes`` table;
* the directory of its own Alembic migrations, which create that table.

Quotes get in through :func:`goalgraph_quotes.facts.upsert_quotes`. The guide
docs/plugins/writing-a-plugin.md in goalgraph's repository builds this plugin step by step.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Select, select

from goalgraph.hookspecs import hookimpl
from goalgraph.registry import (
    COUNT,
    Category,
    FactKind,
    FactQuery,
    Feature,
    FilterKind,
    FilterSpec,
    GoalType,
    Measure,
)
from goalgraph_quotes.facts import QuoteError, upsert_quotes
from goalgraph_quotes.models import Quote, QuoteStatus

__version__ = "0.1.0"
__all__ = ["FEATURE", "GOAL_TYPE", "MIGRATIONS", "Quote", "QuoteError", "QuoteStatus", "quotes_sent", "upsert_quotes"]

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
def goalgraph_register_goal_types() -> list[GoalType]:
    return [
        GoalType(
            key=GOAL_TYPE, label="Quotes sent", category=Category.CUSTOM, fact_kind=FactKind.CUSTOM,
            description="Quotes sent in the period, by the time they were sent, credited to their owner.",
            source=quotes_sent, measures=(COUNT, VALUE), filters=(STATUS,), feature=FEATURE,
        ),
    ]


@hookimpl
def goalgraph_register_migrations() -> list[str]:
    return [str(MIGRATIONS)]
