"""/budgets: every figure on the page is `budget_status`'s and `forecast_period`'s to the cent;
admins create, edit and delete budgets through the forms (CSRF on each); viewers read only;
members may not open it. Every test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from html import unescape
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from logins import add_user, login
from spendledger.alerts.budgets import budget_status, create_budget
from spendledger.alerts.transport import url_hint
from spendledger.config import Settings
from spendledger.records import UsageRecord
from spendledger.secrets import load_vault
from spendledger.store import write_records
from spendledger.store.budgets import get_budget, list_budgets
from spendledger.store.channels import add_channel
from spendledger.web import create_app
from spendledger.web.pages import money
from spendledger.web.pages.budgets_page import budget_forecast, span
from usage_records import usage_record

UTC_ZONE = ZoneInfo("UTC")


def _today() -> date:
    return datetime.now(UTC).date()  # the test settings' zone is UTC


def _record(key: str, day: date, cost: str, *, currency: str = "USD", **kw: str) -> UsageRecord:
    return usage_record(
        key=key,
        start=datetime(day.year, day.month, day.day, 0, 30, tzinfo=UTC),
        cost=cost,
        currency=currency,
        **kw,
    )


def _write(engine: Engine, records: list[UsageRecord]) -> None:
    with engine.begin() as conn:
        write_records(conn, records, tz=UTC_ZONE)


def _add(engine: Engine, name: str, amount: str, **kw: object) -> None:
    with engine.begin() as conn:
        create_budget(conn, name=name, amount=amount, now=datetime.now(UTC), **kw)  # type: ignore[arg-type]


def _text(html: str) -> str:
    body = re.sub(r"<(style|script)\b.*?</\1>", " ", html, flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", body)).split())


def _card(html: str, name: str) -> str:
    match = re.search(rf'<article [^>]*data-budget="{re.escape(name)}".*?</article>', html, flags=re.S)
    assert match, f"no card for {name!r}"
    return match.group(0)


def _span(card: str, cls: str) -> str:
    match = re.search(rf'<(?:span|strong) class="{cls}[^"]*">([^<]+)<', card)
    assert match, f"no {cls} in {card}"
    return unescape(match.group(1))


def _csrf(client: TestClient) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/budgets").text)
    assert match
    return match.group(1)


def _month_start(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


@pytest.fixture
def role_client(settings: Settings, engine: Engine, request: pytest.FixtureRequest) -> Iterator[TestClient]:
    role: str = request.param
    add_user(engine, f"{role}@example.com", "correct horse battery", role)
    with TestClient(create_app(settings)) as client:
        assert login(client, f"{role}@example.com", "correct horse battery").status_code == 303
        yield client


# ---- figures ----------------------------------------------------------------------------------


def test_budgets_page_figures_equal_budget_status(admin_client: TestClient, engine: Engine) -> None:
    this = _today().replace(day=1)
    last, before = _month_start(this, -1), _month_start(this, -2)
    _write(
        engine,
        [
            _record("web", this, "100.25", project="web"),
            _record("api", this, "50.50", provider="anthropic", project="api"),
            _record("eur", this, "40", provider="mistral", currency="EUR"),  # another currency
            _record("last", last + timedelta(days=14), "30"),
            _record("before", before + timedelta(days=1), "250"),
        ],
    )
    _add(engine, "all", "500")
    _add(engine, "web", "100", filters=["project=web"], thresholds="50,80,100,120")
    page = admin_client.get("/budgets")
    assert page.status_code == 200
    with engine.connect() as conn:
        status = {b.name: budget_status(conn, b, today=_today()) for b in list_budgets(conn)}

    all_ = _card(page.text, "all")
    # this month: $100.25 + $50.50 = $150.75 of $500 (the €40 is not counted): $349.25 left
    assert status["all"].spent == Decimal("150.75")
    assert _span(all_, "spent") == money(status["all"].spent) == "$150.75"
    assert _span(all_, "amount") == "$500.00"
    assert _span(all_, "left") == money(status["all"].left) == "$349.25"
    resets = status["all"].resets_in
    assert resets == (_month_start(this, 1) - _today()).days
    assert _span(all_, "resets") == f"resets in {resets} day{'s' if resets != 1 else ''}"
    first, end = this, _month_start(this, 1) - timedelta(days=1)
    assert _span(all_, "span") == f"{first:%b} 1 – {end:%b} {end.day}"
    # past windows: last month $30 (6.0 %), the month before $250 (50.0 %), then nothing
    rows = re.findall(
        r'<tr class="past"><td>[^<]+</td><td class="num">([^<]+)</td><td class="num">([^<]+)</td>', all_
    )
    assert rows[:3] == [("$30.00", "6.0 %"), ("$250.00", "50.0 %"), ("$0.00", "0.0 %")]
    assert rows == [(money(p.spent), f"{p.percent} %") for p in status["all"].past]

    web = _card(page.text, "web")
    # project web: $100.25 of $100, over by $0.25; 50, 80 and 100 % crossed, 120 % not
    assert _span(web, "spent") == "$100.25"
    assert _span(web, "left over") == money(-status["web"].left) == "$0.25"
    assert "over budget" in web
    assert status["web"].crossed == (50, 80, 100)
    assert "Thresholds crossed: 50 %, 80 %, 100 %" in _text(web)
    assert len(re.findall(r'class="tick crossed"', web)) == 3


def test_budgets_page_forecast_equals_forecast_period(admin_client: TestClient, engine: Engine) -> None:
    today = _today()
    # $9, $10 or $11 a day on project steady for the 20 days before today (7 × $10 + 7 × $11 +
    # 6 × $9 = $201) in a custom window from 20 days ago to 9 days ahead; ~9 × $10 more to come
    steady_days = [
        _record(f"d{i}", today - timedelta(days=i), str(9 + i % 3), project="steady") for i in range(1, 21)
    ]
    _write(engine, steady_days)
    start, end = today - timedelta(days=20), today + timedelta(days=9)
    _add(engine, "steady", "250", period="custom", start=start.isoformat(), end=end.isoformat(),
         filters=["project=steady"])  # fmt: skip
    _add(engine, "roomy", "10000", filters=["project=steady"])
    with engine.connect() as conn:
        steady = budget_status(conn, get_budget(conn, "steady"), today=today)
        forecast = budget_forecast(conn, steady)
        roomy_forecast = budget_forecast(conn, budget_status(conn, get_budget(conn, "roomy"), today=today))
    assert forecast is not None and roomy_forecast is not None
    assert steady.spent == Decimal("201")
    assert steady.spent < forecast.low < forecast.projected_total < forecast.high
    assert forecast.projected_total > Decimal("250") > steady.spent  # heading over, not over yet

    page = admin_client.get("/budgets")
    card = _card(page.text, "steady")
    assert _span(card, "spent") == "$201.00"
    assert _span(card, "projected") == money(forecast.projected_total)
    assert _span(card, "low") == money(forecast.low)
    assert _span(card, "high") == money(forecast.high)
    assert _span(card, "resets") == "custom window, never resets"
    assert f"Forecast for {end:%b} {end.day}" in _text(card)
    assert "forecast to exceed by " + money(forecast.projected_total - Decimal(250)) in _text(card)
    roomy = _card(page.text, "roomy")
    assert _span(roomy, "projected") == money(roomy_forecast.projected_total)
    assert "forecast to exceed" not in roomy and "on track" in roomy


def test_budgets_page_window_text() -> None:
    today = date(2026, 11, 24)
    assert span(date(2026, 11, 1), date(2026, 11, 30), today) == "Nov 1 – Nov 30"
    assert span(date(2026, 11, 30), date(2026, 11, 30), today) == "Nov 30"  # a day, or a window's end
    assert span(date(2026, 12, 28), date(2027, 1, 3), today) == "Dec 28, 2026 – Jan 3, 2027"


def test_budgets_page_empty_state_says_what_to_do(admin_client: TestClient) -> None:
    text = _text(admin_client.get("/budgets").text)
    assert "No budgets yet — add one below or with spendledger budgets add NAME --amount 500" in text


# ---- roles and CSRF ---------------------------------------------------------------------------


@pytest.mark.parametrize("role_client", ["viewer"], indirect=True)
def test_budgets_page_viewer_reads_without_forms(role_client: TestClient, engine: Engine) -> None:
    _add(engine, "all", "500")
    page = role_client.get("/budgets")
    assert page.status_code == 200
    assert 'data-budget="all"' in page.text
    assert '<form method="post" action="/budgets' not in page.text and "/delete" not in page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)  # the log-out form's
    assert csrf
    for url in ("/budgets", "/budgets/all/edit", "/budgets/all/delete"):
        response = role_client.post(url, data={"csrf_token": csrf.group(1), "name": "x", "amount": "5"})
        assert response.status_code == 403, url
        assert "needs the role admin" in response.text
    with engine.connect() as conn:
        assert [b.name for b in list_budgets(conn)] == ["all"]


@pytest.mark.parametrize("role_client", ["member"], indirect=True)
def test_budgets_page_member_is_refused(role_client: TestClient) -> None:
    response = role_client.get("/budgets")
    assert response.status_code == 403
    assert "needs the role admin or viewer" in response.text


def test_budgets_page_forms_need_the_csrf_token(admin_client: TestClient, engine: Engine) -> None:
    _add(engine, "all", "500")
    for url, data in [
        ("/budgets", {"name": "new", "amount": "5"}),
        ("/budgets/all/edit", {"amount": "5"}),
        ("/budgets/all/delete", {}),
    ]:
        assert admin_client.post(url, data=data).status_code == 403, url
        assert admin_client.post(url, data={**data, "csrf_token": "forged"}).status_code == 403, url
    with engine.connect() as conn:
        assert get_budget(conn, "all").amount == Decimal(500)
        assert len(list_budgets(conn)) == 1


# ---- create, edit, delete ---------------------------------------------------------------------


def test_budgets_page_create_edit_delete(admin_client: TestClient, engine: Engine) -> None:
    csrf = _csrf(admin_client)
    form = {
        "csrf_token": csrf,
        "name": "team/web",
        "amount": "1,250.50",
        "currency": "eur",
        "period": "weekly",
        "filters": "provider=openai\r\nproject=web\r\n\r\nproject=api",
        "thresholds": "80, 50",
        "basis": "metered",
    }
    created = admin_client.post("/budgets", data=form)
    assert created.status_code == 200, created.text
    assert "Added budget 'team/web'" in unescape(created.text)
    with engine.connect() as conn:
        b = get_budget(conn, "team/web")
    assert (b.amount, b.currency, b.period, b.basis) == (Decimal("1250.50"), "EUR", "weekly", "metered")
    assert b.scope == {"provider": ("openai",), "project": ("web", "api")}
    assert b.thresholds == (50, 80)
    assert 'data-budget="team/web"' in created.text

    # the edit form comes filled in with the budget as stored
    edit_page = admin_client.get("/budgets", params={"edit": "team/web"}).text
    assert 'value="1250.5"' in edit_page and "provider=openai\nproject=web\nproject=api" in edit_page
    assert 'action="/budgets/team/web/edit"' in edit_page
    edited = admin_client.post(
        "/budgets/team/web/edit",
        data={"csrf_token": csrf, "amount": "300", "currency": "USD", "period": "custom",
              "start": "2026-11-04", "end": "2026-12-03", "filters": "", "thresholds": "100",
              "basis": "best"},
    )  # fmt: skip
    assert edited.status_code == 200, edited.text
    with engine.connect() as conn:
        after = get_budget(conn, "team/web")
    assert after.id == b.id and after.created_at == b.created_at
    assert (after.amount, after.currency, after.period, after.scope) == (Decimal(300), "USD", "custom", {})
    assert (after.custom_start, after.custom_end) == (date(2026, 11, 4), date(2026, 12, 3))
    assert after.thresholds == (100,) and after.basis == "best"

    deleted = admin_client.post("/budgets/team/web/delete", data={"csrf_token": csrf})
    assert deleted.status_code == 200
    assert "Removed budget 'team/web'" in unescape(deleted.text)
    with engine.connect() as conn:
        assert list_budgets(conn) == []
    assert admin_client.post("/budgets/team/web/delete", data={"csrf_token": csrf}).status_code == 404
    assert (
        admin_client.post("/budgets/nope/edit", data={"csrf_token": csrf, "amount": "5"}).status_code == 404
    )


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"amount": "lots"}, "amount", "amount: 'lots' is not an amount"),
        ({"amount": "-5"}, "amount", "amount: '-5': the amount must be more than 0"),
        ({"currency": "dollars"}, "currency", "currency: 'DOLLARS' is not a currency code"),
        ({"thresholds": "50,abc"}, "thresholds", "thresholds: 'abc' is not a percentage"),
        ({"filters": "openai"}, "filters", "filter: 'openai' is not DIM=VALUE"),
        ({"period": "custom"}, "start", "from: a custom period needs --from and --to"),
        ({"name": "all"}, "name", "a budget named 'all' exists"),
    ],
)
def test_budgets_page_bad_input_is_400_naming_the_field(
    admin_client: TestClient, engine: Engine, data: dict[str, str], field: str, message: str
) -> None:
    _add(engine, "all", "500")
    form = {"csrf_token": _csrf(admin_client), "name": "new", "amount": "100", **data}
    response = admin_client.post("/budgets", data=form)
    assert response.status_code == 400
    assert message in unescape(response.text)
    assert re.search(rf'name="{field}"[^>]*aria-invalid="true"', response.text), field
    assert f'value="{unescape(form["amount"])}"' in response.text  # what was typed is kept
    with engine.connect() as conn:
        assert [b.name for b in list_budgets(conn)] == ["all"]


def test_budgets_page_bad_edit_is_400_and_changes_nothing(admin_client: TestClient, engine: Engine) -> None:
    _add(engine, "all", "500")
    response = admin_client.post(
        "/budgets/all/edit", data={"csrf_token": _csrf(admin_client), "amount": "0", "period": "monthly"}
    )
    assert response.status_code == 400
    assert "amount: '0': the amount must be more than 0" in unescape(response.text)
    assert re.search(r'name="amount"[^>]*aria-invalid="true"', response.text)
    with engine.connect() as conn:
        assert get_budget(conn, "all").amount == Decimal(500)


# ---- alert channels ---------------------------------------------------------------------------


def _channel(engine: Engine, settings: Settings, name: str) -> None:
    url = f"json://127.0.0.1/{name}"
    with engine.begin() as conn:
        add_channel(
            conn, name=name, url=load_vault(settings).seal(url), url_hint=url_hint(url), now=datetime.now(UTC)
        )


def _checked(html: str) -> dict[str, bool]:
    """The channel checkboxes of the form: name → ticked."""
    boxes = re.findall(r'<input type="checkbox" name="channels" value="([^"]+)"( checked)?', html)
    return {unescape(name): bool(ticked) for name, ticked in boxes}


def test_budgets_page_form_picks_channels(
    admin_client: TestClient, engine: Engine, settings: Settings
) -> None:
    for name in ("ops", "mail", "pager"):
        _channel(engine, settings, name)
    page = admin_client.get("/budgets").text
    assert _checked(page) == {"mail": False, "ops": False, "pager": False}
    assert "No channel picked: alerts go to every channel." in _text(page)

    form = {"csrf_token": _csrf(admin_client), "name": "web", "amount": "100", "channels": ["ops", "pager"]}
    created = admin_client.post("/budgets", data=form)
    assert created.status_code == 200, created.text
    with engine.connect() as conn:
        assert get_budget(conn, "web").channels == ("ops", "pager")
    assert "channels: ops, pager" in _text(_card(created.text, "web"))

    edit_page = admin_client.get("/budgets", params={"edit": "web"}).text
    assert _checked(edit_page) == {"mail": False, "ops": True, "pager": True}
    edited = admin_client.post(
        "/budgets/web/edit", data={"csrf_token": form["csrf_token"], "amount": "100", "channels": ["mail"]}
    )
    assert edited.status_code == 200, edited.text
    with engine.connect() as conn:
        assert get_budget(conn, "web").channels == ("mail",)
    # none ticked: the budget names none, and alerts go to every channel
    none = admin_client.post("/budgets/web/edit", data={"csrf_token": form["csrf_token"], "amount": "100"})
    assert none.status_code == 200, none.text
    with engine.connect() as conn:
        assert get_budget(conn, "web").channels == ()


def test_budgets_page_refuses_an_unknown_channel(
    admin_client: TestClient, engine: Engine, settings: Settings
) -> None:
    _channel(engine, settings, "ops")
    _add(engine, "all", "500", channels=["ops"])
    csrf = _csrf(admin_client)
    for url, data in [
        ("/budgets", {"name": "new", "amount": "100", "channels": ["ops", "nope"]}),
        ("/budgets/all/edit", {"amount": "100", "channels": ["nope"]}),
    ]:
        response = admin_client.post(url, data={"csrf_token": csrf, **data})
        assert response.status_code == 400, url
        assert "channels: no channel named 'nope' (channels: ops); untick it" in unescape(response.text)
        assert re.search(r'name="channels" value="nope" checked aria-invalid="true"', response.text), url
        assert "(not a channel)" in response.text  # the unknown name is shown, ticked, to untick
    with engine.connect() as conn:
        assert [b.name for b in list_budgets(conn)] == ["all"]
        assert get_budget(conn, "all").channels == ("ops",)


def test_budgets_page_without_channels_says_where_to_add_them(admin_client: TestClient) -> None:
    page = admin_client.get("/budgets").text
    help_line = "No channel picked: alerts go to every channel. No channels yet: add one on Channels"
    assert help_line in _text(page)
    assert 'add one on <a href="/channels">Channels</a>' in page and _checked(page) == {}
