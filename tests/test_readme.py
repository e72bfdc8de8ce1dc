"""The README's commands, copied in order as a new user types them after `make run`,
act on the ledger `make run` serves, never on a second one.

The snippets are read from README.md's fenced code blocks, so the test follows the
README. The "repository folder" gets its settings file from the Makefile's own rule,
the server is started on the settings `spendledger` reads there, and the snippets run
in bash with a plain `spendledger` on the PATH and a home folder of their own.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

import spendledger
from live_server import serving
from spendledger.config import get_settings
from spendledger.store import make_engine
from spendledger.store.tables import usage

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SERVED = "http://127.0.0.1:8000"  # the address the README's snippets send to


def readme_snippet(heading: str) -> str:
    """The first fenced code block after the README heading `heading` (the whole line)."""
    section = README.read_text().split(f"\n{heading}\n", 1)[1]
    found = re.search(r"^```[a-z]*\n(.*?)^```", section, re.S | re.M)
    assert found, f"no code block under {heading!r} in README.md"
    return found.group(1)


def user_env(home: Path, bin_dir: Path) -> dict[str, str]:
    """The environment of a new user's shell: no SPENDLEDGER_* settings, a fresh home,
    and `spendledger` on the PATH running this checkout's package."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPENDLEDGER_", "XDG_", "OTEL_"))}
    env["HOME"] = str(home)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(Path(spendledger.__file__).resolve().parents[1])
    return env


def shim(bin_dir: Path) -> None:
    bin_dir.mkdir()
    command = bin_dir / "spendledger"
    command.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m spendledger.cli "$@"\n')
    command.chmod(0o755)


def otlp_chat_span() -> dict[str, object]:
    """An OTLP/JSON export of one GenAI chat span: 1000 in, 200 out of gpt-4o-mini."""
    attributes = {
        "gen_ai.operation.name": {"stringValue": "chat"},
        "gen_ai.provider.name": {"stringValue": "openai"},
        "gen_ai.request.model": {"stringValue": "gpt-4o-mini"},
        "gen_ai.usage.input_tokens": {"intValue": "1000"},
        "gen_ai.usage.output_tokens": {"intValue": "200"},
    }
    start = 1_795_000_000 * 10**9  # 2026-11-18
    span = {
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": "eee19b7ec3c1b174",
        "name": "chat gpt-4o-mini",
        "kind": 3,
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(start + 500_000_000),
        "attributes": [{"key": k, "value": v} for k, v in attributes.items()],
    }
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": "support-bot"}}]}
    return {"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": [span]}]}]}


def test_readme_snippets_after_make_run_use_the_served_ledger(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, home, bin_dir = tmp_path / "repo", tmp_path / "home", tmp_path / "bin"
    repo.mkdir()
    home.mkdir()
    shim(bin_dir)
    env = user_env(home, bin_dir)
    make = ["make", "-s", "-f", str(ROOT / "Makefile"), "spendledger.env"]
    subprocess.run(make, cwd=repo, env=env, check=True)
    if db_url.startswith("postgresql"):  # the settings file names the server's database
        with (repo / "spendledger.env").open("a") as f:
            f.write(f"SPENDLEDGER_DATABASE_URL={db_url}\n")
    # what `make run` does before serving, then the server on the settings read in the folder
    subprocess.run(["spendledger", "db", "upgrade"], cwd=repo, env=env, check=True, capture_output=True)
    for name in [n for n in os.environ if n.startswith("SPENDLEDGER_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(repo)
    settings = get_settings()
    recording = readme_snippet("## Recording spend")
    otel = readme_snippet("### OpenTelemetry")
    script = (
        f"{recording}\necho\necho '--- otel'\n{otel}\n"
        'printf "%s\\n" "$OTEL_EXPORTER_OTLP_TRACES_ENDPOINT" "$OTEL_EXPORTER_OTLP_TRACES_HEADERS"\n'
    )

    with serving(settings) as url:
        typed = subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", script.replace(SERVED, url)],
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert typed.returncode == 0, typed.stderr
        answer, otel_lines = typed.stdout.split("--- otel\n")
        assert json.loads(answer)["accepted"] == 1, answer
        endpoint, headers = otel_lines.splitlines()
        assert endpoint == f"{url}/v1/traces"
        name, _, value = headers.partition("=")
        assert name == "authorization" and value.startswith("Bearer%20sl_"), headers
        exported = httpx.post(endpoint, json=otlp_chat_span(), headers={name: value.replace("%20", " ")})
        assert exported.status_code == 200, exported.text

    engine = make_engine(settings.resolved_database_url)
    with engine.connect() as conn:
        stored = conn.execute(select(usage.c.model, usage.c.project).order_by(usage.c.start)).all()
    engine.dispose()
    assert [tuple(r) for r in stored] == [("gpt-4o-mini", "support-bot"), ("gpt-4o-mini", "support-bot")]
    assert "Created a new, empty ledger" not in typed.stderr
    assert not (home / ".local" / "share" / "spendledger").exists()
    if not db_url.startswith("postgresql"):
        assert settings.resolved_database_url == f"sqlite:///{repo / 'data' / 'spendledger.db'}"


def test_readme_allocation_commands_work_on_the_demo_data(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The "Allocation and showback" commands, typed after `make run` (its demo data; here
    two months of it), succeed and show what the section says."""
    repo, home, bin_dir = tmp_path / "repo", tmp_path / "home", tmp_path / "bin"
    repo.mkdir()
    home.mkdir()
    shim(bin_dir)
    env = user_env(home, bin_dir)
    subprocess.run(
        ["make", "-s", "-f", str(ROOT / "Makefile"), "spendledger.env"], cwd=repo, env=env, check=True
    )
    if db_url.startswith("postgresql"):
        with (repo / "spendledger.env").open("a") as f:
            f.write(f"SPENDLEDGER_DATABASE_URL={db_url}\n")
    subprocess.run(
        ["spendledger", "demo", "--days", "35"], cwd=repo, env=env, check=True, capture_output=True
    )
    typed = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", readme_snippet("## Allocation and showback")],
        cwd=repo,
        env={**env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert typed.returncode == 0, typed.stderr
    out = typed.stdout
    assert (
        "Added alias 1: workspace 'Default workspace' of provider 'anthropic' → project 'assistant'." in out
    )
    assert "Project 'assistant' is in team 'research'." in out
    assert "Added rule 'leftovers': unattributed split by team, proportional." in out
    assert "Showback by team" in out and "unattributed" in out
    assert "customer,currency,direct,shared,total" in out and "acme-learning,USD," in out
    assert "Spend " in out and "prod" in out
