"""Users and logins for tests: a user in the database, a login through the form."""

from __future__ import annotations

import re
from datetime import UTC, datetime
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
    page = client.get("/login")
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, page.text
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": match.group(1), "next": "/"},
        follow_redirects=False,
    )
