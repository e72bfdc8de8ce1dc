"""Several processes, one message: each alert is claimed for a channel before it is sent, so
two workers on one database send it once per channel, and alerts whose raiser died before
sending them go out on the next round, once. Real receivers, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import Message
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from receivers import Mailbox, Webhook, smtp_server, webhook_server
from spendledger.alerts.budgets import create_budget
from spendledger.alerts.delivery import notify_pending
from spendledger.alerts.evaluate import describe, evaluate
from spendledger.alerts.transport import url_hint
from spendledger.config import Settings
from spendledger.scheduler import run_due
from spendledger.secrets import Vault, load_vault
from spendledger.store import make_engine, write_records
from spendledger.store.alerts import AlertRow, acknowledge, list_alerts
from spendledger.store.channels import add_channel, claim_delivery, list_deliveries
from usage_records import web_record

UTC_ZONE = ZoneInfo("UTC")
MOMENT = datetime(2026, 11, 30, 12, tzinfo=UTC)  # $105 of $100 spent: 50, 80 and 100 % crossed
DASHBOARD = "https://ledger.example.com"
WORKER = Path(sys.executable).with_name("spendledger")  # the console script beside this Python
BUDGETS = ("web", "web-team", "web-ops")  # three budgets, each over: three alerts at 100 %


def _ledger(engine: Engine, vault: Vault, *, at: datetime, mailbox: Mailbox, hook: Webhook) -> None:
    """$105 spent on `at`'s day against three $100 monthly budgets; a mail and a webhook channel."""
    midnight = datetime(at.year, at.month, at.day, tzinfo=UTC)
    records = [web_record(f"r{i}", midnight, cost) for i, cost in enumerate(("40", "35", "30"))]
    with engine.begin() as conn:
        write_records(conn, records, tz=UTC_ZONE)
        for budget in BUDGETS:
            create_budget(conn, name=budget, amount="100", now=at, filters=["project=web"])
        for name, url in (("mail", mailbox.url()), ("hook", hook.url())):
            add_channel(conn, name=name, url=vault.seal(url), url_hint=url_hint(url), now=at)


def _raised(engine: Engine, vault: Vault, *, mailbox: Mailbox, hook: Webhook) -> list[AlertRow]:
    """`_ledger` at MOMENT, then its 3 alerts raised (stored, none sent yet)."""
    _ledger(engine, vault, at=MOMENT, mailbox=mailbox, hook=hook)
    with engine.begin() as conn:
        return evaluate(conn, tz=UTC_ZONE, at=MOMENT)


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with smtp_server() as box:
        yield box


@pytest.fixture
def hook() -> Iterator[Webhook]:
    with webhook_server(delay=0.1) as h:  # slow enough for concurrent senders to overlap
        yield h


def _text(message: Message) -> str:
    parts = message.walk() if message.is_multipart() else [message]
    return "".join(
        p.get_payload(decode=True).decode()  # type: ignore[union-attr]
        for p in parts
        if p.get_content_type() == "text/plain"
    )


def _exactly_once(raised: list[AlertRow], mailbox: Mailbox, hook: Webhook) -> None:
    """Each receiver got one message per alert, naming the budget and linking /alerts."""
    assert sorted(a.budget for a in raised) == sorted(BUDGETS)
    assert len(mailbox.messages) == 3, [str(m["Subject"]) for m in mailbox.messages]
    assert len(hook.received) == 3, hook.received
    for alert in raised:
        mails = [m for m in mailbox.messages if describe(alert) in _text(m)]
        posts = [p for p in hook.received if describe(alert) in p["message"]]
        assert len(mails) == len(posts) == 1, describe(alert)
        title = f"spendledger failure — budget {alert.budget} reached 100 %"
        assert str(mails[0]["Subject"]) == posts[0]["title"] == title
        assert f"{DASHBOARD}/alerts" in _text(mails[0]) and f"{DASHBOARD}/alerts" in posts[0]["message"]


def _all_sent_once(engine: Engine) -> None:
    with engine.connect() as conn:
        log = list_deliveries(conn)
    assert len(log) == 6
    assert len({(d.alert_id, d.channel) for d in log}) == 6
    assert {(d.status, d.attempts, d.last_error) for d in log} == {("sent", 1, None)}
    assert all(d.sent_at is not None for d in log)


def test_two_worker_processes_send_each_alert_once_per_channel(
    engine: Engine, settings: Settings, db_url: str, mailbox: Mailbox, hook: Webhook
) -> None:
    now = datetime.now(UTC)  # the workers evaluate on the clock
    _ledger(engine, load_vault(settings), at=now, mailbox=mailbox, hook=hook)
    env = {
        **os.environ,
        "SPENDLEDGER_DATABASE_URL": db_url,
        "SPENDLEDGER_DATA_DIR": str(settings.data_dir),
        "SPENDLEDGER_TIMEZONE": "UTC",
        "SPENDLEDGER_PUBLIC_URL": DASHBOARD,
    }
    program = [str(WORKER)] if WORKER.exists() else [sys.executable, "-m", "spendledger.cli"]
    command = [*program, "worker", "--once"]
    workers: list[subprocess.Popen[str]] = []
    try:
        for _ in range(2):
            workers.append(
                subprocess.Popen(
                    command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
                )
            )
        logs = [w.communicate(timeout=60)[0] for w in workers]
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
                w.communicate()
    assert [w.returncode for w in workers] == [0, 0], logs
    both = "".join(logs)
    assert both.count("alert raised:") == 3, logs  # each alert raised by one of them
    assert both.count("sent to channel") == 6, logs  # and each (alert, channel) sent by one

    with engine.begin() as conn:
        assert evaluate(conn, tz=UTC_ZONE, at=now) == []  # nothing new: the 3 exist
        alerts = list_alerts(conn, "open")
    assert [a.threshold for a in alerts] == [100] * 3  # each budget's 50 and 80 % passed, not raised
    _exactly_once(alerts, mailbox, hook)
    _all_sent_once(engine)


def test_alerts_raised_but_never_sent_go_out_once_on_the_next_rounds(
    engine: Engine, settings: Settings, db_url: str, mailbox: Mailbox, hook: Webhook
) -> None:
    # the raiser stored them, then died before sending
    raised = _raised(engine, load_vault(settings), mailbox=mailbox, hook=hook)
    assert len(raised) == 3 and mailbox.messages == [] and hook.received == []

    settings = settings.model_copy(update={"public_url": DASHBOARD})
    engines = [make_engine(db_url) for _ in range(2)]  # two processes' pools
    start = threading.Barrier(2)
    failures: list[BaseException] = []

    def scheduler_round(e: Engine) -> None:
        try:
            start.wait(10)
            run_due(e, settings, owner=f"test-{id(e)}", now=lambda: MOMENT)
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            failures.append(exc)

    threads = [threading.Thread(target=scheduler_round, args=(e,)) for e in engines]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not failures and not any(t.is_alive() for t in threads)
        run_due(engines[0], settings, owner="later", now=lambda: MOMENT + timedelta(hours=1))
    finally:
        for e in engines:
            e.dispose()
    _exactly_once(raised, mailbox, hook)
    _all_sent_once(engine)


def test_a_claim_left_sending_by_a_dead_process_is_not_sent_again(
    engine: Engine, settings: Settings, mailbox: Mailbox, hook: Webhook
) -> None:
    vault = load_vault(settings)
    raised = _raised(engine, vault, mailbox=mailbox, hook=hook)
    first = min(raised, key=lambda a: a.budget)
    assert first.id is not None
    with engine.begin() as conn:  # claimed, then its process died mid-send
        claim_delivery(conn, alert_id=first.id, channel="hook", now=MOMENT)

    made = notify_pending(engine, vault=vault, at=MOMENT + timedelta(minutes=1))

    assert len(made) == 5 and {d.status for d in made} == {"sent"}
    assert (first.id, "hook") not in {(d.alert_id, d.channel) for d in made}
    assert len(hook.received) == 2 and not any(describe(first) in p["message"] for p in hook.received)
    assert len(mailbox.messages) == 3
    with engine.connect() as conn:
        (stuck,) = [d for d in list_deliveries(conn) if d.status != "sent"]
    assert (stuck.alert_id, stuck.channel, stuck.status, stuck.attempts) == (first.id, "hook", "sending", 0)
    assert stuck.created_at == MOMENT and stuck.sent_at is None
    assert notify_pending(engine, vault=vault, at=MOMENT + timedelta(minutes=2)) == []


def test_notify_pending_sends_only_open_alerts_of_the_last_day(
    engine: Engine, settings: Settings, mailbox: Mailbox, hook: Webhook
) -> None:
    vault = load_vault(settings)
    raised = _raised(engine, vault, mailbox=mailbox, hook=hook)
    with engine.begin() as conn:
        seen = max(raised, key=lambda a: a.budget)
        assert seen.id is not None
        acknowledge(conn, seen.id, by="ops@example.com", at=MOMENT)

    assert notify_pending(engine, vault=vault, at=MOMENT + timedelta(hours=25)) == []  # too old
    assert mailbox.messages == [] and hook.received == []
    made = notify_pending(engine, vault=vault, at=MOMENT + timedelta(hours=23))
    assert {d.alert_id for d in made} == {a.id for a in raised if a is not seen}
    assert len(made) == 4 and len(hook.received) == 2 and len(mailbox.messages) == 2
    assert notify_pending(engine, vault=vault, within=timedelta(days=7), at=MOMENT) == []
