"""Spend parameters out of range or malformed, in the API, `spendledger report` and the
explorer (one parser, queries.build_query): dates far out are clamped to the days the
ledger can hold, malformed ones are a 400 (exit 2) naming the parameter, never a 500."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from clirun import cli_runner

EVENT = {
    "id": "evt-1",
    "timestamp": "2026-11-20T10:00:00Z",
    "provider": "openai",
    "model": "gpt-4o-mini",
    "cost": "1.25",
}


@pytest.mark.parametrize("granularity", ["total", "month", "week", "day"])
def test_spend_from_year_1_to_9999_is_clamped_to_the_ledgers_days(
    client: TestClient, granularity: str
) -> None:
    assert client.post("/api/v1/events", json={"events": [EVENT]}).json()["accepted"] == 1
    response = client.get(
        "/api/v1/spend", params={"from": "0001-01-01", "to": "9999-12-31", "granularity": granularity}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["from"], body["to"], body["total"]) == ("1999-01-01", "2100-12-31", "1.25")


@pytest.mark.parametrize(
    ("params", "param", "detail"),
    [
        ({"from": "2026-01-01garbage"}, "from", "from: '2026-01-01garbage' is not a date (YYYY-MM-DD)"),
        ({"to": "2026-01-01T10:00:00"}, "to", "to: '2026-01-01T10:00:00' is not a date (YYYY-MM-DD)"),
        ({"from": "２０２６-01-01"}, "from", "from: '２０２６-01-01' is not a date (YYYY-MM-DD)"),
        (
            {"filter": "project:a\x00b"},
            "filter",
            "filter: 'project:a\\x00b' contains a NUL character; remove it",
        ),
        ({"period": "0d"}, "period", "period: '0d' holds no day; use 1d or more"),
        ({"period": "²d"}, "period", "period: unknown preset '²d'"),
        ({"period": "9999999999d"}, "period", "period: unknown preset '9999999999d'"),
    ],
    ids=[
        "garbage-after-date",
        "date-time",
        "fullwidth-digits",
        "nul-in-filter",
        "0d",
        "superscript",
        "10-digit-days",
    ],
)
def test_spend_malformed_parameter_is_400_naming_it(
    client: TestClient, params: dict[str, str], param: str, detail: str
) -> None:
    response = client.get("/api/v1/spend", params=params)
    assert (response.status_code, response.json()["param"]) == (400, param), response.text
    assert response.json()["detail"].startswith(detail)


def test_spend_period_of_a_billion_days_starts_on_the_first_day(client: TestClient) -> None:
    response = client.get("/api/v1/spend", params={"period": "999999999d"})
    assert response.status_code == 200, response.text
    assert response.json()["from"] == "1999-01-01"


def test_report_cli_clamps_far_dates_and_refuses_malformed_ones(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli = cli_runner(db_url, tmp_path, monkeypatch, SPENDLEDGER_TIMEZONE="UTC")
    result = cli("report", "--from", "0001-01-01", "--to", "9999-12-31", "--granularity", "month")
    assert "1999-01-01" in result.stdout and "2100-12-31" in result.stdout
    bad = cli("report", "--from", "2026-01-01garbage", ok=False)
    assert bad.exit_code == 2
    assert "from: '2026-01-01garbage' is not a date (YYYY-MM-DD)" in bad.stderr


def test_explore_page_clamps_far_dates_and_answers_malformed_ones_with_a_400_page(
    admin_client: TestClient,
) -> None:
    for granularity in ("month", "day"):
        response = admin_client.get(f"/explore?from=0001-01-01&to=9999-12-31&granularity={granularity}")
        assert response.status_code == 200
    bad = admin_client.get("/explore?from=2026-01-01garbage&granularity=month")
    assert bad.status_code == 400
    assert bad.headers["content-type"].startswith("text/html")
    assert "from: &#39;2026-01-01garbage&#39; is not a date (YYYY-MM-DD)" in bad.text
