"""Authentication: bearer JWTs with a shared secret or an identity provider's public key."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import httpx
import jwt
import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from goalgraph.access.tokens import mint_token
from goalgraph.app import create_app
from goalgraph.cli import main
from goalgraph.testing.credentials import TEST_JWT_SECRET

QUERY = "{ organisation { name } }"


async def _seed(gql) -> None:  # type: ignore[no-untyped-def]
    from factsets import INGEST

    await gql(INGEST, input={"users": [{"id": "anna", "name": "Anna"}, {"id": "gone", "name": "Gone", "active": False}]})


def _hs(claims: dict, secret: str = TEST_JWT_SECRET) -> str:
    return jwt.encode(claims, secret, algorithm="HS256")


async def test_tokens_are_verified(gql, gql_raw, settings) -> None:  # type: ignore[no-untyped-def]
    await _seed(gql)
    now = datetime.now(timezone.utc)

    async def code_of(token):  # type: ignore[no-untyped-def]
        body = await gql_raw(QUERY, token=token)
        return body["errors"][0]["extensions"]["code"] if "errors" in body else "OK", body

    cases = {
        None: "no token",
        "garbage": "not valid",
        _hs({"sub": "anna", "exp": now - timedelta(minutes=1)}): "expired",
        _hs({"sub": "anna", "exp": now + timedelta(hours=1)}, secret="another-secret-of-sufficient-length"): "signature",
        _hs({"sub": "anna"}): "'exp' claim",
        _hs({"sub": "nobody", "exp": now + timedelta(hours=1)}): "not a known user",
        _hs({"sub": "gone", "exp": now + timedelta(hours=1)}): "deactivated",
        jwt.encode({"sub": "anna", "exp": now + timedelta(hours=1)}, None, algorithm="none"): "algorithm",
    }
    for token, words in cases.items():
        code, body = await code_of(token)
        assert code == "UNAUTHENTICATED", (words, body)
        assert words in body["errors"][0]["message"], (words, body["errors"][0]["message"])
        assert body["data"] is None or body["data"] == {"organisation": None} or body["data"] is None
    assert (await code_of(mint_token(settings, "anna")))[0] == "OK"


async def test_introspection_and_health_need_no_token(client) -> None:  # type: ignore[no-untyped-def]
    body = (await client.post("/graphql", json={"query": "{ __schema { queryType { name } } }"})).json()
    assert body == {"data": {"__schema": {"queryType": {"name": "Query"}}}}
    assert (await client.get("/healthz")).status_code == 200
    mixed = (await client.post("/graphql", json={"query": "{ __typename goals { totalCount } }"})).json()
    assert mixed["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_identity_provider_public_key(settings, runtime, gql) -> None:  # type: ignore[no-untyped-def]
    await _seed(gql)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    idp = replace(settings, jwt_public_key=public.decode(), jwt_audience="goalgraph", jwt_issuer="https://idp.example")
    app = create_app(idp, runtime=replace(runtime, settings=idp))
    claims = {"sub": "anna", "aud": "goalgraph", "iss": "https://idp.example",
              "exp": datetime.now(timezone.utc) + timedelta(minutes=5)}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        async def ask(token: str) -> dict:
            return (await client.post("/graphql", json={"query": QUERY}, headers={"authorization": f"Bearer {token}"})).json()

        assert (await ask(jwt.encode(claims, key, algorithm="RS256")))["data"]["organisation"]
        wrong_aud = jwt.encode({**claims, "aud": "other"}, key, algorithm="RS256")
        assert "not valid" in (await ask(wrong_aud))["errors"][0]["message"]
        hs = _hs(claims)  # a shared-secret token is refused when a public key is configured
        assert (await ask(hs))["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_token_command(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("GOALGRAPH_JWT_SECRET", "cli-secret-cli-secret-cli-secret-32")
    result = CliRunner().invoke(main, ["token", "anna", "--hours", "1"])
    assert result.exit_code == 0, result.output
    claims = jwt.decode(result.output.strip(), "cli-secret-cli-secret-cli-secret-32", algorithms=["HS256"])
    assert claims["sub"] == "anna" and claims["exp"] - claims["iat"] == 3600
    monkeypatch.delenv("GOALGRAPH_JWT_SECRET")
    monkeypatch.setenv("GOALGRAPH_DATABASE_URL", "postgresql+asyncpg://x@127.0.0.1/none")
    refused = CliRunner().invoke(main, ["token", "anna"])
    assert refused.exit_code == 1 and "GOALGRAPH_JWT_SECRET" in refused.output
