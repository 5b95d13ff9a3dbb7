"""Who am I, licence and features, and the admin mutations for rights, features and the licence."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import strawberry
from strawberry.types import Info

from goalgraph.live.broker import FactsChanged
from goalgraph.access import admin, policy
from goalgraph.access.gate import LicenceRequired, licence_status
from goalgraph.graphql.errors import ErrorCode, ForbiddenError, LicenceRequiredError, ValidationError
from goalgraph.graphql.types.facts import UserType
from goalgraph.ingest.errors import IngestRejected


@strawberry.type(description="A user's role and rights in goalgraph.")
class Access:
    role: str = strawberry.field(description="SYSTEM (service token), ADMIN, TEAM_LEADER or USER.")
    admin: bool = strawberry.field(description="Admins see and change everything and manage goalgraph.")
    see_company_statistics: bool = strawberry.field(description="Right: see company statistics.")
    see_other_users_statistics: bool = strawberry.field(description="Right: see other users' statistics.")
    can_lock_targets: bool = strawberry.field(description="Right: lock and unlock targets.")


@strawberry.type(description="Who is asking.")
class Me:
    subject: str = strawberry.field(description="The token's subject (a user's CRM id, or a service name).")
    user: UserType | None = strawberry.field(description="The user, unless this is a service token.")
    access: Access = strawberry.field(description="Role and rights.")


@strawberry.type(description="A licensable feature and whether it is licensed and switched on.")
class FeatureInfo:
    key: str = strawberry.field(description="Feature key.")
    label: str = strawberry.field(description="Human label.")
    description: str = strawberry.field(description="What it unlocks.")
    licensed: bool = strawberry.field(description="The licence grants it.")
    enabled: bool = strawberry.field(description="Licensed and not switched off by an admin: usable now.")
    plugin: str = strawberry.field(description="The plugin (or core) that registered it.")


@strawberry.type(description="The licence in force.")
class LicenceInfo:
    plan: str = strawberry.field(description="free, professional or enterprise.")
    valid: bool = strawberry.field(description="A signed, unexpired licence is installed.")
    reason: str | None = strawberry.field(description="Why the free plan applies, when it does.")
    customer: str | None = strawberry.field(description="Licensee.")
    seats: int | None = strawberry.field(description="Licensed seats (active users).")
    seats_used: int = strawberry.field(description="Active users now.")
    expires_on: date | None = strawberry.field(description="Last day of validity.")


@strawberry.input(description="Rights to change; omitted ones stay as they are.")
class AccessInput:
    admin: bool | None = strawberry.field(default=None, description="Make or unmake an admin.")
    see_company_statistics: bool | None = strawberry.field(default=None, description="Right: see company statistics.")
    see_other_users_statistics: bool | None = strawberry.field(default=None,
                                                               description="Right: see other users' statistics.")
    can_lock_targets: bool | None = strawberry.field(default=None, description="Right: lock and unlock targets.")


@strawberry.type(description="The user's access was saved.")
class AccessSaved:
    user: UserType = strawberry.field(description="The user.")
    access: Access = strawberry.field(description="Their access now.")


@strawberry.type(description="The feature switch was saved.")
class FeatureSaved:
    feature: FeatureInfo = strawberry.field(description="The feature now.")


@strawberry.type(description="The licence was verified and installed.")
class LicenceInstalled:
    licence: LicenceInfo = strawberry.field(description="The licence now in force.")


SetUserAccessPayload = Annotated[AccessSaved | ValidationError | ForbiddenError,
                                 strawberry.union("SetUserAccessPayload", description="The access, or why not.")]
SetFeatureEnabledPayload = Annotated[
    FeatureSaved | ValidationError | ForbiddenError | LicenceRequiredError,
    strawberry.union("SetFeatureEnabledPayload", description="The feature, or why it was not switched."),
]
InstallLicencePayload = Annotated[LicenceInstalled | ValidationError | ForbiddenError,
                                  strawberry.union("InstallLicencePayload", description="The licence, or why not.")]


def _access_of_user(user) -> Access:  # type: ignore[no-untyped-def]
    return Access(role="ADMIN" if user.is_admin else "USER", admin=user.is_admin,
                  see_company_statistics=user.can_see_company_statistics,
                  see_other_users_statistics=user.can_see_other_users_statistics,
                  can_lock_targets=user.can_lock_targets)


async def _features(info: Info) -> list[FeatureInfo]:
    gate = await info.context.gate()
    registry = info.context.runtime.registry
    return [FeatureInfo(key=k, label=f.label, description=f.description, licensed=gate.licensed(k),
                        enabled=gate.enabled(k), plugin=registry.owners[("feature", k)])
            for k, f in sorted(registry.features.items())]


async def _licence(info: Info) -> LicenceInfo:
    ctx = info.context
    today = await ctx.today()
    async with ctx.db() as session:
        status = await licence_status(session, ctx.runtime.settings, today)
        used = await admin.active_users(session)
    return LicenceInfo(plan=status.plan, valid=status.valid, reason=status.reason, customer=status.customer,
                       seats=status.seats, seats_used=used, expires_on=status.expires)


def _forbidden() -> ForbiddenError:
    return ForbiddenError(code=ErrorCode.FORBIDDEN, message="only admins (or service tokens) may do this")


@strawberry.type(description="Identity, licence and features.")
class AdminQueries:
    @strawberry.field(description="Who is asking, with role and rights.")
    async def me(self, info: Info) -> Me:
        viewer = await info.context.viewer()
        user = await info.context.loaders.user.load(viewer.user_id) if viewer.user_id else None
        access = Access(role=viewer.role, admin=viewer.is_admin or viewer.system,
                        see_company_statistics=viewer.can_see_company_statistics,
                        see_other_users_statistics=viewer.can_see_other_users_statistics,
                        can_lock_targets=viewer.can_lock_targets or viewer.system)
        return Me(subject=viewer.subject, user=UserType(row=user) if user else None, access=access)

    @strawberry.field(description="Every feature with whether it is licensed and switched on (what the SPA may show).")
    async def features(self, info: Info) -> list[FeatureInfo]:
        return await _features(info)

    @strawberry.field(description="The licence in force.")
    async def licence(self, info: Info) -> LicenceInfo:
        return await _licence(info)


@strawberry.type(description="Admin mutations.")
class AdminMutations:
    @strawberry.mutation(description="Change a user's role and rights (admins only).")
    async def set_user_access(self, info: Info, user_id: strawberry.ID, input: AccessInput) -> SetUserAccessPayload:
        if not policy.can_manage(await info.context.viewer()):
            return _forbidden()
        try:
            async with info.context.transaction() as session:
                user = await admin.set_user_access(
                    session, user_id, is_admin=input.admin, can_see_company_statistics=input.see_company_statistics,
                    can_see_other_users_statistics=input.see_other_users_statistics,
                    can_lock_targets=input.can_lock_targets)
        except IngestRejected as rejected:
            return ValidationError.from_fact_errors(rejected.errors)
        # What the user may see changed: every subscription checks its viewer again on this push.
        await info.context.runtime.broker.publish(FactsChanged(None))
        return AccessSaved(user=UserType(row=user), access=_access_of_user(user))

    @strawberry.mutation(description="Switch a licensed feature on or off (admins only).")
    async def set_feature_enabled(self, info: Info, key: str, enabled: bool) -> SetFeatureEnabledPayload:
        ctx = info.context
        viewer = await ctx.viewer()
        if not policy.can_manage(viewer):
            return _forbidden()
        try:
            async with ctx.transaction() as session:
                await admin.set_feature_enabled(session, ctx.runtime.settings, ctx.runtime.registry, key, enabled,
                                                actor=viewer.subject, now=ctx.now)
        except IngestRejected as rejected:
            return ValidationError.from_fact_errors(rejected.errors)
        except LicenceRequired as missing:
            return LicenceRequiredError(code=ErrorCode.LICENCE_REQUIRED, message=missing.message, feature=missing.feature)
        ctx.forget_gate()
        return FeatureSaved(feature=next(f for f in await _features(info) if f.key == key))

    @strawberry.mutation(description="Verify and install a licence token (admins only); a refused one is not stored.")
    async def install_licence(self, info: Info, token: str) -> InstallLicencePayload:
        ctx = info.context
        viewer = await ctx.viewer()
        if not policy.can_manage(viewer):
            return _forbidden()
        try:
            async with ctx.transaction() as session:
                await admin.install_licence(session, ctx.runtime.settings, token, actor=viewer.subject, now=ctx.now)
        except IngestRejected as rejected:
            return ValidationError.from_fact_errors(rejected.errors)
        ctx.forget_gate()
        return LicenceInstalled(licence=await _licence(info))
