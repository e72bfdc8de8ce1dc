"""The login throttle holds under a burst: of 40 wrong passwords sent at once to a served
app, at most `MAX_FAILURES` are checked (401); the others are refused unchecked (429)."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlalchemy import Engine

from live_server import serving
from logins import ADMIN_EMAIL, ADMIN_PASSWORD, add_user, csrf_of
from spendledger.config import Settings
from spendledger.web.pages.account import MAX_FAILURES

PARALLEL = 40


def _burst(url: str, email: str, password: str) -> Counter[int]:
    """`PARALLEL` logins at once, sharing one login form's CSRF token; their status codes."""
    with httpx.Client(base_url=url, timeout=60) as browser:
        csrf = csrf_of(browser.get("/login").text)
        cookies = dict(browser.cookies)
    form = {"email": email, "password": password, "csrf_token": csrf, "next": "/"}

    def attempt(_: int) -> int:
        with httpx.Client(base_url=url, cookies=cookies, timeout=60) as client:
            return client.post("/login", data=form).status_code

    with ThreadPoolExecutor(PARALLEL) as pool:
        return Counter(pool.map(attempt, range(PARALLEL)))


def test_login_throttle_checks_at_most_the_limit_under_a_burst(settings: Settings, engine: Engine) -> None:
    add_user(engine, ADMIN_EMAIL, ADMIN_PASSWORD, "admin")
    with serving(settings, name="login-server") as url:
        statuses = _burst(url, ADMIN_EMAIL, "wrong password")
        # the window is closed to the right password too
        after = _burst(url, ADMIN_EMAIL, ADMIN_PASSWORD)

    assert MAX_FAILURES == 5
    assert statuses == {401: 5, 429: PARALLEL - 5}
    assert after == {429: PARALLEL}


def test_login_throttle_right_password_is_not_counted_as_a_failure(
    settings: Settings, engine: Engine
) -> None:
    add_user(engine, ADMIN_EMAIL, ADMIN_PASSWORD, "admin")
    with serving(settings, name="login-server") as url:
        for _ in range(MAX_FAILURES):  # as many as would close the window, were they counted
            with httpx.Client(base_url=url, timeout=60) as browser:
                form = {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "next": "/"}
                form["csrf_token"] = csrf_of(browser.get("/login").text)
                assert browser.post("/login", data=form).status_code == 303
        statuses = _burst(url, ADMIN_EMAIL, "wrong password")

    assert statuses == {401: 5, 429: PARALLEL - 5}
