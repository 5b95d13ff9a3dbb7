"""Dated exchange rates: stored per currency pair, upserted by (currency, quote, valid from).

Adding or changing a rate marks, in the same transaction, the stored results of money goals from
its first day on stale, frozen ones too (goalgraph.staleness); re-sending a stored rate unchanged
marks nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from goalgraph.db.dialect import conflict_insert
from goalgraph.db.models import ExchangeRate
from goalgraph.errors import FactError, IngestRejected
from goalgraph.ingest.validate import FieldReader
from goalgraph import clock, staleness


def parse_rates(raw: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Validate rates (``currency``, ``quote_currency``, ``rate`` > 0, ``valid_from`` date)."""
    errors: list[FactError] = []
    out: list[dict[str, Any]] = []
    for i, item in enumerate(raw):
        start = len(errors)
        row = FieldReader(item, ("rates", i), errors)
        rec = {
            "currency": row.currency("currency"),
            "quote_currency": row.currency("quote_currency"),
            "valid_from": row.day("valid_from", required=True),
        }
        value = row.get("rate", True)
        try:
            rate = Decimal(str(value)) if value is not None else None
            if rate is not None and (not rate.is_finite() or rate <= 0 or rate > Decimal("1e9")):
                row.fail("rate", f"{value} must be a positive number below 1,000,000,000")
        except InvalidOperation:
            row.fail("rate", f"{value!r} is not a number")
        row.finish()
        if rec["currency"] and rec["currency"] == rec["quote_currency"]:
            row.fail("quote_currency", "must differ from currency")
        if len(errors) == start:
            out.append({**rec, "rate": rate})
    if errors:
        raise IngestRejected(errors)
    return out


async def set_rates(session: AsyncSession, raw: Iterable[Mapping[str, Any]]) -> int:
    """Upsert rates inside the caller's transaction; returns how many were written."""
    rates = parse_rates(raw)
    if not rates:
        return 0
    changed_from = await _first_changed_day(session, rates)
    if changed_from is not None:
        await staleness.mark_money_from(session, changed_from, now=clock.now())
    table = ExchangeRate.__table__
    stmt = conflict_insert(session.bind.dialect.name, table)
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.currency, table.c.quote_currency, table.c.valid_from],
        set_={"rate": stmt.excluded.rate},
    )
    await session.execute(stmt, rates)
    return len(rates)


async def _first_changed_day(session: AsyncSession, rates: list[dict[str, Any]]) -> date | None:
    """The earliest ``valid_from`` among rates that are new or differ from the stored ones."""
    stored = {(r.currency, r.quote_currency, r.valid_from): r.rate for r in await session.scalars(
        select(ExchangeRate).where(ExchangeRate.currency.in_({r["currency"] for r in rates}),
                                   ExchangeRate.valid_from.in_({r["valid_from"] for r in rates})))}
    changed = [r["valid_from"] for r in rates
               if stored.get((r["currency"], r["quote_currency"], r["valid_from"])) != r["rate"]]
    return min(changed, default=None)
