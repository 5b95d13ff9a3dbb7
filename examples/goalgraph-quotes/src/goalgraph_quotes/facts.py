"""Getting quotes in: an idempotent, order-tolerant upsert, the same rules as goalgraph's own facts.

Call :func:`upsert_quotes` from whatever receives quotes from your CRM (a webhook handler, a
nightly script) inside a transaction::

    async with runtime.sessions() as session, session.begin():
        counts = await upsert_quotes(session, [
            {"id": "q-1", "owner_id": "alice", "deal_id": "d-7", "amount": "1200", "currency": "EUR",
             "sent_at": "2026-03-02T10:15:00+01:00", "status": "SENT", "updated_at": "2026-03-02T10:15:00+01:00"},
        ])

Rows use snake_case keys; ``owner_id`` and ``deal_id`` are the CRM's (external) ids of a user
and a deal goalgraph already holds. A quote is matched on its ``id``: sending it again updates
it, and a version whose ``updated_at`` is older than the stored one is ignored (webhooks arrive
out of order). A batch with any bad row raises
:class:`~goalgraph.errors.IngestRejected` listing every problem, and writes nothing
(the caller's transaction rolls back).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from goalgraph.db.models import Deal, User
from goalgraph.errors import FactError, IngestRejected
from goalgraph.ingest.validate import FieldReader
from goalgraph.progress.store import mark_facts
from goalgraph_quotes.models import Quote, QuoteStatus

#: What the upsert raises for a bad batch (goalgraph's own error type, so callers handle one).
QuoteError = IngestRejected


def _parse(raw: Mapping[str, Any], index: int, errors: list[FactError], received_at: datetime) -> dict[str, Any] | None:
    """One row, validated with goalgraph's own field reader (same messages and codes as core facts)."""
    row = FieldReader(raw, ("quotes", index), errors)
    before = len(errors)
    rec = {
        "external_id": row.external_id("id"),
        "owner": row.external_id("owner_id"),
        "deal": row.external_id("deal_id", required=False),
        "amount": row.amount("amount", required=True),
        "currency": row.currency("currency"),
        "sent_at": row.timestamp("sent_at"),
        "source_updated_at": row.timestamp("updated_at") or received_at,
    }
    default = QuoteStatus.SENT if rec["sent_at"] is not None else QuoteStatus.DRAFT
    status = row.choice("status", QuoteStatus, default)
    if status is not None and status is not QuoteStatus.DRAFT and rec["sent_at"] is None:
        row.fail("sent_at", f"is required for a quote with status {status.value}", "REQUIRED")
    rec["status"] = status.value if status is not None else None
    row.finish()
    return rec if len(errors) == before else None


async def upsert_quotes(
    session: AsyncSession, rows: Sequence[Mapping[str, Any]], *, received_at: datetime | None = None
) -> dict[str, int]:
    """Insert or update quotes inside the caller's transaction; returns created/updated/ignored counts."""
    received_at = received_at or datetime.now(timezone.utc)
    errors: list[FactError] = []
    parsed = [(i, rec) for i, raw in enumerate(rows) if (rec := _parse(raw, i, errors, received_at)) is not None]
    if errors:
        raise QuoteError(errors)

    # Resolve the CRM ids to goalgraph's internal ids, and load the quotes already stored: three queries.
    owners = {rec["owner"] for _, rec in parsed}
    deals = {rec["deal"] for _, rec in parsed if rec["deal"] is not None}
    user_ids: dict[str, int] = {
        ext: id_ for ext, id_ in await session.execute(select(User.external_id, User.id).where(User.external_id.in_(owners)))
    }
    deal_ids: dict[str, int] = {
        ext: id_ for ext, id_ in await session.execute(select(Deal.external_id, Deal.id).where(Deal.external_id.in_(deals)))
    }
    wanted = {rec["external_id"] for _, rec in parsed}
    existing = {q.external_id: q for q in await session.scalars(select(Quote).where(Quote.external_id.in_(wanted)))}

    counts = {"created": 0, "updated": 0, "ignored": 0}
    # What the change moves, before and after, for the progress store (marked in this transaction).
    touched_owners: set[int] = set()
    touched_days: set[date] = set()
    for i, rec in parsed:
        owner_id = user_ids.get(rec["owner"])
        if owner_id is None:
            errors.append(FactError(("quotes", i, "owner_id"), f"no user with id {rec['owner']!r}", "UNKNOWN_REFERENCE"))
        deal_id = deal_ids.get(rec["deal"]) if rec["deal"] is not None else None
        if rec["deal"] is not None and deal_id is None:
            errors.append(FactError(("quotes", i, "deal_id"), f"no deal with id {rec['deal']!r}", "UNKNOWN_REFERENCE"))
        if errors:
            continue
        values = {
            "owner_id": owner_id, "deal_id": deal_id, "amount": rec["amount"], "currency": rec["currency"],
            "sent_at": rec["sent_at"], "status": rec["status"], "source_updated_at": rec["source_updated_at"],
        }
        quote = existing.get(rec["external_id"])
        if quote is not None and rec["source_updated_at"] >= quote.source_updated_at:
            touched_owners.add(quote.owner_id)
            if quote.sent_at is not None:
                touched_days.add(quote.sent_at.astimezone(timezone.utc).date())
        if quote is None or rec["source_updated_at"] >= quote.source_updated_at:
            touched_owners.add(owner_id)  # type: ignore[arg-type]
            if rec["sent_at"] is not None:
                touched_days.add(rec["sent_at"].astimezone(timezone.utc).date())
        if quote is None:
            quote = existing[rec["external_id"]] = Quote(external_id=rec["external_id"], **values)
            session.add(quote)
            counts["created"] += 1
        elif rec["source_updated_at"] < quote.source_updated_at:
            counts["ignored"] += 1  # an older version arriving late
        else:
            for name, value in values.items():
                setattr(quote, name, value)
            counts["updated"] += 1
    if errors:
        raise QuoteError(errors)
    await session.flush()
    if touched_owners:
        await mark_facts(session, frozenset(touched_owners), touched_days, now=datetime.now(timezone.utc))
    return counts
