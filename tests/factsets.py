"""Small, readable fact batches shared by the tests (GraphQL input shape)."""

from __future__ import annotations

T0 = "2026-01-10T09:00:00+00:00"
T1 = "2026-01-11T09:00:00+00:00"
T2 = "2026-01-12T09:00:00+00:00"

USERS = [
    {"id": "u1", "name": "Alice Andersson", "email": "alice@example.com", "updatedAt": T0},
    {"id": "u2", "name": "Bjørn Berg", "updatedAt": T0},
    {"id": "u3", "name": "Carla de Vries", "updatedAt": T0},
]
TEAMS = [{"id": "t1", "name": "North", "memberIds": ["u1", "u2"], "leaderIds": ["u1"], "updatedAt": T0}]
PIPELINES = [
    {
        "id": "p1",
        "name": "New business",
        "updatedAt": T0,
        "stages": [
            {"id": "s1", "name": "Lead", "probability": 10},
            {"id": "s2", "name": "Proposal", "probability": 50},
            {"id": "s3", "name": "Negotiation", "probability": 80},
        ],
    }
]


def deal(id: str = "d1", **over: object) -> dict[str, object]:
    base: dict[str, object] = {
        "id": id, "title": f"Deal {id}", "value": "1000.50", "currency": "EUR", "ownerId": "u1",
        "stageId": "s1", "addedAt": T0, "updatedAt": T0,
    }
    base.update(over)
    return base


BASE = {"users": USERS, "teams": TEAMS, "pipelines": PIPELINES}

INGEST = """
mutation Ingest($input: IngestFactsInput!) {
  ingestFacts(input: $input) {
    __typename
    ... on IngestFactsResult {
      users { created updated ignored }
      teams { created updated ignored }
      pipelines { created updated ignored }
      stages { created updated ignored }
      deals { created updated ignored }
      activities { created updated ignored }
      stageChangesRecorded
    }
    ... on ValidationError { code message fieldErrors { path message code } }
  }
}
"""


# Snake-case batch for ingest_batch(): three months in Europe/Oslo with edge-of-month facts.
ENGINE_BATCH = {
    "users": [{"id": u, "name": u} for u in ("alice", "bob", "carl")],
    "teams": [{"id": "north", "name": "North", "member_ids": ["alice", "bob"], "leader_ids": ["alice"]}],
    "pipelines": [
        {"id": "sales", "name": "Sales", "stages": [
            {"id": "lead", "name": "Lead", "probability": 10},
            {"id": "offer", "name": "Offer", "probability": 50},
            {"id": "closing", "name": "Closing", "probability": 90},
        ]},
        {"id": "renew", "name": "Renewals", "stages": [{"id": "due", "name": "Due", "probability": 60}]},
    ],
    "deals": [
        # January (Oslo): added by alice, won in February
        {"id": "d1", "title": "A", "value": "1000", "cost": "400", "currency": "EUR", "owner_id": "alice",
         "stage_id": "closing", "status": "WON", "added_at": "2026-01-05T10:00:00+01:00",
         "won_at": "2026-02-10T10:00:00+01:00",
         "stage_history": [{"stage_id": "offer", "entered_at": "2026-01-20T10:00:00+01:00"}]},
        # 31 Jan 23:30 in Oslo is still January locally though 22:30 UTC
        {"id": "d2", "title": "B", "value": "500", "currency": "EUR", "owner_id": "bob", "stage_id": "lead",
         "added_at": "2026-01-31T22:30:00+00:00", "expected_close_date": "2026-03-20"},
        # NOK deal by carl (not in team North), won in March
        {"id": "d3", "title": "C", "value": "10000", "cost": "1000", "currency": "NOK", "owner_id": "carl",
         "stage_id": "due", "status": "WON", "added_at": "2026-02-01T09:00:00+01:00",
         "won_at": "2026-03-03T09:00:00+01:00"},
        # 1 Feb 00:30 Oslo = 31 Jan 23:30 UTC: February locally
        {"id": "d4", "title": "D", "value": "200", "currency": "USD", "owner_id": "alice", "stage_id": "offer",
         "added_at": "2026-01-31T23:30:00+00:00", "expected_close_date": "2026-03-31"},
    ],
    "activities": [
        {"id": "a1", "type": "call", "owner_id": "alice", "added_at": "2026-01-02T09:00:00Z", "done_at": "2026-01-03T09:00:00Z"},
        {"id": "a2", "type": "meeting", "owner_id": "bob", "added_at": "2026-01-10T09:00:00Z", "done_at": "2026-02-03T09:00:00Z"},
        {"id": "a3", "type": "call", "owner_id": "carl", "added_at": "2026-02-10T09:00:00Z"},
    ],
}
ENGINE_RATES = [
    {"currency": "NOK", "quote_currency": "EUR", "rate": "0.09", "valid_from": "2026-01-01"},
    {"currency": "NOK", "quote_currency": "EUR", "rate": "0.08", "valid_from": "2026-03-01"},
]


