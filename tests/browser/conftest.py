"""The pages in a real browser: the app under uvicorn on a free local port, driven by a
headless Chromium through Playwright (sync API).

- Browser tests run on SQLite only: they check what the browser shows and does, and the
  rest of the suite already runs every query on both databases. `db_url` below replaces
  the parametrised one of tests/conftest.py for this folder.
- Chromium is Debian's (/usr/bin/chromium), never a Playwright download. Without it the
  tests skip, saying how to install it, except under CI=true, where they fail.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from live_server import serving
from spendledger.config import Settings

CHROMIUM = Path("/usr/bin/chromium")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture
def db_url(tmp_path: Path, sqlite_template: Path) -> str:
    """A migrated, empty SQLite database (the browser tests do not run on PostgreSQL)."""
    path = tmp_path / "ledger.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def live_server(settings: Settings) -> Iterator[str]:
    """The app on the test's database, served by uvicorn in a thread; yields its base URL.
    The app has answered once already: FastAPI builds its routes on the first request
    (seconds on a busy machine), which would otherwise count against the 5 s the test's
    first page has to load."""
    with serving(settings) as url:
        assert httpx.get(f"{url}/healthz", timeout=60).status_code == 200
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """A headless Chromium for a test module. Not for the whole run: Playwright's sync API
    keeps an asyncio loop running on the main thread while it is open, and every later
    `asyncio.run()` (the SDK's async tests) would fail with "cannot be called from a
    running event loop"."""
    if not CHROMIUM.exists():
        reason = f"Chromium not found at {CHROMIUM}"
        if IN_CI:
            pytest.fail(f"{reason} (CI=true: the browser tests must run)")
        pytest.skip(f"{reason}; install it with `apt-get install -y chromium` to run the browser tests")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh context (no cookies; 1280x800) and page for each test, closed after it.
    Actions and navigations wait 15 s at most (a bound on waiting, not a timing test: a
    page of demo data rendered while the suite's other worker runs, on a busy 2-core
    machine, can take more than 5 s)."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()
