"""GET /: this month, the last 30 days and today, by provider, with basis labels."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from spendledger.alerts.forecast import forecast_period, history_start
from spendledger.records import Basis, UsageRecord
from spendledger.store import write_records
from spendledger.store.sources import add_source, finish_run, start_run
from spendledger.store.tokens import create_token
from spendledger.web.pages import money
from usage_records import usage_record


@pytest.fixture
def client(admin_client: TestClient) -> TestClient:
    """The first page is for logged-in users: an admin's session."""
    return admin_client


def cards(html: str) -> dict[str, str]:
    """{window label: its total as shown}."""
    return dict(re.findall(r'<h2>([^<]+)</h2>\s*<div class="total">([^<]+?) ', html))


def provider_rows(html: str) -> list[tuple[str, str]]:
    return re.findall(r"<tr><td>(\w+) .*?</td><td class=\"cost\">([^<]+)</td></tr>", html)


def test_overview_page_empty_state_says_what_to_do(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    text = " ".join(re.sub(r"<[^>]+>", "", response.text).split())
    assert "No spend recorded yet — run spendledger demo or send events to POST /api/v1/events." in text
    assert "Demo data" not in text
    assert cards(response.text) == {}


def test_overview_page_shows_totals_by_provider_with_basis(client: TestClient, engine: Engine) -> None:
    with engine.begin() as conn:
        token = create_token(conn, name="page")
    now = datetime.now(UTC).replace(microsecond=0)
    yesterday = now - timedelta(days=1)
    events = [
        {"id": "a", "timestamp": now.isoformat(), "provider": "openai", "model": "m", "cost": "1234.50"},
        {"id": "b", "timestamp": now.isoformat(), "provider": "openai", "model": "m", "cost": "0.06"},
        {"id": "c", "timestamp": now.isoformat(), "provider": "anthropic", "model": "m", "cost": "2.00"},
        {"id": "d", "timestamp": yesterday.isoformat(), "provider": "anthropic", "model": "m", "cost": "100"},
    ]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.post("/api/v1/events", json={"events": events}, headers=headers).json()["accepted"] == 4

    html = client.get("/").text

    # today: openai 1234.50 + 0.06 = 1234.56, anthropic 2.00; yesterday adds anthropic 100.00
    this_month = "$1,336.56" if yesterday.month == now.month else "$1,236.56"
    assert cards(html) == {"This month": this_month, "Last 30 days": "$1,336.56", "Today": "$1,236.56"}
    today_card = html.split("<h2>Today</h2>")[1]
    assert provider_rows(today_card) == [("openai", "$1,234.56"), ("anthropic", "$2.00")]
    assert provider_rows(html.split("<h2>Last 30 days</h2>")[1].split("<h2>")[0]) == [
        ("openai", "$1,234.56"),
        ("anthropic", "$102.00"),
    ]
    assert '<span class="basis basis-metered">metered</span>' in today_card
    assert f'Last write: <time datetime="{now.date().isoformat()}' in html
    assert "Demo data" not in html


def test_overview_page_shows_demo_banner_when_demo_data_is_present(
    client: TestClient, engine: Engine
) -> None:
    demo = usage_record(
        key="demo:1", source="demo", basis=Basis.DEMO, start=datetime.now(UTC), model="gpt-4o", cost="5"
    )
    with engine.begin() as conn:
        write_records(conn, [demo], tz=ZoneInfo("UTC"))
    html = client.get("/").text
    assert "<strong>Demo data</strong>" in html
    assert cards(html)["Today"] == "$5.00"
    assert '<span class="basis basis-demo">demo</span>' in html.split("<h2>Today</h2>")[1]
    # every page says so, not only this one
    assert 'class="demo-strip"' in client.get("/account/password").text


def test_pages_show_no_demo_strip_without_demo_data(client: TestClient) -> None:
    assert 'class="demo-strip"' not in client.get("/account/password").text


def test_overview_page_money_has_separators_and_cents() -> None:
    assert money(Decimal("1234.565")) == "$1,234.56"  # half to even, as every table rounds
    assert money(Decimal("0.0003132")) == "$0.00031"  # below a cent: two significant digits
    assert money(Decimal("-3.5"), "EUR") == "-€3.50"
    assert money(Decimal("1234567"), "CHF") == "1,234,567.00 CHF"


def test_app_serves_health_and_openapi(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    schema = client.get("/openapi.json").json()
    assert {"/api/v1/events", "/api/v1/spend", "/healthz"} <= set(schema["paths"])
    assert "/" not in schema["paths"]
    body = schema["paths"]["/api/v1/events"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["properties"]["events"]["type"] == "array"
    assert client.get("/docs").status_code == 200


def test_overview_page_shows_each_sources_last_sync_and_never_its_key(
    client: TestClient, engine: Engine
) -> None:
    key = "sk-admin-page-test-0123456789abcdef"
    with engine.begin() as conn:
        add_source(
            conn,
            name="Edugami",
            provider="openai",
            credential="sealed-not-the-key",
            key_hint="sk-admin…cdef",
            options={},
            now=datetime.now(UTC),
        )
        run = start_run(conn, "Edugami", now=datetime(2026, 11, 20, 9, 30, tzinfo=UTC))
        finish_run(conn, run, "Edugami", now=datetime.now(UTC), error='401 from OpenAI for source "Edugami"')

    html = client.get("/").text

    assert "Billing sync" in html and "Edugami" in html and "failed" in html
    assert "2026-11-20 09:30" in html and "401 from OpenAI" in html
    assert key not in html and "sealed-not-the-key" not in html


def test_overview_page_kpis_chart_and_top_lists(client: TestClient, engine: Engine) -> None:
    import calendar
    import json

    now = datetime.now(UTC)

    def call(key: str, at: datetime, cost: str, project: str) -> UsageRecord:
        return usage_record(
            key=key, source="api", start=at, model="gpt-4o", project=project, requests=10, cost=cost
        )

    with engine.begin() as conn:
        write_records(
            conn,
            [
                call("api:now", now, "3.00", "support-bot"),
                call("api:old", now - timedelta(days=40), "2.00", "search"),
            ],
            tz=ZoneInfo("UTC"),
        )

    html = client.get("/").text

    # last 30 days $3.00 against $2.00 the 30 before: +50.0 %; 10 requests → $300.00 per 1,000
    assert "+50.0 % vs the 30 days before" in html
    assert "$300.00" in html
    # the forecast comes from the forecast module, fed the daily series the page reads:
    # eight weeks back to today, $2.00 forty days ago and $3.00 today, nothing else
    today = now.date()
    month_start = today.replace(day=1)
    month_end = month_start.replace(day=calendar.monthrange(today.year, today.month)[1])
    first = history_start(start=month_start, today=today)
    series = {first + timedelta(days=i): Decimal(0) for i in range((today - first).days + 1)}
    series[(now - timedelta(days=40)).date()] = Decimal(2)
    series[today] = Decimal(3)
    expected = forecast_period(series, start=month_start, end=month_end, today=today)
    assert f"{money(expected.projected_total)}</span>" in html
    assert f"likely {money(expected.low)} – {money(expected.high)}" in html
    top = html.split("Top projects")[1].split("</section>")[0]
    assert "support-bot" in top and "search" not in top  # only the last 30 days rank
    assert "<title>Spend overview · spendledger</title>" in html and html.count("echarts.init") == 1
    chart = json.loads(html.split('id="daily-data">')[1].split("</script>")[0])
    assert chart["series"] == [{"name": "openai", "data": [0.0] * 29 + [3.0]}]
    assert chart["days"][-1] == today.isoformat() and len(chart["days"]) == 30
