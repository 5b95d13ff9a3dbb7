"""The viewer: who is asking, with their role, rights and teams, loaded once per request."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import bindparam, select
from sqlalchemy.orm import aliased
from sqlalchemy.ext.asyncio import AsyncSession

from goalgraph.access.credentials import CLAIM_COLUMNS, check_claims, claim_params, judge_claims
from goalgraph.access.tokens import AuthError, Claims
from goalgraph.db.models import TeamMembership, User


@dataclass(frozen=True)
class Viewer:
    """The authenticated principal: a user (with rights) or a service (``system``)."""

    subject: str
    system: bool = False
    user_id: int | None = None
    is_admin: bool = False
    can_see_company_statistics: bool = False
    can_see_other_users_statistics: bool = False
    can_lock_targets: bool = False
    #: The data right "Targets": use goals and the targets plan at all (admins and services always may).
    can_use_targets: bool = False
    #: Teams the viewer leads, and every member of those teams (the viewer's "team").
    leads: frozenset[int] = field(default_factory=frozenset)
    team_members: frozenset[int] = field(default_factory=frozenset)

    @property
    def is_leader(self) -> bool:
        return bool(self.leads)

    @property
    def role(self) -> str:
        if self.system:
            return "SYSTEM"
        if self.is_admin:
            return "ADMIN"
        return "TEAM_LEADER" if self.is_leader else "USER"


SYSTEM = Viewer(subject="system", system=True)


# Built once (every request runs them; building them was as costly as running them).
_leads_a_team = (select(TeamMembership.team_id)
                 .where(TeamMembership.user_id == User.id, TeamMembership.is_leader.is_(True)).exists())
#: The token's user, its revocation checks and whether the user leads a team.
_USER = select(User, *CLAIM_COLUMNS, _leads_a_team).where(User.external_id == bindparam("subject"))
_led, _member = aliased(TeamMembership), aliased(TeamMembership)
#: (team, member) of every team the user ``user`` leads, the leader among the members.
_LED_TEAMS = (select(_member.team_id, _member.user_id).join(_led, _led.team_id == _member.team_id)
              .where(_led.user_id == bindparam("user"), _led.is_leader.is_(True)))


async def load_viewer(session: AsyncSession, claims: Claims) -> Viewer:
    """The viewer a verified token names; AuthError for revoked tokens, unknown or deactivated users.

    One statement for a service or a user who leads no team (the user with the token's revocation
    checks), two for a team leader (then the teams they lead)."""
    if claims.system and await check_claims(session, claims):
        return Viewer(subject=claims.subject, system=True)
    found = (await session.execute(_USER, claim_params(claims))).one_or_none()
    if found is None:
        if await check_claims(session, claims):  # a registered service has no user row
            return Viewer(subject=claims.subject, system=True)
        raise AuthError(f"the token's subject {claims.subject!r} is not a known user")
    user, revoked, cutoff, registered, leader = found
    if judge_claims(claims, revoked, cutoff, registered):
        return Viewer(subject=claims.subject, system=True)
    if not user.active:
        raise AuthError(f"user {claims.subject!r} is deactivated")
    return await viewer_of(session, user, leads_none=not leader)


async def viewer_of(session: AsyncSession, user: User, *, leads_none: bool = False) -> Viewer:
    """The viewer a user is (rights, teams led) — for a request, or for deciding what a notification may show.
    One statement: the members of every team the user leads (the leader among them); none when the
    caller knows the user leads no team (``leads_none``)."""
    rows = [] if leads_none else (await session.execute(_LED_TEAMS, {"user": user.id})).all()
    leads = frozenset(team for team, _ in rows)
    members = frozenset(u for _, u in rows)
    return Viewer(
        subject=user.external_id, user_id=user.id, is_admin=user.is_admin,
        can_see_company_statistics=user.can_see_company_statistics,
        can_see_other_users_statistics=user.can_see_other_users_statistics,
        can_lock_targets=user.can_lock_targets, can_use_targets=user.can_use_targets, leads=leads, team_members=members | {user.id},
    )
