"""Organisation settings are stored and readable through GraphQL."""

from __future__ import annotations

ORG = "{ organisation { name defaultCurrency timeZone weekStart fiscalYearStartMonth updatedAt } }"
UPDATE = """
mutation Update($input: OrganisationInput!) {
  updateOrganisation(input: $input) {
    __typename
    ... on UpdateOrganisationSuccess { organisation { name defaultCurrency timeZone weekStart fiscalYearStartMonth } }
    ... on ValidationError { message fieldErrors { path message code } }
  }
}
"""


async def test_defaults_then_update(gql) -> None:  # type: ignore[no-untyped-def]
    assert (await gql(ORG))["organisation"] == {
        "name": "My organisation", "defaultCurrency": "EUR", "timeZone": "UTC", "weekStart": "MONDAY",
        "fiscalYearStartMonth": 1, "updatedAt": None,
    }
    result = (await gql(UPDATE, input={"name": "Nordlys AS", "defaultCurrency": "NOK", "timeZone": "Europe/Oslo",
                                       "weekStart": "SUNDAY", "fiscalYearStartMonth": 4}))["updateOrganisation"]
    assert result["organisation"] == {"name": "Nordlys AS", "defaultCurrency": "NOK", "timeZone": "Europe/Oslo",
                                      "weekStart": "SUNDAY", "fiscalYearStartMonth": 4}
    partial = (await gql(UPDATE, input={"name": "Nordlys Software AS"}))["updateOrganisation"]
    assert partial["organisation"]["timeZone"] == "Europe/Oslo"
    stored = (await gql(ORG))["organisation"]
    assert stored["name"] == "Nordlys Software AS" and stored["updatedAt"] is not None


async def test_invalid_settings_are_refused_and_nothing_changes(gql) -> None:  # type: ignore[no-untyped-def]
    result = (await gql(UPDATE, input={"defaultCurrency": "ABC", "timeZone": "Mars/Olympus",
                                       "fiscalYearStartMonth": 13, "name": "Changed"}))["updateOrganisation"]
    assert result["__typename"] == "ValidationError"
    paths = {e["path"][-1]: e["message"] for e in result["fieldErrors"]}
    assert set(paths) == {"defaultCurrency", "timeZone", "fiscalYearStartMonth"}
    assert "Mars/Olympus" in paths["timeZone"]
    assert (await gql(ORG))["organisation"]["name"] == "My organisation"
