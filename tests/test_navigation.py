"""Roles in the navigation: each role sees the links of the pages it may open and no other;
a page it may not open answers an HTML 403 page with a way back (the JSON API keeps JSON).
On SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from logins import add_user, login, text_of
from spendledger.config import Settings
from spendledger.web import create_app
from spendledger.web.pages import NAV

SHOWN = {
    "admin": [
        *("Overview", "Explore", "Reports", "Budgets", "Showback", "Entries", "Subscriptions", "Alerts"),
        *("Reconciliation", "Channels", "Prices", "Sources", "Allocation"),
        *("API tokens", "Data", "Audit log", "Imports"),
    ],
    "viewer": [
        *("Overview", "Explore", "Reports", "Budgets", "Showback", "Entries", "Subscriptions", "Alerts"),
        *("Reconciliation", "Prices"),
    ],
    "member": ["Overview", "Explore", "Reports", "Entries", "Prices"],
}


def _client_of(role: str, settings: Settings, engine: Engine) -> Iterator[tuple[str, TestClient]]:
    add_user(engine, f"{role}@example.com", "correct horse battery", role)
    with TestClient(create_app(settings)) as client:
        assert login(client, f"{role}@example.com", "correct horse battery").status_code == 303
        yield role, client


@pytest.fixture(params=list(SHOWN))
def as_role(
    request: pytest.FixtureRequest, settings: Settings, engine: Engine
) -> Iterator[tuple[str, TestClient]]:
    yield from _client_of(request.param, settings, engine)


@pytest.fixture(params=["viewer", "member"])
def not_admin(
    request: pytest.FixtureRequest, settings: Settings, engine: Engine
) -> Iterator[tuple[str, TestClient]]:
    yield from _client_of(request.param, settings, engine)


def _nav_links(html: str) -> list[str]:
    nav = re.search(r'<nav class="pages"[^>]*>(.*?)</nav>', html, flags=re.S)
    assert nav, html
    return re.findall(r'<a href="[^"]+">([^<]+)</a>', nav.group(1))


def test_navigation_shows_only_the_pages_a_role_opens(as_role: tuple[str, TestClient]) -> None:
    role, client = as_role
    assert _nav_links(client.get("/").text) == SHOWN[role]
    for href, label, _ in NAV:  # every link shown opens; every page not shown refuses
        status = client.get(href).status_code
        assert status == (200 if label in SHOWN[role] else 403), (role, href, status)


def test_navigation_refused_page_is_html_with_a_way_back(not_admin: tuple[str, TestClient]) -> None:
    role, client = not_admin
    refused = client.get("/tokens")
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("text/html")
    text = text_of(refused.text)
    assert "Not allowed This page needs the role admin." in text
    assert f"You are logged in as {role}@example.com with the role {role}" in text
    assert '<a href="/">Back to the overview</a>' in refused.text
    assert _nav_links(refused.text) == SHOWN[role]  # the way on, as on every page


@pytest.fixture
def member(settings: Settings, engine: Engine) -> Iterator[tuple[str, TestClient]]:
    yield from _client_of("member", settings, engine)


def test_navigation_api_refusals_stay_json(member: tuple[str, TestClient]) -> None:
    _, client = member
    refused = client.get("/api/v1/spend", params={"period": "7d", "filter": "user:other@example.com"})
    assert refused.status_code == 403
    assert "outside what you may see" in refused.json()["detail"]
