"""The display currency on the web: `currency=` on GET /api/v1/spend, the selector on the
overview and the explorer; the ledger and the rates of test_fx_conversion (figures worked
out there by hand)."""

from __future__ import annotations

import html
from collections.abc import Iterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from logins import ADMIN_EMAIL, ADMIN_PASSWORD, add_user, login
from spendledger.alerts.budgets import create_budget
from spendledger.config import Settings
from spendledger.imports.fx_rates import import_rates
from spendledger.store import write_records
from spendledger.web import create_app
from test_fx_conversion import LEDGER, RATES

NOVEMBER = {"from": "2026-11-01", "to": "2026-11-30"}


@pytest.fixture
def seeded(engine: Engine) -> Engine:
    with engine.begin() as conn:
        write_records(conn, LEDGER, tz=ZoneInfo("UTC"))
        import_rates(conn, RATES, name="rates.csv")
    return engine


def test_fx_api_spend_in_a_display_currency(client: TestClient, seeded: Engine) -> None:
    got = client.get("/api/v1/spend", params={**NOVEMBER, "currency": "chf", "by": "provider"}).json()
    # 143.20 (USD) + 9.60 (EUR) + 5 (CHF), each day at its rate
    assert (got["currency"], got["total"], got["totals"], got["unconverted"]) == (
        "CHF",
        "157.80",
        {"CHF": "157.80"},
        [],
    )
    assert {r["provider"]: r["cost"] for r in got["rows"]} == {
        "openai": "143.20",
        "mistral": "9.60",
        "anthropic": "5.00",
    }
    csv = client.get("/api/v1/spend", params={**NOVEMBER, "currency": "CHF", "format": "csv"}).text
    assert csv.splitlines()[1].startswith(",CHF,157.80,")
    plain = client.get("/api/v1/spend", params={**NOVEMBER, "currency": "original"}).json()
    assert plain["totals"] == {"CHF": "5.00", "EUR": "10.00", "USD": "184.00"} and "unconverted" not in plain


def test_fx_api_flags_days_without_a_rate(client: TestClient, seeded: Engine) -> None:
    got = client.get(
        "/api/v1/spend", params={"from": "2026-10-30", "to": "2026-11-02", "currency": "EUR"}
    ).json()
    # Nov 2: $100 / 1.25 = €80; Oct 30: $7, no rate on or before it
    assert (got["currency"], got["total"]) == (None, None)
    assert got["totals"] == {"EUR": "80.00", "USD": "7.00"}
    assert got["unconverted"] == [{"day": "2026-10-30", "currency": "USD", "amount": "7.00"}]
    assert "no exchange rate into EUR" in got["note"]


@pytest.mark.parametrize(
    ("value", "detail"),
    [
        ("dollars", "currency: currency 'dollars' is not an ISO 4217 code"),
        ("XYZ", "currency: currency 'XYZ' is not an ISO 4217 code"),
        ("JPY", "currency: no exchange rates for JPY"),  # no JPY rate, no JPY spend
    ],
)
def test_fx_api_bad_currency_is_400_naming_it(
    client: TestClient, seeded: Engine, value: str, detail: str
) -> None:
    response = client.get("/api/v1/spend", params={"currency": value})
    assert (response.status_code, response.json()["param"]) == (400, "currency")
    assert response.json()["detail"].startswith(detail)


def test_fx_api_default_is_the_setting(settings: Settings, token: str, seeded: Engine) -> None:
    chf = settings.model_copy(update={"currency": "CHF"})
    with TestClient(create_app(chf), headers={"Authorization": f"Bearer {token}"}) as client:
        assert client.get("/api/v1/spend", params=NOVEMBER).json()["total"] == "157.80"
        assert (
            client.get("/api/v1/spend", params={**NOVEMBER, "currency": "original"}).json()["total"] is None
        )


@pytest.fixture
def admin(settings: Settings, seeded: Engine) -> Iterator[TestClient]:
    add_user(seeded, ADMIN_EMAIL, ADMIN_PASSWORD, "admin")
    with TestClient(create_app(settings)) as client:
        assert login(client, ADMIN_EMAIL, ADMIN_PASSWORD).status_code == 303
        yield client


def test_fx_explore_selector_converts_and_keeps_the_filters(admin: TestClient) -> None:
    page = admin.get(
        "/explore", params={**NOVEMBER, "by": "provider", "filter": "provider:openai", "currency": "CHF"}
    )
    text = html.unescape(page.text)
    assert page.status_code == 200
    assert '<option value="CHF" selected>CHF</option>' in text
    assert 'id="explore-total">CHF 143.20<' in text or 'id="explore-total">143.20 CHF<' in text
    # the export links carry the same query, currency and filter included
    assert (
        "/api/v1/spend?from=2026-11-01&to=2026-11-30&by=provider&filter=provider:openai&currency=CHF&format=csv"
        in text
    )
    assert '<option value="original">As charged</option>' in text


def test_fx_explore_flags_days_without_a_rate(admin: TestClient) -> None:
    page = admin.get("/explore", params={"from": "2026-10-30", "to": "2026-11-02", "currency": "EUR"})
    text = html.unescape(page.text)
    assert 'id="explore-unconverted"' in text and "for 1 day (2026-10-30)" in text
    assert "$7.00" in text and "€80.00" in text


def test_fx_explore_bad_currency_is_shown_on_the_page(admin: TestClient) -> None:
    page = admin.get("/explore", params={"currency": "JPY"})
    assert page.status_code == 400 and "no exchange rates for JPY" in html.unescape(page.text)


def test_fx_overview_selector(admin: TestClient) -> None:
    page = html.unescape(admin.get("/", params={"currency": "CHF"}).text)
    assert '<option value="CHF" selected>CHF</option>' in page
    wrong = html.unescape(admin.get("/", params={"currency": "JPY"}).text)
    assert "no exchange rates for JPY" in wrong and '<option value="original" selected>' in wrong


def test_fx_budget_card_counts_converted_spend_and_names_the_rest(admin: TestClient, seeded: Engine) -> None:
    with seeded.begin() as conn:
        window = {"period": "custom", "start": "2026-10-01", "end": "2026-12-31"}
        create_budget(
            conn, name="eu", amount="500", currency="EUR", now=datetime(2026, 10, 1, tzinfo=UTC), **window
        )
    page = html.unescape(admin.get("/budgets").text)
    # USD 80 + 50 + 20, €10, CHF 5 / 0.96 = 5.208333333: €165.21 of €500; Oct 30's $7 has no rate
    assert '€165.21</span> of <span class="amount">€500.00</span> spent (33.0 %)' in page
    assert "Not counted: $7.00" in page and "no exchange rate into EUR" in page


def test_fx_api_budgets_name_what_they_could_not_convert(client: TestClient, seeded: Engine) -> None:
    with seeded.begin() as conn:
        window = {"period": "custom", "start": "2026-10-01", "end": "2026-12-31"}
        create_budget(
            conn, name="eu", amount="500", currency="EUR", now=datetime(2026, 10, 1, tzinfo=UTC), **window
        )
    (budget,) = client.get("/api/v1/budgets").json()["budgets"]
    assert (budget["spent"], budget["unconverted"]) == ("165.208333333", {"USD": "7.00"})


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_fx_api_currency_garbage_is_a_400_never_a_500(client: TestClient, seeded: Engine) -> None:
    @hypothesis_settings(
        max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(
        value=st.one_of(
            st.text(max_size=12), st.sampled_from(["usd", "Eur", "original", "ORIGINAL", " chf ", "€"])
        )
    )
    def check(value: str) -> None:
        response = client.get("/api/v1/spend", params={**NOVEMBER, "currency": value})
        assert response.status_code in (200, 400), (value, response.text)
        if response.status_code == 400:
            assert response.json()["param"] == "currency"

    check()
