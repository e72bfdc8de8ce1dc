"""File imports in Chromium: an admin uploads the acceptance CSV, previews it (answered in
place, nothing stored, the 3 bad lines named), then imports it with the button the preview
enabled, without choosing the file again."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from playwright.sync_api import Page, expect
from sqlalchemy import Engine, func, select
from test_dashboard_in_browser import SCREENSHOTS, watch_errors
from test_pages_in_browser import log_in

from import_samples import BAD_LINES, thousand_rows
from logins import ADMIN_EMAIL, ADMIN_PASSWORD, add_user
from spendledger.records import from_nanos
from spendledger.store.tables import usage


def _ledger(engine: Engine) -> tuple[int, Decimal]:
    with engine.connect() as conn:
        count, nanos = conn.execute(
            select(func.count(), func.coalesce(func.sum(usage.c.cost_nanos), 0))
        ).one()
    return int(count), from_nanos(int(nanos))


def test_browser_import_preview_then_confirm(
    page: Page, live_server: str, engine: Engine, tmp_path: Path
) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    errors = watch_errors(page)
    add_user(engine, ADMIN_EMAIL, ADMIN_PASSWORD, "admin")
    log_in(page, live_server)
    expect(page).to_have_url(f"{live_server}/")

    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Imports").click()
    expect(page).to_have_url(f"{live_server}/imports")
    import_button = page.locator("#import-button")
    expect(import_button).to_be_disabled()  # nothing previewed yet
    page.get_by_label("File", exact=True).set_input_files(str(thousand_rows(tmp_path / "spend.csv")))
    page.get_by_role("button", name="Preview").click()

    status = page.locator("#import-result").get_by_role("status")
    expect(status).to_contain_text("nothing stored: 997 rows would be stored")
    expect(page).to_have_url(f"{live_server}/imports")  # answered in place (htmx)
    rejected = page.get_by_role("table", name="Rejected lines")
    for line, column in BAD_LINES.items():
        expect(rejected.get_by_role("row").filter(has_text=f"{line}{column}")).to_have_count(1)
    expect(page.get_by_role("table", name="Totals by provider and month")).to_contain_text("$312.50")
    assert _ledger(engine) == (0, Decimal(0))
    page.screenshot(path=str(SCREENSHOTS / "imports-preview-1280.png"), full_page=True)

    expect(import_button).to_be_enabled()
    expect(import_button).to_have_text("Import 997 rows")
    import_button.click()
    expect(status).to_contain_text("997 new, 0 replaced, 0 already stored; 3 rejected")
    expect(import_button).to_be_disabled()
    assert _ledger(engine) == (997, Decimal("1246.25"))  # 997 × $1.25
    assert not errors, errors
