"""Removing data in Chromium: an admin names a scope on /data, reads on the confirmation
page exactly what goes (records per provider and basis, the money, the days), cancels
once (nothing goes), then deletes, and finds the deletion in the audit log."""

from __future__ import annotations

from playwright.sync_api import Page, expect
from sqlalchemy import Engine
from test_dashboard_in_browser import SCREENSHOTS, watch_errors
from test_pages_in_browser import log_in

from deletion_ledger import keys, seed
from logins import ADMIN_EMAIL, ADMIN_PASSWORD, add_user


def test_browser_delete_states_what_goes_then_deletes(page: Page, live_server: str, engine: Engine) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    errors = watch_errors(page)
    seed(engine)
    add_user(engine, ADMIN_EMAIL, ADMIN_PASSWORD, "admin")
    log_in(page, live_server)
    expect(page).to_have_url(f"{live_server}/")

    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Data").click()
    expect(page).to_have_url(f"{live_server}/data")
    page.get_by_label("Provider").fill("openai")
    page.get_by_label("From").fill("2026-11-20")
    page.get_by_label("To, included").fill("2026-11-20")
    page.get_by_role("button", name="Show what goes").click()

    confirm = page.get_by_role("region", name="These 3 records go")
    expect(confirm).to_contain_text("Scope: provider openai, days 2026-11-20 → 2026-11-20")
    expect(confirm).to_contain_text("€3.00 + $12.50")
    expect(confirm).to_contain_text("on 1 day from 2026-11-20 to 2026-11-20")
    expect(confirm.locator("tbody tr")).to_have_count(3)
    for row in ("openai billed 1 $10.00", "openai manual 1 €3.00", "openai metered 1 $2.50"):
        expect(confirm.get_by_role("row", name=row)).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "data-confirm-1280.png"), full_page=True)

    confirm.get_by_role("link", name="Cancel").click()  # back to the form, the scope kept
    expect(page).to_have_url(f"{live_server}/data?provider=openai&start=2026-11-20&end=2026-11-20")
    expect(page.get_by_label("Provider")).to_have_value("openai")
    assert len(keys(engine)) == 6

    page.get_by_role("button", name="Show what goes").click()
    page.get_by_role("button", name="Delete 3 records").click()
    expect(page.get_by_role("status")).to_contain_text(
        "Deleted 3 records (€3.00 + $12.50) of provider openai"
    )
    expect(page).to_have_url(f"{live_server}/data")  # a reload does not post the deletion again
    assert keys(engine) == {"a", "d", "e"}

    page.get_by_role("link", name="audit log").first.click()
    expect(page).to_have_url(f"{live_server}/audit")
    row = page.locator("tbody tr").first
    expect(row).to_contain_text(ADMIN_EMAIL)
    expect(row).to_contain_text("records.delete")
    expect(row).to_contain_text("records: 3")
    page.screenshot(path=str(SCREENSHOTS / "audit-1280.png"), full_page=True)
    assert errors == []
