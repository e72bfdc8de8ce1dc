"""Accounts: set-up, login, sessions, CSRF, rate limiting, roles and a member's scope."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from logins import ADMIN_EMAIL, ADMIN_PASSWORD, add_user, login
from spendledger.config import Settings
from spendledger.store import write_records
from spendledger.store.tables import users, web_sessions
from spendledger.store.users import grant
from spendledger.web import create_app
from usage_records import usage_record


@pytest.fixture
def web(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def test_auth_first_visit_sets_up_the_first_admin_once(web: TestClient, engine: Engine) -> None:
    first = web.get("/", follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/setup"
    form = web.get("/setup")
    assert "Create the first admin" in form.text

    made = web.post(
        "/setup",
        data={"email": "Ann@Example.com", "password": "long enough pw", "confirm": "long enough pw",
              "csrf_token": _csrf(form.text)},
        follow_redirects=False,
    )  # fmt: skip

    assert made.status_code == 303 and made.headers["location"] == "/"
    assert "ann@example.com · admin" in web.get("/").text
    with engine.connect() as conn:
        (stored,) = conn.execute(select(users.c.email, users.c.password_hash, users.c.role)).all()
    assert stored.email == "ann@example.com" and stored.role == "admin"
    assert "long enough pw" not in stored.password_hash and stored.password_hash.startswith("$argon2id$")
    # the set-up page is gone for good
    assert web.get("/setup", follow_redirects=False).headers["location"] == "/login"


def test_auth_setup_refuses_a_short_password(web: TestClient) -> None:
    form = web.get("/setup")
    response = web.post(
        "/setup",
        data={"email": "a@b.c", "password": "short", "confirm": "short", "csrf_token": _csrf(form.text)},
    )
    assert response.status_code == 400 and "at least 10 characters" in response.text


def test_auth_page_without_session_redirects_to_login_with_next(web: TestClient, engine: Engine) -> None:
    add_user(engine, ADMIN_EMAIL, ADMIN_PASSWORD, "admin")
    response = web.get("/?x=1", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login?next=%2F%3Fx%3D1"


def test_auth_login_sets_a_safe_session_cookie(web: TestClient, engine: Engine) -> None:
    add_user(engine, ADMIN_EMAIL, ADMIN_PASSWORD, "admin")
    response = login(web, ADMIN_EMAIL, ADMIN_PASSWORD)
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert "sl_session=" in cookie and "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    assert "Secure" not in cookie  # plain http on loopback
    token = web.cookies["sl_session"]
    with engine.connect() as conn:
        hashes = conn.execute(select(web_sessions.c.token_hash)).scalars().all()
    assert len(hashes) == 1 and token not in hashes  # only its hash is stored


def test_auth_cookie_is_secure_behind_https(settings: Settings, engine: Engine) -> None:
    add_user(engine, ADMIN_EMAIL, ADMIN_PASSWORD, "admin")
    with TestClient(create_app(settings), base_url="https://spend.example") as secure:
        response = login(secure, ADMIN_EMAIL, ADMIN_PASSWORD)
    assert response.status_code == 303 and "Secure" in response.headers["set-cookie"]


def test_auth_wrong_password_then_rate_limited(web: TestClient, engine: Engine) -> None:
    add_user(engine, ADMIN_EMAIL, ADMIN_PASSWORD, "admin")
    for _ in range(5):
        wrong = login(web, ADMIN_EMAIL, "not the password")
        assert wrong.status_code == 401 and "The email or the password is wrong." in wrong.text
    blocked = login(web, ADMIN_EMAIL, ADMIN_PASSWORD)  # even the right password waits now
    assert blocked.status_code == 429 and "Too many failed attempts" in blocked.text
    assert "sl_session" not in web.cookies


def test_auth_unknown_email_answers_like_a_wrong_password(web: TestClient, engine: Engine) -> None:
    add_user(engine, ADMIN_EMAIL, ADMIN_PASSWORD, "admin")
    response = login(web, "nobody@example.com", ADMIN_PASSWORD)
    assert response.status_code == 401 and "The email or the password is wrong." in response.text


def test_auth_forms_need_their_csrf_token(web: TestClient, engine: Engine) -> None:
    add_user(engine, ADMIN_EMAIL, ADMIN_PASSWORD, "admin")
    web.get("/login")
    no_token = web.post("/login", data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    assert no_token.status_code == 403
    assert login(web, ADMIN_EMAIL, ADMIN_PASSWORD).status_code == 303
    assert web.post("/logout", data={"csrf_token": "forged"}).status_code == 403
    assert web.get("/").status_code == 200  # still logged in


def test_auth_login_never_redirects_off_site(web: TestClient, engine: Engine) -> None:
    add_user(engine, ADMIN_EMAIL, ADMIN_PASSWORD, "admin")
    page = web.get("/login")
    response = web.post(
        "/login",
        data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "csrf_token": _csrf(page.text),
              "next": "//evil.example/steal"},
        follow_redirects=False,
    )  # fmt: skip
    assert response.headers["location"] == "/"


def test_auth_logout_ends_the_session(web: TestClient, engine: Engine) -> None:
    add_user(engine, ADMIN_EMAIL, ADMIN_PASSWORD, "admin")
    login(web, ADMIN_EMAIL, ADMIN_PASSWORD)
    home = web.get("/")
    out = web.post("/logout", data={"csrf_token": _csrf(home.text)}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert web.get("/", follow_redirects=False).headers["location"].startswith("/login")
    with engine.connect() as conn:
        assert conn.execute(select(web_sessions)).all() == []


def test_auth_password_change_ends_other_sessions(settings: Settings, engine: Engine) -> None:
    add_user(engine, ADMIN_EMAIL, ADMIN_PASSWORD, "admin")
    with TestClient(create_app(settings)) as laptop, TestClient(create_app(settings)) as phone:
        login(laptop, ADMIN_EMAIL, ADMIN_PASSWORD)
        login(phone, ADMIN_EMAIL, ADMIN_PASSWORD)
        form = laptop.get("/account/password")
        data = {"current": "wrong", "password": "a new long password", "confirm": "a new long password"}
        assert (
            laptop.post("/account/password", data={**data, "csrf_token": _csrf(form.text)}).status_code == 400
        )
        data["current"] = ADMIN_PASSWORD
        done = laptop.post("/account/password", data={**data, "csrf_token": _csrf(form.text)})
        assert done.status_code == 200 and "Your password is changed" in done.text
        assert laptop.get("/", follow_redirects=False).status_code == 200
        assert phone.get("/", follow_redirects=False).status_code == 303  # logged out there
    with TestClient(create_app(settings)) as again:
        assert login(again, ADMIN_EMAIL, ADMIN_PASSWORD).status_code == 401
        assert login(again, ADMIN_EMAIL, "a new long password").status_code == 303


def _spend(engine: Engine) -> None:
    at = datetime.now(UTC) - timedelta(hours=1)
    rows = [
        ("ann@example.com", "support-bot", "1.00"),
        ("bob@example.com", "support-bot", "2.00"),
        ("bob@example.com", "search", "4.00"),
    ]
    records = [
        usage_record(
            key=f"api:e{i}", source="api", start=at, model="gpt-4o", user=user, project=project, cost=cost
        )
        for i, (user, project, cost) in enumerate(rows)
    ]
    with engine.begin() as conn:
        write_records(conn, records, tz=__import__("zoneinfo").ZoneInfo("UTC"))


def _api_total(client: TestClient) -> str:
    response = client.get("/api/v1/spend", params={"period": "7d"})
    assert response.status_code == 200, response.text
    return str(response.json()["total"])


def test_auth_member_sees_own_spend_or_grants_viewer_everything(settings: Settings, engine: Engine) -> None:
    _spend(engine)
    add_user(engine, "ann@example.com", "ann password!", "member")
    add_user(engine, "bob@example.com", "bob password!", "member")
    add_user(engine, "vic@example.com", "vic password!", "viewer")
    with engine.begin() as conn:
        grant(conn, "bob@example.com", dimension="project", value="search")
    totals = {}
    for email, password in (("ann@example.com", "ann password!"), ("bob@example.com", "bob password!"),
                            ("vic@example.com", "vic password!")):  # fmt: skip
        with TestClient(create_app(settings)) as client:
            assert login(client, email, password).status_code == 303
            totals[email] = _api_total(client)
            # asking for someone else's spend is refused, naming what is outside the scope
            other = client.get("/api/v1/spend", params={"period": "7d", "filter": "user:vic@example.com"})
            if email == "vic@example.com":
                assert other.status_code == 200
            elif email == "ann@example.com":
                assert other.status_code == 403 and "outside what you may see" in other.json()["detail"]
            page = client.get("/").text
            assert email in page
    # ann: her own calls ($1); bob: the project he is granted ($4), not his support-bot call
    assert totals == {"ann@example.com": "1.00", "bob@example.com": "4.00", "vic@example.com": "7.00"}


def test_auth_spend_api_without_token_or_session_is_401(web: TestClient) -> None:
    response = web.get("/api/v1/spend")
    assert response.status_code == 401 and "API token or a logged-in session" in response.json()["detail"]
