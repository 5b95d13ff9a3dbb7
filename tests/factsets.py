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
