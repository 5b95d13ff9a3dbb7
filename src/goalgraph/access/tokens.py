"""Bearer tokens: mint (for local use) and verify (shared secret or an identity provider's key).

Verification here is offline (signature, expiry, lifetime, audience, issuer); whether a token was
revoked and whether a service subject is registered is checked against the database by
:func:`goalgraph.access.credentials.check_claims`.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import jwt

from goalgraph import clock
from goalgraph.settings import Settings

#: Claim marking a service token (a CRM integration), not a person: it may do everything. Honoured only
#: on tokens signed with the local secret; identity-provider tokens are services when an admin registered
#: their subject.
SYSTEM_ROLE = "system"
#: Clock skew tolerated on ``exp`` beyond the maximum lifetime.
LEEWAY = timedelta(seconds=60)
PUBLIC_KEY_ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "EdDSA"]


class AuthError(Exception):
    """The request is not authenticated; the message says why (never echoes the token)."""


class ConfigError(RuntimeError):
    """Authentication is on but no way to verify tokens is configured."""


@dataclass(frozen=True)
class Claims:
    """What a verified token says: whose it is, and whether it is a service token."""

    subject: str
    #: Claims to be a service token (``role: system``); honoured only when ``local`` or registered.
    system: bool = False
    #: Signed with the local shared secret (not by an identity provider).
    local: bool = True
    #: The token's id (``jti``), if it has one: what an admin revokes.
    token_id: str | None = None
    #: ``iat``: compared with the subject's revocation cutoff.
    issued_at: datetime | None = None


def signing_secret(settings: Settings) -> str:
    """The HS256 secret: configured, or kept in a file beside the embedded SQLite database."""
    if settings.jwt_secret:
        return settings.jwt_secret
    db_path = settings.sqlite_path()
    if db_path is None:
        raise ConfigError("set GOALGRAPH_JWT_SECRET (or GOALGRAPH_JWT_PUBLIC_KEY for an identity provider)")
    path = Path(f"{db_path}.secret")
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def secret_source(settings: Settings) -> str:
    """Where the signing secret comes from, for messages (never the secret itself)."""
    if settings.jwt_public_key:
        return "the identity provider's public key (GOALGRAPH_JWT_PUBLIC_KEY)"
    if settings.jwt_secret:
        return "GOALGRAPH_JWT_SECRET"
    db_path = settings.sqlite_path()
    return f"the secret kept beside the database, {db_path}.secret" if db_path else "no secret (none is configured)"


def max_lifetime(settings: Settings) -> timedelta:
    """The longest validity a token may have (``GOALGRAPH_JWT_MAX_LIFETIME_HOURS``)."""
    return timedelta(hours=settings.jwt_max_lifetime_hours)


def mint_token(settings: Settings, subject: str, *, system: bool = False, ttl: timedelta = timedelta(hours=12)) -> str:
    """A token for ``subject`` (a user's CRM id), or a service token when ``system``, signed with the local secret.

    ConfigError when an identity provider issues the tokens or ``ttl`` exceeds the maximum lifetime.
    """
    if settings.jwt_public_key:
        raise ConfigError("tokens come from your identity provider (GOALGRAPH_JWT_PUBLIC_KEY is set); "
                          "goalgraph mints tokens only in shared-secret mode")
    if ttl > max_lifetime(settings) or ttl <= timedelta(0):
        raise ConfigError(f"a token may be valid for at most {settings.jwt_max_lifetime_hours:g} hours "
                          "(GOALGRAPH_JWT_MAX_LIFETIME_HOURS)")
    now = clock.now()
    claims: dict[str, object] = {"sub": subject, "iat": now, "exp": now + ttl, "jti": uuid.uuid4().hex}
    if system:
        claims["role"] = SYSTEM_ROLE
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    return jwt.encode(claims, signing_secret(settings), algorithm="HS256")


def verify_token(settings: Settings, token: str) -> Claims:
    """Check signature, expiry, lifetime (and audience/issuer: always in identity-provider mode).

    AuthError says what is wrong.
    """
    local = not settings.jwt_public_key
    if not local:
        key, algorithms = settings.jwt_public_key, PUBLIC_KEY_ALGORITHMS
    else:
        key, algorithms = signing_secret(settings), ["HS256"]
    try:
        claims = jwt.decode(
            token, key, algorithms=algorithms, audience=settings.jwt_audience, issuer=settings.jwt_issuer,
            options={"require": ["sub", "exp", *([] if local else ["aud", "iss"])]},
        )
    except jwt.ExpiredSignatureError:
        raise AuthError("the token has expired") from None
    except jwt.InvalidSignatureError:
        raise AuthError(f"the token's signature is not valid for this server, which verifies with "
                        f"{secret_source(settings)}") from None
    except jwt.MissingRequiredClaimError as exc:
        raise AuthError(f"the token lacks the {exc.claim!r} claim") from None
    except jwt.InvalidAlgorithmError:
        raise AuthError(f"the token is not signed with an accepted algorithm ({', '.join(algorithms)})") from None
    except jwt.InvalidTokenError as exc:
        raise AuthError(f"the token is not valid: {exc}") from None
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise AuthError("the token's subject is empty")
    now = clock.now()
    expires = datetime.fromtimestamp(claims["exp"], timezone.utc)
    issued = claims.get("iat")
    issued_at = datetime.fromtimestamp(issued, timezone.utc) if isinstance(issued, (int, float)) else None
    longest = max_lifetime(settings)
    if expires - now > longest + LEEWAY or (issued_at is not None and expires - issued_at > longest + LEEWAY):
        raise AuthError(f"the token is valid for longer than the {settings.jwt_max_lifetime_hours:g} hour maximum")
    jti = claims.get("jti")
    return Claims(subject=subject, system=claims.get("role") == SYSTEM_ROLE, local=local,
                  token_id=jti if isinstance(jti, str) and jti else None, issued_at=issued_at)


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer …`` header; AuthError when missing or malformed."""
    if not authorization:
        raise AuthError("no token: send Authorization: Bearer <token>")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("the Authorization header must be 'Bearer <token>'")
    return token.strip()
