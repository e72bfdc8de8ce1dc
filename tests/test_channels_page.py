"""/channels: admins add, test and remove notification channels and read the delivery log;
a channel's URL goes in sealed and never comes out. Every test runs on SQLite and
PostgreSQL; "Send test" sends to a real webhook receiver on 127.0.0.1."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert, select

from logins import add_user, csrf_of, login, text_of
from receivers import Webhook, free_port, webhook_server
from spendledger.alerts.budgets import create_budget
from spendledger.alerts.transport import TEST_TITLE, url_hint
from spendledger.config import Settings
from spendledger.secrets import load_vault
from spendledger.store.alerts import raise_alert
from spendledger.store.channels import add_channel, list_channels
from spendledger.store.tables import channels, deliveries
from spendledger.web import create_app

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@pytest.fixture
def hook() -> Iterator[Webhook]:
    with webhook_server() as server:
        yield server


def add(client: TestClient, **fields: str) -> Any:
    """Post the add form as a browser would, after loading the page."""
    data = {"csrf_token": csrf_of(client.get("/channels").text), "name": "ops", "url": ""} | fields
    return client.post("/channels", data=data, follow_redirects=False)


def post(client: TestClient, path: str, *, htmx: bool = False) -> Any:
    data = {"csrf_token": csrf_of(client.get("/channels").text)}
    headers = {"HX-Request": "true"} if htmx else {}
    return client.post(path, data=data, headers=headers, follow_redirects=False)


def seal_channel(engine: Engine, settings: Settings, name: str, url: str) -> None:
    with engine.begin() as conn:
        add_channel(conn, name=name, url=load_vault(settings).seal(url), url_hint=url_hint(url), now=NOW)


def row_of(html: str, name: str) -> str:
    match = re.search(rf'<tr id="channel-\d+" data-channel="{re.escape(name)}">.*?</tr>', html, flags=re.S)
    assert match, f"no row for channel {name!r}"
    return match.group(0)


def test_channels_page_is_for_admins_only(settings: Settings, engine: Engine) -> None:
    seal_channel(engine, settings, "ops", "https://hooks.example.com/services/T000/B000/xyz123")
    add_user(engine, "vic@example.com", "vic password!", "viewer")
    add_user(engine, "mia@example.com", "mia password!", "member")
    with TestClient(create_app(settings)) as anonymous:
        for response in (
            anonymous.get("/channels", follow_redirects=False),
            anonymous.post("/channels", data={"name": "x", "url": "json://h"}, follow_redirects=False),
        ):
            assert response.status_code == 303
            assert response.headers["location"].startswith("/login?next=%2Fchannels")
    for email, password in (("vic@example.com", "vic password!"), ("mia@example.com", "mia password!")):
        with TestClient(create_app(settings)) as client:
            assert login(client, email, password).status_code == 303
            csrf = csrf_of(client.get("/account/password").text)  # a real token: the 403 is the role's
            assert client.get("/channels").status_code == 403
            for path in ("/channels", "/channels/ops/test", "/channels/ops/remove"):
                response = client.post(path, data={"csrf_token": csrf, "name": "x", "url": "json://h/x"})
                assert response.status_code == 403, path
                assert "needs the role admin" in response.text
            assert 'href="/channels"' not in client.get("/").text
    with engine.connect() as conn:
        assert [c.name for c in list_channels(conn)] == ["ops"]


def test_channels_page_empty_state_says_what_to_do(admin_client: TestClient) -> None:
    response = admin_client.get("/channels")
    assert response.status_code == 200
    text = text_of(response.text)
    assert "No channels yet — alerts are raised but sent nowhere" in text
    assert "Nothing sent yet" in text
    assert 'action="/channels"' in response.text and 'name="url"' in response.text
    assert 'href="/channels"' in admin_client.get("/").text  # in the admin's navigation


def test_channels_page_adds_a_channel_sealed_and_shows_only_its_hint(
    admin_client: TestClient, engine: Engine, settings: Settings
) -> None:
    url = "https://hooks.example.com/services/T000/B000/s3cr3t-t0ken-abcdef"
    response = add(admin_client, name="  ops-slack ", url=f" {url} ")
    assert response.status_code == 303
    assert response.headers["location"] == "/channels?added=ops-slack"

    page = admin_client.get(response.headers["location"]).text
    assert "Added channel 'ops-slack' (https://…cdef)" in text_of(page)
    row = row_of(page, "ops-slack")
    assert "<code>https://…cdef</code>" in row and "none yet" in row
    assert "s3cr3t" not in page and "hooks.example.com" not in page  # the URL never comes back
    with engine.connect() as conn:
        stored = conn.execute(select(channels.c.url, channels.c.url_hint)).one()
    assert url not in stored.url and "s3cr3t" not in stored.url
    assert load_vault(settings).open(stored.url) == url
    assert stored.url_hint == "https://…cdef"


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"name": "", "url": "json://127.0.0.1/hook"}, "name", "Name: give the channel a name"),
        ({"name": "x" * 201, "url": "json://127.0.0.1/hook"}, "name", "Name: give the channel a name"),
        ({"url": ""}, "url", "URL: paste a webhook URL"),
        ({"url": "nonsense"}, "url", "URL: not a URL Apprise can send to"),
        ({"url": "bogus://example.com/x"}, "url", "URL: not a URL Apprise can send to"),
        ({"name": "taken", "url": "json://127.0.0.1/hook"}, "name", "Name: a channel named 'taken' exists"),
    ],
)
def test_channels_page_bad_input_is_400_naming_the_field(
    admin_client: TestClient,
    engine: Engine,
    settings: Settings,
    fields: dict[str, str],
    field: str,
    message: str,
) -> None:
    seal_channel(engine, settings, "taken", "json://127.0.0.1/taken")
    response = add(admin_client, **fields)
    assert response.status_code == 400
    text = text_of(response.text)
    assert "The channel was not added: fix the fields marked below." in text
    assert message in text
    assert re.search(rf'name="{field}"[^>]*aria-invalid="true"', response.text), field
    assert re.search(r'name="url" type="password" value=""', response.text)  # never echoed
    with engine.connect() as conn:
        assert [c.name for c in list_channels(conn)] == ["taken"]


def test_channels_page_forms_need_the_csrf_token(
    admin_client: TestClient, engine: Engine, settings: Settings, hook: Webhook
) -> None:
    seal_channel(engine, settings, "ops", hook.url())
    for path, data in [
        ("/channels", {"name": "new", "url": hook.url()}),
        ("/channels/ops/test", {}),
        ("/channels/ops/remove", {}),
    ]:
        assert admin_client.post(path, data=data).status_code == 403, path
        assert admin_client.post(path, data={**data, "csrf_token": "forged"}).status_code == 403, path
    assert hook.received == []
    with engine.connect() as conn:
        assert [c.name for c in list_channels(conn)] == ["ops"]


def test_channels_page_send_test_reaches_the_receiver_once(
    admin_client: TestClient, engine: Engine, settings: Settings, hook: Webhook
) -> None:
    assert add(admin_client, name="ops", url=hook.url()).status_code == 303

    partial = post(admin_client, "/channels/ops/test", htmx=True)
    assert partial.status_code == 200
    assert partial.text.strip() == '<p class="ok" role="status">sent</p>'  # the block alone
    assert len(hook.received) == 1  # exactly one message
    assert hook.received[0]["title"] == TEST_TITLE
    assert "A test message to the channel 'ops'" in hook.received[0]["message"]
    assert hook.paths == ["/hook/s3cr3t-t0ken-abcdef"]

    whole = post(admin_client, "/channels/ops/test")  # without script: the page, the answer in place
    assert whole.status_code == 200 and "<html" in whole.text
    row = row_of(whole.text, "ops")
    assert '<p class="ok" role="status">sent</p>' in row
    assert len(hook.received) == 2


def test_channels_page_send_test_shows_the_error_inline(
    admin_client: TestClient, engine: Engine, settings: Settings
) -> None:
    seal_channel(engine, settings, "dead", f"http://127.0.0.1:{free_port()}/hook/nobody-listens")
    partial = post(admin_client, "/channels/dead/test", htmx=True)
    assert partial.status_code == 200
    assert partial.text.startswith('<p class="error" role="alert">')
    assert "Sending to &#39;dead&#39; (http://…tens) failed: " in partial.text
    assert "nobody-listens" not in partial.text  # the URL's hint only, even in an error
    assert post(admin_client, "/channels/nope/test", htmx=True).status_code == 404


def test_channels_page_removes_a_channel_and_warns_of_budgets_naming_it(
    admin_client: TestClient, engine: Engine, settings: Settings
) -> None:
    seal_channel(engine, settings, "ops", "json://127.0.0.1/ops")
    seal_channel(engine, settings, "mail", "json://127.0.0.1/mail")
    with engine.begin() as conn:
        create_budget(conn, name="web", amount="100", now=NOW, channels=["ops"])
    page = admin_client.get("/channels").text
    assert "web" in row_of(page, "ops") and "those picking none" in row_of(page, "mail")

    response = post(admin_client, "/channels/ops/remove")
    assert response.status_code == 303
    assert response.headers["location"] == "/channels?removed=ops"
    page = admin_client.get(response.headers["location"]).text
    text = text_of(page)
    assert "Removed channel 'ops'. Its delivery log stays." in text
    assert "Budget 'web' names a channel no longer here (ops): with none of its channels left" in text
    assert 'href="/budgets?edit=web#budget-form"' in page
    with engine.connect() as conn:
        assert [c.name for c in list_channels(conn)] == ["mail"]
    assert post(admin_client, "/channels/ops/remove").status_code == 404


def _alert(engine: Engine, budget: str, kind: str, threshold: int) -> int:
    with engine.begin() as conn:
        row = raise_alert(
            conn, budget=budget, kind=kind, threshold=threshold, window_start=date(2026, 11, 1),
            window_end=date(2026, 11, 30), figures={"spent": Decimal("80")}, currency="USD", now=NOW,
        )  # fmt: skip
    assert row is not None and row.id is not None
    return row.id


def _delivery(engine: Engine, alert_id: int, channel: str, status: str, minutes: int, **kw: Any) -> None:
    at = NOW + timedelta(minutes=minutes)
    with engine.begin() as conn:
        conn.execute(
            insert(deliveries).values(
                alert_id=alert_id, channel=channel, status=status, attempts=kw.get("attempts", 1),
                last_error=kw.get("error"), created_at=at, sent_at=at if status == "sent" else None,
            )
        )  # fmt: skip


def test_channels_page_delivery_log_is_newest_first_with_the_alerts_budget(
    admin_client: TestClient, engine: Engine, settings: Settings
) -> None:
    seal_channel(engine, settings, "ops", "json://127.0.0.1/ops")
    seal_channel(engine, settings, "mail", "json://127.0.0.1/mail")
    first = _alert(engine, "web", "threshold", 80)
    second = _alert(engine, "api", "forecast", 100)
    _delivery(engine, first, "ops", "sent", 1)
    _delivery(engine, first, "mail", "failed", 2, attempts=4, error="refused")
    _delivery(engine, second, "ops", "sending", 3)

    page = admin_client.get("/channels").text
    log = page.split('aria-label="Delivery log"')[1].split("</table>")[0]
    rows = [
        [text_of(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", r, flags=re.S)]
        for r in re.findall(r"<tr>(.*?)</tr>", log.split("<tbody>")[1], flags=re.S)
    ]
    assert rows == [
        [f"#{second}", "api", "forecast", "ops", "sending", "1", "—", "2026-11-20 09:03 UTC"],
        [f"#{first}", "web", "threshold", "mail", "failed", "4", "refused", "2026-11-20 09:02 UTC"],
        [f"#{first}", "web", "threshold", "ops", "sent", "1", "—", "2026-11-20 09:01 UTC"],
    ]
    assert f'href="/alerts#alert-{second}"' in log
    assert "Every delivery, newest first." in text_of(page)
    # each channel's latest delivery, in the channels table
    assert text_of(row_of(page, "ops")).count(f"sending alert #{second}") == 1
    assert f"failed alert #{first}" in text_of(row_of(page, "mail"))


def test_channels_page_delivery_log_is_capped_at_200_with_a_note(
    admin_client: TestClient, engine: Engine
) -> None:
    alert = _alert(engine, "web", "threshold", 50)
    for i in range(205):
        _delivery(engine, alert, f"c{i:03d}", "sent", i)
    page = admin_client.get("/channels").text
    assert "The latest 200 of 205 deliveries, newest first." in text_of(page)
    log = page.split('aria-label="Delivery log"')[1].split("</table>")[0]
    assert log.count("<tr>") == 201  # the header and 200 rows
    assert "<td>c204</td>" in log and "<td>c005</td>" in log and "<td>c004</td>" not in log
