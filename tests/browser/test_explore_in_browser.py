"""The explorer in Chromium: htmx updates the results in place, the URL keeps the state,
the charts draw, and the export gives the figures shown."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from playwright.sync_api import Page, expect
from sqlalchemy import Engine
from test_dashboard_in_browser import SCREENSHOTS
from test_pages_in_browser import log_in

from logins import ADMIN_EMAIL, ADMIN_PASSWORD, add_user
from spendledger.demo import load_demo
from spendledger.store import write_records
from usage_records import usage_record


def test_browser_explore_regroups_in_place_and_keeps_the_state_in_the_url(
    page: Page, live_server: str, engine: Engine
) -> None:
    add_user(engine, ADMIN_EMAIL, ADMIN_PASSWORD, "admin")
    load_demo(engine, tz=ZoneInfo("UTC"), end=datetime.now(UTC).date(), days=3)
    log_in(page, live_server)
    page.goto(f"{live_server}/explore")
    expect(page.locator("#results table")).to_be_visible()
    page.evaluate("window.__marker = 'same page'")  # survives only if nothing reloads the page

    page.get_by_label("Group by").select_option("model")

    expect(page).to_have_url(re.compile(r"by=model"))
    expect(page.locator("#results table thead")).to_contain_text(re.compile("model", re.IGNORECASE))
    assert page.evaluate("window.__marker") == "same page"  # htmx swapped the results only
    expect(page.locator("#results svg, #results canvas").first).to_be_visible()  # a chart drew

    # the URL is the view: opening it anew shows the same grouping
    page.goto(page.url)
    expect(page.get_by_label("Group by")).to_have_value("model")

    # the JSON export holds the figures the table shows
    href = page.locator("a", has_text=re.compile("JSON")).first.get_attribute("href")
    assert href and "format=json" in href
    exported = json.loads(page.request.get(f"{live_server}{href}").text())
    assert exported["total"] and float(exported["total"]) > 0
    shown_total = page.locator("#results tfoot").inner_text()
    assert f"{float(exported['total']):,.2f}" in shown_total


def test_browser_explore_fits_a_phone_screen(page: Page, live_server: str, engine: Engine) -> None:
    add_user(engine, ADMIN_EMAIL, ADMIN_PASSWORD, "admin")
    load_demo(engine, tz=ZoneInfo("UTC"), end=datetime.now(UTC).date(), days=3)
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, live_server)
    page.goto(f"{live_server}/explore?period=7d&by=project&by=model&granularity=day")
    expect(page.locator("#results table")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_browser_explore_opens_on_a_summary_and_its_time_chart_is_full_width(
    page: Page, live_server: str, engine: Engine
) -> None:
    add_user(engine, ADMIN_EMAIL, ADMIN_PASSWORD, "admin")
    load_demo(engine, tz=ZoneInfo("UTC"), end=datetime.now(UTC).date(), days=30)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    log_in(page, live_server)
    page.goto(f"{live_server}/explore")

    rows = page.locator("#results tbody tr")  # a row per provider, not per provider and day
    expect(rows.first).to_be_visible()
    assert 2 <= rows.count() <= 8
    expect(page.locator("[data-projection]")).to_contain_text(
        re.compile(r"At this pace, by \w{3} \d{1,2}:\s+\$")
    )
    expect(page.locator("#explore-share canvas")).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "explore-default-1280.png"), full_page=True)

    page.get_by_label("Over time").select_option("day")
    expect(page).to_have_url(re.compile(r"granularity=day"))
    expect(page.locator("#explore-bars canvas")).to_be_visible()
    bars, results = page.locator("#explore-bars").bounding_box(), page.locator("#results").bounding_box()
    assert bars and results and bars["width"] >= results["width"] - 1  # the page's whole width
    page.screenshot(path=str(SCREENSHOTS / "explore-by-day-1280.png"), full_page=True)


def test_browser_explore_downloads_the_focus_file_of_the_period(
    page: Page, live_server: str, engine: Engine, tmp_path: Path
) -> None:
    add_user(engine, ADMIN_EMAIL, ADMIN_PASSWORD, "admin")
    load_demo(engine, tz=ZoneInfo("UTC"), end=datetime.now(UTC).date(), days=3)
    log_in(page, live_server)
    page.goto(f"{live_server}/explore?period=7d&filter=provider:openai")
    expect(page.locator("#results table")).to_be_visible()
    shown = page.locator("#results tfoot").inner_text()
    with page.expect_download() as download:
        page.get_by_role("link", name="FOCUS 1.2").click()
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    assert path.name.startswith("focus-1.2-") and path.suffix == ".csv"
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    assert rows and {r["ProviderName"] for r in rows} == {"OpenAI"}  # the explorer's filter
    total = sum(Decimal(r["BilledCost"]) for r in rows)
    assert f"{total.quantize(Decimal('0.01')):,}" in shown  # the figure the table shows


def test_browser_explore_pages_a_long_table_in_place(page: Page, live_server: str, engine: Engine) -> None:
    add_user(engine, ADMIN_EMAIL, ADMIN_PASSWORD, "admin")
    # 30 days × 21 projects, one $0.50 call each: 630 rows by project and day, $315.00 in all
    records = [
        usage_record(
            key=f"page:{day}:{n}",
            start=datetime(2026, 11, day, 12, tzinfo=UTC),
            project=f"p{n:02d}",
            cost="0.50",
        )
        for day in range(1, 31)
        for n in range(21)
    ]
    with engine.begin() as conn:
        write_records(conn, records, tz=ZoneInfo("UTC"))
    log_in(page, live_server)
    page.goto(f"{live_server}/explore?from=2026-11-01&to=2026-11-30&by=project&granularity=day")
    rows = page.locator("#results tbody tr")
    expect(rows).to_have_count(500)
    expect(page.locator("#explore-rows")).to_contain_text("630 rows: 1–500 shown, page 1 of 2")
    expect(page.locator("#results tfoot")).to_contain_text("$315.00")
    page.evaluate("window.__marker = 'same page'")

    page.get_by_role("link", name="Next →").click()

    expect(page).to_have_url(re.compile(r"page=2"))
    expect(rows).to_have_count(130)
    expect(page.locator("#explore-rows")).to_contain_text("501–630 shown, page 2 of 2")
    expect(page.locator("#results tfoot")).to_contain_text("$315.00")  # the whole answer's total
    assert page.evaluate("window.__marker") == "same page"  # htmx swapped the results only
    # the rows are the API's 501st to 630th, in its order
    api = json.loads(
        page.request.get(
            f"{live_server}/api/v1/spend?from=2026-11-01&to=2026-11-30&by=project&granularity=day"
        ).text()
    )
    first = rows.first.locator("td")
    assert (first.nth(0).inner_text(), first.nth(1).inner_text()) == (
        api["rows"][500]["project"],
        api["rows"][500]["period"],
    )
    csv_href = page.locator("a", has_text="CSV").first.get_attribute("href")
    assert csv_href and "page=" not in csv_href  # the export is the whole answer

    page.get_by_role("link", name="← Previous").click()
    expect(page).to_have_url(re.compile(r"page=1"))
    expect(rows).to_have_count(500)
