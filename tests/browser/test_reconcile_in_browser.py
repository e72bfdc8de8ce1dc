"""/reconcile in Chromium, on the demo data: the coverage per provider, the rows asked for,
an admin closing last month (and the confirmation it asks first), a phone-sized screen."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from playwright.sync_api import Dialog, Page, expect
from sqlalchemy import Engine
from test_pages_in_browser import log_in

from logins import ADMIN_EMAIL, ADMIN_PASSWORD, add_user
from spendledger.demo import load_demo


def _last_month() -> str:
    return (datetime.now(UTC).date().replace(day=1) - timedelta(days=1)).strftime("%Y-%m")


def test_browser_reconcile_shows_coverage_and_closes_last_month(
    page: Page, live_server: str, engine: Engine
) -> None:
    add_user(engine, ADMIN_EMAIL, ADMIN_PASSWORD, "admin")
    load_demo(engine, tz=ZoneInfo("UTC"), end=datetime.now(UTC).date(), days=70)  # last month whole
    log_in(page, live_server)
    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Reconciliation").click()

    expect(page).to_have_url(f"{live_server}/reconcile")
    expect(page.get_by_role("heading", name="Reconciliation", exact=True)).to_be_visible()
    coverage = page.get_by_role("region", name=re.compile("Coverage by provider"))
    for provider in ("anthropic", "openai"):
        expect(coverage.get_by_role("row", name=re.compile(provider))).to_contain_text("%")
    expect(coverage).to_contain_text("Missed calls")  # the demo's tracker was down one day last month
    expect(coverage).to_contain_text("Priced differently")

    page.get_by_label("Rows by").fill("provider,account,model")
    page.get_by_label("only flagged rows").check()
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"by=provider%2Caccount%2Cmodel.*flagged=true"))
    rows = page.get_by_role("region", name="By day")
    expect(rows.get_by_role("columnheader", name="Model")).to_be_visible()
    expect(rows.get_by_text("⚑ flagged").first).to_be_visible()

    month = _last_month()
    asked: list[str] = []

    def accept(dialog: Dialog) -> None:
        asked.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    page.get_by_role("button", name=f"Close {month}").click()
    expect(page.get_by_role("status")).to_contain_text(f"Closed {month}.")
    assert asked and "later changes show as late adjustments" in asked[0]
    expect(page.get_by_role("region", name="Months")).to_contain_text("closed")
    expect(page.get_by_role("button", name="Reopen")).to_be_visible()
    expect(page).to_have_url(
        re.compile(r"/reconcile\?.*by=provider%2Caccount%2Cmodel")
    )  # a reload shows, never posts


def test_browser_reconcile_fits_a_phone_screen(page: Page, live_server: str, engine: Engine) -> None:
    add_user(engine, ADMIN_EMAIL, ADMIN_PASSWORD, "admin")
    load_demo(engine, tz=ZoneInfo("UTC"), end=datetime.now(UTC).date(), days=40)
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, live_server)
    page.goto(f"{live_server}/reconcile")
    expect(page.get_by_role("heading", name=re.compile("Coverage by provider"))).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # wide tables scroll in place
