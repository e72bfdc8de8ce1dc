"""Seat subscriptions in Chromium: an admin adds one from a plan preset with its price
overridden, changes its seats from a day on, reads the periods' figures, switches how
they are recorded and removes it (a confirmation first); a viewer reads without forms."""

from __future__ import annotations

from playwright.sync_api import Page, expect
from sqlalchemy import Engine
from test_dashboard_in_browser import SCREENSHOTS, watch_errors
from test_pages_in_browser import log_in, log_out

from logins import ADMIN_EMAIL, ADMIN_PASSWORD, add_user
from spendledger.store.ledger import records_by_source


def test_browser_subscription_added_seats_changed_and_removed(
    page: Page, live_server: str, engine: Engine
) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    errors = watch_errors(page)
    add_user(engine, ADMIN_EMAIL, ADMIN_PASSWORD, "admin")
    add_user(engine, "viewer@example.com", "viewer password!", "viewer")
    log_in(page, live_server)
    expect(page).to_have_url(f"{live_server}/")

    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Subscriptions").click()
    expect(page).to_have_url(f"{live_server}/subscriptions")
    expect(page.get_by_text("No subscriptions yet")).to_be_visible()
    form = page.locator("#subscription-form")  # open: there are none yet
    form.get_by_label("Name").fill("chatgpt")
    form.get_by_label("Plan").select_option("chatgpt-business")
    form.get_by_label("Seats").fill("12")
    form.get_by_label("Price per seat").fill("30")  # overrides the plan's $25
    form.get_by_label("Starts").fill("2026-09-01")
    form.get_by_role("button", name="Add subscription").click()

    expect(page.get_by_role("status")).to_contain_text("Added subscription 'chatgpt'")
    expect(page).to_have_url(f"{live_server}/subscriptions")  # a reload asks, never posts again
    row = page.get_by_role("row").filter(has_text="chatgpt-business")
    expect(row).to_contain_text("openai")
    expect(row).to_contain_text("this subscription")

    seats = page.get_by_role("form", name="Change the seats of chatgpt")
    seats.get_by_label("Seats").fill("15")
    seats.get_by_label("From").fill("2026-11-01")
    seats.get_by_role("button", name="Change seats").click()
    expect(page.get_by_role("status")).to_contain_text("'chatgpt': 15 seats from 2026-11-01")

    page.get_by_text("Billing periods of chatgpt").click()
    periods = page.get_by_role("table", name="Billing periods of chatgpt")
    # 12 × $30 in September and October, 15 × $30 in November
    expect(periods.get_by_role("row").filter(has_text="2026-09-01 → 2026-09-30")).to_contain_text("$360.00")
    expect(periods.get_by_role("row").filter(has_text="2026-10-01 → 2026-10-31")).to_contain_text("$360.00")
    expect(periods.get_by_role("row").filter(has_text="2026-11-01 → 2026-11-30")).to_contain_text("$450.00")
    page.screenshot(path=str(SCREENSHOTS / "subscriptions-1280.png"), full_page=True)

    page.get_by_label("Record subscriptions as").select_option("spread")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("now recorded as a share on every day paid")

    log_out(page, live_server)
    log_in(page, live_server, "viewer@example.com", "viewer password!")
    page.goto(f"{live_server}/subscriptions")
    expect(page.get_by_role("row").filter(has_text="chatgpt-business")).to_contain_text("15")
    expect(page.get_by_role("button", name="Add subscription")).to_have_count(0)
    expect(page.get_by_role("button", name="Change seats")).to_have_count(0)
    expect(page.get_by_text("Recorded as a share on every day paid.")).to_be_visible()
    log_out(page, live_server)

    log_in(page, live_server)
    page.goto(f"{live_server}/subscriptions")
    dialogs: list[str] = []
    page.once("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    page.get_by_role("button", name="Remove chatgpt").click()
    expect(page.get_by_role("status")).to_contain_text("Removed subscription 'chatgpt' and its")
    assert dialogs == ["Remove the subscription chatgpt and every record it wrote?"]
    with engine.connect() as conn:
        assert records_by_source(conn) == {}
    assert errors == []
