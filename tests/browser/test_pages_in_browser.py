"""The pages as a user meets them in Chromium: first run, log in and out, the password
change, a phone-sized screen, dark mode and the keyboard."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from playwright.sync_api import Page, expect
from sqlalchemy import Engine

from logins import ADMIN_EMAIL, ADMIN_PASSWORD, add_user
from spendledger.demo import load_demo

NEW_PASSWORD = "a brand new passphrase"


def log_in(page: Page, base: str, email: str = ADMIN_EMAIL, password: str = ADMIN_PASSWORD) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in").click()


def log_out(page: Page, base: str) -> None:
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(f"{base}/login")


def test_browser_first_run_sets_up_the_admin_and_logs_in(page: Page, live_server: str) -> None:
    page.goto(f"{live_server}/")
    expect(page).to_have_url(f"{live_server}/setup")

    page.get_by_label("Email").fill(ADMIN_EMAIL)
    page.get_by_label("Password (10 characters or more)").fill(ADMIN_PASSWORD)
    page.get_by_label("Password again").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Create admin and log in").click()

    expect(page).to_have_url(f"{live_server}/")
    expect(page.get_by_role("heading", name="Spend overview")).to_be_visible()
    expect(page.get_by_text("No spend recorded yet")).to_be_visible()
    expect(page.get_by_role("navigation", name="Account")).to_contain_text(ADMIN_EMAIL)

    page.goto(f"{live_server}/setup")  # gone: to /login, which sends a logged-in user on to /
    expect(page).to_have_url(f"{live_server}/")
    expect(page.get_by_role("button", name="Create admin and log in")).to_have_count(0)
    expect(page.get_by_label("Password again")).to_have_count(0)


def test_browser_login_shows_the_error_then_lands_on_the_page_asked_for(
    page: Page, live_server: str, engine: Engine
) -> None:
    add_user(engine, ADMIN_EMAIL, ADMIN_PASSWORD, "admin")
    page.goto(f"{live_server}/account/password")
    expect(page).to_have_url(f"{live_server}/login?next=%2Faccount%2Fpassword")

    page.get_by_label("Email").fill(ADMIN_EMAIL)
    page.get_by_label("Password", exact=True).fill("not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_have_text("The email or the password is wrong.")
    expect(page.get_by_label("Email")).to_have_value(ADMIN_EMAIL)  # kept; only the password is retyped

    page.get_by_label("Password", exact=True).fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{live_server}/account/password")
    expect(page.get_by_role("heading", name="Change your password")).to_be_visible()


def test_browser_logout_returns_to_login_and_ends_the_session(
    page: Page, live_server: str, engine: Engine
) -> None:
    add_user(engine, ADMIN_EMAIL, ADMIN_PASSWORD, "admin")
    log_in(page, live_server)
    expect(page).to_have_url(f"{live_server}/")

    log_out(page, live_server)
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    page.goto(f"{live_server}/")
    expect(page).to_have_url(f"{live_server}/login?next=%2F")


def test_browser_password_change_takes_the_new_password_and_refuses_the_old(
    page: Page, live_server: str, engine: Engine
) -> None:
    add_user(engine, ADMIN_EMAIL, ADMIN_PASSWORD, "admin")
    log_in(page, live_server)
    page.get_by_role("link", name="Password").click()
    expect(page).to_have_url(f"{live_server}/account/password")

    page.get_by_label("Current password").fill(ADMIN_PASSWORD)
    page.get_by_label("New password (10 characters or more)").fill(NEW_PASSWORD)
    page.get_by_label("New password again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("status")).to_contain_text("Your password is changed")
    log_out(page, live_server)

    log_in(page, live_server, password=ADMIN_PASSWORD)
    expect(page.get_by_role("alert")).to_have_text("The email or the password is wrong.")
    log_in(page, live_server, password=NEW_PASSWORD)
    expect(page).to_have_url(f"{live_server}/")
    expect(page.get_by_role("navigation", name="Account")).to_contain_text(ADMIN_EMAIL)


def test_browser_overview_with_demo_data_fits_a_phone_screen(
    page: Page, live_server: str, engine: Engine
) -> None:
    add_user(engine, ADMIN_EMAIL, ADMIN_PASSWORD, "admin")
    utc = ZoneInfo("UTC")
    assert load_demo(engine, tz=utc, end=datetime.now(UTC).date(), days=3).records > 0
    page.set_viewport_size({"width": 390, "height": 844})

    log_in(page, live_server)
    expect(page).to_have_url(f"{live_server}/")
    expect(page.get_by_role("status")).to_contain_text(re.compile("demo", re.IGNORECASE))
    for card in ("This month", "Last 30 days", "Today"):
        expect(page.get_by_role("heading", name=card, exact=True)).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_browser_dark_mode_changes_the_background(page: Page, live_server: str, engine: Engine) -> None:
    add_user(engine, ADMIN_EMAIL, ADMIN_PASSWORD, "admin")
    page.goto(f"{live_server}/login")
    background = "getComputedStyle(document.body).backgroundColor"

    page.emulate_media(color_scheme="light")
    light = page.evaluate(background)
    page.emulate_media(color_scheme="dark")
    dark = page.evaluate(background)

    assert light != dark, light
    assert sum(_rgb(dark)) < sum(_rgb(light))  # and it is the darker one


def test_browser_keyboard_tabs_through_the_login_form_and_enter_submits(
    page: Page, live_server: str, engine: Engine
) -> None:
    add_user(engine, ADMIN_EMAIL, ADMIN_PASSWORD, "admin")
    page.goto(f"{live_server}/login")
    expect(page.get_by_label("Email")).to_be_focused()  # autofocus

    page.get_by_role("link", name="spendledger").focus()  # the header's link, the stop before the form
    page.keyboard.press("Tab")
    expect(page.get_by_label("Email")).to_be_focused()
    page.keyboard.type(ADMIN_EMAIL)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password", exact=True)).to_be_focused()
    page.keyboard.type(ADMIN_PASSWORD)
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Log in")).to_be_focused()

    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{live_server}/")
    expect(page.get_by_role("navigation", name="Account")).to_contain_text(ADMIN_EMAIL)


def _rgb(colour: str) -> tuple[int, ...]:
    match = re.fullmatch(r"rgba?\((\d+), (\d+), (\d+)(?:, [\d.]+)?\)", colour)
    assert match, colour
    return tuple(int(part) for part in match.groups())
