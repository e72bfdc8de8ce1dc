"""GET /api/v1/spend: the CLI's report parameters over HTTP, as JSON or CSV, exact to the cent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from spendledger.config import Settings
from spendledger.queries import BASES
from spendledger.records import Basis
from spendledger.store import write_records
from spendledger.web import create_app
from usage_records import usage_record

NOVEMBER = {"from": "2026-11-01", "to": "2026-11-30"}

# Metered calls with the provider's cost, so every figure below is plain addition.
METERED = [
    # (id, timestamp, provider, model, project, user, cost)
    ("m1", "2026-11-02T10:00:00Z", "openai", "gpt-4o-mini", "a", "u1", "1.25"),
    ("m2", "2026-11-03T10:00:00Z", "openai", "gpt-4o", "b", "u2", "2.50"),
    ("m3", "2026-11-10T10:00:00Z", "anthropic", "claude-sonnet-4", "a", "u1", "4.00"),
    ("m4", "2026-11-05T12:00:00Z", "openai", "gpt-4o-mini", "a", "u2", "3.00"),  # under the billed day
    ("m5", "2026-12-01T10:00:00Z", "mistral", "mistral-small", "b", "u1", "0.75"),  # December
]
# Besides: openai's bill for 2026-11-05 ($10.00, which covers m4 under "best") and a
# manual $20.00 Perplexity subscription on 2026-11-15.
# November: all = 1.25 + 2.50 + 4.00 + 3.00 + 10.00 + 20.00 = 40.75; best = all - m4 = 37.75
# metered = 10.75, billed = 10.00, manual = 20.00.


def metered_event(row: tuple[str, ...]) -> dict[str, Any]:
    id_, timestamp, provider, model, project, user, cost = row
    return {
        "id": id_,
        "timestamp": timestamp,
        "provider": provider,
        "model": model,
        "project": project,
        "user": user,
        "input_tokens": 100,
        "output_tokens": 10,
        "cost": cost,
    }


@pytest.fixture
def seeded(client: TestClient, engine: Engine) -> TestClient:
    response = client.post("/api/v1/events", json={"events": [metered_event(r) for r in METERED]})
    assert response.json()["accepted"] == 5
    billed = usage_record(
        key="openai:org-1:cost",
        source="openai-org-1",
        basis=Basis.BILLED,
        start=datetime(2026, 11, 5, tzinfo=UTC),
        end=datetime(2026, 11, 6, tzinfo=UTC),
        model="",
        account="org-1",
        requests=0,
        cost="10.00",
    )
    manual = usage_record(
        key="manual:perplexity-pro",
        source="manual",
        basis=Basis.MANUAL,
        start=datetime(2026, 11, 15, tzinfo=UTC),
        provider="perplexity",
        model="",
        cost="20.00",
    )
    with engine.begin() as conn:
        write_records(conn, [billed, manual], tz=ZoneInfo("UTC"))
    return client


def spend(client: TestClient, **params: Any) -> dict[str, Any]:
    response = client.get("/api/v1/spend", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def costs(report: dict[str, Any], *keys: str) -> list[tuple[Any, ...]]:
    return [(*(row[k] for k in keys), row["cost"]) for row in report["rows"]]


def test_spend_basis_picks_the_figures(seeded: TestClient) -> None:
    totals = {basis: spend(seeded, **NOVEMBER, basis=basis)["total"] for basis in BASES}
    assert totals == {
        "best": "37.75",
        "all": "40.75",
        "metered": "10.75",
        "billed": "10.00",
        "manual": "20.00",
        "demo": "0.00",
    }


def test_spend_by_provider_best_basis(seeded: TestClient) -> None:
    report = spend(seeded, **NOVEMBER, by="provider")
    # openai: m1 + m2 + the $10.00 bill (m4 is under the bill's day)
    assert costs(report, "provider") == [("perplexity", "20.00"), ("openai", "13.75"), ("anthropic", "4.00")]
    assert (report["from"], report["to"], report["by"], report["granularity"]) == (
        "2026-11-01",
        "2026-11-30",
        ["provider"],
        "total",
    )


def test_spend_by_accepts_comma_lists_and_repeats(seeded: TestClient) -> None:
    expected = [("openai", "a", "4.25"), ("openai", "b", "2.50")]  # a: m1 1.25 + m4 3.00
    params = {**NOVEMBER, "basis": "metered", "filter": "provider:openai"}
    assert costs(spend(seeded, **params, by="provider,project"), "provider", "project") == expected
    assert costs(spend(seeded, **params, by=["provider", "project"]), "provider", "project") == expected


def test_spend_filter_takes_colon_or_equals_and_ors_repeats(seeded: TestClient) -> None:
    project_a = spend(seeded, **NOVEMBER, basis="all", filter="project=a")
    assert (project_a["total"], project_a["filters"]) == ("8.25", {"project": ["a"]})  # m1 + m3 + m4
    either = spend(seeded, **NOVEMBER, filter=["provider:anthropic", "provider:perplexity"])
    assert either["total"] == "24.00"


def test_spend_granularity_buckets_periods(seeded: TestClient) -> None:
    def periods(granularity: str, window: dict[str, str] = NOVEMBER) -> list[tuple[Any, ...]]:
        return costs(spend(seeded, **window, basis="metered", granularity=granularity), "period")

    assert periods("day") == [
        ("2026-11-02", "1.25"),
        ("2026-11-03", "2.50"),
        ("2026-11-05", "3.00"),
        ("2026-11-10", "4.00"),
    ]
    assert periods("week") == [("2026-11-02", "6.75"), ("2026-11-09", "4.00")]  # weeks start on Monday
    assert periods("month", {"from": "2026-11-01", "to": "2026-12-31"}) == [
        ("2026-11", "10.75"),
        ("2026-12", "0.75"),
    ]
    assert periods("total") == [(None, "10.75")]


def test_spend_period_preset_counts_back_from_today(client: TestClient) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    events = [
        {
            "id": "recent",
            "timestamp": (now - timedelta(days=1)).isoformat(),
            "provider": "openai",
            "model": "x",
        },
        {
            "id": "older",
            "timestamp": (now - timedelta(days=12)).isoformat(),
            "provider": "openai",
            "model": "x",
        },
    ]
    events[0]["cost"], events[1]["cost"] = "0.50", "0.25"
    assert client.post("/api/v1/events", json={"events": events}).json()["accepted"] == 2
    week = spend(client, period="7d")
    assert (week["total"], week["from"], week["to"]) == (
        "0.50",
        (now.date() - timedelta(days=6)).isoformat(),
        now.date().isoformat(),
    )
    assert spend(client, period="30d")["total"] == "0.75"


def test_spend_csv_format_matches_the_json(seeded: TestClient) -> None:
    response = seeded.get("/api/v1/spend", params={**NOVEMBER, "by": "provider", "format": "csv"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.text == (
        "provider,period,currency,cost,requests,input_tokens,cached_input_tokens,cache_write_tokens,"
        "output_tokens,reasoning_tokens,unpriced_requests\n"
        "perplexity,,USD,20.00,1,0,0,0,0,0,0\n"
        "openai,,USD,13.75,2,200,0,0,20,0,0\n"
        "anthropic,,USD,4.00,1,100,0,0,10,0,0\n"
    )


BAD_PARAMETERS: list[tuple[dict[str, str], str, str]] = [
    ({"by": "colour"}, "by", "by: unknown dimension 'colour'; use one of provider, account,"),
    ({"filter": "colour:red"}, "filter", "filter: unknown dimension 'colour'"),
    ({"filter": "provider"}, "filter", "filter: 'provider' is not DIM=VALUE (e.g. provider=openai)"),
    ({"granularity": "hour"}, "granularity", "granularity: 'hour' is not one of day, week, month, total"),
    (
        {"basis": "guessed"},
        "basis",
        "basis: 'guessed' is not one of best, all, billed, metered, manual, demo",
    ),
    ({"period": "fortnight"}, "period", "period: unknown preset 'fortnight'"),
    ({"from": "2026-13-01"}, "from", "from: '2026-13-01' is not a date (YYYY-MM-DD)"),
]


def test_spend_bad_parameter_is_400_naming_it(client: TestClient) -> None:
    for params, param, detail in BAD_PARAMETERS:
        response = client.get("/api/v1/spend", params=params)
        assert (response.status_code, response.json()["param"]) == (400, param)
        assert response.json()["detail"].startswith(detail), response.json()


def test_spend_without_token_is_401(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        response = client.get("/api/v1/spend")
    assert response.status_code == 401
    assert "spendledger tokens create NAME" in response.json()["detail"]


def test_spend_several_currencies_never_added_into_one_total(client: TestClient) -> None:
    events = [
        {**metered_event(METERED[0]), "cost": "1.25"},
        {**metered_event(METERED[1]), "cost": "40.00", "currency": "EUR"},
    ]
    assert client.post("/api/v1/events", json={"events": events}).json()["accepted"] == 2
    report = spend(client, **NOVEMBER)
    # $1.25 and €40.00 are not one figure: no single total, one per currency
    assert (report["currency"], report["total"]) == (None, None)
    assert report["totals"] == {"EUR": "40.00", "USD": "1.25"}
    assert "several currencies" in report["note"]
    single = spend(client, **NOVEMBER, filter="currency:USD")
    assert (single["currency"], single["total"], single["totals"]) == ("USD", "1.25", {"USD": "1.25"})
