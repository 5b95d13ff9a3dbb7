"""Goal types are listed over GraphQL; exchange rates are stored through a mutation."""

from __future__ import annotations

RATES = """
mutation Rates($rates: [ExchangeRateInput!]!) {
  setExchangeRates(rates: $rates) {
    __typename
    ... on SetExchangeRatesSuccess { written }
    ... on ValidationError { fieldErrors { path message } }
  }
}
"""


async def test_goal_types_are_listed_with_measures_and_filters(gql) -> None:  # type: ignore[no-untyped-def]
    data = await gql("{ goalTypes { key category plugin feature perPeriodTargets measures { key money } "
                     "filters { key kind required multiple } } }")
    types = {t["key"]: t for t in data["goalTypes"]}
    assert set(types) >= {"DEALS_ADDED", "DEALS_PROGRESSED", "DEALS_WON", "ACTIVITIES_ADDED",
                          "ACTIVITIES_COMPLETED", "REVENUE_FORECAST"}
    assert types["DEALS_WON"]["measures"] == [{"key": "COUNT", "money": False}, {"key": "VALUE", "money": True},
                                              {"key": "GROSS_PROFIT", "money": True}]
    assert {"key": "stage", "kind": "REFERENCE", "required": True, "multiple": False} in types["DEALS_PROGRESSED"]["filters"]
    assert types["REVENUE_FORECAST"]["feature"] == "REVENUE_FORECAST"
    assert types["ACTIVITIES_COMPLETED"]["plugin"] == "activities"


async def test_exchange_rates_round_trip_and_validation(gql) -> None:  # type: ignore[no-untyped-def]
    ok = (await gql(RATES, rates=[{"currency": "NOK", "quoteCurrency": "EUR", "rate": "0.085", "validFrom": "2026-01-01"}]))
    assert ok["setExchangeRates"] == {"__typename": "SetExchangeRatesSuccess", "written": 1}
    again = await gql(RATES, rates=[{"currency": "NOK", "quoteCurrency": "EUR", "rate": "0.086", "validFrom": "2026-01-01"}])
    assert again["setExchangeRates"]["written"] == 1
    bad = await gql(RATES, rates=[{"currency": "NOK", "quoteCurrency": "NOK", "rate": "-1", "validFrom": "2026-01-01"},
                                  {"currency": "ZZZ", "quoteCurrency": "EUR", "rate": "1", "validFrom": "2026-01-01"}])
    errors = {tuple(e["path"]): e["message"] for e in bad["setExchangeRates"]["fieldErrors"]}
    assert ("rates", "0", "rate") in errors and ("rates", "0", "quoteCurrency") in errors
    assert errors[("rates", "1", "currency")] == "'ZZZ' is not an ISO 4217 currency code"
