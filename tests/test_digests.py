"""Scheduled digests: sent on Monday for the ISO week before and on the 1st for the month
before, once per period and channel however many schedulers race; email gets the PDF report
attached, Slack and webhooks a short summary with the link to its download. Real receivers
(SMTP, HTTP) on 127.0.0.1; SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from apprise.plugins.slack import NotifySlack
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from clirun import Cli, cli_runner
from pdf_text import pdf_text
from receivers import Mailbox, Webhook, smtp_server, webhook_server
from report_ledger import load_report_ledger
from spendledger.alerts.transport import url_hint
from spendledger.config import Settings
from spendledger.reports.digests import due_digests, send_due_digests
from spendledger.scheduler import run_due
from spendledger.secrets import load_vault
from spendledger.store import make_engine
from spendledger.store.audit import entries
from spendledger.store.channels import UnknownChannelError, add_channel, list_channels, remove_channel
from spendledger.store.digests import DigestError, DigestRow, add_digest, list_digests, list_sends

DASHBOARD = "https://ledger.example.com"
ADDED = datetime(2026, 11, 1, tzinfo=UTC)
# Tuesday 1 December 2026, 07:00 UTC: November's digest is due (from Dec 1 06:00), and the
# week of Nov 23–29's (from Monday Nov 30 06:00)
NOW = datetime(2026, 12, 1, 7, tzinfo=UTC)
SLACK_TOKENS = "T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7"
WORKER = Path(sys.executable).with_name("spendledger")


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with smtp_server() as box:
        yield box


@pytest.fixture
def hook() -> Iterator[Webhook]:
    with webhook_server(delay=0.1) as h:  # slow enough for racing senders to overlap
        yield h


@pytest.fixture
def public(settings: Settings) -> Settings:
    return settings.model_copy(update={"public_url": DASHBOARD})


def _channels(engine: Engine, settings: Settings, **urls: str) -> None:
    vault = load_vault(settings)
    with engine.begin() as conn:
        for name, url in urls.items():
            add_channel(conn, name=name, url=vault.seal(url), url_hint=url_hint(url), now=ADDED)


def _digests(engine: Engine, *pairs: tuple[str, str], at: datetime = ADDED) -> None:
    with engine.begin() as conn:
        for kind, channel in pairs:
            add_digest(conn, kind=kind, channel=channel, now=at)


def _pdf_of(message: EmailMessage) -> tuple[str, bytes]:
    (part,) = [p for p in message.iter_attachments() if p.get_content_type() == "application/pdf"]
    data = part.get_payload(decode=True)
    assert isinstance(data, bytes)
    return str(part.get_filename()), data


def _text(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def test_due_on_monday_for_the_week_before_and_on_the_first_for_the_month(settings: Settings) -> None:
    weekly, monthly = DigestRow("weekly", "ops", ADDED), DigestRow("monthly", "ops", ADDED)

    def due(now: datetime, *digests: DigestRow, on: Settings = settings) -> list[tuple[str, str]]:
        return [(d.kind, p.key) for d, p in due_digests(list(digests), now=now, settings=on)]

    monday = datetime(2026, 11, 30, 6, tzinfo=UTC)  # Monday after the week of Nov 23–29
    # before 06:00 the week before last is still the latest due (sent already, or late)
    assert due(monday - timedelta(minutes=1), weekly, monthly) == [
        ("weekly", "2026-W47"),
        ("monthly", "2026-10"),
    ]
    assert due(monday, weekly) == [("weekly", "2026-W48")]
    assert due(datetime(2026, 12, 3, 12, tzinfo=UTC), weekly) == [("weekly", "2026-W48")]  # still W48
    first = datetime(2026, 12, 1, 6, tzinfo=UTC)
    assert due(first - timedelta(seconds=1), monthly) == [("monthly", "2026-10")]
    assert due(first, monthly) == [("monthly", "2026-11")]
    # added after November's send time: its first digest is December's
    late = DigestRow("monthly", "ops", first + timedelta(hours=1))
    assert due(first + timedelta(hours=2), late) == []
    # local time: 06:00 in Paris is 05:00 UTC
    paris = settings.model_copy(update={"timezone": "Europe/Paris"})
    assert due(datetime(2026, 12, 1, 5, tzinfo=UTC), monthly, on=paris) == [("monthly", "2026-11")]


def test_two_schedulers_racing_send_each_digest_once(
    engine: Engine, public: Settings, db_url: str, mailbox: Mailbox, hook: Webhook
) -> None:
    load_report_ledger(engine)
    _channels(engine, public, mail=mailbox.url(), hook=hook.url())
    _digests(engine, ("monthly", "mail"), ("monthly", "hook"), ("weekly", "hook"))
    engines = [make_engine(db_url) for _ in range(2)]  # two processes' pools
    start = threading.Barrier(2)
    made: list[list[object]] = []
    failures: list[BaseException] = []

    def scheduler(e: Engine) -> None:
        try:
            start.wait(10)
            made.append(list(send_due_digests(e, public, now=NOW)))
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=scheduler, args=(e,)) for e in engines]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not failures and not any(t.is_alive() for t in threads)
        assert send_due_digests(engines[0], public, now=NOW + timedelta(hours=1)) == []  # nothing left
    finally:
        for e in engines:
            e.dispose()

    assert sum(len(m) for m in made) == 3
    assert len(mailbox.messages) == 1 and len(hook.received) == 2
    with engine.connect() as conn:
        log = list_sends(conn)
    assert sorted((s.kind, s.period, s.channel, s.status, s.attempts) for s in log) == [
        ("monthly", "2026-11", "hook", "sent", 1),
        ("monthly", "2026-11", "mail", "sent", 1),
        ("weekly", "2026-W48", "hook", "sent", 1),
    ]


def test_email_digest_attaches_the_pdf_report(
    engine: Engine, public: Settings, mailbox: Mailbox, hook: Webhook
) -> None:
    load_report_ledger(engine)
    _channels(engine, public, mail=mailbox.url())
    _digests(engine, ("monthly", "mail"))
    (delivery,) = send_due_digests(engine, public, now=NOW)
    assert (delivery.status, delivery.period, delivery.channel) == ("sent", "2026-11", "mail")

    (mail,) = mailbox.messages
    assert isinstance(mail, EmailMessage)
    assert str(mail["Subject"]) == "spendledger monthly digest — November 2026"
    name, pdf = _pdf_of(mail)
    assert name == "spendledger-2026-11.pdf"
    text = pdf_text(pdf)
    # report_ledger: November $348.75 against October's $200.00
    assert "Total spend $348.75" in text and "Change +$148.75 (+74.4 %)" in text
    body = _text(mail)
    assert "Spend: $348.75 (best available: billed $200.25, metered $108.50, manual $40.00)" in body
    assert "The whole report is attached (spendledger-2026-11.pdf)." in body
    assert f"Report (PDF): {DASHBOARD}/reports/2026-11.pdf" in body


def test_webhook_digest_is_a_short_summary_with_the_link(
    engine: Engine, public: Settings, hook: Webhook
) -> None:
    load_report_ledger(engine)
    _channels(engine, public, hook=hook.url())
    _digests(engine, ("monthly", "hook"))
    send_due_digests(engine, public, now=NOW)
    (post,) = hook.received
    assert post["title"] == "spendledger monthly digest — November 2026"
    assert post["type"] == "warning"  # a budget ended over
    assert post["message"].splitlines() == [
        "Spend: $348.75 (best available: billed $200.25, metered $108.50, manual $40.00)",
        # $348.75 − $200.00 = +$148.75; 148.75 / 200 = 74.375 % → +74.4 %
        "Against October 2026: +$148.75 (+74.4 %), from $200.00",
        "Top providers: openai $200.25, anthropic $108.50, mistral $40.00",
        "Top projects: search $158.25, support-bot $150.50, (none) $40.00",
        "Budgets: 2 of 2 over (all spend 116.2 %, support weekly 120.0 %)",
        "Anomalies: 11; the largest model (none), $120.00 on 2026-11-05 (usual $0.00)",
        f"Report (PDF): {DASHBOARD}/reports/2026-11.pdf",
    ]
    assert "attached" not in post["message"]


def test_slack_digest_is_the_summary_with_the_link(
    engine: Engine, public: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_report_ledger(engine)
    with webhook_server(reply=b"ok") as slack:  # a Slack webhook answers 200 "ok"
        monkeypatch.setattr(NotifySlack, "webhook_url", f"http://127.0.0.1:{slack.port}/services")
        _channels(engine, public, slack=f"https://hooks.slack.com/services/{SLACK_TOKENS}")
        _digests(engine, ("weekly", "slack"))
        (delivery,) = send_due_digests(engine, public, now=NOW)
    assert (delivery.status, delivery.period) == ("sent", "2026-W48")
    (payload,) = slack.received
    (attachment,) = payload["attachments"]
    assert attachment["title"] == "spendledger weekly digest — Week 48 of 2026 (23 Nov – 29 Nov)"
    # the week of Nov 23–29 holds nothing; the one before (Nov 16–22) nothing either
    assert attachment["text"].startswith("Spend: $0.00\nAgainst Week 47 of 2026 (16 Nov – 22 Nov): $0.00")
    assert f"Report (PDF): {DASHBOARD}/reports/2026-W48.pdf" in attachment["text"]


def test_a_failing_channel_is_logged_and_not_sent_again(engine: Engine, public: Settings) -> None:
    _channels(engine, public, down="json://127.0.0.1:9/nothing-listens")
    _digests(engine, ("monthly", "down"))
    (failed,) = send_due_digests(engine, public, now=NOW, retries=1, backoff=0)
    assert failed.status == "failed" and failed.attempts == 2 and failed.error
    assert send_due_digests(engine, public, now=NOW + timedelta(hours=1)) == []
    with engine.connect() as conn:
        (logged,) = list_sends(conn)
    assert (logged.status, logged.attempts, logged.sent_at) == ("failed", 2, None)


def test_the_scheduler_round_sends_the_digests(engine: Engine, public: Settings, hook: Webhook) -> None:
    _channels(engine, public, hook=hook.url())
    _digests(engine, ("weekly", "hook"))
    run_due(engine, public, owner="test", now=lambda: NOW)
    run_due(engine, public, owner="test", now=lambda: NOW + timedelta(minutes=1))
    assert [p["title"] for p in hook.received] == [
        "spendledger weekly digest — Week 48 of 2026 (23 Nov – 29 Nov)"
    ]


def test_two_worker_processes_send_each_digest_once(
    engine: Engine, settings: Settings, db_url: str, mailbox: Mailbox, hook: Webhook
) -> None:
    """`spendledger worker --once` twice at the same time, on the clock: the last whole week's
    and month's digests, added long before, go out once per channel."""
    _channels(engine, settings, mail=mailbox.url(), hook=hook.url())
    _digests(engine, ("monthly", "mail"), ("weekly", "hook"), at=datetime(2020, 1, 1, tzinfo=UTC))
    env = {
        **os.environ,
        "SPENDLEDGER_DATABASE_URL": db_url,
        "SPENDLEDGER_DATA_DIR": str(settings.data_dir),
        "SPENDLEDGER_TIMEZONE": "UTC",
    }
    program = [str(WORKER)] if WORKER.exists() else [sys.executable, "-m", "spendledger.cli"]
    workers = [
        subprocess.Popen(
            [*program, "worker", "--once"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        logs = [w.communicate(timeout=120)[0] for w in workers]
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
                w.communicate()
    assert [w.returncode for w in workers] == [0, 0], logs
    assert "".join(logs).count("digest") >= 2, logs
    assert len(mailbox.messages) == 1 and len(hook.received) == 1, logs
    assert _pdf_of(mailbox.messages[0])[0].startswith("spendledger-")  # type: ignore[arg-type]
    assert hook.received[0]["title"].startswith("spendledger weekly digest — Week ")


def test_digests_cli_add_list_remove_are_audited(
    engine: Engine, settings: Settings, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli: Cli = cli_runner(db_url, tmp_path, monkeypatch, SPENDLEDGER_TIMEZONE="UTC")
    cli("channels", "add", "ops", "json://127.0.0.1:9/hook")
    added = cli("digests", "add", "weekly", "--channel", "ops")
    assert "Channel 'ops' will get the weekly digest." in added.stdout
    again = cli("digests", "add", "weekly", "--channel", "ops")
    assert "Channel 'ops' already gets the weekly digest." in again.stdout
    listed = cli("digests", "list").stdout
    assert "weekly" in listed and "ops" in listed and "06:00" in listed
    unknown = cli("digests", "add", "monthly", "--channel", "nope", ok=False)
    assert unknown.exit_code == 1 and "no channel named 'nope' (channels: ops)" in unknown.output
    bad = cli("digests", "add", "daily", "--channel", "ops", ok=False)
    assert bad.exit_code == 1 and "'daily' is not a digest; use one of weekly, monthly" in bad.output
    removed = cli("digests", "remove", "weekly")
    assert "Stopped the weekly digest to 'ops'." in removed.stdout
    none_left = cli("digests", "remove", "weekly", ok=False)
    assert "no weekly digest is sent" in none_left.output
    with engine.connect() as conn:
        log = [(e.action, e.what) for e in entries(conn, tz=settings.tz)]
    assert ("digest.add", {"kind": "weekly", "channel": "ops"}) in log
    assert ("digest.remove", {"kind": "weekly", "channel": "ops"}) in log
    assert sum(1 for action, _ in log if action == "digest.add") == 1  # the second add changed nothing


def test_removing_a_channel_removes_its_digests(engine: Engine, settings: Settings) -> None:
    _channels(engine, settings, ops="json://127.0.0.1:9/hook")
    _digests(engine, ("weekly", "ops"), ("monthly", "ops"))
    with engine.begin() as conn:
        remove_channel(conn, "ops")
    with engine.connect() as conn:
        assert list_digests(conn) == []


@hypothesis_settings(max_examples=80, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(["weekly", "monthly"]) | st.text(max_size=12), channel=st.text(max_size=40))
def test_add_digest_takes_any_kind_and_channel_and_names_the_problem(
    engine: Engine, settings: Settings, kind: str, channel: str
) -> None:
    with engine.begin() as conn:
        if not list_channels(conn):
            add_channel(conn, name="ops", url="sealed", url_hint="json://…", now=ADDED)
    try:
        with engine.begin() as conn:
            added = add_digest(conn, kind=kind, channel=channel, now=ADDED)
    except DigestError as exc:
        assert kind not in ("weekly", "monthly") and "is not a digest; use one of weekly, monthly" in str(exc)
    except UnknownChannelError as exc:
        assert channel != "ops" and "see `spendledger channels list`" in str(exc)
    else:
        assert (kind, channel) in (("weekly", "ops"), ("monthly", "ops")) and (
            added is None or added.kind == kind
        )


def test_digests_send_now_outside_the_schedule(
    engine: Engine, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hook: Webhook
) -> None:
    load_report_ledger(engine)
    cli: Cli = cli_runner(db_url, tmp_path, monkeypatch, SPENDLEDGER_TIMEZONE="UTC")
    cli("channels", "add", "ops", hook.url())
    sent = cli("digests", "send", "monthly", "--channel", "ops", "--period", "2026-11")
    assert "Sent the monthly digest 2026-11 to 'ops'." in sent.stdout
    (post,) = hook.received
    assert post["title"] == "spendledger monthly digest — November 2026"
    assert post["message"].startswith("Spend: $348.75")
    with engine.connect() as conn:
        assert list_sends(conn) == []  # outside the log: the scheduled one still goes out
    bad = cli("digests", "send", "monthly", "--channel", "ops", "--period", "2026-W47", ok=False)
    assert bad.exit_code == 2 and "is not a month" in bad.output
    down = cli("channels", "add", "down", "json://127.0.0.1:9/x")
    assert down.exit_code == 0
    failed = cli("digests", "send", "weekly", "--channel", "down", ok=False)
    assert failed.exit_code == 1 and "to 'down' failed" in failed.output
