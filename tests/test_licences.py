"""Licences: signed offline, plans map to features, one gate refuses with LICENCE_REQUIRED."""

from __future__ import annotations

from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import date, datetime, timezone

import httpx
import pytest
from click.testing import CliRunner

from factsets import INGEST
from goalgraph.access.licence import generate_keypair, sign_licence, verify_licence
from goalgraph.app import create_app
from goalgraph.cli import main
from goalgraph.testing.credentials import licence_keypair, make_licence, system_token, user_token

TODAY = date(2026, 6, 1)
BATCH = {
    "users": [{"id": "anna", "name": "Anna"}, {"id": "bo", "name": "Bo"}],
    "teams": [{"id": "t1", "name": "One", "memberIds": ["anna"]}, {"id": "t2", "name": "Two", "memberIds": ["bo"]}],
}
CREATE = """mutation($input: GoalInput!) { createGoal(input: $input) { __typename
  ... on LicenceRequiredError { code feature message } ... on GoalSuccess { goal { id missingFeatures } } } }"""


def goal(kind: str = "USER", id_: str | None = "anna", **over: object) -> dict:
    base = {"title": "g", "goalType": "DEALS_ADDED", "measure": "COUNT", "interval": "MONTHLY",
            "startDate": "2026-01-01", "endDate": "2026-12-31", "targetForAll": "1",
            "assignee": {"kind": kind, **({"id": id_} if id_ else {})}}
    base.update(over)
    return base


def test_verification_falls_back_to_free_and_says_why() -> None:
    private, public = licence_keypair()
    good = sign_licence(private, plan="professional", customer="ACME", seats=10, expires=date(2027, 1, 1))
    status = verify_licence(good, public, TODAY)
    assert status.valid and status.plan == "professional" and status.seats == 10 and status.customer == "ACME"
    prefix, payload, signature = good.split(".")
    tampered = ".".join([prefix, payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB"), signature])
    other_private, _ = generate_keypair()
    cases = {
        tampered: "unsigned or tampered",
        sign_licence(other_private, plan="enterprise", customer="x"): "unsigned or tampered",
        sign_licence(private, plan="enterprise", customer="x", expires=date(2026, 5, 31)): "expired on 2026-05-31",
        "hello": "not a goalgraph licence",
        "GGL1.!!!.???": "malformed",
    }
    for token, words in cases.items():
        refused = verify_licence(token, public, TODAY)
        assert not refused.valid and refused.plan == "free" and not refused.features
        assert words in (refused.reason or ""), (words, refused.reason)
    assert verify_licence(None, public, TODAY).reason == "no licence installed: the free plan applies"


@asynccontextmanager
async def client_with(settings, runtime, **changes):  # type: ignore[no-untyped-def]
    changed = replace(settings, **changes)
    app = create_app(changed, runtime=replace(runtime, settings=changed))
    headers = {"authorization": f"Bearer {system_token(changed)}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t", headers=headers) as c:
        async def gql(query: str, **variables: object) -> dict:
            body = (await c.post("/graphql", json={"query": query, "variables": variables or None})).json()
            assert "errors" not in body, body["errors"]
            return body["data"]

        yield gql


async def test_free_plan_allows_user_goals_only(settings, runtime, gql) -> None:  # type: ignore[no-untyped-def]
    await gql(INGEST, input=BATCH)
    async with client_with(settings, runtime, licence=None) as free:
        licence = (await free("{ licence { plan valid reason seatsUsed } }"))["licence"]
        assert licence == {"plan": "free", "valid": False, "reason": "no licence installed: the free plan applies",
                           "seatsUsed": 0}  # seats assigned (none), not active users
        assert (await free(CREATE, input=goal()))["createGoal"]["__typename"] == "GoalSuccess"
        for kind, id_, feature in (("TEAM", "t1", "TEAM_GOALS"), ("COMPANY", None, "COMPANY_GOALS")):
            refused = (await free(CREATE, input=goal(kind, id_)))["createGoal"]
            assert refused["code"] == "LICENCE_REQUIRED" and refused["feature"] == feature
            assert "not included in your licence" in refused["message"]
        split = goal(targetForAll=None, splitBy="sale_type", elementTargets=[{"element": "Upsell", "target": "1"}])
        assert (await free(CREATE, input=split))["createGoal"]["feature"] == "CUSTOM_DIMENSIONS"
        features = {f["key"]: f for f in (await free("{ features { key licensed enabled } }"))["features"]}
        assert features["TEAM_GOALS"] == {"key": "TEAM_GOALS", "licensed": False, "enabled": False}


async def test_professional_plan_and_multiple_teams(settings, runtime, gql) -> None:  # type: ignore[no-untyped-def]
    await gql(INGEST, input=BATCH)
    async with client_with(settings, runtime, licence=make_licence("professional")) as pro:
        assert (await pro(CREATE, input=goal("COMPANY", None)))["createGoal"]["__typename"] == "GoalSuccess"
        forecast = goal(goalType="REVENUE_FORECAST", measure="WEIGHTED_VALUE")
        assert (await pro(CREATE, input=forecast))["createGoal"]["feature"] == "REVENUE_FORECAST"
        split = goal(targetForAll=None, splitBy="sale_type", elementTargets=[{"element": "Upsell", "target": "1"}])
        assert (await pro(CREATE, input=split))["createGoal"]["feature"] == "SPLIT_TARGETS"
        enable = await pro('mutation { setFeatureEnabled(key: "REVENUE_FORECAST", enabled: true) { __typename '
                           '... on LicenceRequiredError { feature } } }')
        assert enable["setFeatureEnabled"] == {"__typename": "LicenceRequiredError", "feature": "REVENUE_FORECAST"}
    one_team = make_licence("free", extra_features=("TEAM_GOALS",))
    async with client_with(settings, runtime, licence=one_team) as small:
        assert (await small(CREATE, input=goal("TEAM", "t1")))["createGoal"]["__typename"] == "GoalSuccess"
        assert (await small(CREATE, input=goal("TEAM", "t1")))["createGoal"]["__typename"] == "GoalSuccess"
        assert (await small(CREATE, input=goal("TEAM", "t2")))["createGoal"]["feature"] == "MULTIPLE_TEAMS"


async def test_switching_a_feature_off_keeps_goals_readable(settings, runtime, gql) -> None:  # type: ignore[no-untyped-def]
    runtime.clock = lambda: datetime(2026, 6, 15, 12, tzinfo=timezone.utc)
    await gql(INGEST, input=BATCH)
    team_goal = (await gql(CREATE, input=goal("TEAM", "t1")))["createGoal"]["goal"]
    await runtime.recompute.settled()  # the store freezes January–May
    off = await gql('mutation { setFeatureEnabled(key: "TEAM_GOALS", enabled: false) { __typename '
                    '... on FeatureSaved { feature { key licensed enabled } } } }')
    assert off["setFeatureEnabled"]["feature"] == {"key": "TEAM_GOALS", "licensed": True, "enabled": False}
    refused = (await gql(CREATE, input=goal("TEAM", "t2")))["createGoal"]
    assert refused["feature"] == "TEAM_GOALS" and "switched off" in refused["message"]
    read = await gql('{ goal(id: "%s") { missingFeatures periods { actual snapshotTakenAt } } }' % team_goal["id"])
    # Lapsed: the frozen periods stay readable; the open ones are not measured.
    assert read["goal"]["missingFeatures"] == ["TEAM_GOALS"] and len(read["goal"]["periods"]) == 5
    assert all(p["snapshotTakenAt"] for p in read["goal"]["periods"])
    edit = await gql('mutation { updateGoal(id: "%s", version: 1, input: {targetForAll: "2"}) { __typename } }'
                     % team_goal["id"])
    assert edit["updateGoal"]["__typename"] == "LicenceRequiredError"
    bad = await gql('mutation { setFeatureEnabled(key: "NOPE", enabled: true) { __typename } }')
    assert bad["setFeatureEnabled"]["__typename"] == "ValidationError"


async def test_install_licence(settings, runtime, gql) -> None:  # type: ignore[no-untyped-def]
    async with client_with(settings, runtime, licence=None) as free:
        bad = await free('mutation { installLicence(token: "GGL1.abc.def") { __typename ... on ValidationError '
                         '{ message } } }')
        assert bad["installLicence"]["__typename"] == "ValidationError" and "refused" in bad["installLicence"]["message"]
        token = make_licence("professional", seats=5)
        ok = await free('mutation($t: String!) { installLicence(token: $t) { __typename ... on LicenceInstalled '
                        '{ licence { plan valid seats } } } }', t=token)
        assert ok["installLicence"]["licence"] == {"plan": "professional", "valid": True, "seats": 5}
        assert (await free("{ licence { plan } }"))["licence"]["plan"] == "professional"


def test_features_command(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("GOALGRAPH_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'f.db'}")
    monkeypatch.setenv("GOALGRAPH_LICENCE", make_licence("professional"))
    monkeypatch.setenv("GOALGRAPH_LICENCE_PUBLIC_KEY", licence_keypair()[1])
    result = CliRunner().invoke(main, ["features", "--disable", "COMPANY_GOALS"])
    assert result.exit_code == 0, result.output
    assert "licence: professional" in result.output
    assert "COMPANY_GOALS        switched off" in result.output and "TEAM_GOALS           enabled" in result.output
    assert "REVENUE_FORECAST     not licensed" in result.output
    refused = CliRunner().invoke(main, ["features", "--enable", "REVENUE_FORECAST"])
    assert refused.exit_code == 1 and "not included in your licence" in refused.output


LAPSED_BATCH = {
    "users": [{"id": "anna", "name": "Anna"}, {"id": "lea", "name": "Lea"}],
    "teams": [{"id": "t1", "name": "One", "memberIds": ["anna", "lea"], "leaderIds": ["lea"]}],
    "pipelines": [{"id": "p", "name": "P", "stages": [{"id": "s", "name": "S", "probability": 50}]}],
    "deals": [{"id": f"d{i}", "title": "d", "value": "100", "currency": "EUR", "ownerId": "anna", "stageId": "s",
               "addedAt": f"2026-{m:02d}-10T10:00:00Z"} for i, m in enumerate((3, 6, 6))],
}
VERSIONED = '{ goal(id: "%s") { version missingFeatures currentPeriod { actual } periods { actual contributions { nodes { amount } } } } }'


async def test_lapsed_feature_leaves_definition_and_frozen_results(settings, runtime, gql) -> None:  # type: ignore[no-untyped-def]
    """No new computation, no drill-down, changes refused with LICENCE_REQUIRED, delete by an admin only."""
    runtime.clock = lambda: datetime(2026, 6, 15, 12, tzinfo=timezone.utc)
    await gql(INGEST, input=LAPSED_BATCH)
    await gql('mutation { setUserAccess(userId: "lea", input: {seeCompanyStatistics: true, '
              'seeOtherUsersStatistics: true, canLockTargets: true}) { __typename } }')
    ids = [(await gql(CREATE, input=goal("TEAM", "t1", title=f"t{i}")))["createGoal"]["goal"]["id"] for i in range(2)]
    alive = (await gql(VERSIONED % ids[0]))["goal"]
    assert alive["currentPeriod"]["actual"] == "2" and alive["periods"][2]["actual"] == "1"
    await gql('mutation { setFeatureEnabled(key: "TEAM_GOALS", enabled: false) { __typename } }')

    lapsed = (await gql(VERSIONED % ids[0], as_user="lea"))["goal"]
    assert lapsed["missingFeatures"] == ["TEAM_GOALS"] and lapsed["currentPeriod"] is None
    assert [p["actual"] for p in lapsed["periods"]] == ["0", "0", "1", "0", "0"]  # frozen January–May
    assert all(p["contributions"]["nodes"] == [] for p in lapsed["periods"])  # no drill-down
    v = lapsed["version"]
    for mutation in (f'updateGoal(id: "{ids[0]}", version: {v}, input: {{title: "x"}})',
                     f'updateGoal(id: "{ids[0]}", version: {v}, input: {{assignee: {{kind: USER, id: "anna"}}}})',
                     f'lockGoal(id: "{ids[0]}", version: {v})', f'unlockGoal(id: "{ids[0]}", version: {v})',
                     f'deleteGoal(id: "{ids[0]}", version: {v})'):
        result = next(iter((await gql("mutation { %s { __typename ... on LicenceRequiredError { code feature } } }"
                                      % mutation, as_user="lea")).values()))
        assert result == {"__typename": "LicenceRequiredError", "code": "LICENCE_REQUIRED", "feature": "TEAM_GOALS"}, mutation
    deleted = await gql('mutation { deleteGoal(id: "%s", version: %d) { __typename } }' % (ids[1], v))
    assert deleted["deleteGoal"]["__typename"] == "DeleteGoalSuccess"  # an admin (service token) may delete it


SEAT = """mutation($u: ID!, $s: Boolean!) { setUserSeat(userId: $u, seat: $s) { __typename
  ... on SeatSaved { hasSeat licence { seats seatsUsed seatHolders { id } } }
  ... on LicenceRequiredError { code feature message } } }"""


async def test_seats_are_assigned_within_the_licence_and_enforced(settings, runtime, gql) -> None:  # type: ignore[no-untyped-def]
    await gql(INGEST, input=LAPSED_BATCH)
    one_seat = make_licence("professional", seats=1)
    async with client_with(settings, runtime, licence=one_seat) as admin:
        ok = (await admin(SEAT, u="anna", s=True))["setUserSeat"]
        assert ok == {"__typename": "SeatSaved", "hasSeat": True,
                      "licence": {"seats": 1, "seatsUsed": 1, "seatHolders": [{"id": "anna"}]}}
        over = (await admin(SEAT, u="lea", s=True))["setUserSeat"]
        assert over["code"] == "LICENCE_REQUIRED" and over["feature"] == "SEATS" and "seat" in over["message"]
        assert (await admin(CREATE, input=goal(id_="lea")))["createGoal"]["__typename"] == "GoalSuccess"  # service

        changed = replace(settings, licence=one_seat)
        app = create_app(changed, runtime=replace(runtime, settings=changed))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            async def as_user(user: str, query: str, **variables: object) -> dict:
                headers = {"authorization": f"Bearer {user_token(changed, user)}"}
                body = (await c.post("/graphql", json={"query": query, "variables": variables or None},
                                     headers=headers)).json()
                assert "errors" not in body, body
                return body["data"]

            created = (await as_user("anna", CREATE, input=goal(id_="anna")))["createGoal"]
            assert created["__typename"] == "GoalSuccess"
            refused = (await as_user("lea", CREATE, input=goal(id_="lea")))["createGoal"]
            assert refused["code"] == "LICENCE_REQUIRED" and refused["feature"] == "SEATS"
            assert "seat" in refused["message"]
            mine = await as_user("lea", '{ me { hasSeat } goals { nodes { title periods { actual } } } }')
            assert mine["me"] == {"hasSeat": False} and len(mine["goals"]["nodes"]) == 2  # reads (hers, her team's)
            edit = await as_user("lea", '{ goals(filter: {assigneeKind: USER, assigneeId: "lea"}) { nodes { id version } } }')
            node = edit["goals"]["nodes"][0]
            upd = await as_user("lea", 'mutation { updateGoal(id: "%s", version: %d, input: {title: "y"}) '
                                '{ __typename ... on LicenceRequiredError { feature } } }' % (node["id"], node["version"]))
            assert upd["updateGoal"] == {"__typename": "LicenceRequiredError", "feature": "SEATS"}
            assert (await admin(SEAT, u="anna", s=False))["setUserSeat"]["hasSeat"] is False
            assert (await admin(SEAT, u="lea", s=True))["setUserSeat"]["hasSeat"] is True
            assert (await as_user("lea", CREATE, input=goal(id_="lea")))["createGoal"]["__typename"] == "GoalSuccess"
            licence = (await as_user("lea", "{ licence { plan customer seats seatsUsed seatHolders { id } } }"))
            assert licence["licence"] == {"plan": "professional", "customer": None, "seats": None, "seatsUsed": None,
                                          "seatHolders": None}  # licence details are the admins'
