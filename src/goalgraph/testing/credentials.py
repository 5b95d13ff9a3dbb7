"""Tokens and licences for tests: a fixed secret, a throwaway licence key pair."""

from __future__ import annotations

from functools import lru_cache

from goalgraph.access.licence import generate_keypair, sign_licence
from goalgraph.access.tokens import mint_token
from goalgraph.settings import Settings

TEST_JWT_SECRET = "goalgraph-test-secret-not-for-production"


@lru_cache(maxsize=1)
def licence_keypair() -> tuple[str, str]:
    """(private PEM, public PEM) used to sign test licences."""
    return generate_keypair()


def make_licence(plan: str = "enterprise", **kwargs: object) -> str:
    """A licence signed with the test key pair (configure ``licence_public_key`` to accept it)."""
    return sign_licence(licence_keypair()[0], plan=plan, customer="goalgraph tests", **kwargs)  # type: ignore[arg-type]


def with_credentials(settings: Settings, *, plan: str | None = "enterprise") -> Settings:
    """``settings`` plus the test secret and (unless plan is None) a licence for ``plan``."""
    from dataclasses import replace

    return replace(settings, jwt_secret=TEST_JWT_SECRET, licence_public_key=licence_keypair()[1],
                   licence=make_licence(plan) if plan else None)


def system_token(settings: Settings) -> str:
    """A service token (all rights)."""
    return mint_token(settings, "test-system", system=True)


def user_token(settings: Settings, external_id: str) -> str:
    """A token for the user with this CRM id."""
    return mint_token(settings, external_id)
