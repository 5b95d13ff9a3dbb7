"""Signed licences, verified offline: plan, features, seats, expiry.

A licence is ``GGL1.<payload>.<signature>`` (base64url): an Ed25519 signature over the JSON
payload ``{"customer", "plan", "features", "seats", "expires"}``. An unsigned, tampered,
malformed or expired licence falls back to the free plan and says why.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from functools import lru_cache
from datetime import date
from importlib.resources import files

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from goalgraph import features as core

PREFIX = "GGL1"
#: Every registered feature (core and plugins).
ALL = "*"
PLANS: dict[str, frozenset[str]] = {
    "free": frozenset(),
    "professional": frozenset({core.TEAM_GOALS, core.COMPANY_GOALS, core.MULTIPLE_TEAMS, core.CUSTOM_DIMENSIONS}),
    "enterprise": frozenset({ALL}),
}


@dataclass(frozen=True)
class LicenceStatus:
    """The licence in force (after verification) and what it grants."""

    plan: str = "free"
    features: frozenset[str] = field(default_factory=frozenset)
    seats: int | None = None
    expires: date | None = None
    customer: str | None = None
    valid: bool = False
    #: Why the free plan applies, when a licence was given but refused.
    reason: str | None = None

    def grants(self, feature: str) -> bool:
        return ALL in self.features or feature in self.features


FREE = LicenceStatus(reason="no licence installed: the free plan applies")


def shipped_public_key() -> str:
    """The public key goalgraph ships with (licences signed by the goalgraph project)."""
    return files("goalgraph.access").joinpath("licence_public_key.pem").read_text()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)


def sign_licence(private_key_pem: str, *, plan: str, customer: str, seats: int | None = None,
                 expires: date | None = None, extra_features: tuple[str, ...] = ()) -> str:
    """A licence token signed with the vendor's Ed25519 private key."""
    if plan not in PLANS:
        raise ValueError(f"unknown plan {plan!r} (plans: {', '.join(PLANS)})")
    key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("licences are signed with an Ed25519 private key")
    payload = json.dumps({"customer": customer, "plan": plan, "features": sorted(extra_features), "seats": seats,
                          "expires": expires.isoformat() if expires else None}, sort_keys=True).encode()
    return f"{PREFIX}.{_b64(payload)}.{_b64(key.sign(payload))}"


def generate_keypair() -> tuple[str, str]:
    """A new (private PEM, public PEM) Ed25519 pair for signing licences."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public


@lru_cache(maxsize=64)
def verify_licence(token: str | None, public_key_pem: str, today: date) -> LicenceStatus:
    """The licence's grants, or the free plan with the reason it was refused.

    Memoised (a pure function of its arguments; the result is immutable): every request reads the
    licence in force, and checking its signature each time was a few percent of a read's CPU."""
    if not token:
        return FREE

    def refuse(reason: str) -> LicenceStatus:
        return LicenceStatus(reason=f"licence refused ({reason}): the free plan applies")

    parts = token.strip().split(".")
    if len(parts) != 3 or parts[0] != PREFIX:
        return refuse(f"not a goalgraph licence: expected {PREFIX}.<payload>.<signature>")
    try:
        payload, signature = _unb64(parts[1]), _unb64(parts[2])
    except ValueError:  # binascii.Error is a ValueError
        return refuse("malformed encoding")
    key = serialization.load_pem_public_key(public_key_pem.encode())
    if not isinstance(key, Ed25519PublicKey):
        return refuse("the configured licence key is not an Ed25519 public key")
    try:
        key.verify(signature, payload)
    except InvalidSignature:
        return refuse("the signature does not match: unsigned or tampered")
    try:
        data = json.loads(payload)
        plan = data["plan"]
        expires = date.fromisoformat(data["expires"]) if data.get("expires") else None
        seats = int(data["seats"]) if data.get("seats") is not None else None
    except (ValueError, KeyError, TypeError):
        return refuse("malformed payload")
    if plan not in PLANS:
        return refuse(f"unknown plan {plan!r}")
    if expires is not None and expires < today:
        return LicenceStatus(plan="free", seats=seats, expires=expires, customer=data.get("customer"),
                             reason=f"licence expired on {expires.isoformat()}: the free plan applies")
    return LicenceStatus(plan=plan, features=PLANS[plan] | frozenset(data.get("features") or ()), seats=seats,
                         expires=expires, customer=data.get("customer"), valid=True)
