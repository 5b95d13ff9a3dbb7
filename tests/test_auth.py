"""Authentication: bearer JWTs with a shared secret or an identity provider's public key."""

from __future__ import annotations

import asyncio
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
    claims = jwt.decode(result.stdout.strip(), "cli-secret-cli-secret-cli-secret-32", algorithms=["HS256"])
    assert claims["sub"] == "anna" and claims["exp"] - claims["iat"] == 3600 and claims["jti"]
    assert "signed with GOALGRAPH_JWT_SECRET" in result.stderr
    too_long = CliRunner().invoke(main, ["token", "anna", "--hours", "48"])
    assert too_long.exit_code == 1 and "at most 24 hours" in too_long.output
    monkeypatch.delenv("GOALGRAPH_JWT_SECRET")
    monkeypatch.setenv("GOALGRAPH_DATABASE_URL", "postgresql+asyncpg://x@127.0.0.1/none")
    refused = CliRunner().invoke(main, ["token", "anna"])
    assert refused.exit_code == 1 and "GOALGRAPH_JWT_SECRET" in refused.output


IDP = {"aud": "goalgraph", "iss": "https://idp.example"}
SERVICE_ONLY = 'mutation { ingestFacts(input: {users: [{id: "x", name: "X"}]}) { __typename } }'


def _rsa() -> tuple[object, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return key, public.decode()


def test_identity_provider_mode_requires_issuer_and_audience() -> None:
    from goalgraph.settings import Settings, SettingsError

    _, public = _rsa()
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({"GOALGRAPH_JWT_PUBLIC_KEY": public, "GOALGRAPH_JWT_AUDIENCE": "goalgraph"})
    assert str(refused.value) == "GOALGRAPH_JWT_PUBLIC_KEY (identity-provider mode) needs GOALGRAPH_JWT_ISSUER too"
    with pytest.raises(SettingsError, match="GOALGRAPH_JWT_ISSUER and GOALGRAPH_JWT_AUDIENCE"):
        Settings.from_env({"GOALGRAPH_JWT_PUBLIC_KEY": public})
    ok = Settings.from_env({"GOALGRAPH_JWT_PUBLIC_KEY": public, **{f"GOALGRAPH_JWT_{k}": v for k, v in
                                                                  (("AUDIENCE", "goalgraph"), ("ISSUER", "x"))}})
    assert ok.jwt_audience == "goalgraph"


async def test_service_tokens_are_deliberate(settings, runtime, gql) -> None:  # type: ignore[no-untyped-def]
    await _seed(gql)
    key, public = _rsa()
    idp = replace(settings, jwt_public_key=public, **{"jwt_audience": IDP["aud"], "jwt_issuer": IDP["iss"]})
    app = create_app(idp, runtime=replace(runtime, settings=idp))
    exp = datetime.now(timezone.utc) + timedelta(minutes=5)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        async def ask(claims: dict) -> dict:
            token = jwt.encode({"exp": exp, **claims}, key, algorithm="RS256")
            return (await client.post("/graphql", json={"query": SERVICE_ONLY},
                                      headers={"authorization": f"Bearer {token}"})).json()

        invented = await ask({"sub": "crm-sync", "role": "system", **IDP})
        assert invented["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert "not a registered service" in invented["errors"][0]["message"]
        no_audience = await ask({"sub": "anna", "iss": IDP["iss"]})
        assert "'aud' claim" in no_audience["errors"][0]["message"]
        user_id = await gql('mutation { registerServiceSubject(subject: "anna") { __typename } }')
        assert user_id["registerServiceSubject"]["__typename"] == "ValidationError"  # a person's id: no
        registered = await gql('mutation { registerServiceSubject(subject: "crm-sync", description: "CRM") '
                               '{ __typename } }')
        assert registered["registerServiceSubject"]["__typename"] == "ServiceRegistered"
        assert (await ask({"sub": "crm-sync", **IDP}))["data"]["ingestFacts"]["__typename"] == "IngestFactsResult"
        await gql('mutation { unregisterServiceSubject(subject: "crm-sync") { __typename } }')
        assert "errors" in await ask({"sub": "crm-sync", "role": "system", **IDP})
    # Shared-secret mode: the local secret's holder mints service tokens (goalgraph token --system).
    local = await gql(SERVICE_ONLY, token=mint_token(settings, "crm-sync", system=True))
    assert local["ingestFacts"]["__typename"] == "IngestFactsResult"


async def test_token_lifetime_is_limited(settings, gql, gql_raw) -> None:  # type: ignore[no-untyped-def]
    await _seed(gql)
    now = datetime.now(timezone.utc)
    long = _hs({"sub": "anna", "iat": now, "exp": now + timedelta(hours=25)})
    body = await gql_raw(QUERY, token=long)
    assert "longer than the 24 hour maximum" in body["errors"][0]["message"]
    backdated = _hs({"sub": "anna", "iat": now - timedelta(days=30), "exp": now + timedelta(hours=1)})
    assert "longer than" in (await gql_raw(QUERY, token=backdated))["errors"][0]["message"]
    short = replace(settings, jwt_max_lifetime_hours=0.5)
    with pytest.raises(Exception, match="at most 0.5 hours"):
        mint_token(short, "anna", ttl=timedelta(hours=1))
    assert "errors" not in await gql_raw(QUERY, token=_hs({"sub": "anna", "iat": now, "exp": now + timedelta(hours=23)}))


async def test_admins_revoke_a_token_or_all_of_a_user(settings, gql, gql_raw) -> None:  # type: ignore[no-untyped-def]
    await _seed(gql)
    first, second = mint_token(settings, "anna"), mint_token(settings, "anna")
    token_id = (await gql("{ me { tokenId } }", token=first))["me"]["tokenId"]
    assert token_id and token_id == jwt.decode(first, options={"verify_signature": False})["jti"]
    revoked = await gql("mutation($t: String!) { revokeToken(tokenId: $t) { __typename } }", t=token_id)
    assert revoked["revokeToken"]["__typename"] == "TokensRevoked"
    assert "revoked" in (await gql_raw(QUERY, token=first))["errors"][0]["message"]
    assert "errors" not in await gql_raw(QUERY, token=second)
    refused = await gql_raw('mutation { revokeTokensOf(subject: "anna") { __typename } }', as_user="anna")
    assert refused["data"]["revokeTokensOf"]["__typename"] == "ForbiddenError"
    cut = await gql('mutation { revokeTokensOf(subject: "anna") { __typename ... on TokensRevoked { notBefore } } }')
    cutoff = datetime.fromisoformat(cut["revokeTokensOf"]["notBefore"])
    assert "were revoked" in (await gql_raw(QUERY, token=second))["errors"][0]["message"]
    await asyncio.sleep(max(0.0, (cutoff - datetime.now(timezone.utc)).total_seconds()) + 1.05)  # iat has seconds
    assert "errors" not in await gql_raw(QUERY, token=mint_token(settings, "anna"))  # issued after the cutoff
    assert "errors" in await gql_raw(QUERY, token=_hs({"sub": "anna", "exp": cutoff + timedelta(hours=1)}))  # no iat


async def test_no_schema_suggestions_without_introspection(settings, runtime) -> None:  # type: ignore[no-untyped-def]
    typo = "{ goalz { totalCount } }"
    open_body = await gql_raw_with(settings, runtime, typo)
    assert "Did you mean 'goal'" in open_body["errors"][0]["message"]
    closed = replace(settings, introspection=False)
    body = await gql_raw_with(closed, runtime, typo)
    assert body["errors"][0]["message"] == "Cannot query field 'goalz' on type 'Query'."
    enum_typo = await gql_raw_with(closed, runtime, 'query { goals(orderBy: PROGRES_ASC) { totalCount } }')
    assert "Did you mean" not in enum_typo["errors"][0]["message"]


async def gql_raw_with(settings, runtime, query: str) -> dict:  # type: ignore[no-untyped-def]
    from goalgraph.testing.credentials import system_token

    app = create_app(settings, runtime=replace(runtime, settings=settings))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        return (await client.post("/graphql", json={"query": query},
                                  headers={"authorization": f"Bearer {system_token(settings)}"})).json()
