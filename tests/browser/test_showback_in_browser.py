"""Allocation and the showback in Chromium: an admin maps the tracker's and the bill's names
for one project, puts projects in teams, adds a rule splitting the unattributed spend,
then reads last month's showback and downloads its CSV, whose total column sums to the
page's total; at 390 px the table scrolls inside its frame.

The ledger (November 2026, UTC): tracked calls of "search-api" $150 and of "helpdesk"
$20; the OpenAI bill's project "Helpdesk bot" $30 (the same project as "helpdesk");
calls of no project $100. Teams: search-api → search, helpdesk → support.
Direct: search $150, support $20 + $30 = $50 (3:1); the $100 unattributed split 3:1.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from playwright.sync_api import Page, expect
from sqlalchemy import Engine
from test_dashboard_in_browser import SCREENSHOTS, watch_errors
from test_pages_in_browser import log_in

from logins import add_user
from spendledger.records import Basis
from spendledger.store import write_records
from usage_records import usage_record


def _ledger(engine: Engine) -> None:
    at = datetime(2026, 11, 10, 12, tzinfo=UTC)
    records = [
        usage_record(key="api:1", start=at, provider="mistral", project="search-api", cost="150"),
        usage_record(key="api:2", start=at, provider="mistral", project="helpdesk", cost="20"),
        usage_record(key="api:3", start=at, provider="mistral", cost="100"),
        usage_record(
            key="costs|helpdesk",
            source="org-main",
            basis=Basis.BILLED,
            start=datetime(2026, 11, 3, tzinfo=UTC),
            end=datetime(2026, 11, 3, tzinfo=UTC) + timedelta(days=1),
            account="org-main",
            project="Helpdesk bot",
            cost="30",
            requests=0,
        ),
    ]
    with engine.begin() as conn:
        write_records(conn, records, tz=ZoneInfo("UTC"))


def test_browser_allocation_then_showback_and_its_csv(page: Page, live_server: str, engine: Engine) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    errors = watch_errors(page)
    add_user(engine, "admin@example.com", "correct horse battery", "admin")
    _ledger(engine)
    log_in(page, live_server, "admin@example.com", "correct horse battery")
    expect(page).to_have_url(f"{live_server}/")

    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Allocation").click()
    expect(page).to_have_url(f"{live_server}/allocation")
    alias = page.get_by_role("form", name="Add an alias")
    alias.get_by_label("Name in the source").fill("Helpdesk bot")
    alias.get_by_label("Reported as").fill("helpdesk")
    alias.get_by_label("Provider (optional)").fill("openai")
    alias.get_by_role("button", name="Add alias").click()
    expect(page.get_by_role("status")).to_contain_text(
        "project 'Helpdesk bot' of provider 'openai' → project 'helpdesk'"
    )
    for project, team in (("search-api", "search"), ("helpdesk", "support")):
        form = page.get_by_role("form", name="Put a project in a team")
        form.get_by_label("Project").fill(project)
        form.get_by_label("Team").fill(team)
        form.get_by_role("button", name="Set team").click()
        expect(page.get_by_role("status")).to_contain_text(f"project '{project}' in team '{team}'")
    rule = page.get_by_role("form", name="Add a rule")
    rule.get_by_label("Name", exact=True).fill("leftovers")
    rule.get_by_label("Pool").select_option("unattributed")
    rule.get_by_label("Split").select_option("proportional")
    rule.get_by_role("button", name="Add rule").click()
    expect(page.get_by_role("status")).to_contain_text(
        "rule 'leftovers', unattributed split by team, proportional"
    )

    page.goto(f"{live_server}/showback?by=team&from=2026-11-01&to=2026-11-30")
    table = page.get_by_role("table", name="Showback by team")
    # search: 150 + 75 (3/4 of 100); support: 20 + 30 + 25
    expect(table.get_by_role("row").filter(has_text="search")).to_contain_text("$150.00$75.00$225.00")
    expect(table.get_by_role("row").filter(has_text="support")).to_contain_text("$50.00$25.00$75.00")
    expect(table.locator("tfoot")).to_contain_text("$300.00")
    expect(page.get_by_role("table", name="Shared pools")).to_contain_text("search $75.00, support $25.00")
    page.screenshot(path=str(SCREENSHOTS / "showback-1280.png"), full_page=True)

    with page.expect_download() as download:
        page.get_by_role("link", name="CSV").click()
    csv_lines = download.value.path().read_text().splitlines()
    assert download.value.suggested_filename == "showback-by-team-2026-11-01-2026-11-30.csv"
    assert csv_lines[0] == "team,currency,direct,shared,total"
    assert sum(Decimal(line.split(",")[4]) for line in csv_lines[1:]) == Decimal(300)

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    frame = page.locator(".table-scroll").first
    assert frame.evaluate(
        "e => e.scrollWidth <= e.clientWidth + 1 || getComputedStyle(e).overflowX === 'auto'"
    )
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(SCREENSHOTS / "showback-390.png"), full_page=True)
    assert errors == []


def test_browser_showback_viewer_reads_member_is_refused(
    page: Page, live_server: str, engine: Engine
) -> None:
    add_user(engine, "viewer@example.com", "viewer password!", "viewer")
    _ledger(engine)
    log_in(page, live_server, "viewer@example.com", "viewer password!")
    expect(page).to_have_url(f"{live_server}/")
    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Showback").click()
    page.get_by_label("By", exact=True).select_option("project")
    page.get_by_label("Period", exact=True).select_option("")
    page.get_by_label("From", exact=True).fill("2026-11-01")
    page.get_by_label("To, included", exact=True).fill("2026-11-30")
    page.get_by_role("button", name="Show").click()
    table = page.get_by_role("table", name="Showback by project")
    expect(table.get_by_role("row").filter(has_text="(unallocated)")).to_contain_text("$100.00")
    expect(page.get_by_text("No allocation rule splits spend by project.")).to_be_visible()
    expect(page.get_by_role("navigation", name="Pages").get_by_role("link", name="Allocation")).to_have_count(
        0
    )
