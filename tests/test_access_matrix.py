"""Every role × rights combination × action, through the real GraphQL API, against the rules in the issue.

Rules (Pipedrive's goal visibility, SuperOffice's lock right):
- admins see company, team and user goals;
- team leaders always see their team's goals; they need both statistics rights for company goals
  and goals outside their team;
- regular users always see their own goals; they need both rights for company, team or other users' goals;
- regular users cannot add, edit or delete other users' goals; team leaders may for users in their team
  (and their team's goal) when they hold both rights; company goals are the admins';
- only users with the lock right lock and unlock, and only goals they can see and edit.
"""

from __future__ import annotations

import itertools

import pytest

USERS = ["alice", "lena", "mats", "olga", "ulf"]
BATCH = {
    "users": [{"id": u, "name": u.title()} for u in USERS],
    "teams": [
        {"id": "north", "name": "North", "memberIds": ["lena", "mats"], "leaderIds": ["lena"]},
        {"id": "south", "name": "South", "memberIds": ["olga", "ulf"], "leaderIds": ["ulf"]},
    ],
    "pipelines": [{"id": "p", "name": "P", "stages": [{"id": "s", "name": "S", "probability": 10}]}],
    "deals": [{"id": f"d-{u}", "title": u, "value": "10", "currency": "EUR", "ownerId": u, "stageId": "s",
               "addedAt": "2026-02-01T10:00:00Z"} for u in USERS],
}
ASSIGNEES = {  # name → (kind, id)
    "company": ("COMPANY", None), "team north": ("TEAM", "north"), "team south": ("TEAM", "south"),
    "user lena": ("USER", "lena"), "user mats": ("USER", "mats"), "user olga": ("USER", "olga"),
}
VIEWER_OF_ROLE = {"admin": "alice", "leader": "lena", "regular": "mats"}
TEAM_OF_LENA = {"team north", "user lena", "user mats"}

CREATE = """mutation($input: GoalInput!) { createGoal(input: $input) { __typename ... on GoalSuccess { goal { id } } } }"""
ACCESS = """mutation($id: ID!, $input: AccessInput!) { setUserAccess(userId: $id, input: $input) { __typename } }"""


def goal_input(assignee: str) -> dict:
    kind, id_ = ASSIGNEES[assignee]
    return {"title": assignee, "goalType": "DEALS_ADDED", "measure": "COUNT", "interval": "YEARLY",
            "startDate": "2026-01-01", "endDate": "2026-12-31", "targetForAll": "5",
            "assignee": {"kind": kind, **({"id": id_} if id_ else {})}}


def may_see(role: str, viewer: str, both: bool, assignee: str) -> bool:
    if role == "admin" or both:
        return True
    if assignee == f"user {viewer}":
        return True
    return role == "leader" and assignee in TEAM_OF_LENA


def may_change(role: str, viewer: str, both: bool, assignee: str) -> bool:
    if role == "admin":
        return True
    if assignee == f"user {viewer}":
        return True
    return role == "leader" and both and assignee in TEAM_OF_LENA


def may_lock(role: str, viewer: str, both: bool, lock: bool, assignee: str) -> bool:
    return lock and may_see(role, viewer, both, assignee) and may_change(role, viewer, both, assignee)


COMBOS = [(role, company, others, lock) for role in VIEWER_OF_ROLE
          for company, others, lock in itertools.product([False, True], repeat=3)]


@pytest.fixture
async def world(gql):  # type: ignore[no-untyped-def]
    from factsets import INGEST

    assert (await gql(INGEST, input=BATCH))["ingestFacts"]["__typename"] == "IngestFactsResult"
    await gql(ACCESS, id="alice", input={"admin": True})
    ids = {}
    for name in ASSIGNEES:
        ids[name] = (await gql(CREATE, input=goal_input(name)))["createGoal"]["goal"]["id"]
    return ids


async def _versions(gql, ids: dict[str, str]) -> dict[str, int]:  # type: ignore[no-untyped-def]
    body = " ".join(f'g{i}: goal(id: "{goal_id}") {{ version }}' for i, goal_id in enumerate(ids.values()))
    data = await gql("{ %s }" % body)
    return {name: data[f"g{i}"]["version"] for i, name in enumerate(ids)}


async def _each_goal(gql, viewer: str, ids: dict[str, str], field: str) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    """Run ``field`` (a mutation with $ID/$V placeholders) on every goal in one request, as ``viewer``."""
    versions = await _versions(gql, ids)
    body = " ".join(f"g{i}: " + field.replace("$ID", f'"{goal_id}"').replace("$V", str(versions[name]))
                    for i, (name, goal_id) in enumerate(ids.items()))
    data = await gql("mutation { %s }" % body, as_user=viewer)
    return {name: data[f"g{i}"] for i, name in enumerate(ids)}


def _want(visible: bool, allowed: bool) -> str:
    return "NotFoundError" if not visible else ("GoalSuccess" if allowed else "ForbiddenError")


async def test_permission_matrix(world, gql) -> None:  # type: ignore[no-untyped-def]
    by_id = {v: k for k, v in world.items()}
    failures: list[str] = []
    for role, company, others, lock in COMBOS:
        viewer = VIEWER_OF_ROLE[role]
        both = company and others
        await gql(ACCESS, id=viewer, input={"seeCompanyStatistics": company, "seeOtherUsersStatistics": others,
                                              "canLockTargets": lock})
        combo = f"{role} company={company} others={others} lock={lock}"
        see = {a: may_see(role, viewer, both, a) for a in ASSIGNEES}
        change = {a: may_change(role, viewer, both, a) for a in ASSIGNEES}

        singles = " ".join(f'g{i}: goal(id: "{goal_id}") {{ id }}' for i, goal_id in enumerate(world.values()))
        read = await gql("{ goals { nodes { id viewerCan { edit delete lock } } } %s }" % singles, as_user=viewer)
        seen = {by_id[n["id"]]: n["viewerCan"] for n in read["goals"]["nodes"]}
        if set(seen) != {a for a in ASSIGNEES if see[a]}:
            failures.append(f"{combo}: list shows {sorted(seen)}")
        for i, assignee in enumerate(world):
            if (read[f"g{i}"] is not None) != see[assignee]:
                failures.append(f"{combo}: goal({assignee}) visible={read[f'g{i}'] is not None}")
        for assignee, can in seen.items():
            want = {"edit": change[assignee], "delete": change[assignee],
                    "lock": may_lock(role, viewer, both, lock, assignee)}
            if can != want:
                failures.append(f"{combo}: viewerCan on {assignee} = {can}, expected {want}")

        edits = await _each_goal(gql, viewer, world, 'updateGoal(id: $ID, version: $V, input: {title: "x"}) { __typename }')
        for assignee, result in edits.items():
            if result["__typename"] != _want(see[assignee], change[assignee]):
                failures.append(f"{combo}: edit {assignee} → {result['__typename']}")

        locks = await _each_goal(gql, viewer, world, "lockGoal(id: $ID, version: $V) { __typename }")
        for assignee, result in locks.items():
            if result["__typename"] != _want(see[assignee], may_lock(role, viewer, both, lock, assignee)):
                failures.append(f"{combo}: lock {assignee} → {result['__typename']}")
        await _each_goal(gql, "alice", world, "unlockGoal(id: $ID, version: $V) { __typename }")

        creates = " ".join(f"c{i}: createGoal(input: $i{i}) {{ __typename ... on GoalSuccess {{ goal {{ id }} }} }}"
                           for i in range(len(ASSIGNEES)))
        params = ", ".join(f"$i{i}: GoalInput!" for i in range(len(ASSIGNEES)))
        created = await gql("mutation(%s) { %s }" % (params, creates),
                            {f"i{i}": goal_input(a) for i, a in enumerate(ASSIGNEES)}, as_user=viewer)
        new_ids = {}
        for i, assignee in enumerate(ASSIGNEES):
            got = created[f"c{i}"]["__typename"]
            if got != ("GoalSuccess" if change[assignee] else "ForbiddenError"):
                failures.append(f"{combo}: create {assignee} → {got}")
            if got == "GoalSuccess":
                new_ids[assignee] = created[f"c{i}"]["goal"]["id"]
        if new_ids:
            deletes = await _each_goal(gql, viewer, new_ids, "deleteGoal(id: $ID, version: $V) { __typename }")
            failures += [f"{combo}: delete new {a} → {r['__typename']}" for a, r in deletes.items()
                         if r["__typename"] != "DeleteGoalSuccess"]
    assert not failures, "\n".join(failures)


async def test_facts_and_drill_down_follow_visibility(world, gql) -> None:  # type: ignore[no-untyped-def]
    async def deal_owners(user: str) -> set[str]:
        data = await gql("{ deals { nodes { owner { id } } } }", as_user=user)
        return {n["owner"]["id"] for n in data["deals"]["nodes"]}

    assert await deal_owners("mats") == {"mats"}
    assert await deal_owners("lena") == {"lena", "mats"}
    assert await deal_owners("alice") == set(USERS)
    assert (await gql('{ deal(id: "d-olga") { id } }', as_user="mats"))["deal"] is None
    drill = '{ goal(id: "%s") { periods { actual contributions { nodes { deal { id } } } } } }' % world["user mats"]
    assert (await gql(drill, as_user="lena"))["goal"]["periods"][0]["contributions"]["nodes"] == [{"deal": {"id": "d-mats"}}]
    stats = await gql("{ pipelines { stages { dealCount } } }", as_user="mats")
    assert stats["pipelines"][0]["stages"][0]["dealCount"] == 1


ADMIN_MUTATIONS = [
    'ingestFacts(input: {users: [{id: "x", name: "X"}]}) { __typename }',
    'updateOrganisation(input: {name: "Hacked"}) { __typename }',
    'setExchangeRates(rates: [{currency: "NOK", quoteCurrency: "EUR", rate: "1", validFrom: "2026-01-01"}]) { __typename }',
    'setDimensionElements(key: "sale_type", elements: ["x"]) { __typename }',
    'setUserAccess(userId: "mats", input: {admin: true}) { __typename }',
    'setFeatureEnabled(key: "TEAM_GOALS", enabled: false) { __typename }',
    'installLicence(token: "GGL1.x.y") { __typename }',
    'recomputeGoalPeriod(id: "1") { __typename }',
]


async def test_only_admins_manage(world, gql) -> None:  # type: ignore[no-untyped-def]
    await gql(ACCESS, id="lena", input={"seeCompanyStatistics": True, "seeOtherUsersStatistics": True,
                                        "canLockTargets": True})
    for mutation in ADMIN_MUTATIONS:
        result = await gql("mutation { %s }" % mutation, as_user="lena")
        assert next(iter(result.values()))["__typename"] == "ForbiddenError", mutation
        admin = await gql("mutation { %s }" % mutation, as_user="alice")
        assert next(iter(admin.values()))["__typename"] != "ForbiddenError", mutation


async def test_without_the_targets_right_no_goals(world, gql, gql_raw) -> None:  # type: ignore[no-untyped-def]
    """SuperOffice's data right "Targets": without it a user sees, creates and changes no goals."""
    await gql(ACCESS, id="lena", input={"useTargets": False, "seeCompanyStatistics": True,
                                        "seeOtherUsersStatistics": True})
    read = await gql('{ me { access { useTargets } } goals { totalCount } goal(id: "%s") { id } }'
                     % world["user lena"], as_user="lena")
    assert read == {"me": {"access": {"useTargets": False}}, "goals": {"totalCount": 0}, "goal": None}
    created = await gql(CREATE, input=goal_input("user lena"), as_user="lena")
    assert created["createGoal"]["__typename"] == "ForbiddenError"
    edit = await gql('mutation { updateGoal(id: "%s", version: 1, input: {title: "x"}) { __typename } }'
                     % world["user lena"], as_user="lena")
    assert edit["updateGoal"]["__typename"] == "NotFoundError"
    # Admins always hold it; giving it back restores access.
    assert (await gql("{ goals { totalCount } }", as_user="alice"))["goals"]["totalCount"] == len(ASSIGNEES)
    await gql(ACCESS, id="lena", input={"useTargets": True})
    assert (await gql("{ goals { totalCount } }", as_user="lena"))["goals"]["totalCount"] == len(ASSIGNEES)


async def test_private_details_are_for_self_and_admins(world, gql) -> None:  # type: ignore[no-untyped-def]
    from factsets import INGEST

    await gql(INGEST, input={"users": [{"id": u, "name": u.title(), "email": f"{u}@example.com"} for u in USERS]})
    emails = "{ users { nodes { id email } } licence { plan customer seats seatsUsed } }"
    as_mats = await gql(emails, as_user="mats")
    assert {n["id"]: n["email"] for n in as_mats["users"]["nodes"]} == {u: (f"{u}@example.com" if u == "mats" else None)
                                                                       for u in USERS}
    assert as_mats["licence"] == {"plan": "enterprise", "customer": None, "seats": None, "seatsUsed": None}
    as_admin = await gql(emails, as_user="alice")
    assert all(n["email"] for n in as_admin["users"]["nodes"]) and as_admin["licence"]["customer"] == "goalgraph tests"


async def test_saved_access_reports_the_role_the_policy_uses(gql) -> None:  # type: ignore[no-untyped-def]
    """setUserAccess answers a team leader's role as TEAM_LEADER, as `me` and the policy do (it said USER)."""
    await gql("""mutation { ingestFacts(input: {users: [{id: "tl", name: "Tea Leader"}, {id: "tm", name: "Tom"}],
                 teams: [{id: "t1", name: "T1", memberIds: ["tl", "tm"], leaderIds: ["tl"]}]}) { __typename } }""")
    saved = await gql("""mutation { setUserAccess(userId: "tl", input: {seeCompanyStatistics: true}) {
        ... on AccessSaved { access { role seeCompanyStatistics } } } }""")
    me = await gql("{ me { access { role } } }", as_user="tl")
    assert saved["setUserAccess"]["access"] == {"role": "TEAM_LEADER", "seeCompanyStatistics": True}
    assert me["me"]["access"]["role"] == "TEAM_LEADER"
