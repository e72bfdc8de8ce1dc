"""Self-hosted means offline: every page the app serves, the API docs included, loads
nothing from a host other than the server itself (no CDN, no web fonts, no validator
badge), and /docs and /redoc really render from the app's own static files."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from playwright.sync_api import Page, Request, expect
from sqlalchemy import Engine
from test_pages_in_browser import log_in

from logins import ADMIN_EMAIL, ADMIN_PASSWORD, add_user
from spendledger.config import Settings
from spendledger.demo import load_demo
from spendledger.web import create_app

# GET pages with a path parameter, opened with a value, plus the explorer's other views
MORE_PAGES = (
    "/explore?by=project&by=model&granularity=day",
    "/showback?by=customer&period=30d",
    "/prices?model=gpt-4o-mini",
    "/data/confirm?provider=openai&basis=demo",  # the confirmation states a scope (none: a 400)
)
NEEDS_PARAMETERS = {"/data/confirm"}
DOWNLOADS = {"/api/v1/exports/focus"}  # answers a file (Content-Disposition: attachment), not a page


def every_page(settings: Settings) -> list[str]:
    """Every GET path of the app without a parameter (a new page is opened the day it is added)."""
    app = create_app(settings)
    paths = {
        context.path
        for route in app.routes
        if hasattr(route, "effective_route_contexts")
        for context in route.effective_route_contexts()
        if "GET" in context.methods and "{" not in context.path
    }
    paths |= {
        r.path for r in app.routes if "GET" in (getattr(r, "methods", None) or ()) and "{" not in r.path
    }
    return sorted(paths - NEEDS_PARAMETERS - DOWNLOADS) + list(MORE_PAGES)


def test_offline_every_page_loads_only_from_the_server(
    page: Page, live_server: str, engine: Engine, settings: Settings
) -> None:
    add_user(engine, ADMIN_EMAIL, ADMIN_PASSWORD, "admin")
    load_demo(engine, tz=ZoneInfo("UTC"), end=datetime.now(UTC).date(), days=14)
    server = urlsplit(live_server).netloc
    elsewhere: list[str] = []

    def on_request(request: Request) -> None:
        url = urlsplit(request.url)
        if url.scheme not in ("data", "blob") and url.netloc != server:
            elsewhere.append(f"{page.url} → {request.url}")

    page.on("request", on_request)
    log_in(page, live_server)
    expect(page).to_have_url(f"{live_server}/")
    paths = every_page(settings)
    assert {"/", "/budgets", "/alerts", "/tokens", "/docs", "/redoc", "/openapi.json"} <= set(paths)
    for path in paths:
        response = page.goto(f"{live_server}{path}", wait_until="networkidle")
        assert response is not None and response.status == 200, (path, response and response.status)
    assert elsewhere == []


def test_offline_docs_render_the_operations(page: Page, live_server: str) -> None:
    page.goto(f"{live_server}/docs")
    operations = page.locator(".opblock-summary")
    expect(operations.filter(has_text="/api/v1/events")).to_contain_text("POST")
    expect(operations.filter(has_text="/api/v1/spend")).to_contain_text("GET")
    # events, spend, dimensions, sources, budgets, alerts, entries (GET, POST), deletions,
    # audit, subscriptions (GET, POST), imports, the FOCUS export, reconcile, showback,
    # aliases (GET, POST, DELETE), OTLP traces, health
    expect(operations).to_have_count(21)

    # ReDoc's own script ran, read the document and drew its operations (it stops at the
    # first reference it cannot resolve, as it did at `#/$defs/EventIn`)
    with page.expect_response(f"{live_server}/openapi.json") as document:
        page.goto(f"{live_server}/redoc")
    assert document.value.status == 200
    assert page.evaluate("typeof Redoc") == "object"
    expect(page.get_by_role("heading", name="Post Events").first).to_be_visible()
