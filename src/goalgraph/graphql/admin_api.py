"""Who am I, licence and features, and the admin mutations for rights, seats, features, the licence and tokens."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from goalgraph.access import admin, credentials, policy, seats
from goalgraph.access.viewer import Viewer, viewer_of
from goalgraph.live.broker import FactsChanged
from goalgraph.access.gate import LicenceRequired, licence_status
from goalgraph.graphql.errors import ErrorCode, ForbiddenError, LicenceRequiredError, ValidationError
from goalgraph.graphql.types.facts import UserType
from goalgraph.errors import IngestRejected


@strawberry.type(description="A user's role and rights in goalgraph.")
class Access:
    role: str = strawberry.field(description="SYSTEM (service token), ADMIN, TEAM_LEADER or USER.")
    admin: bool = strawberry.field(description="Admins see and change everything and manage goalgraph.")
    see_company_statistics: bool = strawberry.field(description="Right: see company statistics.")
    see_other_users_statistics: bool = strawberry.field(description="Right: see other users' statistics.")
    can_lock_targets: bool = strawberry.field(description="Right: lock and unlock targets.")
    use_targets: bool = strawberry.field(description="Data right \"Targets\": use goals and the targets plan at all.")


@strawberry.type(description="Who is asking.")
class Me:
    subject: str = strawberry.field(description="The token's subject (a user's CRM id, or a service name).")
    user: UserType | None = strawberry.field(description="The user, unless this is a service token.")
    access: Access = strawberry.field(description="Role and rights.")
    has_seat: bool = strawberry.field(description="Holds a licensed seat, or needs none (the licence counts no "
                                                  "seats, or this is a service token).")
    token_id: str | None = strawberry.field(description="The id (jti) of the token used, which an admin can revoke.")


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
    customer: str | None = strawberry.field(description="Licensee (admins only; null for others).")
    seats: int | None = strawberry.field(description="Licensed seats; null when seats are not counted "
                                                     "(admins only; null for others).")
    seats_used: int | None = strawberry.field(description="Seats assigned to active users (admins only).")
    seat_holders: list[UserType] | None = strawberry.field(description="Users holding a seat in force (admins only).")
    expires_on: date | None = strawberry.field(description="Last day of validity.")


@strawberry.input(description="Rights to change; omitted ones stay as they are.")
class AccessInput:
    admin: bool | None = strawberry.field(default=None, description="Make or unmake an admin.")
    see_company_statistics: bool | None = strawberry.field(default=None, description="Right: see company statistics.")
    see_other_users_statistics: bool | None = strawberry.field(default=None,
                                                               description="Right: see other users' statistics.")
    can_lock_targets: bool | None = strawberry.field(default=None, description="Right: lock and unlock targets.")
    use_targets: bool | None = strawberry.field(default=None, description="Data right \"Targets\": use goals and the "
                                                                          "targets plan at all.")


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


@strawberry.type(description="The user's seat was saved.")
class SeatSaved:
    user: UserType = strawberry.field(description="The user.")
    has_seat: bool = strawberry.field(description="Holds a seat now.")
    licence: LicenceInfo = strawberry.field(description="The licence with its seats now.")


@strawberry.type(description="A token subject registered as a service (a CRM integration with all rights).")
class ServiceSubjectInfo:
    subject: str = strawberry.field(description="The token subject (`sub`).")
    description: str | None = strawberry.field(description="What the service is.")
    registered_at: datetime = strawberry.field(description="When it was registered.")
    registered_by: str | None = strawberry.field(description="Who registered it.")


@strawberry.type(description="The service subject was registered.")
class ServiceRegistered:
    service: ServiceSubjectInfo = strawberry.field(description="The service.")


@strawberry.type(description="Tokens were revoked: they are refused from now on.")
class TokensRevoked:
    subject: str | None = strawberry.field(description="Whose tokens (revokeTokensOf), or null (revokeToken).")
    token_id: str | None = strawberry.field(description="The revoked token's jti (revokeToken), or null.")
    not_before: datetime | None = strawberry.field(description="revokeTokensOf: tokens issued before this are "
                                                               "refused (including those issued in the same second).")


@strawberry.type(description="The service subject was removed (or was not registered).")
class ServiceUnregistered:
    subject: str = strawberry.field(description="The subject.")
    removed: bool = strawberry.field(description="False when it was not registered.")


SetUserSeatPayload = Annotated[SeatSaved | ValidationError | ForbiddenError | LicenceRequiredError,
                               strawberry.union("SetUserSeatPayload", description="The seat, or why not.")]
RegisterServicePayload = Annotated[ServiceRegistered | ValidationError | ForbiddenError,
                                   strawberry.union("RegisterServicePayload", description="The service, or why not.")]
UnregisterServicePayload = Annotated[ServiceUnregistered | ForbiddenError,
                                     strawberry.union("UnregisterServicePayload", description="Removed, or why not.")]
RevokePayload = Annotated[TokensRevoked | ValidationError | ForbiddenError,
                          strawberry.union("RevokePayload", description="What was revoked, or why not.")]
SetUserAccessPayload = Annotated[AccessSaved | ValidationError | ForbiddenError,
                                 strawberry.union("SetUserAccessPayload", description="The access, or why not.")]
SetFeatureEnabledPayload = Annotated[
    FeatureSaved | ValidationError | ForbiddenError | LicenceRequiredError,
    strawberry.union("SetFeatureEnabledPayload", description="The feature, or why it was not switched."),
]
InstallLicencePayload = Annotated[LicenceInstalled | ValidationError | ForbiddenError,
                                  strawberry.union("InstallLicencePayload", description="The licence, or why not.")]


def access_of(viewer: Viewer) -> Access:
    """Role and rights as the policy reads them (the same for ``me`` and for what an admin just saved)."""
    return Access(role=viewer.role, admin=viewer.is_admin or viewer.system,
                  see_company_statistics=viewer.can_see_company_statistics,
                  see_other_users_statistics=viewer.can_see_other_users_statistics,
                  can_lock_targets=viewer.can_lock_targets or viewer.system,
                  use_targets=policy.can_use_targets(viewer))


async def _features(info: Info) -> list[FeatureInfo]:
    gate = await info.context.gate()
    registry = info.context.runtime.registry
    return [FeatureInfo(key=k, label=f.label, description=f.description, licensed=gate.licensed(k),
                        enabled=gate.enabled(k), plugin=registry.owners[("feature", k)])
            for k, f in sorted(registry.features.items())]


async def _licence(info: Info) -> LicenceInfo:
    """The licence; customer and seats only for admins (a regular user needs plan and validity)."""
    ctx = info.context
    viewer = await ctx.viewer()
    today = await ctx.today()
    async with ctx.db() as session:
        status = await licence_status(session, ctx.runtime.settings, today)
        holders = await seats.seated_users(session, status) if policy.can_manage(viewer) else None
    if holders is None:
        return LicenceInfo(plan=status.plan, valid=status.valid, reason=status.reason, customer=None, seats=None,
                           seats_used=None, seat_holders=None, expires_on=status.expires)
    users = [u for u in await ctx.loaders.user.load_many(holders) if u is not None]
    return LicenceInfo(plan=status.plan, valid=status.valid, reason=status.reason, customer=status.customer,
                       seats=status.seats if seats.counts_seats(status) else None, seats_used=len(users),
                       seat_holders=[UserType(row=u) for u in users], expires_on=status.expires)


def _forbidden() -> ForbiddenError:
    return ForbiddenError(code=ErrorCode.FORBIDDEN, message="only admins (or service tokens) may do this")


@strawberry.type(description="Identity, licence and features.")
class AdminQueries:
    @strawberry.field(description="Who is asking, with role and rights.")
    async def me(self, info: Info) -> Me:
        viewer = await info.context.viewer()
        user = await info.context.loaders.user.load(viewer.user_id) if viewer.user_id else None
        access = access_of(viewer)
        gate = await info.context.gate()
        return Me(subject=viewer.subject, user=UserType(row=user) if user else None, access=access,
                  has_seat=gate.seated, token_id=info.context.token_id)

    @strawberry.field(description="Every feature with whether it is licensed and switched on (what the SPA may show).")
    async def features(self, info: Info) -> list[FeatureInfo]:
        return await _features(info)

    @strawberry.field(description="The licence in force.")
    async def licence(self, info: Info) -> LicenceInfo:
        return await _licence(info)

    @strawberry.field(description="Token subjects registered as services (admins only; empty for others).")
    async def service_subjects(self, info: Info) -> list[ServiceSubjectInfo]:
        if not policy.can_manage(await info.context.viewer()):
            return []
        async with info.context.db() as session:
            rows = await credentials.services(session)
        return [_service(r) for r in rows]


def _service(row) -> ServiceSubjectInfo:  # type: ignore[no-untyped-def]
    return ServiceSubjectInfo(subject=row.subject, description=row.description, registered_at=row.registered_at,
                              registered_by=row.registered_by)


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
                    can_lock_targets=input.can_lock_targets, can_use_targets=input.use_targets)
                # What the user may see changed: every subscription checks its viewer again on this push.
                await info.context.runtime.broker.announce(session, FactsChanged(None))
                saved = access_of(await viewer_of(session, user))
        except IngestRejected as rejected:
            return ValidationError.from_fact_errors(rejected.errors)
        return AccessSaved(user=UserType(row=user), access=saved)

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

    @strawberry.mutation(description="Give a user one of the licence's seats, or take it back (admins only); "
                                     "LICENCE_REQUIRED (feature SEATS) when every seat is assigned.")
    async def set_user_seat(self, info: Info, user_id: strawberry.ID, seat: bool) -> SetUserSeatPayload:
        ctx = info.context
        viewer = await ctx.viewer()
        if not policy.can_manage(viewer):
            return _forbidden()
        today = await ctx.today()  # before the transaction: it reads through the request's session too
        try:
            async with ctx.transaction() as session:
                status = await licence_status(session, ctx.runtime.settings, today)
                user = await seats.set_seat(session, status, user_id, seat, actor=viewer.subject, now=ctx.now)
                held = user.id in await seats.seated_users(session, status)
        except IngestRejected as rejected:
            return ValidationError.from_fact_errors(rejected.errors)
        except seats.SeatsExhausted as full:
            return LicenceRequiredError(code=ErrorCode.LICENCE_REQUIRED, message=full.message, feature=seats.SEATS)
        ctx.forget_gate()
        return SeatSaved(user=UserType(row=user), has_seat=held, licence=await _licence(info))

    @strawberry.mutation(description="Register a token subject as a service (admins only): identity-provider tokens "
                                     "with this `sub` get all rights. The only way to create one in that mode.")
    async def register_service_subject(self, info: Info, subject: str,
                                       description: str | None = None) -> RegisterServicePayload:
        ctx = info.context
        viewer = await ctx.viewer()
        if not policy.can_manage(viewer):
            return _forbidden()
        try:
            async with ctx.transaction() as session:
                row = await credentials.register_service(session, subject, description, actor=viewer.subject,
                                                         now=ctx.now)
        except IngestRejected as rejected:
            return ValidationError.from_fact_errors(rejected.errors)
        return ServiceRegistered(service=_service(row))

    @strawberry.mutation(description="Remove a registered service subject (admins only): its tokens stop being "
                                     "service tokens.")
    async def unregister_service_subject(self, info: Info, subject: str) -> UnregisterServicePayload:
        ctx = info.context
        if not policy.can_manage(await ctx.viewer()):
            return _forbidden()
        async with ctx.transaction() as session:
            removed = await credentials.unregister_service(session, subject)
        return ServiceUnregistered(subject=subject, removed=removed)

    @strawberry.mutation(description="Revoke one token by its id (`jti`, see `me { tokenId }`) (admins only).")
    async def revoke_token(self, info: Info, token_id: str) -> RevokePayload:
        ctx = info.context
        viewer = await ctx.viewer()
        if not policy.can_manage(viewer):
            return _forbidden()
        try:
            async with ctx.transaction() as session:
                await credentials.revoke_token(session, token_id, actor=viewer.subject, now=ctx.now)
        except IngestRejected as rejected:
            return ValidationError.from_fact_errors(rejected.errors)
        return TokensRevoked(subject=None, token_id=token_id.strip(), not_before=None)

    @strawberry.mutation(description="Revoke every token of a user (CRM id) or service subject issued until now "
                                     "(admins only); tokens issued later work.")
    async def revoke_tokens_of(self, info: Info, subject: str) -> RevokePayload:
        ctx = info.context
        viewer = await ctx.viewer()
        if not policy.can_manage(viewer):
            return _forbidden()
        try:
            async with ctx.transaction() as session:
                cutoff = await credentials.revoke_tokens_of(session, subject, actor=viewer.subject, now=ctx.now)
        except IngestRejected as rejected:
            return ValidationError.from_fact_errors(rejected.errors)
        return TokensRevoked(subject=subject.strip(), token_id=None, not_before=cutoff)
