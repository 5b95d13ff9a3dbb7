"""Exchange rates as the engine converts with them: read once per request, looked up in Python.

The rate in force for a fact is the newest stored rate of its currency pair dated on or before
the fact's local date, in either direction (a direct rate multiplies, an inverse one divides;
when both exist the newer wins, the direct one on a tie). Facts already in the goal's currency
need none; facts without a rate are reported as unconverted.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from goalgraph.db.models import ExchangeRate
from goalgraph.periods import Calendar, local_midnight


@dataclass
class RateTable:
    """The stored rates touching some currencies, indexed for look-ups by date."""

    #: (currency, quote currency) → (sorted valid-from dates, rates in the same order).
    pairs: dict[tuple[str, str], tuple[list[date], list[Decimal]]] = field(default_factory=dict)
    #: Every distinct valid-from date, sorted: the bounds of the rate epochs (see :meth:`epoch_day`).
    epochs: list[date] = field(default_factory=list)

    def _latest(self, pair: tuple[str, str], day: date) -> tuple[date, Decimal] | None:
        found = self.pairs.get(pair)
        if found is None:
            return None
        dates, rates = found
        i = bisect_right(dates, day)
        return (dates[i - 1], rates[i - 1]) if i else None

    def convert(self, amount: Decimal, fact_cur: str | None, goal_cur: str | None, day: date | None) -> Decimal | None:
        """``amount`` in ``goal_cur`` at the rate in force on ``day``; None when no rate is known."""
        if fact_cur == goal_cur:
            return amount
        if day is None or fact_cur is None or goal_cur is None:
            return None
        direct = self._latest((fact_cur, goal_cur), day)
        inverse = self._latest((goal_cur, fact_cur), day)
        if direct is not None and (inverse is None or direct[0] >= inverse[0]):
            return amount * direct[1]
        if inverse is not None:
            return amount / inverse[1]
        return None

    def epoch_starts(self, time_zone: str) -> list[datetime]:
        """The instants the epochs start at in ``time_zone``: local midnight of each epoch date."""
        cal = Calendar(time_zone, 0, 1)
        out = []
        for day in self.epochs:
            try:
                out.append(local_midnight(cal, day))
            except ValueError:  # a date at the edge of the calendar: no fact is that early or late
                out.append(datetime.min.replace(tzinfo=timezone.utc) if day.year < 2 else
                           datetime.max.replace(tzinfo=timezone.utc))
        return out

    def epoch_day(self, epoch: int | None) -> date | None:
        """The first day of rate epoch ``epoch`` (how many epoch bounds are on or before a day); None for 0.

        Every rate of every pair starts on an epoch bound, so the rate in force on any day of an
        epoch is the one in force on its first day.
        """
        if not epoch:
            return None
        return self.epochs[epoch - 1]


async def load_rates(session: AsyncSession, currencies: Iterable[str]) -> RateTable:
    """Every stored rate with one of ``currencies`` on either side (one statement)."""
    wanted = sorted(set(currencies))
    table = RateTable()
    if not wanted:
        return table
    rows = await session.execute(
        select(ExchangeRate.currency, ExchangeRate.quote_currency, ExchangeRate.valid_from, ExchangeRate.rate)
        .where(or_(ExchangeRate.currency.in_(wanted), ExchangeRate.quote_currency.in_(wanted)))
        .order_by(ExchangeRate.currency, ExchangeRate.quote_currency, ExchangeRate.valid_from)
    )
    epochs: set[date] = set()
    for currency, quote, valid_from, rate in rows:
        day = as_date(valid_from)
        dates, rates = table.pairs.setdefault((currency, quote), ([], []))
        dates.append(day)
        rates.append(Decimal(rate))
        epochs.add(day)
    table.epochs = sorted(epochs)
    return table


def as_date(value: Any) -> date | None:
    """A date from what a driver returns for a DATE (a date, or ISO text on SQLite)."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])
