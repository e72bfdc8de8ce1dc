"""Users and logins for tests: a user in the database, a login through the form; the CSRF
token and the visible text of a page."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html import unescape
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from spendledger.passwords import hash_password
from spendledger.store.users import create_user

ADMIN_EMAIL, ADMIN_PASSWORD = "admin@example.com", "correct horse battery"


def add_user(engine: Engine, email: str, password: str, role: str) -> None:
    with engine.begin() as conn:
        create_user(
            conn, email=email, password_hash=hash_password(password), role=role, now=datetime.now(UTC)
        )


def login(client: TestClient, email: str, password: str) -> Any:
    """Log in through the login form, CSRF token included, as a browser would."""
    csrf = csrf_of(client.get("/login").text)
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": csrf, "next": "/"},
        follow_redirects=False,
    )


def csrf_of(html: str) -> str:
    """The CSRF token of the page's (first) form."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def text_of(html: str) -> str:
    """The page's text as shown: no tags, styles or scripts; white space folded."""
    body = re.sub(r"<(style|script)\b.*?</\1>", " ", html, flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", body)).split())
