"""Service credentials and revocation: who counts as a service, and which tokens an admin revoked.

* A **service** (a CRM integration, all rights) is a token signed with the local secret carrying
  ``role: system``, or a token whose subject an admin registered (:func:`register_service`). An
  identity provider's token claiming ``role: system`` for an unregistered subject is refused.
* An admin revokes one token (its ``jti``) or every token of a subject issued before now (a cutoff:
  tokens issued later work again).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from goalgraph.access.tokens import AuthError, Claims
from goalgraph.db.models import RevokedToken, ServiceSubject, TokenCutoff, User
from goalgraph.errors import FactError, IngestRejected

MAX_SUBJECT = 128


#: The revoked jti, the subject's cutoff and its service registration, for the parameters ``jti`` and
#: ``subject`` (:func:`claim_params`): scalar subqueries to select beside other columns (one statement
#: with the viewer's user). Built once: every request runs them.
CLAIM_COLUMNS = (
    select(RevokedToken.jti).where(RevokedToken.jti == bindparam("jti")).scalar_subquery(),
    select(TokenCutoff.not_before).where(TokenCutoff.subject == bindparam("subject")).scalar_subquery(),
    select(ServiceSubject.subject).where(ServiceSubject.subject == bindparam("subject")).scalar_subquery(),
)
_CHECK = select(*CLAIM_COLUMNS)


def claim_params(claims: Claims) -> dict[str, str]:
    """The parameters of :data:`CLAIM_COLUMNS` for these claims."""
    return {"jti": claims.token_id or "", "subject": claims.subject}


def judge_claims(claims: Claims, revoked: str | None, cutoff: datetime | None, registered: str | None) -> bool:
    """Refuse revoked tokens (AuthError); True when the token is a service's (see :data:`CLAIM_COLUMNS`)."""
    if claims.token_id is not None and revoked is not None:
        raise AuthError("the token was revoked")
    if cutoff is not None and (claims.issued_at is None or claims.issued_at < cutoff):
        raise AuthError(f"tokens of {claims.subject!r} issued before {cutoff.isoformat()} were revoked")
    is_registered = registered is not None
    if claims.system and not (claims.local or is_registered):
        raise AuthError(f"the token claims a service role but {claims.subject!r} is not a registered service")
    return is_registered or (claims.system and claims.local)


async def check_claims(session: AsyncSession, claims: Claims) -> bool:
    """Refuse revoked tokens (AuthError); True when the token is a service's. One statement."""
    revoked, cutoff, registered = (await session.execute(_CHECK, claim_params(claims))).one()
    return judge_claims(claims, revoked, cutoff, registered)


def _subject(value: str, field: str = "subject") -> str:
    text = value.strip()
    if not 1 <= len(text) <= MAX_SUBJECT:
        raise IngestRejected([FactError((field,), f"must be 1–{MAX_SUBJECT} characters")])
    return text


async def register_service(session: AsyncSession, subject: str, description: str | None, *, actor: str,
                           now: datetime) -> ServiceSubject:
    """Make tokens with this subject service tokens (identity-provider mode's way to create one).

    A user's CRM id cannot be registered: that user's own tokens would become service tokens.
    """
    key = _subject(subject)
    if await session.scalar(select(User.id).where(User.external_id == key)) is not None:
        raise IngestRejected([FactError(("subject",), f"{key!r} is a user's CRM id; choose a service name")])
    row = await session.get(ServiceSubject, key)
    if row is None:
        row = ServiceSubject(subject=key, registered_at=now)
        session.add(row)
    row.description, row.registered_by = (description or None), actor
    await session.flush()
    return row


async def unregister_service(session: AsyncSession, subject: str) -> bool:
    """Tokens with this subject are no longer services; False when it was not registered."""
    result = await session.execute(delete(ServiceSubject).where(ServiceSubject.subject == subject.strip()))
    return bool(result.rowcount)


async def services(session: AsyncSession) -> list[ServiceSubject]:
    """Registered service subjects, by name."""
    return list((await session.scalars(select(ServiceSubject).order_by(ServiceSubject.subject))).all())


async def revoke_token(session: AsyncSession, token_id: str, *, actor: str, now: datetime) -> None:
    """Refuse the token with this ``jti`` from now on."""
    jti = _subject(token_id, "jti")
    if await session.get(RevokedToken, jti) is None:
        session.add(RevokedToken(jti=jti, revoked_at=now, revoked_by=actor))
    await session.flush()


async def revoke_tokens_of(session: AsyncSession, subject: str, *, actor: str, now: datetime) -> datetime:
    """Refuse every token of ``subject`` issued before ``now``; returns the cutoff."""
    key = _subject(subject)
    row = await session.get(TokenCutoff, key)
    if row is None:
        session.add(TokenCutoff(subject=key, not_before=now, changed_by=actor))
    else:
        row.not_before, row.changed_by = now, actor
    await session.flush()
    return now
