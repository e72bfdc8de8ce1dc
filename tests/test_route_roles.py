"""Every route of the app, probed as a member and as a viewer: what is not theirs is 403.

The routes are read from the app itself, so a new route is probed the day it is added:
unless it is listed below as open to every logged-in role, a member and a viewer must be
refused (403, with the role named), and a session must never be enough for the ingest API.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from logins import ADMIN_EMAIL, ADMIN_PASSWORD, add_user, login
from spendledger.config import Settings
from spendledger.web import create_app

# (method, path) every logged-in role may use; everything else is for admins only
OPEN_TO_ALL = {
    ("GET", "/"),
    ("GET", "/explore"),
    ("GET", "/prices"),
    ("GET", "/account/password"),
    ("POST", "/account/password"),
    ("POST", "/logout"),
    ("GET", "/login"),
    ("POST", "/login"),
    ("GET", "/setup"),
    ("POST", "/setup"),
    ("GET", "/api/v1/spend"),
    ("GET", "/api/v1/dimensions/{dim}"),  # within the caller's scope, as /api/v1/spend
    ("GET", "/api/v1/exports/focus"),  # within the caller's scope, as /api/v1/spend
    ("GET", "/entries"),  # manual entries, within the caller's scope
    ("GET", "/reports"),  # the PDF reports, within the caller's scope (members: no budgets)
    ("GET", "/reports/{key}.pdf"),
    ("GET", "/api/v1/entries"),
    ("GET", "/healthz"),
}
# read-only pages a viewer may open and a member may not (their figures span every scope)
VIEWERS_TOO: set[tuple[str, str]] = {
    ("GET", "/budgets"),
    ("GET", "/alerts"),
    ("GET", "/api/v1/budgets"),  # the pages' JSON twins
    ("GET", "/api/v1/alerts"),
    ("GET", "/subscriptions"),
    ("GET", "/api/v1/subscriptions"),
    ("GET", "/reconcile"),  # a bill is not split by project or user: no member's scope
    ("GET", "/api/v1/reconcile"),
    ("GET", "/showback"),  # the showback's pools span every scope
    ("GET", "/api/v1/showback"),
    ("GET", "/api/v1/aliases"),
}
# apps send events and OTLP traces with an API token, never a session
TOKEN_ONLY = {
    ("POST", "/api/v1/events"),
    ("POST", "/v1/traces"),
    ("POST", "/api/v1/entries"),
    ("POST", "/api/v1/imports"),
}
DOCS = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc", "/static"}


def routes_of(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path) of every route, those of included routers too."""
    found: set[tuple[str, str]] = set()
    for route in app.routes:
        if isinstance(route, APIRoute):
            found.update((m, route.path) for m in route.methods)
        elif hasattr(route, "effective_route_contexts"):  # FastAPI's included routers
            for context in route.effective_route_contexts():
                found.update((m, context.path) for m in context.methods)
        elif getattr(route, "path", None) not in DOCS:
            raise AssertionError(f"a route this test cannot read: {route!r}; teach routes_of about it")
    return sorted((m, p) for m, p in found if m != "HEAD" and p not in DOCS)


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", lambda m: "1" if "id" in m.group(0) else "Edugami", path)


@pytest.fixture(params=["member", "viewer"])
def probe(
    request: pytest.FixtureRequest, settings: Settings, engine: Engine
) -> Iterator[tuple[str, TestClient]]:
    add_user(engine, ADMIN_EMAIL, ADMIN_PASSWORD, "admin")
    role = request.param
    add_user(engine, f"{role}@example.com", f"{role} password!", role)
    with TestClient(create_app(settings)) as client:
        assert login(client, f"{role}@example.com", f"{role} password!").status_code == 303
        yield role, client


def test_routes_are_all_probed_and_the_list_is_current(settings: Settings) -> None:
    routes = set(routes_of(create_app(settings)))
    assert routes >= OPEN_TO_ALL | TOKEN_ONLY, "a route listed as open no longer exists"
    assert ("GET", "/sources") in routes and ("POST", "/tokens") in routes  # the admin pages are seen
    # /channels is for admins only, as /sources: its routes are probed below, none is listed open
    channel_routes = {
        ("GET", "/channels"),
        ("POST", "/channels"),
        ("POST", "/channels/{name:path}/test"),
        ("POST", "/channels/{name:path}/remove"),
    }
    assert channel_routes <= routes and not channel_routes & (OPEN_TO_ALL | VIEWERS_TOO)


def test_member_and_viewer_get_403_on_every_admin_route(probe: tuple[str, TestClient]) -> None:
    role, client = probe
    # a real CSRF token of the session: a 403 below is the role check, not a missing token
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/account/password").text)
    assert csrf
    refused: list[str] = []
    for method, path in routes_of(client.app):  # type: ignore[arg-type]
        if (method, path) in OPEN_TO_ALL or (role == "viewer" and (method, path) in VIEWERS_TOO):
            continue
        url = _concrete(path)
        kwargs: dict[str, Any] = {"data": {"csrf_token": csrf.group(1)}} if method == "POST" else {}
        response = client.request(method, url, follow_redirects=False, **kwargs)
        if (method, path) in TOKEN_ONLY:
            assert response.status_code == 401, (method, url, response.status_code)
            continue
        assert response.status_code == 403, (role, method, url, response.status_code, response.text[:200])
        assert "needs the role admin" in response.text
        refused.append(f"{method} {path}")
    assert len(refused) >= 12  # /sources (6), /prices overrides (3), /tokens (3)...
