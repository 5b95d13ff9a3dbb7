"""Bearer tokens: mint (for local use) and verify (shared secret or an identity provider's key)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import jwt

from goalgraph import clock
from goalgraph.settings import Settings

#: Claim marking a service token (a CRM integration), not a person: it may do everything.
SYSTEM_ROLE = "system"
PUBLIC_KEY_ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "EdDSA"]


class AuthError(Exception):
    """The request is not authenticated; the message says why (never echoes the token)."""


class ConfigError(RuntimeError):
    """Authentication is on but no way to verify tokens is configured."""


@dataclass(frozen=True)
class Claims:
    """What a verified token says: whose it is, and whether it is a service token."""

    subject: str
    system: bool = False


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


def mint_token(settings: Settings, subject: str, *, system: bool = False, ttl: timedelta = timedelta(hours=12)) -> str:
    """A signed token for ``subject`` (a user's CRM id), or a service token when ``system``."""
    now = clock.now()
    claims: dict[str, object] = {"sub": subject, "iat": now, "exp": now + ttl}
    if system:
        claims["role"] = SYSTEM_ROLE
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    return jwt.encode(claims, signing_secret(settings), algorithm="HS256")


def verify_token(settings: Settings, token: str) -> Claims:
    """Check signature, expiry (and audience/issuer when configured); AuthError says what is wrong."""
    if settings.jwt_public_key:
        key, algorithms = settings.jwt_public_key, PUBLIC_KEY_ALGORITHMS
    else:
        key, algorithms = signing_secret(settings), ["HS256"]
    try:
        claims = jwt.decode(
            token, key, algorithms=algorithms, audience=settings.jwt_audience, issuer=settings.jwt_issuer,
            options={"require": ["sub", "exp"]},
        )
    except jwt.ExpiredSignatureError:
        raise AuthError("the token has expired") from None
    except jwt.InvalidSignatureError:
        raise AuthError("the token's signature is not valid") from None
    except jwt.MissingRequiredClaimError as exc:
        raise AuthError(f"the token lacks the {exc.claim!r} claim") from None
    except jwt.InvalidAlgorithmError:
        raise AuthError(f"the token is not signed with an accepted algorithm ({', '.join(algorithms)})") from None
    except jwt.InvalidTokenError as exc:
        raise AuthError(f"the token is not valid: {exc}") from None
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise AuthError("the token's subject is empty")
    return Claims(subject=subject, system=claims.get("role") == SYSTEM_ROLE)


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer …`` header; AuthError when missing or malformed."""
    if not authorization:
        raise AuthError("no token: send Authorization: Bearer <token>")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("the Authorization header must be 'Bearer <token>'")
    return token.strip()
