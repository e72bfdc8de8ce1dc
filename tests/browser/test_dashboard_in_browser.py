"""The whole dashboard in Chromium: every page at a desktop and a phone width (with a
screenshot of each kept under artifacts/screenshots/), the explorer's chart and export
against the JSON API, and what a member may and may not see."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from playwright.sync_api import ConsoleMessage, Error, Page, expect
from sqlalchemy import Engine, select
from test_pages_in_browser import log_in, log_out

from logins import ADMIN_EMAIL, ADMIN_PASSWORD, add_user
from spendledger.demo import load_demo
from spendledger.store.tables import usage
from spendledger.store.users import grant
from spendledger.web.pages import money

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
WIDTHS = {1280: 800, 390: 844}  # width: height
MEMBER_PASSWORD = "a member's own passphrase"
# (screenshot name, path) of the pages an admin sees, logged in
ADMIN_PAGES = (
    ("overview", "/"),
    ("explore", "/explore"),
    ("explore-grouped", "/explore?by=project&by=model&granularity=day"),
    ("sources", "/sources"),
    ("channels", "/channels"),
    ("prices", "/prices"),
    ("prices-lookup", "/prices?model=gpt-4o-mini"),
    ("tokens", "/tokens"),
    ("password", "/account/password"),
)
# the alpha channel of every pixel of a canvas, counted where it is not transparent
DRAWN_PIXELS = """(selector) => {
  const canvas = document.querySelector(selector);
  if (!canvas || !canvas.width || !canvas.height) return 0;
  const alpha = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let drawn = 0;
  for (let i = 3; i < alpha.length; i += 4) if (alpha[i] > 0) drawn++;
  return drawn;
}"""


def watch_errors(page: Page) -> list[str]:
    """The console's errors and the uncaught exceptions of `page`, as they happen."""
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        url = message.location.get("url", "")
        # the app serves no favicon; Chromium's own request for it is not the page's doing
        if message.type == "error" and urlsplit(url).path != "/favicon.ico":
            errors.append(f"console: {message.text} ({url})")

    def on_page_error(error: Error) -> None:
        errors.append(f"pageerror: {error}")

    page.on("console", on_console)
    page.on("pageerror", on_page_error)
    return errors


def shoot(page: Page, errors: list[str], url: str, name: str, width: int) -> None:
    """Open `url` at `width`: a 200, nothing to scroll sideways on a phone, no errors, a PNG."""
    errors.clear()
    response = page.goto(url)
    assert response is not None and response.status == 200, (url, response and response.status)
    if width == 390:
        scroll_width = page.evaluate("document.documentElement.scrollWidth")
        assert scroll_width <= 390, f"{url} scrolls sideways at 390 px: {scroll_width} px wide"
    path = SCREENSHOTS / f"{name}-{width}.png"
    path.unlink(missing_ok=True)  # so a file left by an earlier run cannot pass for this one
    page.screenshot(path=str(path), full_page=True)
    assert not errors, (url, width, errors)
    assert path.is_file() and path.stat().st_size > 0, path
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path


def test_browser_screenshots_of_every_page_at_two_widths(
    page: Page, live_server: str, engine: Engine
) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    errors = watch_errors(page)

    # a ledger with no users: the first-run set-up, then (logged out) the login form
    for width, height in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        shoot(page, errors, f"{live_server}/setup", "setup", width)
    add_user(engine, ADMIN_EMAIL, ADMIN_PASSWORD, "admin")
    assert load_demo(engine, tz=ZoneInfo("UTC"), end=datetime.now(UTC).date(), days=3).records > 0
    for width, height in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        shoot(page, errors, f"{live_server}/login", "login", width)

    log_in(page, live_server)
    expect(page).to_have_url(f"{live_server}/")
    for width, height in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        for name, path in ADMIN_PAGES:
            shoot(page, errors, f"{live_server}{path}", name, width)

    expected = {
        f"{name}-{width}.png" for name, _ in (*ADMIN_PAGES, ("setup", ""), ("login", "")) for width in WIDTHS
    }
    assert expected <= {p.name for p in SCREENSHOTS.glob("*.png")}


def test_browser_explore_chart_draws_and_csv_equals_the_api(
    page: Page, live_server: str, engine: Engine
) -> None:
    add_user(engine, ADMIN_EMAIL, ADMIN_PASSWORD, "admin")
    load_demo(engine, tz=ZoneInfo("UTC"), end=datetime.now(UTC).date(), days=3)
    log_in(page, live_server)
    expect(page).to_have_url(f"{live_server}/")
    page.goto(f"{live_server}/explore?period=7d&by=provider&granularity=day")

    # explore.html calls echarts.init without a renderer: ECharts' default, a <canvas>
    bars = "#explore-bars canvas"
    expect(page.locator(bars)).to_be_visible()
    page.wait_for_function(f"s => ({DRAWN_PIXELS})(s) > 1000", arg=bars)
    assert len(page.locator(bars).evaluate("c => c.toDataURL('image/png')")) > 1000
    expect(page.locator("#explore-share canvas")).to_be_visible()  # the donut beside it

    # change the view through the form; htmx swaps the results in after each change
    page.get_by_label("Group by").select_option("model")
    expect(page.locator("#results thead")).to_contain_text("Model")
    expect(page).to_have_url(re.compile(r"by=model"))
    page.locator("details.explore-filters summary").click()
    page.get_by_label("Provider", exact=True).select_option("provider:openai")
    expect(page.locator("#results [data-summary]")).to_contain_text("Provider: openai")
    expect(page).to_have_url(re.compile(r"filter=provider(:|%3A)openai"))
    page.wait_for_function(f"s => ({DRAWN_PIXELS})(s) > 1000", arg=bars)  # drawn again after the swap

    # the CSV link of what is shown is the API's answer to the URL's query
    query = urlsplit(page.url).query
    href = page.locator("#results a", has_text="CSV").get_attribute("href")
    assert href and href.startswith("/api/v1/spend?") and href.endswith("&format=csv"), href
    exported = page.request.get(f"{live_server}{href}")
    api = page.request.get(f"{live_server}/api/v1/spend?{query}&format=csv")
    assert exported.status == api.status == 200
    assert exported.text() == api.text()
    csv_rows = exported.text().splitlines()
    assert csv_rows[0].startswith("model,period,currency,cost,")
    assert len(csv_rows) - 1 == page.locator("#results tbody tr").count() > 0

    # and the table's total is the JSON's, in money
    report = page.request.get(f"{live_server}/api/v1/spend?{query}&format=json").json()
    assert report["by"] == ["model"] and report["filters"] == {"provider": ["openai"]}
    assert Decimal(report["total"]) > 0
    shown = page.locator("#results tfoot td.num").first.inner_text().strip()
    assert shown == money(Decimal(report["total"]), report["currency"])


def test_browser_member_cannot_open_admin_pages_nor_see_others_spend(
    page: Page, live_server: str, engine: Engine
) -> None:
    load_demo(engine, tz=ZoneInfo("UTC"), end=datetime.now(UTC).date(), days=3)
    with engine.connect() as conn:
        demo_users = set(conn.execute(select(usage.c.user).distinct()).scalars())
        project = conn.execute(
            select(usage.c.project).where(usage.c.project != "").distinct().order_by(usage.c.project)
        ).scalars().first()  # fmt: skip
    outsider, lead = "outsider@example.com", "lead@example.com"
    assert project and outsider not in demo_users
    add_user(engine, ADMIN_EMAIL, ADMIN_PASSWORD, "admin")
    add_user(engine, outsider, MEMBER_PASSWORD, "member")
    add_user(engine, lead, MEMBER_PASSWORD, "member")
    with engine.begin() as conn:
        grant(conn, lead, dimension="project", value=project)

    # a member without grants: no admin pages, and none of the spend (all of it is others')
    log_in(page, live_server, outsider, MEMBER_PASSWORD)
    expect(page).to_have_url(f"{live_server}/")
    pages_nav = page.get_by_role("navigation", name="Pages")
    expect(pages_nav.get_by_role("link", name="Explore")).to_have_count(1)
    expect(pages_nav.get_by_role("link", name="Sources")).to_have_count(0)
    expect(pages_nav.get_by_role("link", name="API tokens")).to_have_count(0)
    expect(pages_nav.get_by_role("link")).to_have_text(
        ["Overview", "Explore", "Reports", "Entries", "Prices"]
    )  # their role's pages
    overview = page.locator("main").inner_text()
    assert not re.search(r"\$(?!0\.00\b)\d[\d,]*\.\d\d", overview), overview  # only $0.00, if any
    assert "No spend recorded yet" in overview or "$0.00" in overview, overview
    for path in ("/sources", "/tokens", "/budgets"):
        response = page.goto(f"{live_server}{path}")
        assert response is not None and response.status == 403, (path, response and response.status)
        expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()  # a page, not JSON
    page.get_by_role("link", name="Back to the overview").click()
    expect(page).to_have_url(f"{live_server}/")
    report = page.request.get(f"{live_server}/api/v1/spend?period=30d").json()
    assert report["rows"] == [] and Decimal(report["total"]) == 0, report

    # a member granted one project: the explorer shows that project and no other
    page.goto(f"{live_server}/")
    log_out(page, live_server)
    log_in(page, live_server, lead, MEMBER_PASSWORD)
    expect(page).to_have_url(f"{live_server}/")
    page.goto(f"{live_server}/explore?period=30d&by=project")
    expect(page.locator("#results tbody tr").first).to_be_visible()
    shown = page.locator("#results tbody tr td:first-child").all_inner_texts()
    assert shown and {text.strip() for text in shown} == {project}, shown
