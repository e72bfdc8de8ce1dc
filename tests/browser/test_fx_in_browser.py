"""The display currency in Chromium: the explorer's Currency selector converts in place and
keeps the other filters in the URL; the overview's selector reloads it in that currency."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from playwright.sync_api import Page, expect
from sqlalchemy import Engine
from test_pages_in_browser import log_in

from logins import ADMIN_EMAIL, ADMIN_PASSWORD, add_user
from spendledger.demo import load_demo
from spendledger.imports.fx_rates import set_rate


def test_browser_fx_currency_selector_converts_and_keeps_the_filters(
    page: Page, live_server: str, engine: Engine
) -> None:
    add_user(engine, ADMIN_EMAIL, ADMIN_PASSWORD, "admin")
    today = datetime.now(UTC).date()
    load_demo(engine, tz=ZoneInfo("UTC"), end=today, days=3)
    with engine.begin() as conn:  # 1 EUR = 1.25 USD = 1.00 CHF from long before the demo's days
        set_rate(conn, day="2020-01-01", currency="USD", rate="1.25", actor="test")
        set_rate(conn, day="2020-01-01", currency="CHF", rate="1.00", actor="test")
    log_in(page, live_server)
    page.goto(f"{live_server}/explore?period=7d&by=provider&filter=provider:openai")
    usd = page.locator("#explore-total").inner_text()
    page.evaluate("window.__marker = 'same page'")

    page.get_by_label("Currency").select_option("CHF")

    expect(page).to_have_url(re.compile(r"currency=CHF"))
    assert "filter=provider%3Aopenai" in page.url or "filter=provider:openai" in page.url
    expect(page.locator("#explore-total")).to_contain_text("CHF")
    assert page.evaluate("window.__marker") == "same page"  # htmx swapped the results only
    # $X at 1.25 USD = 1 CHF: X / 1.25 CHF (to the cent either way)
    dollars = float(usd.replace("$", "").replace(",", ""))
    francs = float(page.locator("#explore-total").inner_text().replace("CHF", "").replace(",", ""))
    assert abs(francs - dollars / 1.25) <= 0.01

    page.goto(f"{live_server}/")
    page.get_by_label("Currency").select_option("CHF")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"currency=CHF"))
    expect(page.locator(".kpi-value").first).to_contain_text("CHF")
