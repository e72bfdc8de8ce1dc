"""The monthly report's download in Chromium: the overview's "Monthly report (PDF)" link and
the /reports page's give the last whole month's PDF, whose text holds the totals GET
/api/v1/spend gives for that month, and the change against the month before."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import httpx
from playwright.sync_api import Page, expect
from sqlalchemy import Engine
from test_pages_in_browser import log_in

from logins import ADMIN_EMAIL, ADMIN_PASSWORD, add_user
from pdf_text import pdf_text
from spendledger.exports.periods import period_of
from spendledger.records import Basis, display_money
from spendledger.store import write_records
from spendledger.store.tokens import create_token
from usage_records import usage_record


def _ledger(engine: Engine, last: date, before: date) -> None:
    """Last month: billed $120.00 + metered $30.50 + manual $40.00 = $190.50; the month
    before: $100.00 metered. Change +$90.50, 90.50 / 100.00 = +90.5 %."""
    at = [datetime(d.year, d.month, d.day, 12, tzinfo=UTC) for d in (last, before)]
    records = [
        usage_record(
            key="b",
            basis=Basis.BILLED,
            start=at[0] - timedelta(hours=12),
            end=at[0] + timedelta(hours=12),
            account="acme",
            requests=0,
            cost="120.00",
        ),
        usage_record(key="m", provider="anthropic", start=at[0], cost="30.50"),
        usage_record(
            key="e", source="manual", basis=Basis.MANUAL, provider="mistral", start=at[0], cost="40.00"
        ),
        usage_record(key="old", provider="anthropic", start=at[1], cost="100.00"),
    ]
    with engine.begin() as conn:
        write_records(conn, records, tz=ZoneInfo("UTC"))


def _download(page: Page, link_name: str, *, scope: object = None) -> bytes:
    where = scope or page
    with page.expect_download() as info:
        where.get_by_role("link", name=link_name).click()  # type: ignore[attr-defined]
    download = info.value
    path = download.path()
    assert download.suggested_filename.startswith("spendledger-") and path is not None
    return path.read_bytes()


def test_monthly_report_download_holds_the_api_totals(page: Page, live_server: str, engine: Engine) -> None:
    today = datetime.now(UTC).date()
    month = period_of("month", today).previous
    _ledger(engine, month.start + timedelta(days=4), month.previous.start + timedelta(days=9))
    add_user(engine, ADMIN_EMAIL, ADMIN_PASSWORD, "admin")
    with engine.begin() as conn:
        token = create_token(conn, name="browser-test")
    api = httpx.get(
        f"{live_server}/api/v1/spend",
        params={"from": month.start.isoformat(), "to": month.end.isoformat()},
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    total = display_money(Decimal(api["total"]), "USD")
    assert total == "$190.50"  # 120.00 + 30.50 + 40.00

    log_in(page, live_server)
    expect(page).to_have_url(f"{live_server}/")
    text = pdf_text(_download(page, f"Monthly report (PDF), {month.label}"))
    assert f"Spend report — {month.label}" in text
    assert f"Total spend {total}" in text
    assert "Change +$90.50 (+90.5 %)" in text  # against $100.00 the month before
    assert "Basis of the total billed $120.00 · metered $30.50 · manual $40.00" in text

    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Reports").click()
    expect(page).to_have_url(f"{live_server}/reports")
    row = page.get_by_role("row", name=re.compile(re.escape(month.label)))
    expect(row).to_contain_text(total)
    again = pdf_text(_download(page, "Monthly report (PDF)", scope=row))
    assert f"Total spend {total}" in again
