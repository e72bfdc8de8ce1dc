"""Notifications: alerts sent to real local receivers (SMTP and a JSON webhook), once each,
with retries on a failing channel that never stops the others; on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, text

from receivers import Mailbox, Webhook, free_port, smtp_server, webhook_server
from spendledger.alerts.budgets import create_budget
from spendledger.alerts.delivery import notify
from spendledger.alerts.evaluate import describe, evaluate
from spendledger.alerts.transport import apprise_url, url_hint
from spendledger.config import Settings
from spendledger.scheduler import run_due
from spendledger.secrets import Vault, load_vault, new_vault
from spendledger.store import write_records
from spendledger.store.alerts import AlertRow
from spendledger.store.channels import add_channel, list_deliveries
from usage_records import web_record

UTC_ZONE = ZoneInfo("UTC")
NOW = datetime(2026, 11, 1, 8, tzinfo=UTC)
MOMENT = datetime(2026, 11, 30, 12, tzinfo=UTC)  # $105 of $100 spent: 50, 80 and 100 % crossed
OVER = "spendledger failure — budget web reached 100 %"  # the one alert raised at MOMENT
DASHBOARD = "https://ledger.example.com"


@pytest.fixture
def november(engine: Engine) -> Engine:
    with engine.begin() as conn:
        write_records(
            conn,
            [
                web_record(f"n{d}", datetime(2026, 11, d, 12, tzinfo=UTC), c)
                for d, c in ((3, "30"), (10, "25"), (20, "30"), (25, "20"))
            ],
            tz=UTC_ZONE,
        )
    return engine


def _budget(engine: Engine, name: str = "web", channels: tuple[str, ...] = ()) -> None:
    with engine.begin() as conn:
        create_budget(conn, name=name, amount="100", now=NOW, filters=["project=web"], channels=channels)


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with smtp_server() as box:
        yield box


@pytest.fixture
def hook() -> Iterator[Webhook]:
    with webhook_server() as h:
        yield h


@pytest.fixture
def vault() -> Vault:
    return new_vault()


def _channel(engine: Engine, vault: Vault, name: str, url: str) -> None:
    with engine.begin() as conn:
        add_channel(conn, name=name, url=vault.seal(url), url_hint=url_hint(url), now=NOW)


def _round(engine: Engine, vault: Vault, **kw: object) -> list[AlertRow]:
    """evaluate then notify, as the CLI and the scheduler do; the alerts raised."""
    with engine.begin() as conn:
        raised = evaluate(conn, tz=UTC_ZONE, at=MOMENT)
    with engine.begin() as conn:
        notify(conn, raised, vault=vault, dashboard_url=DASHBOARD, **kw)  # type: ignore[arg-type]
    return raised


def test_email_and_webhook_get_exactly_one_message_per_alert(
    november: Engine, vault: Vault, mailbox: Mailbox, hook: Webhook
) -> None:
    _budget(november)
    _channel(november, vault, "mail", mailbox.url())
    _channel(november, vault, "hook", hook.url())

    (alert,) = _round(november, vault)  # 50, 80 and 100 % crossed at once: one alert, at 100 %
    assert alert.threshold == 100
    assert _round(november, vault) == []  # evaluated again: nothing new, nothing sent
    with november.begin() as conn:  # the same alert again: already delivered
        assert notify(conn, [alert], vault=vault) == []

    (mail,) = mailbox.messages
    (post,) = hook.received
    assert str(mail["Subject"]) == post["title"] == OVER
    assert describe(alert) in _text(mail) and describe(alert) in post["message"]
    assert f"{DASHBOARD}/alerts" in post["message"]
    assert set(hook.paths) == {"/hook/s3cr3t-t0ken-abcdef"}

    with november.connect() as conn:
        log = list_deliveries(conn)
    assert len(log) == 2
    assert {(d.alert_id, d.status, d.attempts, d.last_error) for d in log} == {(alert.id, "sent", 1, None)}


def test_a_message_is_a_warning_below_100_and_a_failure_at_100(
    november: Engine, vault: Vault, mailbox: Mailbox, hook: Webhook
) -> None:
    _budget(november)
    _channel(november, vault, "mail", mailbox.url())
    _channel(november, vault, "hook", hook.url())
    # Nov 10: $55 of $100, 50 % reached and the month heading over; Nov 30: $105, 100 %
    for moment in (datetime(2026, 11, 10, 12, tzinfo=UTC), MOMENT):
        with november.begin() as conn:
            raised = evaluate(conn, tz=UTC_ZONE, at=moment)
        notify(november, raised, vault=vault)

    # Apprise's JSON webhook carries the notify type as `type`; the title says it in words
    assert [(p["type"], p["title"]) for p in hook.received] == [
        ("warning", "spendledger warning — budget web reached 50 %"),
        ("warning", "spendledger warning — budget web heading over"),
        ("failure", OVER),
    ]
    assert [str(m["Subject"]) for m in mailbox.messages] == [p["title"] for p in hook.received]


def _text(message: object) -> str:
    from email.message import Message

    assert isinstance(message, Message)
    parts = message.walk() if message.is_multipart() else [message]
    return "".join(
        p.get_payload(decode=True).decode()  # type: ignore[union-attr]
        for p in parts
        if p.get_content_type() == "text/plain"
    )


def test_a_failing_channel_is_retried_logged_and_never_blocks_the_others(
    november: Engine, vault: Vault, hook: Webhook
) -> None:
    _budget(november)
    dead = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens there
    _channel(november, vault, "dead", dead)
    _channel(november, vault, "hook", hook.url())
    waits: list[float] = []

    raised = _round(november, vault, retries=2, backoff=0.5, sleep=waits.append)

    assert len(raised) == 1
    assert len(hook.received) == 1  # the working channel got the alert
    assert waits == [0.5, 1.0]  # exponential backoff between the 3 attempts
    with november.connect() as conn:
        log = list_deliveries(conn)
    (failed,) = [d for d in log if d.channel == "dead"]
    assert failed.status == "failed" and failed.attempts == 3 and failed.sent_at is None
    assert failed.last_error and "127.0.0.1" in failed.last_error
    assert {d.status for d in log if d.channel == "hook"} == {"sent"}


def test_a_budget_with_channels_sends_only_to_them(
    november: Engine, vault: Vault, mailbox: Mailbox, hook: Webhook
) -> None:
    _budget(november, channels=("hook",))
    _channel(november, vault, "mail", mailbox.url())
    _channel(november, vault, "hook", hook.url())
    assert len(_round(november, vault)) == 1
    assert len(hook.received) == 1
    assert mailbox.messages == []


def test_channel_urls_are_sealed_in_the_database(engine: Engine, vault: Vault, hook: Webhook) -> None:
    url = hook.url()
    _channel(engine, vault, "hook", url)
    with engine.connect() as conn:
        stored, hint = conn.execute(text("SELECT url, url_hint FROM channels")).one()
    assert "s3cr3t" not in stored and "s3cr3t" not in hint
    assert vault.open(stored) == url
    assert hint == "http://…cdef"


def test_webhook_urls_map_to_apprise_json() -> None:
    assert apprise_url("http://h:8080/a?b=c") == "json://h:8080/a?b=c"
    assert apprise_url("HTTPS://h/a") == "jsons://h/a"
    assert apprise_url("mailto://h?to=a@b.c") == "mailto://h?to=a@b.c"
    assert url_hint("slack://T000/B000/XXXXXXXXXXXXXXXX") == "slack://…XXXX"
    assert url_hint("json://h") == "json://…"


def test_the_scheduler_round_sends_what_it_raised(
    november: Engine, settings: Settings, hook: Webhook
) -> None:
    _budget(november)
    _channel(november, load_vault(settings), "hook", hook.url())
    assert run_due(november, settings, owner="test", now=lambda: MOMENT) == []
    assert run_due(november, settings, owner="test", now=lambda: MOMENT) == []
    assert [p["title"] for p in hook.received] == [OVER]  # the 50 and 80 % it passed are not sent
    with november.connect() as conn:
        assert {d.status for d in list_deliveries(conn)} == {"sent"}
