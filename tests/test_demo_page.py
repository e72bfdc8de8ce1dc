"""The demo-data strip on every page: what it says once real records exist, and the
admin's button that removes the demo data (POST, CSRF, admins only)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from logins import ADMIN_EMAIL, ADMIN_PASSWORD, add_user, csrf_of, login, text_of
from spendledger.config import Settings
from spendledger.demo import has_demo, load_demo
from spendledger.store import write_records
from spendledger.store.alerts import list_alerts
from spendledger.store.budgets import list_budgets
from spendledger.store.tables import usage
from spendledger.web import create_app
from usage_records import web_record

UTC_ZONE = ZoneInfo("UTC")
PAGES = ("/", "/explore", "/budgets", "/alerts", "/prices", "/tokens", "/channels", "/sources")
MIXED = (
    "Demo data is still counted in these figures, alongside your real records (basis demo , accounts "
    "demo-… , the budget “demo: …”); spendledger demo --clear removes it"
)
ALONE = "This ledger holds only demo data (basis demo , accounts demo-… , the budget “demo: …”); spendledger"
BUTTON = "or remove demo data ."


def _load_demo(engine: Engine) -> None:
    today = datetime.now(UTC).date()
    load_demo(engine, tz=UTC_ZONE, end=today, days=3)


def _add_real_record(engine: Engine) -> None:
    with engine.begin() as conn:
        write_records(
            conn, [web_record("real-1", datetime.now(UTC) - timedelta(hours=1), "1.25")], tz=UTC_ZONE
        )


@pytest.fixture
def viewer_client(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    add_user(engine, "viewer@example.com", "viewer password 1", "viewer")
    with TestClient(create_app(settings)) as client:
        assert login(client, "viewer@example.com", "viewer password 1").status_code == 303
        yield client


def test_demo_strip_says_demo_is_still_counted_once_real_records_exist(
    admin_client: TestClient, engine: Engine
) -> None:
    _load_demo(engine)
    _add_real_record(engine)

    for path in PAGES:
        text = text_of(admin_client.get(path).text)
        assert f"{MIXED}, {BUTTON}" in text, path  # text_of puts a space after each tag


def test_demo_strip_only_demo_and_none(settings: Settings, engine: Engine) -> None:
    add_user(engine, ADMIN_EMAIL, ADMIN_PASSWORD, "admin")
    with TestClient(create_app(settings)) as client:
        login(client, ADMIN_EMAIL, ADMIN_PASSWORD)
        assert "demo data" not in text_of(client.get("/").text)
    _load_demo(engine)
    with TestClient(create_app(settings)) as client:  # a new app: the flag is read afresh
        login(client, ADMIN_EMAIL, ADMIN_PASSWORD)
        text = text_of(client.get("/budgets").text)
    assert ALONE in text and "Demo data is still counted" not in text


def test_demo_remove_button_removes_demo_only_and_goes_back(admin_client: TestClient, engine: Engine) -> None:
    _load_demo(engine)
    _add_real_record(engine)
    page = admin_client.get("/budgets?x=1")
    assert '<input type="hidden" name="back" value="/budgets?x=1">' in page.text

    removed = admin_client.post(
        "/demo/remove",
        data={"csrf_token": csrf_of(page.text), "back": "/budgets?x=1"},
        follow_redirects=False,
    )

    assert removed.status_code == 303 and removed.headers["location"] == "/budgets?x=1"
    with engine.connect() as conn:
        assert conn.execute(select(usage.c.key)).scalars().all() == ["real-1"]
        assert not has_demo(conn) and list_budgets(conn) == [] and list_alerts(conn) == []
    assert "demo data" not in text_of(admin_client.get("/budgets").text).lower()


def test_demo_remove_refuses_viewers_a_missing_csrf_and_foreign_redirects(
    admin_client: TestClient, viewer_client: TestClient, engine: Engine
) -> None:
    _load_demo(engine)
    _add_real_record(engine)
    viewer_page = viewer_client.get("/")
    assert MIXED in text_of(viewer_page.text) and BUTTON not in text_of(viewer_page.text)

    as_viewer = viewer_client.post("/demo/remove", data={"csrf_token": csrf_of(viewer_page.text)})
    no_csrf = admin_client.post("/demo/remove", data={"back": "/"})

    assert as_viewer.status_code == 403 and no_csrf.status_code == 403
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).where(usage.c.basis == "demo")).scalar_one() > 0
    csrf = csrf_of(admin_client.get("/").text)
    foreign = admin_client.post(
        "/demo/remove", data={"csrf_token": csrf, "back": "//evil.example/x"}, follow_redirects=False
    )
    assert foreign.status_code == 303 and foreign.headers["location"] == "/"
