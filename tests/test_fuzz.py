"""A peer fuzzer against the live server: schemathesis 4 in GraphQL mode, on both databases.

Every query and mutation field of the exported schema is called with generated arguments —
including hostile Date, DateTime, Decimal and JSON values — over real HTTP against uvicorn serving
the real app. Asserted for every case: no 5xx, no masked "Internal error", a JSON answer; and
afterwards the server still answers.

The suite runs a small fixed budget (``GOALGRAPH_FUZZ_CASES``, default 800 cases per database, the same
cases every run, about 30 s each on a busy machine);
the long run is documented in docs/deployment.md ("Fuzzing"):

    GOALGRAPH_FUZZ_CASES=10000 CI=true GOALGRAPH_TEST_POSTGRES_URL=… .venv/bin/pytest tests/test_fuzz.py -p no:cacheprovider -s
"""

from __future__ import annotations

import asyncio
import json
import os
import string
from datetime import timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, Phase, given, settings as hypothesis_settings, strategies as st  # noqa: E402
from schemathesis.graphql import nodes  # noqa: E402

from factsets import BASE, INGEST, deal  # noqa: E402
from live_server import serving  # noqa: E402
from goalgraph.testing.credentials import system_token  # noqa: E402

CASES = int(os.environ.get("GOALGRAPH_FUZZ_CASES") or "800")
SDL = Path(__file__).resolve().parents[1] / "schema" / "schema.graphql"
MASKED = "Internal error"

# --- scalar strategies: mostly plausible values, some hostile ones -------------------------------

_hostile_text = st.sampled_from(["", " ", "\x00", "\ud800", "a\x00b", "NaN", "Infinity", "-0", "1e400", "x" * 300,
                                 "9999-12-31", "0001-01-01", "2026-02-30", "２０２６-01-01", "null", "'; drop table"])
_zones = st.sampled_from([timezone.utc, timezone(timedelta(hours=14)), timezone(timedelta(hours=-14)),
                          timezone(timedelta(hours=5, minutes=30))])

DATES = st.one_of(
    st.dates().map(lambda d: d.isoformat()),
    st.dates(min_value=__import__("datetime").date(2024, 1, 1),
             max_value=__import__("datetime").date(2027, 12, 31)).map(lambda d: d.isoformat()),
    _hostile_text,
).map(nodes.String)

DATETIMES = st.one_of(
    st.datetimes(timezones=_zones).map(lambda d: d.isoformat()),
    st.datetimes().map(lambda d: d.isoformat()),  # naive
    st.sampled_from(["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2026-01-01T00:00:00Z",
                     "2026-03-29T01:30:00+01:00"]),
    _hostile_text,
).map(nodes.String)

DECIMALS = st.one_of(
    st.decimals(allow_nan=True, allow_infinity=True).map(str).map(nodes.String),
    st.decimals(min_value=Decimal(0), max_value=Decimal(10**6), places=2).map(str).map(nodes.String),
    st.integers().map(nodes.Int),
    st.floats().filter(lambda f: f == f and abs(f) != float("inf")).map(nodes.Float),
    _hostile_text.map(nodes.String),
)

_json_leaf = st.one_of(
    st.none().map(lambda _: nodes.Null) if hasattr(nodes, "Null") else st.just(nodes.String("")),
    st.booleans().map(nodes.Boolean),
    st.integers(min_value=-(2**80), max_value=2**80).map(nodes.Int),
    st.floats(allow_nan=False, allow_infinity=False).map(nodes.Float),
    st.sampled_from(["1e400", "-1e400"]).map(lambda s: __import__("graphql").FloatValueNode(value=s)),
    st.text(alphabet=string.printable + "\x00\ud800é🚀", max_size=20).map(nodes.String),
)
_json_key = st.text(alphabet=string.ascii_letters + "_\x00", min_size=1, max_size=8)


def _json_object(children: Any) -> Any:
    import graphql

    return st.dictionaries(_json_key, children, max_size=4).map(lambda d: nodes.Object([
        graphql.ObjectFieldNode(name=graphql.NameNode(value=k), value=v) for k, v in d.items()
        if k.isidentifier()]))


JSONS = st.recursive(_json_leaf, lambda children: st.one_of(st.lists(children, max_size=4).map(nodes.List),
                                                             _json_object(children)), max_leaves=12)

schemathesis.graphql.scalar("Date", DATES)
schemathesis.graphql.scalar("DateTime", DATETIMES)
schemathesis.graphql.scalar("Decimal", DECIMALS)
schemathesis.graphql.scalar("JSON", JSONS)


# --- the live server -----------------------------------------------------------------------------

@pytest.fixture
async def live_server(settings, runtime):  # type: ignore[no-untyped-def]
    """uvicorn serving the real app on a free port, in the test's event loop, with some facts and goals."""
    async with serving(settings, runtime) as url:
        await _seed(url, system_token(settings))
        yield url


SEED_GOAL = """mutation($input: GoalInput!) { createGoal(input: $input) { __typename } }"""


async def _seed(url: str, token: str) -> None:
    """Facts and goals for the generated operations to find (ids 1, 2 … and the CRM ids of factsets)."""
    async with httpx.AsyncClient(base_url=url, headers={"authorization": f"Bearer {token}"}, timeout=30) as client:
        deals = [deal(f"d{i}", status="WON", wonAt="2026-01-20T10:00:00+00:00") for i in range(1, 4)]
        body = (await client.post("/graphql", json={"query": INGEST,
                                                    "variables": {"input": {**BASE, "deals": deals}}})).json()
        assert body["data"]["ingestFacts"]["__typename"] == "IngestFactsResult", body
        for kind, extra in (("COMPANY", {}), ("USER", {"id": "u1"}), ("TEAM", {"id": "t1"})):
            goal = {"title": f"{kind} goal", "goalType": "DEALS_WON", "measure": "VALUE", "currency": "EUR",
                    "assignee": {"kind": kind, **extra}, "interval": "MONTHLY", "startDate": "2026-01-01",
                    "endDate": "2026-12-31", "targetForAll": "1000"}
            body = (await client.post("/graphql", json={"query": SEED_GOAL, "variables": {"input": goal}})).json()
            assert body["data"]["createGoal"]["__typename"] == "GoalSuccess", body


def _fuzz(base_url: str, token: str, cases: int) -> dict[str, Any]:
    """Run ``cases`` generated operations; returns counts and the first faults (blocking: run in a thread)."""
    schema = schemathesis.graphql.from_file(SDL.read_text())
    operations = [result.ok() for result in schema.get_all_operations()]
    strategy = st.one_of([op.as_strategy() for op in operations])
    headers = {"authorization": f"Bearer {token}"}
    stats: dict[str, Any] = {"cases": 0, "faults": [], "statuses": {}}

    @hypothesis_settings(max_examples=cases, deadline=None, database=None, derandomize=CASES <= 1000,
                         phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def run(case: Any) -> None:
        stats["cases"] += 1
        response = case.call(base_url=f"{base_url}/graphql", headers=headers, timeout=60)
        status = response.status_code
        stats["statuses"][status] = stats["statuses"].get(status, 0) + 1
        problem = None
        if status >= 500:
            problem = f"HTTP {status}"
        elif MASKED in response.text:
            problem = "masked internal error"
        else:
            try:
                json.loads(response.text)
            except ValueError:
                problem = "answer is not JSON"
        if problem is not None and len(stats["faults"]) < 20:
            stats["faults"].append({"problem": problem, "query": case.body.get("query") if isinstance(case.body, dict)
                                    else case.body, "answer": response.text[:500]})

    run()
    return stats


@pytest.mark.timeout(0)
async def test_fuzz_graphql_api(live_server, settings, db_kind) -> None:  # type: ignore[no-untyped-def]
    token = system_token(settings)
    stats = await asyncio.to_thread(_fuzz, live_server, token, CASES)
    print(f"\nfuzz[{db_kind}]: {stats['cases']} cases, {len(stats['faults'])} server faults, statuses {stats['statuses']}")
    assert stats["cases"] >= min(CASES, 50)
    assert not stats["faults"], json.dumps(stats["faults"][:5], indent=1)
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as client:
        health = await client.get("/healthz")
        assert health.status_code == 200, health.text
        ok = await client.post("/graphql", json={"query": "{ organisation { name } }"},
                               headers={"authorization": f"Bearer {token}"})
        assert ok.status_code == 200 and ok.json()["data"]["organisation"]["name"]
