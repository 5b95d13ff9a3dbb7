"""The demo organisation: a deterministic, well-formed batch that loads through the real ingest code."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import httpx
from sqlalchemy import func, select

from goalgraph.app import create_app
from goalgraph.testing.credentials import make_licence, system_token
from goalgraph.db.models import DealStageChange
from goalgraph.demo import demo_tokens, ensure_demo_data, generate_demo, generate_service_demo
from goalgraph.ingest.batch import parse_batch
from goalgraph.runtime import open_runtime

NOW = datetime(2026, 3, 15, 14, 30, tzinfo=timezone.utc)
LAST_STAGES = {"Contract sent", "Verbal yes"}


def ts(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    assert moment.tzinfo is not None and moment.utcoffset() is not None, text
    return moment


def test_generate_demo_is_deterministic_and_well_formed() -> None:
    batch = generate_demo(7, NOW)
    assert batch == generate_demo(7, NOW)
    check_demo_batch(batch, NOW)


def check_demo_batch(batch: dict, now: datetime) -> None:  # type: ignore[type-arg]
    """Everything a generated batch promises, for any seed and ``now``."""
    users, teams, pipelines, deals, activities = (batch[k] for k in ("users", "teams", "pipelines", "deals",
                                                                     "activities"))

    # The real parsers accept every fact.
    _, errors = parse_batch(batch, now)
    assert errors == []

    # Shape.
    assert len(users) == 12 and len(teams) == 3 and len(pipelines) == 2
    assert 2500 <= len(deals) <= 3500
    assert 4000 <= len(activities) <= 6000
    assert sum(not u["active"] for u in users) == 1
    user_ids = {u["id"] for u in users}
    assert len({u["email"] for u in users}) == 12
    for team in teams:
        assert len(team["leader_ids"]) == 1 and set(team["leader_ids"]) <= set(team["member_ids"]) <= user_ids
    assert {u for t in teams for u in t["member_ids"]} == user_ids
    stages = {p["id"]: [s["id"] for s in p["stages"]] for p in pipelines}
    assert sorted(len(s) for s in stages.values()) == [4, 5]
    for p in pipelines:
        probabilities = [s["probability"] for s in p["stages"]]
        assert probabilities == sorted(probabilities) and all(0 < x < 100 for x in probabilities)
    names = {s["id"]: s["name"] for p in pipelines for s in p["stages"]}

    # Deals: references, money, attributes, statuses, stage histories, time.
    assert len({d["id"] for d in deals}) == len(deals)
    start = now - timedelta(days=560)
    for d in deals:
        assert d["owner_id"] in user_ids
        path = stages[d["pipeline_id"]]
        assert d["stage_id"] in path
        value, cost = Decimal(d["value"]), Decimal(d["cost"])
        assert value > 0 and value.as_tuple().exponent == -2 and cost.as_tuple().exponent == -2
        assert Decimal("0.399") * value <= cost <= Decimal("0.701") * value
        added = ts(d["added_at"])
        assert start <= added <= now
        history = [(path.index(h["stage_id"]), ts(h["entered_at"])) for h in d["stage_history"]]
        assert history[0] == (0, added)
        assert all(a[0] < b[0] and a[1] < b[1] for a, b in zip(history, history[1:])), d["id"]
        assert history[-1] == (path.index(d["stage_id"]), ts(d["stage_entered_at"]))
        events = [added, *(m for _, m in history)]
        status = d["status"]
        if status == "WON":
            assert history[-1][0] == len(path) - 1, d["id"]
            events.append(ts(d["won_at"]))
        elif status == "LOST":
            events.append(ts(d["lost_at"]))
        else:
            assert "won_at" not in d and "lost_at" not in d
            assert date.fromisoformat(d["expected_close_date"])
        assert events == sorted(events) and events[-1] <= now, d["id"]
        assert ts(d["updated_at"]) >= events[-1] and ts(d["updated_at"]) <= now
        assert set(d["attributes"]) == {"sale_type", "company_category"}
    statuses = Counter(d["status"] for d in deals)
    assert statuses["WON"] > 500 and statuses["LOST"] > 500 and statuses["OPEN"] > 100 and 0 < statuses["STALLED"] < 150
    currencies = Counter(d["currency"] for d in deals)
    assert len(currencies) >= 3 and currencies.most_common(1)[0][0] == "EUR"
    assert {d["attributes"]["sale_type"] for d in deals} == {"New business", "Upsell", "Renewal"}
    assert {d["attributes"]["company_category"] for d in deals} == {"SMB", "Mid-market", "Enterprise"}
    assert {names[d["stage_id"]] for d in deals if d["status"] == "OPEN"} == set(names.values())
    assert any(date.fromisoformat(d["expected_close_date"]) > now.date() + timedelta(days=30)
               for d in deals if d["status"] == "OPEN")
    owners = Counter(d["owner_id"] for d in deals).most_common()
    assert owners[0][1] > 3 * owners[-1][1]  # some sellers are much stronger
    # Seasonality: a quiet July, a busy autumn.
    by_month = Counter(ts(d["added_at"]).month for d in deals)
    days = Counter((now.date() - timedelta(days=i)).month for i in range(548))
    assert by_month[7] / days[7] * 2 < by_month[10] / days[10]

    # Activities.
    deal_ids = {d["id"] for d in deals}
    assert len({a["id"] for a in activities}) == len(activities)
    assert set(Counter(a["type"] for a in activities)) == {"call", "meeting", "email", "task", "demo"}
    linked = sum("deal_id" in a for a in activities)
    assert 0.35 < linked / len(activities) < 0.65
    for a in activities:
        assert a["owner_id"] in user_ids and a.get("deal_id", next(iter(deal_ids))) in deal_ids
        added = ts(a["added_at"])
        assert start <= added <= now and ts(a["due_at"]) >= added
        if "done_at" in a:
            assert added <= ts(a["done_at"]) <= now and ts(a["updated_at"]) == ts(a["done_at"])
        else:
            assert ts(a["updated_at"]) == added
    done = sum("done_at" in a for a in activities)
    assert done / len(activities) > 0.85
    upcoming = [a for a in activities if "done_at" not in a and ts(a["due_at"]) > now]
    assert len(upcoming) > 50 and all(ts(a["due_at"]) < now + timedelta(days=30) for a in upcoming)

    # Nothing else lies in the future, and everything carries an offset.
    for u in users + teams + pipelines:
        assert ts(u["updated_at"]) <= now


def test_generate_service_demo_is_deterministic_and_well_formed() -> None:
    from goalgraph.plugins import load_plugins

    batch = generate_service_demo(7, NOW)
    assert batch == generate_service_demo(7, NOW) and generate_demo(7, NOW) == generate_demo(7, NOW)
    _, errors = parse_batch(batch, NOW, load_plugins(strict=True).registry)  # the ticket kind's own rules accept them
    assert errors == []
    users, teams, pipelines, tickets = (batch[k] for k in ("users", "teams", "pipelines", "tickets"))
    assert len(users) == 4 and [t["name"] for t in teams] == ["Support"] and [p["name"] for p in pipelines] == ["Support"]
    assert [s["name"] for s in pipelines[0]["stages"]] == ["New", "Waiting", "Closed"]
    assert set(teams[0]["member_ids"]) == {u["id"] for u in users} and len(teams[0]["leader_ids"]) == 1
    sales = {u["id"] for u in generate_demo(7, NOW)["users"]}
    assert not sales & {u["id"] for u in users}
    assert 2000 <= len(tickets) <= 3000 and len({t["id"] for t in tickets}) == len(tickets)
    start = NOW - timedelta(days=560)
    hours = []
    for t in tickets:
        created = ts(t["created_at"])
        assert start <= created <= NOW and t["owner_id"] in teams[0]["member_ids"]
        moments = [created, *(ts(t[k]) for k in ("first_response_at", "closed_at") if k in t)]
        assert moments == sorted(moments) and moments[-1] <= NOW and ts(t["updated_at"]) == moments[-1]
        assert (t["status"] == "CLOSED") == ("closed_at" in t)
        assert t["stage_id"] == {"OPEN": "stage-sp-new", "PENDING": "stage-sp-waiting", "CLOSED": "stage-sp-closed"}[
            t["status"]]
        if "first_response_at" in t:
            hours.append((ts(t["first_response_at"]) - created).total_seconds() / 3600)
    assert Counter(t["status"] for t in tickets).most_common(1)[0][0] == "CLOSED"
    assert 2 < sum(hours) / len(hours) < 6  # around the demo goal of 4 hours
    assert {t["priority"] for t in tickets} == {"LOW", "MEDIUM", "HIGH", "URGENT"}


DEALS_BY_STAGE = ("{ pipelines { name stages { name probability dealCount allDeals: dealCount(status: null) "
                  "dealValues { amount currency } } } }")
SERVICE_GOALS = """{ goals(first: 50) { nodes { title goalType { key category } assignee { kind }
                     periods { actual facts status } } } }"""
WON_DEALS = """{ deals(first: 5, filter: {status: WON}) { totalCount
                 edges { node { title owner { name } stageHistory { stage { name } } } } } }"""


async def test_demo_loads_once_and_answers_graphql(settings) -> None:  # type: ignore[no-untyped-def]
    first = await ensure_demo_data(settings)
    # 12 sellers in 3 teams, 2 deal pipelines; and the support team of the service plugin with its ticket pipeline
    assert first.startswith("Loaded demo organisation 'Nordlys Software AB': 16 users, 4 teams, 3 pipelines, "), first
    assert " tickets (" in first
    assert "fiscal year starts in April" in first
    second = await ensure_demo_data(settings)
    assert second.startswith("Demo data already present: 'Nordlys Software AB' with 16 users"), second
    counts = first.split(": ", 1)[1].split(" (")[0]
    assert counts in second  # nothing more was loaded

    async with open_runtime(settings) as rt:
        async with rt.sessions() as session:  # each stage entered once: the ingest added no duplicate entries
            changes = await session.scalar(select(func.count()).select_from(DealStageChange))
            distinct = select(DealStageChange.deal_id, DealStageChange.stage_id).distinct().subquery()
            assert changes == await session.scalar(select(func.count()).select_from(distinct))
        app = create_app(settings, runtime=rt)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://goalgraph.test") as client:

                async def gql(query: str) -> dict:  # type: ignore[type-arg]
                    body = (await client.post("/graphql", json={"query": query},
                                              headers={"authorization": f"Bearer {system_token(settings)}"})).json()
                    assert "errors" not in body, body["errors"]
                    return body["data"]

                # The demo's printed tokens work; its users hold the Targets right and a seat of a counted licence.
                installed = await gql('mutation { installLicence(token: "%s") { __typename } }'
                                      % make_licence("enterprise", seats=15))
                assert installed["installLicence"]["__typename"] == "LicenceInstalled"
                for role, token in demo_tokens(settings).items():
                    body = (await client.post("/graphql", json={"query": "{ me { hasSeat access { useTargets } } }"},
                                              headers={"authorization": f"Bearer {token}"})).json()
                    assert body["data"]["me"] == {"hasSeat": True, "access": {"useTargets": True}}, (role, body)
                seats = (await gql("{ licence { seats seatsUsed } }"))["licence"]
                assert seats == {"seats": 15, "seatsUsed": 15}

                pipelines = (await gql(DEALS_BY_STAGE))["pipelines"]
                service = (await gql(SERVICE_GOALS))["goals"]["nodes"]
                won = (await gql(WON_DEALS))["deals"]
                org = (await gql("{ organisation { name defaultCurrency timeZone fiscalYearStartMonth } }"))

    assert [p["name"] for p in pipelines] == ["New business", "Renewals", "Support"]
    assert all(s["allDeals"] == 0 for s in pipelines[2]["stages"])  # the ticket pipeline holds tickets, no deals
    pipelines = pipelines[:2]
    stages = [s for p in pipelines for s in p["stages"]]
    assert len(stages) == 9 and all(s["allDeals"] > 0 for s in stages), stages
    assert sum(s["dealCount"] for s in stages) < sum(s["allDeals"] for s in stages)  # open deals only by default
    currencies = {v["currency"] for s in stages for v in s["dealValues"]}
    assert len(currencies) > 1 and "EUR" in currencies
    assert all(Decimal(v["amount"]) >= 0 for s in stages for v in s["dealValues"])
    assert sum(s["allDeals"] for s in stages) == int(counts.split(" deals")[0].rsplit(", ", 1)[1].replace(",", ""))

    assert won["totalCount"] > 500 and len(won["edges"]) == 5
    for edge in won["edges"]:
        node = edge["node"]
        assert node["title"] and node["owner"]["name"]
        history = [h["stage"]["name"] for h in node["stageHistory"]]
        assert history[0] in {"Lead", "Renewal due"} and history[-1] in LAST_STAGES, history
        assert len(history) == len(set(history))  # no spurious extra entries from the ingest

    assert org["organisation"] == {"name": "Nordlys Software AB", "defaultCurrency": "EUR", "timeZone": "Europe/Oslo",
                                   "fiscalYearStartMonth": 4}

    # The service goals measure the demo's tickets.
    service = {g["title"]: g for g in service if g["goalType"]["category"] == "SERVICE"}
    assert len(service) == 7, sorted(service)
    first_response = service["First response time — Support"]
    measured = [p for p in first_response["periods"] if p["facts"]]
    assert measured and all(0 < Decimal(p["actual"]) < 24 for p in measured), first_response
    closed = [p["facts"] for g in service.values() if g["goalType"]["key"] == "TICKETS_CLOSED" for p in g["periods"]]
    assert sum(closed) > 100
