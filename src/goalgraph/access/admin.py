"""Admin changes to access: users' rights, feature switches and the installed licence."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from goalgraph import staleness
from goalgraph.access.gate import LicenceRequired, licence_status
from goalgraph.access.licence import LicenceStatus, shipped_public_key, verify_licence
from goalgraph.db.models import FeatureToggle, InstalledLicence, User
from goalgraph.errors import FactError, IngestRejected
from goalgraph.registry import Registry
from goalgraph.settings import Settings

RIGHTS = ("is_admin", "can_see_company_statistics", "can_see_other_users_statistics", "can_lock_targets",
          "can_use_targets")


async def set_user_access(session: AsyncSession, external_id: str, **rights: bool | None) -> User:
    """Change a user's role and rights (None leaves one as it is)."""
    user = await session.scalar(select(User).where(User.external_id == external_id))
    if user is None:
        raise IngestRejected([FactError(("user_id",), f"no user with id {external_id!r}", "UNKNOWN_REFERENCE")])
    for name, value in rights.items():
        if name not in RIGHTS:
            raise ValueError(name)
        if value is not None:
            setattr(user, name, value)
    await session.flush()
    return user


async def set_feature_enabled(session: AsyncSession, settings: Settings, registry: Registry, key: str, enabled: bool,
                              *, actor: str, now: datetime) -> None:
    """Switch a feature on or off; switching on one the licence does not grant raises LicenceRequired."""
    feature = registry.features.get(key)
    if feature is None:
        raise IngestRejected([FactError(("key",), f"{key!r} is not a feature (known: {', '.join(sorted(registry.features))})",
                                        "UNKNOWN_REFERENCE")])
    if enabled and not (await licence_status(session, settings, now.date())).grants(key):
        raise LicenceRequired(key, feature.label, licensed=False)
    row = await session.get(FeatureToggle, key)
    if row is None:
        session.add(FeatureToggle(feature=key, enabled=enabled, changed_at=now, changed_by=actor))
    else:
        row.enabled, row.changed_at, row.changed_by = enabled, now, actor
    # The worker does not measure goals whose features lapsed: switched on again, they are measured anew.
    await staleness.mark(session, None, now=now)
    await session.flush()


async def install_licence(session: AsyncSession, settings: Settings, token: str, *, actor: str,
                          now: datetime) -> LicenceStatus:
    """Verify and store a licence; a refused one is not stored (IngestRejected says why)."""
    status = verify_licence(token, settings.licence_public_key or shipped_public_key(), now.date())
    if not status.valid:
        raise IngestRejected([FactError(("token",), status.reason or "the licence was refused")])
    row = await session.get(InstalledLicence, 1)
    if row is None:
        session.add(InstalledLicence(id=1, token=token.strip(), installed_at=now, installed_by=actor))
    else:
        row.token, row.installed_at, row.installed_by = token.strip(), now, actor
    await staleness.mark(session, None, now=now)  # features it grants may have lapsed before
    await session.flush()
    return status

