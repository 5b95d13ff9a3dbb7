"""The organisation's settings: read with defaults, update with validation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from goalgraph import clock, staleness
from goalgraph.currencies import is_currency
from goalgraph.db.models import Organisation
from goalgraph.errors import FactError, IngestRejected
from goalgraph.inputs import InputRefused, check_time_zone

ORGANISATION_ID = 1
#: Settings that move period bounds: changing any drops every stored result and marks every goal (goalgraph.staleness).
CALENDAR_FIELDS = ("time_zone", "week_start", "fiscal_year_start_month")


@dataclass(frozen=True)
class OrganisationSettings:
    """Plain values of the organisation row; what period arithmetic needs."""

    name: str = "My organisation"
    default_currency: str = "EUR"
    time_zone: str = "UTC"
    week_start: int = 0
    fiscal_year_start_month: int = 1
    updated_at: datetime | None = None


async def get_organisation(session: AsyncSession) -> OrganisationSettings:
    """The stored settings, or the defaults before anyone saved them."""
    row = await session.get(Organisation, ORGANISATION_ID)
    if row is None:
        return OrganisationSettings()
    return OrganisationSettings(
        name=row.name,
        default_currency=row.default_currency,
        time_zone=row.time_zone,
        week_start=row.week_start,
        fiscal_year_start_month=row.fiscal_year_start_month,
        updated_at=row.updated_at,
    )


def _validate(values: OrganisationSettings) -> list[FactError]:
    errors: list[FactError] = []
    if not values.name.strip() or len(values.name) > 200:
        errors.append(FactError(("name",), "must be 1–200 characters"))
    if not is_currency(values.default_currency):
        errors.append(FactError(("default_currency",), f"{values.default_currency!r} is not an ISO 4217 currency code",
                                "UNKNOWN_CURRENCY"))
    try:
        check_time_zone(values.time_zone)
    except InputRefused as exc:
        errors.append(FactError(("time_zone",), str(exc)))
    if not 0 <= values.week_start <= 6:
        errors.append(FactError(("week_start",), f"{values.week_start} is outside 0 (Monday)–6 (Sunday)"))
    if not 1 <= values.fiscal_year_start_month <= 12:
        errors.append(FactError(("fiscal_year_start_month",), f"{values.fiscal_year_start_month} is not a month 1–12"))
    return errors


async def update_organisation(session: AsyncSession, **changes: object) -> OrganisationSettings:
    """Apply the given changes (None values are left alone); raises IngestRejected when invalid.

    A change of the calendar (time zone, week start, fiscal-year start) drops every stored result and
    marks every goal in the same transaction: they were measured on the old period bounds.
    """
    current = await get_organisation(session)
    given = {k: v for k, v in changes.items() if v is not None}
    if isinstance(given.get("default_currency"), str):
        given["default_currency"] = given["default_currency"].strip().upper()
    merged = OrganisationSettings(**{**current.__dict__, **given})
    errors = _validate(merged)
    if errors:
        raise IngestRejected(errors)
    now = clock.now()
    row = await session.get(Organisation, ORGANISATION_ID)
    if row is None:
        row = Organisation(id=ORGANISATION_ID)
        session.add(row)
    row.name = merged.name.strip()
    row.default_currency = merged.default_currency
    row.time_zone = merged.time_zone
    row.week_start = merged.week_start
    row.fiscal_year_start_month = merged.fiscal_year_start_month
    row.updated_at = now
    if any(getattr(current, f) != getattr(merged, f) for f in CALENDAR_FIELDS):
        await staleness.forget(session, None)  # every period's bounds may have moved
        await staleness.mark(session, None, thaw=True)
    await session.flush()
    return OrganisationSettings(**{**merged.__dict__, "name": row.name, "updated_at": now})
