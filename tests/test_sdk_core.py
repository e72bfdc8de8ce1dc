"""The SDK's core: configuration, attribution, batching, and failures at every step, none of
which reaches the caller. Failures are real: a local fake ledger answering what the test
scripts, closed ports, unwritable folders, unmigrated databases. The real server's side
is tests/test_sdk_delivery.py."""

from __future__ import annotations

import json
import logging
import math
import os
import subprocess
import sys
import textwrap
import threading
import time
import timeit
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import spendledger
from fakes.ledger import FakeLedger, fake_ledger, status
from receivers import free_port
from sdk_ledger import unconfigured_sdk
from spendledger.sdk import _sender
from spendledger.sdk._config import ENV_SPILL_DIR, ENV_TOKEN, ENV_URL
from spendledger.sdk._events import make_event

TOKEN = "sl_test-token-abcd"


@pytest.fixture(autouse=True)
def fresh_sdk(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts unconfigured, whatever the environment says, and ends so."""
    with unconfigured_sdk(monkeypatch):
        yield


@pytest.fixture
def ledger() -> Iterator[FakeLedger]:
    with fake_ledger() as fake:
        yield fake


def configure(url: str, spill: Path, **options: Any) -> None:
    spendledger.configure(url=url, token=TOKEN, spill_dir=spill, **options)


def record_some(n: int, **attribution: Any) -> list[str]:
    ids = [
        spendledger.record("openai", "gpt-4o-mini", input_tokens=100, output_tokens=20, **attribution)
        for _ in range(n)
    ]
    assert None not in ids
    return [i for i in ids if i is not None]


def spill_lines(spill: Path) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for path in sorted(spill.rglob("*"))
        if path.suffix in (".part", ".jsonl")
        for line in path.read_text().splitlines()
    ]


def test_sdk_record_posts_a_batch_with_the_token(ledger: FakeLedger, tmp_path: Path) -> None:
    configure(ledger.url, tmp_path)
    ids = record_some(3)
    assert spendledger.flush() is True
    assert ledger.paths == ["/api/v1/events"]
    assert ledger.authorizations == [f"Bearer {TOKEN}"]
    assert ledger.ids() == ids
    event = ledger.events[0]
    assert event["provider"] == "openai" and event["model"] == "gpt-4o-mini"
    assert (event["input_tokens"], event["output_tokens"], event["status"]) == (100, 20, "ok")
    assert event["timestamp"].endswith("Z")
    assert spendledger.stats().sent == 3 and spendledger.stats().queued == 0


def test_sdk_batches_hold_at_most_batch_size(ledger: FakeLedger, tmp_path: Path) -> None:
    configure(f"{ledger.url}/api/v1/", tmp_path, batch_size=4, flush_interval=60)
    ids = record_some(10)
    assert spendledger.flush()
    assert max(len(b) for b in ledger.batches) == 4 and ledger.ids() == ids


def test_sdk_record_beats_context_beats_configure(ledger: FakeLedger, tmp_path: Path) -> None:
    configure(ledger.url, tmp_path, project="p0", user="u0", feature="f0", tags={"env": "prod", "team": "a"})
    spendledger.record("openai", "gpt-4o-mini")
    with spendledger.context(user="u1", tags={"team": "b"}):
        spendledger.record("openai", "gpt-4o-mini")
        with spendledger.context(feature="f2"):
            spendledger.record("openai", "gpt-4o-mini", project="p3", tags={"run": 7})
    assert spendledger.flush()
    seen = [(e["project"], e["user"], e["feature"], e["tags"]) for e in ledger.events]
    assert seen == [
        ("p0", "u0", "f0", {"env": "prod", "team": "a"}),
        ("p0", "u1", "f0", {"env": "prod", "team": "b"}),
        ("p3", "u1", "f2", {"env": "prod", "team": "b", "run": 7}),
    ]


def test_sdk_environment_configures_on_first_event(
    ledger: FakeLedger, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_URL, ledger.url)
    monkeypatch.setenv(ENV_TOKEN, TOKEN)
    monkeypatch.setenv(ENV_SPILL_DIR, str(tmp_path))
    ids = record_some(2)
    assert spendledger.flush()
    assert ledger.ids() == ids and ledger.authorizations == [f"Bearer {TOKEN}"]


def test_sdk_unconfigured_counts_and_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    record_some(3)
    assert spendledger.flush() is True  # nothing waits
    stats = spendledger.stats()
    assert (stats.unconfigured, stats.sent, stats.dropped) == (3, 0, 0)
    warnings = [r for r in caplog.records if r.name == "spendledger" and "not recorded" in r.message]
    assert len(warnings) == 1 and "SPENDLEDGER_URL" in warnings[0].message


def test_sdk_disabled_records_nothing(ledger: FakeLedger, tmp_path: Path) -> None:
    configure(ledger.url, tmp_path, enabled=False)
    record_some(2)
    assert spendledger.flush()
    assert ledger.batches == [] and spendledger.stats() == spendledger.sdk.Stats()


@pytest.mark.parametrize(
    ("options", "complaint"),
    [
        ({"url": "ftp://ledger"}, "not the base URL"),
        ({"url": 8000}, "not the base URL"),
        ({"url": "http://ledger:port"}, "not the base URL"),
        ({"database_url": 42}, "database_url must be a string"),
        ({"batch_size": -3}, "batch_size must be a number above zero"),
        ({"flush_interval": "soon"}, "flush_interval must be a number above zero"),
        ({"max_queue": True}, "max_queue must be a number above zero"),
        ({"tags": ["env", "prod"]}, "tags must be a mapping"),
        ({"project": 12}, "project must be a string"),
        ({"tz": "Mars/Olympus", "database_url": "sqlite:///x.db"}, "not an IANA time zone"),
        ({"spill_dir": 3.5}, "spill_dir must be a path"),
    ],
)
def test_sdk_bad_configuration_never_raises(
    options: dict[str, Any], complaint: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    if "url" not in options and "database_url" not in options:
        options = {"url": f"http://127.0.0.1:{free_port()}", **options}
    spendledger.configure(token=TOKEN, **{"spill_dir": tmp_path, **options})
    assert any(complaint in r.message for r in caplog.records if r.levelno == logging.WARNING)
    assert spendledger.record("openai", "gpt-4o-mini", input_tokens=1) is not None
    spendledger.flush(0.5)
    stats = spendledger.stats()
    assert stats.last_error and stats.sent + stats.spilled + stats.unconfigured + stats.dropped == 1


def test_sdk_bad_configuration_is_logged_with_the_fix(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    spendledger.configure(url="http://127.0.0.1:1", spill_dir=tmp_path, batch_size=0)
    messages = [r.message for r in caplog.records if r.name == "spendledger"]
    assert any("batch_size must be a number above zero, got 0; using 500" in m for m in messages)
    assert any("spendledger tokens create" in m for m in messages)  # no token given


def test_sdk_bad_record_arguments_never_raise(ledger: FakeLedger, tmp_path: Path) -> None:
    configure(ledger.url, tmp_path)
    assert spendledger.record("openai", "gpt-4o-mini", input_tokens="many") is None  # type: ignore[arg-type]
    assert "record() failed: ValueError" in (spendledger.stats().last_error or "")
    assert spendledger.record("openai", "gpt-4o-mini", timestamp="yesterday") is None  # type: ignore[arg-type]
    assert spendledger.flush(timeout="soon") is False  # type: ignore[arg-type]
    assert spendledger.record("openai", "gpt-4o-mini", latency_ms=12.6, cost=0.25) is not None
    assert spendledger.flush()
    assert (ledger.events[0]["latency_ms"], ledger.events[0]["cost"]) == (13, "0.25")


def test_sdk_rejected_events_are_counted_logged_and_not_retried(
    ledger: FakeLedger, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    refusal = {"index": 1, "field": "input_tokens", "reason": "input_tokens must be zero or more, got -5"}
    reply = {"accepted": 2, "duplicates": 0, "rejected_count": 1, "rejected": [refusal]}
    ledger.then(status(200, json.dumps(reply).encode()))
    configure(ledger.url, tmp_path)
    ids = record_some(3)
    assert spendledger.flush() is True
    assert spendledger.flush() is True
    stats = spendledger.stats()
    assert (stats.sent, stats.rejected, stats.spilled) == (2, 1, 0)
    assert len(ledger.authorizations) == 1  # not retried
    logged = [r.message for r in caplog.records if "refused" in r.message]
    assert len(logged) == 1 and f"event {ids[1]}: input_tokens: input_tokens must be zero" in logged[0]


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (status(500), "500 from"),
        (status(503, b"<html>Bad gateway</html>", Content_Type="text/html"), "503 from"),
        (status(429, Retry_After="0"), "429 from"),
        (status(401, b'{"detail": "the API token is not valid"}'), "spendledger tokens create"),
        (status(403), "spendledger tokens create"),
        (status(404, b'{"detail": "Not Found"}'), "the spendledger server's base URL"),
        (status(302, b"", Location="https://ledger.example.com/api/v1/events"), "redirects to https://"),
        (status(200, b"<html>welcome</html>", Content_Type="text/html"), "200 with text/html"),
        (status(200, b"garbage"), "not the ingest API's reply"),
    ],
)
def test_sdk_failed_delivery_spills_then_replays_first(
    answer: Any, hint: str, ledger: FakeLedger, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ledger.then(answer)
    configure(ledger.url, tmp_path)
    first = record_some(3)
    assert spendledger.flush() is False  # failed: spilled
    stats = spendledger.stats()
    assert (stats.spilled, stats.sent, stats.queued, stats.dropped) == (3, 0, 0, 0)
    assert hint in (stats.last_error or "")
    assert [e["id"] for e in spill_lines(tmp_path)] == first
    later = record_some(2)
    assert spendledger.flush() is True
    assert ledger.ids() == first + later  # the spilled ones first, then the newer ones
    stats = spendledger.stats()
    assert (stats.sent, stats.replayed, stats.spilled) == (5, 3, 3)
    assert spill_lines(tmp_path) == []
    assert len([r for r in caplog.records if hint in r.message]) == 1


def test_sdk_auth_failure_is_logged_once(
    ledger: FakeLedger, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ledger.then(*[status(401)] * 4)
    configure(ledger.url, tmp_path)
    for _ in range(3):
        record_some(1)
        assert spendledger.flush() is False
    logged = [r for r in caplog.records if "spendledger tokens create" in r.message]
    assert len(logged) == 1 and logged[0].levelno == logging.WARNING
    assert "…abcd" in logged[0].message  # which token, by its last characters
    assert spendledger.stats().spilled == 3


def test_sdk_retry_after_is_honoured(ledger: FakeLedger, tmp_path: Path) -> None:
    ledger.then(status(429, Retry_After="1"))
    configure(ledger.url, tmp_path)
    ids = record_some(2)
    started = time.monotonic()
    assert spendledger.flush() is False
    assert spendledger.flush() is False  # too soon: not even tried
    assert len(ledger.authorizations) == 1
    time.sleep(max(0.0, 1.05 - (time.monotonic() - started)))
    assert spendledger.flush() is True
    assert ledger.ids() == ids


def test_sdk_unreachable_server_spills_json_lines(tmp_path: Path) -> None:
    configure(f"http://127.0.0.1:{free_port()}", tmp_path)
    ids = record_some(4, project="p")
    assert spendledger.flush() is False
    stats = spendledger.stats()
    assert (stats.spilled, stats.dropped) == (4, 0)
    assert "cannot reach" in (stats.last_error or "") and "ConnectionRefusedError" in (stats.last_error or "")
    lines = spill_lines(tmp_path)
    assert [e["id"] for e in lines] == ids and all(e["project"] == "p" for e in lines)
    folders = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert len(folders) == 1  # one folder per destination


def test_sdk_unwritable_spill_folder_drops_and_counts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    configure(f"http://127.0.0.1:{free_port()}", not_a_folder / "spill")
    record_some(3)
    assert spendledger.flush() is False
    stats = spendledger.stats()
    assert (stats.dropped, stats.spilled) == (3, 0)
    assert "SPENDLEDGER_SPILL_DIR" in (stats.last_error or "")
    assert any("events dropped so far: 3" in r.message for r in caplog.records)


def test_sdk_full_queue_spills_straight_to_file(ledger: FakeLedger, tmp_path: Path) -> None:
    ledger.gate = threading.Event()  # the first batch stalls the sender thread
    configure(ledger.url, tmp_path, max_queue=5, batch_size=5, flush_interval=60)
    ids = record_some(5)
    deadline = time.monotonic() + 5
    while not ledger.received and time.monotonic() < deadline:  # the thread has them
        time.sleep(0.005)
    ids += record_some(35)
    stats = spendledger.stats()
    assert stats.queued == 10 and stats.spilled == 30 and stats.dropped == 0
    ledger.gate.set()
    assert spendledger.flush() is True
    assert sorted(ledger.ids()) == sorted(ids) and len(ledger.ids()) == 40


def test_sdk_full_queue_without_spill_drops_and_warns_once_a_minute(
    ledger: FakeLedger, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ledger.gate = threading.Event()
    blocked = tmp_path / "file"
    blocked.write_text("")
    configure(ledger.url, blocked, max_queue=5, batch_size=5, flush_interval=60)
    record_some(5)
    deadline = time.monotonic() + 5
    while not ledger.received and time.monotonic() < deadline:
        time.sleep(0.005)
    record_some(25)
    ledger.gate.set()
    assert spendledger.flush() is True  # nothing waits: the dropped ones are counted, not kept
    stats = spendledger.stats()
    assert (stats.dropped, stats.sent) == (20, 10)
    dropped = [r for r in caplog.records if "dropped so far" in r.message]
    assert len(dropped) == 1 and dropped[0].levelno == logging.WARNING
    assert len([r for r in caplog.records if "max_queue" in r.message]) == 1


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no text for you")


def test_sdk_tags_json_cannot_hold_are_sent_as_text(ledger: FakeLedger, tmp_path: Path) -> None:
    configure(ledger.url, tmp_path)
    loop: dict[str, Any] = {}
    loop["self"] = loop
    when = datetime(2026, 11, 20, 10, tzinfo=UTC)
    spendledger.record("openai", "gpt-4o-mini", tags={"at": when, "ratio": math.nan, "n": 3})
    spendledger.record("openai", "gpt-4o-mini", tags={"odd": Unprintable(), "loop": loop, "ok": True})
    assert spendledger.flush() is True
    first, second = (e["tags"] for e in ledger.events)
    assert first == {"at": "2026-11-20 10:00:00+00:00", "ratio": "nan", "n": 3}
    assert second["odd"] == "<Unprintable>" and second["ok"] is True and isinstance(second["loop"], str)
    assert spendledger.stats().dropped == 0


class Fatal:
    """A tag whose text ends the thread that asks for it (a BaseException, as SystemExit)."""

    def __str__(self) -> str:
        raise SystemExit("stop")


def test_sdk_sender_thread_restarts_after_it_died(ledger: FakeLedger, tmp_path: Path) -> None:
    configure(ledger.url, tmp_path)
    spendledger.record("openai", "gpt-4o-mini", tags={"fatal": Fatal()})
    assert spendledger.flush(2) is False  # the thread died holding the event
    stats = spendledger.stats()
    assert stats.dropped == 1 and "sender thread stopped (SystemExit: stop)" in (stats.last_error or "")
    ids = record_some(2)  # restarts the thread
    assert spendledger.flush() is True
    assert ledger.ids() == ids


def test_sdk_oversized_batch_is_halved(ledger: FakeLedger, tmp_path: Path) -> None:
    too_large = status(413, b'{"detail": "the batch has 8 events; the limit is 4 per request"}')
    ledger.then(too_large)
    configure(ledger.url, tmp_path, batch_size=8)
    ids = record_some(8)
    assert spendledger.flush() is True
    assert [len(b) for b in ledger.batches] == [4, 4] and ledger.ids() == ids


def test_sdk_kept_alive_connection_closed_by_the_server_is_reopened(
    ledger: FakeLedger, tmp_path: Path
) -> None:
    ledger.drop_connections = True  # as a server whose keep-alive timeout passed
    configure(ledger.url, tmp_path)
    for _ in range(3):
        record_some(2)
        assert spendledger.flush() is True
    assert spendledger.stats().spilled == 0 and len(ledger.ids()) == 6


def test_sdk_configure_again_sends_the_old_events_to_the_old_destination(tmp_path: Path) -> None:
    with fake_ledger() as first, fake_ledger() as second:
        configure(first.url, tmp_path, flush_interval=60)
        old = record_some(2)
        configure(second.url, tmp_path, flush_interval=60)
        new = record_some(3)
        assert spendledger.flush()
        assert (first.ids(), second.ids()) == (old, new)


def test_sdk_orphaned_spill_files_are_replayed_live_ones_left(ledger: FakeLedger, tmp_path: Path) -> None:
    configure(ledger.url, tmp_path)
    folder = _sender.current().spill.folder  # type: ignore[union-attr]
    folder.mkdir(parents=True)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(dead.stdout)

    def lines(*ids: str) -> str:
        return "".join(json.dumps(make_event(provider="openai", model="m", event_id=i)) + "\n" for i in ids)

    (folder / f"{1:020d}-{dead_pid}-aaaa.part").write_text(lines("a1", "a2") + '{"id": "torn')
    (folder / f"{2:020d}-{dead_pid}-aaaa.jsonl").write_text(lines("b1"))
    (folder / f"{3:020d}-{os.getpid()}-bbbb.part").write_text(lines("c1"))  # our pid, an earlier life
    live = folder / f"{4:020d}-{os.getppid()}-cccc.part"
    live.write_text(lines("d1"))  # another process, running: its own to replay
    (folder / f"{5:020d}-1-dddd.{dead_pid}-eeee.sending").write_text(lines("e1"))  # its claimant died
    assert spendledger.flush() is True
    assert ledger.ids() == ["a1", "a2", "b1", "c1", "e1"]
    assert [p.name for p in folder.iterdir()] == [live.name]
    stats = spendledger.stats()
    assert (stats.replayed, stats.dropped) == (5, 1)  # the torn line


def test_sdk_emit_costs_well_under_50_microseconds(tmp_path: Path) -> None:
    configure(
        f"http://127.0.0.1:{free_port()}", tmp_path, flush_interval=600, batch_size=10**6, max_queue=10**6
    )
    event = make_event(provider="openai", model="gpt-4o-mini", tokens={"input_tokens": 10})
    n = 2_000
    emit = min(timeit.repeat(lambda: _sender.emit(event), number=n, repeat=5)) / n
    record = (
        min(
            timeit.repeat(
                lambda: spendledger.record("openai", "gpt-4o-mini", input_tokens=10, output_tokens=2),
                number=n,
                repeat=5,
            )
        )
        / n
    )
    assert emit < 5e-6, f"emit() took {emit * 1e6:.2f} µs"
    assert record < 50e-6, f"record() took {record * 1e6:.2f} µs"


def run_script(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, **env},
    )


def test_sdk_flushes_at_exit(ledger: FakeLedger, tmp_path: Path) -> None:
    done = run_script(
        """
        import spendledger
        for _ in range(10):
            spendledger.record("openai", "gpt-4o-mini", input_tokens=5)
        """,
        SPENDLEDGER_URL=ledger.url,
        SPENDLEDGER_TOKEN=TOKEN,
        SPENDLEDGER_SPILL_DIR=str(tmp_path),
    )
    assert done.returncode == 0, done.stderr
    assert len(ledger.ids()) == 10 and spill_lines(tmp_path) == []


def test_sdk_spills_at_exit_when_the_server_is_down(tmp_path: Path) -> None:
    done = run_script(
        """
        import spendledger
        for _ in range(10):
            spendledger.record("openai", "gpt-4o-mini", input_tokens=5)
        """,
        SPENDLEDGER_URL=f"http://127.0.0.1:{free_port()}",
        SPENDLEDGER_TOKEN=TOKEN,
        SPENDLEDGER_SPILL_DIR=str(tmp_path),
    )
    assert done.returncode == 0, done.stderr
    assert len(spill_lines(tmp_path)) == 10
    assert [p.suffix for p in tmp_path.rglob("*.*")] == [".jsonl"]  # completed: any process replays it


def test_sdk_forked_child_starts_its_own_sender(ledger: FakeLedger, tmp_path: Path) -> None:
    done = run_script(
        """
        import os, spendledger
        spendledger.record("openai", "gpt-4o-mini", event_id="parent-before")
        assert spendledger.flush()
        pid = os.fork()
        if pid == 0:
            spendledger.record("openai", "gpt-4o-mini", event_id="child")
            os._exit(0 if spendledger.flush() else 1)
        _, code = os.waitpid(pid, 0)
        assert code == 0, code
        spendledger.record("openai", "gpt-4o-mini", event_id="parent-after")
        assert spendledger.flush()
        """,
        SPENDLEDGER_URL=ledger.url,
        SPENDLEDGER_TOKEN=TOKEN,
        SPENDLEDGER_SPILL_DIR=str(tmp_path),
    )
    assert done.returncode == 0, done.stderr
    assert ledger.ids() == ["parent-before", "child", "parent-after"]


def test_sdk_database_url_not_migrated_spills_with_the_fix(tmp_path: Path) -> None:
    spendledger.configure(database_url=f"sqlite:///{tmp_path / 'empty.db'}", spill_dir=tmp_path / "spill")
    record_some(2)
    assert spendledger.flush() is False
    stats = spendledger.stats()
    assert stats.spilled == 2 and "spendledger db upgrade" in (stats.last_error or "")


def test_sdk_accepts_a_plain_event_dict(ledger: FakeLedger, tmp_path: Path) -> None:
    configure(ledger.url, tmp_path)
    _sender.emit(make_event(provider="openai", model="gpt-4o-mini", tokens={"output_tokens": 3}))
    _sender.emit({"not": "an event"})  # the server rejects it; nothing raises here
    assert spendledger.flush() is True
    assert ledger.events[1] == {"not": "an event"}


def test_sdk_spilled_events_go_out_in_the_background_when_the_server_answers(
    ledger: FakeLedger, tmp_path: Path
) -> None:
    ledger.then(status(503))
    configure(ledger.url, tmp_path, flush_interval=0.05)
    ids = record_some(2)
    deadline = time.monotonic() + 5  # the first retry comes 0.8 to 1 s after the failure
    while spendledger.stats().replayed < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    stats = spendledger.stats()
    assert (stats.spilled, stats.replayed, stats.sent) == (2, 2, 2)
    assert ledger.ids() == ids and len(ledger.authorizations) == 2


@pytest.mark.parametrize(
    ("destination", "complaint"),
    [
        ({"url": "http://" + "a" * 64 + ".example"}, "UnicodeError"),  # a DNS label of 64 characters
        ({"database_url": "not a url"}, "cannot write to not a url (ArgumentError"),
        ({"database_url": "postgresql://nobody@127.0.0.1:1/ledger"}, "cannot write to postgresql://"),
    ],
)
def test_sdk_destination_that_fails_to_send_spills(
    destination: dict[str, Any], complaint: str, tmp_path: Path
) -> None:
    spendledger.configure(token=TOKEN, spill_dir=tmp_path, **destination)
    ids = record_some(2)
    assert spendledger.flush() is False
    stats = spendledger.stats()
    assert (stats.spilled, stats.dropped) == (2, 0) and complaint in (stats.last_error or "")
    assert [e["id"] for e in spill_lines(tmp_path)] == ids
