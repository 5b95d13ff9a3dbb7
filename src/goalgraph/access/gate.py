"""The one licence gate: which features are licensed and switched on, and what a goal needs.

``LICENCE_REQUIRED`` comes from here only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from goalgraph import features as core
from goalgraph.access.licence import LicenceStatus, shipped_public_key, verify_licence
from goalgraph.db.models import FeatureToggle, InstalledLicence
from goalgraph.registry import Registry
from goalgraph.settings import Settings


class LicenceRequired(Exception):
    """An operation needs a feature that is not licensed or is switched off."""

    code = "LICENCE_REQUIRED"

    def __init__(self, feature: str, label: str, licensed: bool) -> None:
        self.feature = feature
        why = "is switched off by an admin" if licensed else "is not included in your licence"
        self.message = f"{label} ({feature}) {why}"
        super().__init__(self.message)


@dataclass(frozen=True)
class Gate:
    """Licensed and enabled features for one request."""

    registry: Registry
    licence: LicenceStatus
    switched_off: frozenset[str] = frozenset()

    def licensed(self, feature: str) -> bool:
        return feature in self.registry.features and self.licence.grants(feature)

    def enabled(self, feature: str) -> bool:
        return self.licensed(feature) and feature not in self.switched_off

    def require(self, needed: Iterable[str]) -> None:
        """Raise LicenceRequired for the first needed feature that is not enabled."""
        for feature in sorted(set(needed)):
            if not self.enabled(feature):
                label = self.registry.features[feature].label if feature in self.registry.features else feature
                raise LicenceRequired(feature, label, self.licensed(feature))

    def missing(self, needed: Iterable[str]) -> list[str]:
        """Needed features that are not enabled (to mark existing goals)."""
        return sorted(f for f in set(needed) if not self.enabled(f))


def goal_features(registry: Registry, *, goal_type: str, assignee_kind: str, filters: Iterable[str],
                  split_by: str | None, other_teams_with_goals: bool = False) -> set[str]:
    """The features a goal with these settings needs."""
    needed: set[str] = set()
    spec = registry.goal_types.get(goal_type)
    if spec is not None and spec.feature:
        needed.add(spec.feature)
    if assignee_kind == "TEAM":
        needed.add(core.TEAM_GOALS)
        if other_teams_with_goals:
            needed.add(core.MULTIPLE_TEAMS)
    if assignee_kind == "COMPANY":
        needed.add(core.COMPANY_GOALS)
    for key in [*filters, *([split_by] if split_by else [])]:
        dimension = registry.dimensions.get(key)
        if dimension is not None and dimension.feature:
            needed.add(dimension.feature)
    if split_by:
        needed.add(core.SPLIT_TARGETS)
    return needed


async def licence_status(session: AsyncSession, settings: Settings, today: date) -> LicenceStatus:
    """The licence in force: the admin-installed one, else the configured one, else free."""
    installed = await session.get(InstalledLicence, 1)
    token = installed.token if installed is not None else settings.licence
    return verify_licence(token, settings.licence_public_key or shipped_public_key(), today)


async def load_gate(session: AsyncSession, settings: Settings, registry: Registry, today: date) -> Gate:
    """The gate for a request (two small queries)."""
    licence = await licence_status(session, settings, today)
    off = frozenset((await session.scalars(select(FeatureToggle.feature).where(FeatureToggle.enabled.is_(False)))).all())
    return Gate(registry=registry, licence=licence, switched_off=off)


def unrestricted(registry: Registry) -> Gate:
    """A gate granting every feature (internal jobs such as loading demo data)."""
    from goalgraph.access.licence import ALL

    return Gate(registry=registry, licence=LicenceStatus(plan="enterprise", features=frozenset({ALL}), valid=True))
