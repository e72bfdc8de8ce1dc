"""GET /api/v1/budgets and /api/v1/alerts: the JSON twins of /budgets and /alerts, their
figures `budget_status`'s and `budget_forecast`'s (so the page's) and /api/v1/spend's to
the cent; admins, viewers and API tokens read them, members may not (as the pages)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from logins import add_user, login
from read_api_ledger import over_budget_with_alerts, write_november
from spendledger.alerts.budgets import budget_status, create_budget
from spendledger.alerts.evaluate import describe
from spendledger.config import Settings
from spendledger.records import format_money
from spendledger.store import write_records
from spendledger.store.alerts import acknowledge, list_alerts, raise_alert
from spendledger.store.budgets import get_budget
from spendledger.store.channels import add_channel
from spendledger.web import create_app
from spendledger.web.pages.budgets_page import budget_forecast
from usage_records import usage_record


def _today() -> date:
    return datetime.now(UTC).date()  # the test settings' zone is UTC


def _month_start(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _session(settings: Settings, engine: Engine, role: str) -> Iterator[TestClient]:
    add_user(engine, f"{role}@example.com", f"{role} password!", role)
    with TestClient(create_app(settings)) as client:
        assert login(client, f"{role}@example.com", f"{role} password!").status_code == 303
        yield client


@pytest.fixture
def this_month(engine: Engine) -> date:
    """Project web: $30.00 + $12.50 this month (and €40.00, another currency), $80.00 on the
    15th of last month; project other: $99.00 this month. Four budgets on project web."""
    this = _today().replace(day=1)
    last = _month_start(this, -1)

    def at(day: date) -> datetime:
        return datetime(day.year, day.month, day.day, 0, 30, tzinfo=UTC)

    records = [
        usage_record(key="w1", start=at(this), project="web", cost="30.00"),
        usage_record(key="w2", start=at(this), project="web", cost="12.50"),
        usage_record(key="eur", start=at(this), project="web", cost="40.00", currency="EUR"),
        usage_record(key="other", start=at(this), project="other", cost="99.00"),
        usage_record(key="last", start=at(last + timedelta(days=14)), project="web", cost="80.00"),
    ]
    now = datetime.now(UTC)
    with engine.begin() as conn:
        write_records(conn, records, tz=ZoneInfo("UTC"))
        create_budget(conn, name="web", amount="100", now=now, filters=["project=web"])
        create_budget(conn, name="tiny", amount="10", now=now, filters=["project=web"], channels=["ops"])
        for name, year in (("old", 2020), ("future", 2099)):
            create_budget(
                conn, name=name, amount="50", now=now, period="custom", start=f"{year}-01-01",
                end=f"{year}-01-31", filters=["project=web"],
            )  # fmt: skip
    return this


def budgets(client: TestClient) -> dict[str, dict[str, Any]]:
    response = client.get("/api/v1/budgets")
    assert response.status_code == 200, response.text
    return {b["name"]: b for b in response.json()["budgets"]}


def test_budgets_figures_by_hand_and_as_the_spend_endpoint(
    client: TestClient, engine: Engine, this_month: date
) -> None:
    found = budgets(client)
    assert list(found) == ["future", "old", "tiny", "web"]
    web = found["web"]
    # $30.00 + $12.50 = $42.50 of $100 (the €40.00 is not in the budget's currency): 42.5 %
    assert (web["amount"], web["currency"], web["period"], web["scope"]) == (
        "100.00",
        "USD",
        "monthly",
        {"project": ["web"]},
    )
    assert (web["spent"], web["left"], web["percent"], web["crossed"]) == ("42.50", "57.50", "42.5", [])
    assert (web["window_start"], web["window_end"]) == (
        this_month.isoformat(),
        (_month_start(this_month, 1) - timedelta(days=1)).isoformat(),
    )
    assert web["resets_in"] == (_month_start(this_month, 1) - _today()).days
    # last month: $80.00 (80.0 %); the month before: nothing
    assert web["past"][:2] == [
        {
            "start": _month_start(this_month, -1).isoformat(),
            "end": (this_month - timedelta(days=1)).isoformat(),
            "spent": "80.00",
            "percent": "80.0",
        },
        {
            "start": _month_start(this_month, -2).isoformat(),
            "end": (_month_start(this_month, -1) - timedelta(days=1)).isoformat(),
            "spent": "0.00",
            "percent": "0.0",
        },
    ]
    spend = client.get(
        "/api/v1/spend",
        params={"from": this_month.isoformat(), "to": _today().isoformat(), "filter": "project:web"},
    ).json()
    assert spend["totals"]["USD"] == web["spent"]
    # tiny: the same $42.50 of $10: over by $32.50, every threshold crossed
    tiny = found["tiny"]
    assert (tiny["spent"], tiny["left"], tiny["percent"]) == ("42.50", "-32.50", "425.0")
    assert (tiny["crossed"], tiny["status"], tiny["channels"]) == ([50, 80, 100], "over", ["ops"])
    # custom windows today is outside of: no forecast, never reset
    for name, status in (("old", "ended"), ("future", "not_started")):
        b = found[name]
        assert (b["status"], b["spent"], b["forecast"], b["resets_in"], b["past"]) == (
            status,
            "0.00",
            None,
            None,
            [],
        )


def test_budgets_forecast_is_the_pages(client: TestClient, engine: Engine, this_month: date) -> None:
    web = budgets(client)["web"]
    with engine.connect() as conn:
        status = budget_status(conn, get_budget(conn, "web"), today=_today())
        forecast = budget_forecast(conn, status)
    assert forecast is not None
    assert web["forecast"] == {
        "spent_so_far": "42.50",
        "projected_total": format_money(forecast.projected_total),
        "low": format_money(forecast.low),
        "high": format_money(forecast.high),
        "method": forecast.method,
        "exceeds": forecast.projected_total > 100,
    }
    assert Decimal(web["forecast"]["low"]) >= Decimal("42.50")
    assert web["status"] == ("heading_over" if forecast.projected_total > 100 else "on_track")


@pytest.fixture
def alerts_ledger(engine: Engine) -> None:
    """Budget nov-a's alerts (read_api_ledger: 100 % raised, 50 and 80 % passed, on 11-25),
    the 100 % acknowledged; an anomaly of gpt-4o on 11-25, raised on 11-26; two channels."""
    write_november(engine)
    over_budget_with_alerts(engine)
    now = datetime(2026, 11, 26, 9, tzinfo=UTC)
    with engine.begin() as conn:
        for name in ("ops", "pager"):
            add_channel(conn, name=name, url="sealed", url_hint="…", now=now)
        create_budget(conn, name="nov-b", amount="5", now=now, filters=["project=b"], channels=["pager"])
        hundred = next(a for a in list_alerts(conn) if a.threshold == 100)
        acknowledge(conn, hundred.id or 0, by="admin@example.com", at=now)
        raise_alert(
            conn, budget="model:gpt-4o", kind="anomaly", threshold=0, window_start=date(2026, 11, 25),
            window_end=date(2026, 11, 25), currency="USD", now=now, note="driven by user bob (100 %)",
            figures={"spent": Decimal("42.00"), "usual": Decimal("2.50"), "spread": Decimal("0.40")},
        )  # fmt: skip


def alerts(client: TestClient, **params: Any) -> dict[str, Any]:
    response = client.get("/api/v1/alerts", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_alerts_rules_and_events_newest_first(
    client: TestClient, engine: Engine, alerts_ledger: None
) -> None:
    body = alerts(client)
    assert body["rules"] == [
        {
            "kind": "budget",
            "budget": "nov-a",
            "thresholds": [50, 80, 100],
            "forecast": True,
            "dimensions": [],
            "channels": ["ops", "pager"],  # it names none: every channel
        },
        {
            "kind": "budget",
            "budget": "nov-b",
            "thresholds": [50, 80, 100],
            "forecast": True,
            "dimensions": [],
            "channels": ["pager"],
        },
        {
            "kind": "anomaly",
            "budget": None,
            "thresholds": [],
            "forecast": False,
            "dimensions": ["provider", "project", "model", "user", "api_key_id"],
            "channels": ["ops", "pager"],
        },
    ]
    assert body["total"] == 4
    shown = [(a["kind"], a["subject"], a["threshold"], a["status"], a["passed"]) for a in body["alerts"]]
    assert shown == [
        ("anomaly", "model:gpt-4o", 0, "open", False),
        ("threshold", "nov-a", 80, "resolved", True),  # passed on the way to 100 %
        ("threshold", "nov-a", 50, "resolved", True),
        ("threshold", "nov-a", 100, "acknowledged", False),
    ]
    hundred = body["alerts"][3]
    # project a spent $1.25 + $4.00 = $5.25 of $5 by 11-25: 105.0 %
    assert hundred["figures"] == {"spent": "5.25", "amount": "5.00", "percent": "105.00"}
    assert (hundred["headline"], hundred["severity"]) == ("budget nov-a reached 100 %", "failure")
    with engine.connect() as conn:
        row = next(a for a in list_alerts(conn) if a.threshold == 100)
    assert hundred["description"] == describe(row)
    assert (hundred["acknowledged_by"], hundred["acknowledged_at"]) == (
        "admin@example.com",
        "2026-11-26T09:00:00Z",
    )
    assert (hundred["window_start"], hundred["window_end"], hundred["created_at"]) == (
        "2026-11-01",
        "2026-11-30",
        "2026-11-25T09:00:00Z",
    )
    # the window up to today (the window's end once it is over), by project, in the budget's scope
    url = hundred["explore_url"]
    assert url.startswith("/explore?from=2026-11-01&to=2026-11-")
    assert url.endswith("&by=project&granularity=day&filter=project%3Aa")
    anomaly = body["alerts"][0]
    assert (anomaly["headline"], anomaly["severity"], anomaly["note"]) == (
        "Anomaly: model:gpt-4o",
        "warning",
        "driven by user bob (100 %)",
    )
    assert anomaly["figures"] == {"spent": "42.00", "usual": "2.50", "spread": "0.40"}


def test_alerts_status_and_limit(client: TestClient, alerts_ledger: None) -> None:
    def subjects(body: dict[str, Any]) -> list[tuple[str, int]]:
        return [(a["subject"], a["threshold"]) for a in body["alerts"]]

    assert subjects(alerts(client, status="open")) == [("model:gpt-4o", 0)]
    assert subjects(alerts(client, status="acknowledged")) == [("nov-a", 100)]
    assert subjects(alerts(client, status="resolved")) == [("nov-a", 80), ("nov-a", 50)]
    first_two = alerts(client, limit=2)
    assert (subjects(first_two), first_two["total"]) == ([("model:gpt-4o", 0), ("nov-a", 80)], 4)
    for params in ({"status": "closed"}, {"limit": 0}, {"limit": 1001}, {"limit": "ten"}):
        response = client.get("/api/v1/alerts", params=params)
        assert response.status_code == 422, params
        assert response.json()["detail"][0]["loc"][:2] == ["query", next(iter(params))]


@pytest.mark.parametrize("path", ["/api/v1/budgets", "/api/v1/alerts"])
def test_budgets_and_alerts_viewer_reads_member_refused(
    settings: Settings, engine: Engine, alerts_ledger: None, client: TestClient, path: str
) -> None:
    expected = client.get(path).json()
    for viewer in _session(settings, engine, "viewer"):
        assert viewer.get(path).json() == expected
    for admin in _session(settings, engine, "admin"):
        assert admin.get(path).json() == expected
    for member in _session(settings, engine, "member"):
        refused = member.get(path)
        assert refused.status_code == 403
        assert refused.json()["detail"] == "this endpoint needs the role admin or viewer, or an API token"
        assert "nov-a" not in refused.text
    with TestClient(create_app(settings)) as anonymous:
        assert anonymous.get(path).status_code == 401
