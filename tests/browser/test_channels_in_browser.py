"""Notification channels in Chromium: an admin adds a webhook channel, sends it a test
message (answered in place, without leaving the page) and picks it for a new budget."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import Engine
from test_dashboard_in_browser import SCREENSHOTS, watch_errors
from test_pages_in_browser import log_in

from logins import ADMIN_EMAIL, ADMIN_PASSWORD, add_user
from receivers import Webhook, webhook_server
from spendledger.alerts.transport import TEST_TITLE
from spendledger.store.budgets import get_budget


@pytest.fixture
def hook() -> Iterator[Webhook]:
    with webhook_server() as server:
        yield server


def test_browser_channel_added_tested_and_picked_for_a_budget(
    page: Page, live_server: str, engine: Engine, hook: Webhook
) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    errors = watch_errors(page)
    add_user(engine, ADMIN_EMAIL, ADMIN_PASSWORD, "admin")
    log_in(page, live_server)
    expect(page).to_have_url(f"{live_server}/")

    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Channels").click()
    expect(page).to_have_url(f"{live_server}/channels")
    expect(page.get_by_text("No channels yet")).to_be_visible()
    page.get_by_label("Name").fill("ops-hook")
    page.get_by_label("URL").fill(hook.url())
    page.get_by_role("button", name="Add channel").click()

    expect(page).to_have_url(f"{live_server}/channels?added=ops-hook")
    row = page.locator('tr[data-channel="ops-hook"]')
    expect(row).to_contain_text("http://…cdef")
    expect(page.locator("body")).not_to_contain_text("s3cr3t-t0ken")  # the URL never comes back

    row.get_by_role("button", name="Send test").click()
    expect(row.get_by_role("status")).to_have_text("sent")
    expect(page).to_have_url(f"{live_server}/channels?added=ops-hook")  # answered in place (htmx)
    assert len(hook.received) == 1 and hook.received[0]["title"] == TEST_TITLE
    page.screenshot(path=str(SCREENSHOTS / "channels-tested-1280.png"), full_page=True)

    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Budgets").click()
    form = page.locator("#budget-form")  # open: there are no budgets yet
    expect(form.get_by_text("No channel picked: alerts go to every channel.")).to_be_visible()
    form.get_by_label("Name").fill("web")
    form.get_by_label("Amount per window").fill("250")
    form.get_by_role("checkbox", name="ops-hook").check()
    form.get_by_role("button", name="Add budget").click()

    card = page.locator('article[data-budget="web"]')
    expect(page.get_by_role("status")).to_contain_text("Added budget 'web'")
    expect(card).to_contain_text("channels: ops-hook")
    page.screenshot(path=str(SCREENSHOTS / "budgets-with-channel-1280.png"), full_page=True)
    with engine.connect() as conn:
        assert get_budget(conn, "web").channels == ("ops-hook",)
    assert len(hook.received) == 1  # the budget's save sent nothing
    assert not errors, errors
