"""`spendledger channels ...` and the notifications `alerts evaluate` sends, in process, to
a real local webhook receiver; on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, text

from clirun import Cli, cli_runner
from receivers import Webhook, free_port, webhook_server
from spendledger.store import write_records
from spendledger.store.channels import list_deliveries
from usage_records import usage_record

SECRET = "s3cr3t-t0ken"


@pytest.fixture
def cli(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    return cli_runner(
        db_url,
        tmp_path,
        monkeypatch,
        SPENDLEDGER_TIMEZONE="UTC",
        SPENDLEDGER_PUBLIC_URL="https://ledger.example.com",
    )


@pytest.fixture
def hook() -> Iterator[Webhook]:
    with webhook_server() as h:
        yield h


def test_add_list_test_remove(cli: Cli, engine: Engine, hook: Webhook) -> None:
    url = hook.url(f"/hooks/{SECRET}")
    out = cli("channels", "add", "ops", url).output
    assert "Added channel 'ops' (http://…0ken)." in out
    assert SECRET not in out
    listed = cli("channels", "list").output
    assert "ops" in listed and "http://…0ken" in listed and SECRET not in listed
    with engine.connect() as conn:
        dump = " ".join(str(v) for row in conn.execute(text("SELECT * FROM channels")) for v in row)
    assert SECRET not in dump

    out = cli("channels", "test", "ops").output
    assert "Sent a test message to 'ops'" in out and SECRET not in out
    assert len(hook.received) == 1
    assert hook.received[0]["title"] == "spendledger: test message"
    assert hook.paths == [f"/hooks/{SECRET}"]

    again = cli("channels", "add", "ops", url, ok=False)
    assert again.exit_code == 1 and "a channel named 'ops' exists" in again.output
    cli("channels", "remove", "ops")
    assert "No channels yet" in cli("channels", "list").output
    gone = cli("channels", "test", "ops", ok=False)
    assert gone.exit_code == 1 and "no channel named 'ops'" in gone.output


def test_a_failing_test_message_says_why(cli: Cli) -> None:
    cli("channels", "add", "dead", f"http://127.0.0.1:{free_port()}/{SECRET}")
    result = cli("channels", "test", "dead", ok=False)
    assert result.exit_code == 1
    assert "channel 'dead'" in result.output and "sending failed" in result.output
    assert SECRET not in result.output


def test_a_url_apprise_cannot_use_is_refused(cli: Cli) -> None:
    result = cli("channels", "add", "bad", "nosuchscheme://x", ok=False)
    assert result.exit_code == 2 and "not a URL Apprise can send to" in result.output


def test_alerts_evaluate_sends_each_new_alert_once(cli: Cli, engine: Engine, hook: Webhook) -> None:
    cli("channels", "add", "ops", hook.url())
    cli("budgets", "add", "all", "--amount", "100")
    record = usage_record(start=datetime.now(UTC), cost="105")
    with engine.begin() as conn:
        write_records(conn, [record], tz=ZoneInfo("UTC"))

    out = cli("alerts", "evaluate").output  # 50, 80 and 100 % crossed at once: one alert, at 100 %
    assert "1 new alert;" in out and "Sent 1 of 1 notifications." in out
    assert "No new alerts." in cli("alerts", "evaluate").output
    (post,) = hook.received
    assert (post["type"], post["title"]) == ("failure", "spendledger failure — budget all reached 100 %")
    assert "https://ledger.example.com/alerts" in post["message"]
    with engine.connect() as conn:
        assert [(d.channel, d.status) for d in list_deliveries(conn)] == [("ops", "sent")]
