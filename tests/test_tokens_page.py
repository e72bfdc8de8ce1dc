"""/tokens: admins create a token (shown once), see hints only, and revoke; CSRF on every form."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from logins import add_user, csrf_of, login, text_of
from spendledger.config import Settings
from spendledger.store.tokens import list_tokens
from spendledger.web import create_app

TOKEN = re.compile(r"sl_[A-Za-z0-9_-]{43}")


def _spend_status(settings: Settings, token: str) -> int:
    """GET /api/v1/spend with `token` as the only credential (no session cookie)."""
    with TestClient(create_app(settings)) as api:
        headers = {"Authorization": f"Bearer {token}"}
        return api.get("/api/v1/spend", params={"period": "7d"}, headers=headers).status_code


def test_tokens_page_shows_a_new_token_once_and_revokes_it(
    admin_client: TestClient, settings: Settings
) -> None:
    page = admin_client.get("/tokens")
    assert page.status_code == 200 and "No tokens yet" in page.text

    created = admin_client.post("/tokens", data={"name": "billing-app", "csrf_token": csrf_of(page.text)})

    assert created.status_code == 200
    assert created.headers["cache-control"] == "no-store"
    tokens = TOKEN.findall(created.text)
    assert len(set(tokens)) == 1
    token = tokens[0]
    text = text_of(created.text)
    assert "Created token billing-app. Copy it now: it is not stored and cannot be shown again." in text
    assert _spend_status(settings, token) == 200

    reloaded = admin_client.get("/tokens").text
    assert token not in reloaded and not TOKEN.search(reloaded)
    assert f"<code>sl_…{token[-4:]}</code>" in reloaded  # the hint tells tokens apart
    row = re.search(r"<td>billing-app</td>.*?</tr>", reloaded, flags=re.S)
    assert row and "Revoke" in row.group(0)

    revoked = admin_client.post(
        "/tokens/revoke", data={"name": "billing-app", "csrf_token": csrf_of(reloaded)}
    )

    assert revoked.status_code == 200 and "Revoked token 'billing-app'." in text_of(revoked.text)
    assert _spend_status(settings, token) == 401
    row = re.search(r"<tr class=\"revoked\">\s*<td>billing-app</td>.*?</tr>", revoked.text, flags=re.S)
    assert row and "Revoke" not in row.group(0)  # revoked: listed with its date, no button


def test_tokens_page_refuses_a_taken_name_and_an_unknown_revoke(
    admin_client: TestClient, engine: Engine
) -> None:
    csrf = csrf_of(admin_client.get("/tokens").text)
    assert admin_client.post("/tokens", data={"name": "ci", "csrf_token": csrf}).status_code == 200

    again = admin_client.post("/tokens", data={"name": "ci", "csrf_token": csrf})
    unknown = admin_client.post("/tokens/revoke", data={"name": "nope", "csrf_token": csrf})

    assert again.status_code == 400
    assert "a token named 'ci' exists; revoke it first or pick another name" in text_of(again.text)
    assert not TOKEN.search(again.text)
    assert unknown.status_code == 404 and "no active token named 'nope'" in text_of(unknown.text)
    with engine.connect() as conn:
        assert [t.name for t in list_tokens(conn)] == ["ci"]


def test_tokens_page_forms_need_their_csrf_token(admin_client: TestClient, engine: Engine) -> None:
    assert admin_client.post("/tokens", data={"name": "ci"}).status_code == 403
    assert admin_client.post("/tokens", data={"name": "ci", "csrf_token": "forged"}).status_code == 403
    csrf = csrf_of(admin_client.get("/tokens").text)
    assert admin_client.post("/tokens", data={"name": "ci", "csrf_token": csrf}).status_code == 200
    assert admin_client.post("/tokens/revoke", data={"name": "ci"}).status_code == 403
    with engine.connect() as conn:
        assert [(t.name, t.active) for t in list_tokens(conn)] == [("ci", True)]


def test_tokens_page_is_for_admins_only(settings: Settings, engine: Engine) -> None:
    for role in ("viewer", "member"):
        add_user(engine, f"{role}@example.com", "correct horse battery", role)
        with TestClient(create_app(settings)) as client:
            login(client, f"{role}@example.com", "correct horse battery")
            csrf = csrf_of(client.get("/").text)
            assert client.get("/tokens").status_code == 403
            assert client.post("/tokens", data={"name": "x", "csrf_token": csrf}).status_code == 403
            assert client.post("/tokens/revoke", data={"name": "x", "csrf_token": csrf}).status_code == 403
    with engine.connect() as conn:
        assert list_tokens(conn) == []
