"""The one licence gate: which features are licensed and switched on, seats, and what a goal needs.

``LICENCE_REQUIRED`` comes from here only. The rules:

* Creating or changing anything the licence gates needs every feature it uses, and — when the
  licence counts seats — a seat (service tokens need none). A user without a seat still reads
  their goals.
* A goal whose features lapsed (not licensed, or switched off) keeps its definition and its frozen
  results readable; its open periods are not measured (no new computation, no drill-down); every
  change (edit, lock, unlock, delete) is refused with LICENCE_REQUIRED, except that an admin may
  delete it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from goalgraph import features as core
from goalgraph.access.licence import LicenceStatus, shipped_public_key, verify_licence
from goalgraph.access.seats import SEATS, counts_seats, has_seat
from goalgraph.access.viewer import Viewer
from goalgraph.db.models import FeatureToggle, Goal, InstalledLicence
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


class SeatRequired(LicenceRequired):
    """The licence counts seats and the viewer holds none."""

    def __init__(self, seats: int | None) -> None:
        self.feature = SEATS
        self.message = (f"you have no seat: the licence's {seats} seat(s) are assigned by admins and you hold none; "
                        "ask an admin to assign you a seat")
        Exception.__init__(self, self.message)


@dataclass(frozen=True)
class Gate:
    """Licensed and enabled features (and the viewer's seat) for one request."""

    registry: Registry
    licence: LicenceStatus
    switched_off: frozenset[str] = frozenset()
    #: The viewer holds a seat, or needs none (seats not counted, or a service token).
    seated: bool = True

    def licensed(self, feature: str) -> bool:
        return feature in self.registry.features and self.licence.grants(feature)

    def enabled(self, feature: str) -> bool:
        return self.licensed(feature) and feature not in self.switched_off

    def require(self, needed: Iterable[str]) -> None:
        """Raise LicenceRequired without a seat, or for the first needed feature that is not enabled."""
        if not self.seated:
            raise SeatRequired(self.licence.seats)
        for feature in sorted(set(needed)):
            if not self.enabled(feature):
                label = self.registry.features[feature].label if feature in self.registry.features else feature
                raise LicenceRequired(feature, label, self.licensed(feature))

    def missing(self, needed: Iterable[str]) -> list[str]:
        """Needed features that are not enabled (to mark existing goals)."""
        return sorted(f for f in set(needed) if not self.enabled(f))

    def lapsed(self, goal: Goal) -> list[str]:
        """The features a stored goal needs that are not enabled now (empty: the goal is fully alive)."""
        return self.missing(stored_goal_features(self.registry, goal))

    def require_change(self, goal: Goal, *, delete: bool = False, admin: bool = False) -> None:
        """May an existing goal change (edit, lock, unlock, delete)? Admins may always delete."""
        if delete and admin:
            return
        self.require(stored_goal_features(self.registry, goal))


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


def stored_goal_features(registry: Registry, goal: Goal) -> set[str]:
    """The features a stored goal needs."""
    return goal_features(registry, goal_type=goal.goal_type, assignee_kind=goal.assignee_kind,
                         filters=[k for k, v in (goal.filters or {}).items() if v], split_by=goal.split_by)


async def licence_status(session: AsyncSession, settings: Settings, today: date) -> LicenceStatus:
    """The licence in force: the admin-installed one, else the configured one, else free."""
    installed = await session.get(InstalledLicence, 1)
    token = installed.token if installed is not None else settings.licence
    return verify_licence(token, settings.licence_public_key or shipped_public_key(), today)


async def load_gate(session: AsyncSession, settings: Settings, registry: Registry, today: date,
                    viewer: Viewer | None = None) -> Gate:
    """The gate for a request (two small queries, a third for the viewer's seat when seats are counted)."""
    licence = await licence_status(session, settings, today)
    off = frozenset((await session.scalars(select(FeatureToggle.feature).where(FeatureToggle.enabled.is_(False)))).all())
    seated = True
    if viewer is not None and not viewer.system and counts_seats(licence):
        seated = await has_seat(session, licence, viewer.user_id)
    return Gate(registry=registry, licence=licence, switched_off=off, seated=seated)


def unrestricted(registry: Registry) -> Gate:
    """A gate granting every feature (internal jobs such as loading demo data)."""
    from goalgraph.access.licence import ALL

    return Gate(registry=registry, licence=LicenceStatus(plan="enterprise", features=frozenset({ALL}), valid=True))
