"""`spendledger agents import|report`: coding agents' local logs into the ledger.

The fixtures (tests/fixtures/agents/) are small logs written from each tool's documented
format: a Claude Code session whose first response is written as two lines, a `/btw`
sidechain replaying it under a new request id, a line cut short and a `<synthetic>`
error; a Codex session with a re-emitted token count (unchanged running total) and a
malformed count, and a fork replaying its parent's counts in its first second; a Gemini
CLI session recording a message before and after its tokens, then rewinding, and an
older one-document session. The dollar figures are worked out by hand from the published
list prices (per million tokens) in the comments.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from clirun import Cli, cli_runner
from live_server import LiveServer, serving
from spendledger.agents.attribution import Attribution
from spendledger.agents.delivery import ApiSink
from spendledger.agents.events import EventBuilder
from spendledger.agents.importer import READERS, Importer
from spendledger.config import Settings
from spendledger.errors import SpendledgerError
from spendledger.pricing import Pricer
from spendledger.queries import build_query, spend
from spendledger.sources._http import RetryPolicy
from spendledger.store.tables import usage
from spendledger.store.tokens import create_token

FIXTURES = Path(__file__).parent / "fixtures" / "agents"
NOVEMBER = {"start": "2026-11-01", "end": "2026-11-30"}

# Claude Code, claude-sonnet-4-5 at $3/M input, $15/M output, $0.30/M cache reads,
# $3.75/M 5-minute cache writes and $6/M 1-hour cache writes:
#   msg_01…StUv (two lines, once; its sidechain replay dropped): 1 000 in, 20 000 cache
#     reads, 500 out = 0.003 + 0.006 + 0.0075                               = $0.0165
#   msg_01…OpQr: 200 in, 30 000 reads, 4 000 5m writes, 6 000 1h writes, 1 200 out
#     = 0.0006 + 0.009 + 0.015 + 0.036 + 0.018                               = $0.0786
#   the sidechain's own answer: 50 in, 2 000 1h writes, 300 out
#     = 0.00015 + 0.012 + 0.0045                                             = $0.01665
CLAUDE_TOTAL = Decimal("0.11175")  # counting the repeated line or the replay would add $0.0165 each
# Codex, gpt-5 and gpt-5-codex at $1.25/M input, $0.125/M cached input, $10/M output:
#   turn 1: 12 000 in of which 8 000 cached, 600 out = 0.005 + 0.001 + 0.006  = $0.012
#   turn 2: 15 000 in of which 12 000 cached, 900 out = 0.00375 + 0.0015 + 0.009 = $0.01425
#   the fork's own turn: 5 000 in, 100 out = 0.00625 + 0.001                  = $0.00725
CODEX_TOTAL = Decimal("0.0335")  # the re-emitted count would add $0.012, the fork's replay $0.02625
# Gemini CLI: gemini-2.5-pro at $1.25/M input, $0.125/M cached, $10/M output (thoughts
# included); gemini-2.5-flash at $0.30/M input, $2.50/M output:
#   8d2c…: 10 000 prompt of which 4 000 cached, 400 out + 600 thoughts
#     = 0.0075 + 0.0005 + 0.01                                               = $0.018
#   9e3d…: 20 000 prompt + 500 tool-use prompt, 800 out + 1 200 thoughts
#     = 0.025625 + 0.02                                                      = $0.045625
#   the older session's c3d4…: 3 000 in, 100 out = 0.0009 + 0.00025          = $0.00115
GEMINI_TOTAL = Decimal("0.064775")


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    """A copy of the fixtures the test may append to."""
    target = tmp_path / "logs"
    shutil.copytree(FIXTURES, target)
    return target


@pytest.fixture
def cli(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    home = tmp_path / "home"
    home.mkdir()
    # git sees no configuration of this machine's: no email unless a test's repository sets one
    return cli_runner(
        db_url, tmp_path, monkeypatch, HOME=str(home), GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1"
    )


def total(engine: Engine, basis: str = "best", **filters: str) -> Decimal:
    query = build_query(
        today=date(2026, 11, 30), basis=basis, filters=[f"{k}={v}" for k, v in filters.items()], **NOVEMBER
    )
    with engine.connect() as conn:
        report = spend(conn, query)
    return report.totals.get("USD", Decimal(0))


def rows(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(usage).order_by(usage.c.start))]


def import_json(cli: Cli, *args: str, ok: bool = True) -> dict[str, Any]:
    result = cli("agents", "import", *args, "--format", "json", ok=ok)
    return dict(json.loads(result.stdout))


def test_claude_code_repeated_message_counts_once_at_published_prices(
    cli: Cli, engine: Engine, logs: Path
) -> None:
    summary = import_json(cli, "claude-code", str(logs / "claude-code"), "--user", "dev@example.com")
    assert (summary["calls"], summary["stored"], summary["already_stored"]) == (3, 3, 0)
    assert summary["spend"] == {"USD": "0.11175"}
    assert total(engine) == CLAUDE_TOTAL
    stored = rows(engine)
    assert [r["key"] for r in stored] == [
        "api:claude-code:msg_01AbCdEfGhIjKlMnOpQrStUv",
        "api:claude-code:msg_01WxYzAbCdEfGhIjKlMnOpQr",
        "api:claude-code:msg_01SideAnswerXyZ0123456789",
    ]
    first = stored[0]
    assert first["start"].isoformat().startswith("2026-11-20T09:00:04.120")  # the response's first line
    assert (first["request_id"], first["tags"]["session"]) == (
        "req_011CVa1",
        "6f1c2a4e-3b1d-4c0e-9a57-2d8e5b7c1f00",
    )
    assert (first["model"], first["provider"], first["feature"]) == (
        "claude-sonnet-4-5",
        "anthropic",
        "claude-code",
    )
    assert (first["user"], first["project"]) == (
        "dev@example.com",
        "shop",
    )  # the repository folder of its cwd
    assert [(r["cache_write_5m_tokens"], r["cache_write_1h_tokens"]) for r in stored] == [
        (0, 0),
        (4000, 6000),
        (0, 2000),
    ]
    assert [r["input_tokens"] for r in stored] == [21_000, 40_200, 2_050]  # cache reads and writes included


def test_claude_code_sidechain_replay_is_dropped_whatever_the_order(
    cli: Cli, engine: Engine, logs: Path
) -> None:
    sidechain = logs / "claude-code/projects/-home-dev-shop/6f1c2a4e-3b1d-4c0e-9a57-2d8e5b7c1f00/subagents"
    first = import_json(cli, "claude-code", str(sidechain), "--user", "dev@example.com")
    assert first["stored"] == 2  # alone, the replay cannot be told from a call
    second = import_json(cli, "claude-code", str(logs / "claude-code"), "--user", "dev@example.com")
    assert (second["stored"], second["already_stored"]) == (1, 2)
    assert total(engine) == CLAUDE_TOTAL


def test_codex_counts_each_turn_once_never_the_running_total(cli: Cli, engine: Engine, logs: Path) -> None:
    summary = import_json(cli, "codex", str(logs / "codex"), "--user", "dev@example.com")
    assert (summary["calls"], summary["stored"]) == (3, 3)
    assert total(engine) == CODEX_TOTAL
    stored = rows(engine)
    assert [r["model"] for r in stored] == ["gpt-5-codex", "gpt-5", "gpt-5"]  # each turn's own model
    assert [
        (r["input_tokens"], r["cached_input_tokens"], r["output_tokens"], r["reasoning_tokens"])
        for r in stored
    ] == [
        (12_000, 8_000, 600, 200),
        (15_000, 12_000, 900, 300),
        (5_000, 0, 100, 0),
    ]
    assert stored[0]["key"] == "api:codex:0199a1b2-5c3d-7e4f-8a9b-0c1d2e3f4a5b:2026-11-20T10:00:09.901Z"
    malformed = summary["malformed"]
    assert len(malformed) == 1 and malformed[0].endswith(
        "rollout-2026-11-20T10-00-00-0199a1b2-5c3d-7e4f-8a9b-0c1d2e3f4a5b.jsonl:8: "
        "info.total_token_usage.input_tokens: Input should be a valid integer, "
        "unable to parse string as an integer"
    )


def test_gemini_cli_counts_each_message_once_rewound_or_not(cli: Cli, engine: Engine, logs: Path) -> None:
    summary = import_json(cli, "gemini-cli", str(logs / "gemini-cli"), "--user", "dev@example.com")
    assert (summary["calls"], summary["stored"], summary["malformed"]) == (3, 3, [])
    assert total(engine) == GEMINI_TOTAL
    stored = rows(engine)
    assert [(r["model"], r["provider"], r["project"]) for r in stored] == [
        ("gemini-2.5-flash", "google", ""),  # an old hash-named folder names no project
        ("gemini-2.5-pro", "google", "shop"),  # .project_root names /home/dev/shop
        ("gemini-2.5-pro", "google", "shop"),
    ]
    assert [
        (r["input_tokens"], r["cached_input_tokens"], r["output_tokens"], r["reasoning_tokens"])
        for r in stored
    ][1:] == [(10_000, 4_000, 1_000, 600), (20_500, 0, 2_000, 1_200)]


def test_reimport_and_overlapping_runs_change_nothing(cli: Cli, engine: Engine, logs: Path) -> None:
    for tool in ("claude-code", "codex", "gemini-cli"):
        import_json(cli, tool, str(logs / tool), "--user", "dev@example.com")
    before = rows(engine)
    again = import_json(cli, "codex", str(logs / "codex"), "--user", "someone-else@example.com")
    assert (again["stored"], again["already_stored"]) == (0, 3)
    for tool in ("claude-code", "gemini-cli"):
        import_json(cli, tool, str(logs / tool))
    assert rows(engine) == before
    assert total(engine) == CLAUDE_TOTAL + CODEX_TOTAL + GEMINI_TOTAL


def test_malformed_lines_are_reported_with_file_and_line_and_skipped(
    cli: Cli, engine: Engine, logs: Path
) -> None:
    session = logs / "claude-code/projects/-home-dev-shop/6f1c2a4e-3b1d-4c0e-9a57-2d8e5b7c1f00.jsonl"
    with session.open("a") as f:
        f.write('{"type":"assistant","timestamp":"2026-11-20T09:05:00Z","message":{"id":"msg_x","model":"m",')
        f.write('"usage":{"input_tokens":-5}}}\n[1, 2]\n\n')
        f.write('{"type":"assistant","timestamp":"yesterday","message":{"usage":{}}}\n')
    result = cli("agents", "import", "claude-code", str(logs / "claude-code"), "--user", "dev@example.com")
    assert "4 malformed lines skipped" in result.stderr
    for line, reason in [
        (7, "not JSON (Unterminated string"),
        (10, "message.usage.input_tokens: Input should be greater than or equal to 0"),
        (11, "not a JSON object but list"),
        (13, "timestamp: Input should be a valid datetime"),
    ]:
        assert f"{session}:{line}: {reason}" in result.stderr
    assert total(engine) == CLAUDE_TOTAL  # the good lines of the same file are kept


def test_covered_calls_show_usage_value_and_are_not_spend(cli: Cli, engine: Engine, logs: Path) -> None:
    covered = import_json(
        cli,
        "claude-code",
        str(logs / "claude-code"),
        "--user",
        "dev@example.com",
        "--covered-by",
        "claude-max",
    )
    assert (covered["stored"], covered["spend"], covered["covered_usage_value"]) == (
        3,
        {},
        {"USD": "0.11175"},
    )
    import_json(cli, "codex", str(logs / "codex"), "--user", "dev@example.com")
    # the dashboard's total (every view reads `spend`) counts the Codex calls only
    assert total(engine) == CODEX_TOTAL
    assert total(engine, basis="all") == CODEX_TOTAL
    assert total(engine, feature="claude-code") == 0
    stored = [r for r in rows(engine) if r["feature"] == "claude-code"]
    assert [r["tags"]["usage_value"] for r in stored] == ["0.0165", "0.0786", "0.01665"]
    assert {
        (r["tags"]["covered_by"], r["tags"]["usage_value_currency"], r["pricing_status"]) for r in stored
    } == {
        ("claude-max", "USD", "provider")  # never re-priced into spend
    }
    report = json.loads(
        cli("agents", "report", "--from", "2026-11-01", "--to", "2026-11-30", "--format", "json").stdout
    )
    assert report["rows"] == [
        {
            "tool": "claude-code",
            "covered_by": "claude-max",
            "calls": 3,
            "input_tokens": 63_250,
            "output_tokens": 2_000,
            "spend": {"USD": "0.00"},
            "covered_usage_value": {"USD": "0.11175"},
            "unpriced_calls": 0,
        },
        {
            "tool": "codex",
            "covered_by": "",
            "calls": 3,
            "input_tokens": 32_000,
            "output_tokens": 1_600,
            "spend": {"USD": "0.0335"},
            "covered_usage_value": {},
            "unpriced_calls": 0,
        },
    ]
    assert (report["spend"], report["covered_usage_value"]) == ({"USD": "0.0335"}, {"USD": "0.11175"})
    table = cli("agents", "report", "--from", "2026-11-01", "--to", "2026-11-30", "--by", "tool").stdout
    assert "claude-code" in table and "$0.11" in table and "$0.03" in table


def test_covered_by_refuses_a_plan_name_it_cannot_store(cli: Cli, logs: Path) -> None:
    result = cli("agents", "import", "codex", str(logs / "codex"), "--covered-by", "Claude Max!", ok=False)
    assert result.exit_code == 1
    assert "--covered-by 'Claude Max!': name the plan in lower case" in result.stderr


def test_send_to_a_server_with_a_token(cli: Cli, settings: Settings, engine: Engine, logs: Path) -> None:
    with engine.begin() as conn:
        token = create_token(conn, name="laptop")
    with serving(settings) as url:
        sent = import_json(
            cli,
            "claude-code",
            str(logs / "claude-code"),
            "--user",
            "dev@example.com",
            "--send",
            url,
            "--token",
            token,
        )
        assert (sent["destination"], sent["stored"]) == (url, 3)
        again = import_json(
            cli, "claude-code", str(logs / "claude-code"), "--send", url + "/api/v1/events", "--token", token
        )
        assert (again["stored"], again["already_stored"]) == (0, 3)
        refused = cli(
            "agents", "import", "codex", str(logs / "codex"), "--send", url, "--token", "sl_wrong", ok=False
        )
    assert total(engine) == CLAUDE_TOTAL
    assert refused.exit_code == 1
    assert "401" in refused.stderr and "spendledger tokens create NAME" in refused.stderr
    assert "sl_wrong" not in refused.stderr  # the token is never shown


def test_send_without_a_token_says_how_to_get_one(cli: Cli, logs: Path) -> None:
    result = cli("agents", "import", "codex", str(logs / "codex"), "--send", "http://127.0.0.1:9", ok=False)
    assert result.exit_code == 1
    assert "--send needs an API token: create one with `spendledger tokens create NAME`" in result.stderr


def test_user_and_project_come_from_the_repository(cli: Cli, engine: Engine, tmp_path: Path) -> None:
    repo = tmp_path / "checkout-of-shop"
    (repo / "src").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "config", "user.email", "ana@example.com"], check=True)
    line = json.loads(
        (FIXTURES / "claude-code/projects/-home-dev-shop/6f1c2a4e-3b1d-4c0e-9a57-2d8e5b7c1f00.jsonl")
        .read_text()
        .splitlines()[2]
    )
    line["cwd"] = str(repo / "src")
    elsewhere = {
        **line,
        "cwd": str(tmp_path / "scratch"),
        "message": {**line["message"], "id": "msg_elsewhere"},
    }
    (tmp_path / "scratch").mkdir()
    log = tmp_path / "session.jsonl"
    log.write_text(json.dumps(line) + "\n" + json.dumps(elsewhere) + "\n")
    import_json(cli, "claude-code", str(log))
    by_key = {r["key"]: (r["user"], r["project"]) for r in rows(engine)}
    assert by_key == {
        "api:claude-code:msg_01AbCdEfGhIjKlMnOpQrStUv": ("ana@example.com", "checkout-of-shop"),
        "api:claude-code:msg_elsewhere": (getpass.getuser(), "scratch"),  # no git email: the OS user
    }


def test_default_folders_are_the_tools_own(cli: Cli, engine: Engine, tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "codex", tmp_path / "home" / ".codex")
    summary = import_json(cli, "codex", "--user", "dev@example.com")
    assert summary["stored"] == 3
    nothing = cli("agents", "import", "gemini-cli", "--user", "dev@example.com")
    assert "No gemini-cli logs found" in nothing.stderr


def test_watch_follows_new_lines_until_its_time_is_up(cli: Cli, engine: Engine, logs: Path) -> None:
    session = (
        logs
        / "codex/sessions/2026/11/20/rollout-2026-11-20T10-00-00-0199a1b2-5c3d-7e4f-8a9b-0c1d2e3f4a5b.jsonl"
    )
    # turn 3: 2 000 in, 100 out of gpt-5 = 0.0025 + 0.001 = $0.0035
    names = (
        "input_tokens",
        "cached_input_tokens",
        "output_tokens",
        "reasoning_output_tokens",
        "total_tokens",
    )
    running = dict(zip(names, (29_000, 20_000, 1_600, 500, 30_600), strict=True))
    last = dict(zip(names, (2_000, 0, 100, 0, 2_100), strict=True))
    info = {"total_token_usage": running, "last_token_usage": last}
    turn = {
        "timestamp": "2026-11-20T10:09:00.000Z",
        "type": "event_msg",
        "payload": {"type": "token_count", "info": info},
    }
    text = json.dumps(turn) + "\n"

    def write_later() -> None:
        time.sleep(1.0)
        with session.open("a") as f:
            f.write(text[:40])  # a line being written: read once it is whole
            f.flush()
            time.sleep(0.3)
            f.write(text[40:])

    writer = threading.Thread(target=write_later)
    writer.start()
    result = cli(
        "agents", "import", "codex", str(logs / "codex"), "--user", "dev@example.com",
        "--watch", "--interval", "0.1", "--watch-for", "3", "--format", "json",
    )  # fmt: skip
    writer.join()
    summary = json.loads(result.stdout)
    assert (summary["calls"], summary["stored"], summary["malformed"][1:]) == (4, 4, [])
    assert total(engine) == CODEX_TOTAL + Decimal("0.0035")


def test_watch_stops_cleanly_on_ctrl_c(db_url: str, tmp_path: Path, logs: Path, engine: Engine) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPENDLEDGER_")}
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    process = subprocess.Popen(
        [sys.executable, "-m", "spendledger.cli", "--database-url", db_url, "agents", "import", "gemini-cli",
         str(logs / "gemini-cli"), "--user", "dev@example.com", "--watch", "--interval", "0.1"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 90  # the interpreter starting on a busy machine
    while total(engine) != GEMINI_TOTAL and time.monotonic() < deadline:
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr and "Ctrl-C stops" in stderr
    assert "gemini-cli: 3 calls in 2 files" in stdout


# Garbage: anything a crashed writer, a disk error or a future version may leave in a log.
JSON_VALUES = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=20),
        st.sampled_from(
            ["", "\x00", "2026-11-20T10:00:00Z", "1e400", "<synthetic>", "gemini", "token_count"]
        ),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
GOOD_LINES = {
    tool: [
        line for path in sorted((FIXTURES / tool).rglob("*.jsonl")) for line in path.read_text().splitlines()
    ]
    for tool in ("claude-code", "codex", "gemini-cli")
}
PROPERTY = settings(max_examples=60, deadline=None)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path inside a JSON value, the value itself first."""
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


def _replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = _replaced(value[path[0]], path[1:], new)
    return copy


@st.composite
def log_lines(draw: st.DrawFn, tool: str) -> list[str]:
    """Good lines of `tool`, some with one value replaced by garbage, among garbage lines."""
    lines = []
    for _ in range(draw(st.integers(min_value=1, max_value=8))):
        kind = draw(st.sampled_from(["good", "mutated", "json", "text", "bytes"]))
        good = draw(st.sampled_from(GOOD_LINES[tool]))
        if kind == "good":
            lines.append(good)
        elif kind == "mutated":
            try:
                value = json.loads(good)
            except ValueError:
                value = {}
            path = draw(st.sampled_from(_paths(value)))
            lines.append(json.dumps(_replaced(value, path, draw(JSON_VALUES))))
        elif kind == "json":
            lines.append(json.dumps(draw(JSON_VALUES)))
        elif kind == "text":
            lines.append(draw(st.text(max_size=60)).replace("\n", " "))
        else:
            lines.append(draw(st.binary(max_size=40)).decode("utf-8", "replace").replace("\n", " "))
    return lines


@pytest.mark.parametrize("tool", ["claude-code", "codex", "gemini-cli"])
@PROPERTY
@given(data=st.data())
def test_garbage_lines_never_break_an_import(tool: str, data: st.DataObject) -> None:
    lines = data.draw(log_lines(tool))
    reader = READERS[tool]()
    for lineno, line in enumerate(lines, 1):
        reader.read_line("log.jsonl", lineno, line)
    if tool == "gemini-cli":
        reader.read_document("old.json", "\n".join(lines))
    calls = reader.take(final=True)
    assert all(1 <= p.line <= len(lines) for p in reader.problems if p.path == "log.jsonl")
    builder = EventBuilder(attribution=Attribution(git=lambda args, cwd: None), pricer=Pricer())
    for call in calls:
        call.tokens.validate()  # the ledger's token contract holds for every call read
        with contextlib.suppress(SpendledgerError):  # refused with its field: reported as a problem
            builder.build(call)


def _claude_line(message_id: str, at: str, output: int) -> str:
    usage = {"input_tokens": 10, "output_tokens": output, "cache_read_input_tokens": 0}
    message = {"id": message_id, "model": "claude-sonnet-4-5-20250929", "usage": usage}
    return json.dumps(
        {"type": "assistant", "timestamp": at, "sessionId": "s", "requestId": "r", "message": message}
    )


def test_claude_code_following_a_file_waits_for_a_response_last_line() -> None:
    reader = READERS["claude-code"]()
    reader.read_line("a.jsonl", 1, _claude_line("msg_A", "2026-11-20T09:00:00Z", 1))
    assert reader.take(final=False, growing=frozenset({"a.jsonl"})) == []  # more lines of msg_A may follow
    reader.read_line("a.jsonl", 2, _claude_line("msg_A", "2026-11-20T09:00:02Z", 480))
    reader.read_line("a.jsonl", 3, _claude_line("msg_B", "2026-11-20T09:01:00Z", 7))
    (done,) = reader.take(final=False, growing=frozenset({"a.jsonl"}))
    # the larger count of its lines, stamped when the response began
    assert (done.event_id, done.tokens.output, done.timestamp.isoformat()) == (
        "claude-code:msg_A",
        480,
        "2026-11-20T09:00:00+00:00",
    )
    assert [c.event_id for c in reader.take(final=False)] == ["claude-code:msg_B"]  # the file did not grow
    reader.read_line("a.jsonl", 4, _claude_line("msg_A", "2026-11-20T09:00:03Z", 480))
    assert reader.take(final=True) == []  # taken already: a late copy is not a new call


def test_codex_fork_with_one_count_in_its_first_second_keeps_it() -> None:
    reader = READERS["codex"]()
    usage = {"input_tokens": 100, "cached_input_tokens": 0, "output_tokens": 10, "total_tokens": 110}
    lines = [
        {
            "timestamp": "2026-11-20T11:00:00.001Z",
            "type": "session_meta",
            "payload": {"id": "f", "forked_from_id": "p"},
        },
        {"timestamp": "2026-11-20T11:00:00.002Z", "type": "turn_context", "payload": {"model": "gpt-5"}},
        {
            "timestamp": "2026-11-20T11:00:00.500Z",
            "type": "event_msg",
            "payload": {
                "type": "token_count",
                "info": {"total_token_usage": usage, "last_token_usage": usage},
            },
        },
    ]
    for lineno, line in enumerate(lines, 1):
        reader.read_line("rollout.jsonl", lineno, json.dumps(line))
    assert reader.take(final=False) == []  # a second count in the same second would make it a replay
    assert [c.event_id for c in reader.take(final=True)] == ["codex:f:2026-11-20T11:00:00.500Z"]


def test_agents_report_refuses_an_unknown_grouping(cli: Cli) -> None:
    result = cli("agents", "report", "--by", "tool,colour", ok=False)
    assert result.exit_code == 1
    assert "--by 'colour': group by any of tool, covered_by, user, project, model, provider" in result.stderr


def test_watch_keeps_what_it_cannot_send_until_the_server_answers(
    settings: Settings, engine: Engine, logs: Path
) -> None:
    with engine.begin() as conn:
        token = create_token(conn, name="laptop")
    server = LiveServer(settings)  # its port refuses connections until start()
    sink = ApiSink(server.url, token, policy=RetryPolicy(max_attempts=1))
    importer = Importer(
        "codex", roots=[logs / "codex"], sink=sink, attribution=Attribution(user="dev@example.com")
    )
    try:
        assert importer.poll(final=False) == 0
        assert importer.waiting is not None and "network error" in importer.waiting
        server.start()
        assert (importer.poll(final=False), importer.waiting) == (3, None)
    finally:
        sink.close()
        server.stop()
    assert (importer.summary.calls, importer.summary.stored) == (3, 3)
    assert total(engine) == CODEX_TOTAL
