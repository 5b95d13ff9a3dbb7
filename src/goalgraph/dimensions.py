"""Custom dimensions' elements: the ones plugins register plus the ones admins add."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from goalgraph import features as core
from goalgraph.access.gate import Gate
from goalgraph.db.models import DimensionElement
from goalgraph.errors import FactError, IngestRejected
from goalgraph.registry import Registry

MAX_ELEMENTS = 500


async def custom_elements(session: AsyncSession, keys: Sequence[str] | None = None) -> dict[str, list[str]]:
    """Admin-added elements per dimension key, in their order."""
    query = select(DimensionElement).order_by(DimensionElement.dimension, DimensionElement.position)
    if keys is not None:
        query = query.where(DimensionElement.dimension.in_(list(keys)))
    out: dict[str, list[str]] = {}
    for row in await session.scalars(query):
        out.setdefault(row.dimension, []).append(row.element)
    return out


async def allowed_elements(session: AsyncSession, registry: Registry, keys: Sequence[str]) -> dict[str, list[str]]:
    """Registered then admin-added elements of each dimension (an empty list: any value goes)."""
    custom = await custom_elements(session, keys)
    return {
        key: [*registry.dimensions[key].elements, *(e for e in custom.get(key, []) if e not in registry.dimensions[key].elements)]
        for key in keys
        if key in registry.dimensions
    }


async def set_custom_elements(session: AsyncSession, registry: Registry, key: str, elements: Sequence[str],
                              gate: Gate) -> list[str]:
    """Replace the admin-added elements of a dimension; returns all its elements.

    Adding target types is licensed ("Sales Targets Unlimited"): the gate needs CUSTOM_DIMENSIONS
    (and the dimension's own feature, if it has one).
    """
    errors: list[FactError] = []
    if key not in registry.dimensions:
        errors.append(FactError(("key",), f"{key!r} is not a dimension (known: {', '.join(sorted(registry.dimensions))})",
                                "UNKNOWN_REFERENCE"))
    cleaned: list[str] = []
    for i, element in enumerate(elements):
        text = element.strip()
        if not 1 <= len(text) <= 200:
            errors.append(FactError(("elements", i), "must be 1–200 characters"))
        elif text in cleaned:
            errors.append(FactError(("elements", i), f"{text!r} is listed twice"))
        else:
            cleaned.append(text)
    if len(cleaned) > MAX_ELEMENTS:
        errors.append(FactError(("elements",), f"{len(cleaned)} elements; at most {MAX_ELEMENTS}"))
    if errors:
        raise IngestRejected(errors)
    gate.require({core.CUSTOM_DIMENSIONS, *filter(None, [registry.dimensions[key].feature])})
    await session.execute(delete(DimensionElement).where(DimensionElement.dimension == key))
    registered = registry.dimensions[key].elements
    session.add_all(DimensionElement(dimension=key, element=e, position=i)
                    for i, e in enumerate(e for e in cleaned if e not in registered))
    await session.flush()
    return (await allowed_elements(session, registry, [key]))[key]
