"""Running `spendledger ...` in process, as a user would type it, on a test's database."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from spendledger.cli import app

Cli = Callable[..., Result]


def cli_runner(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **env: str) -> Cli:
    """`run(*args, ok=True, stdin=None)` → the click Result of `spendledger --database-url
    <db_url> *args`, run in `tmp_path` with only `env` and a data dir of the test's own as
    SPENDLEDGER_* settings; `ok` asserts the command succeeded."""
    for name in [n for n in os.environ if n.startswith("SPENDLEDGER_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no spendledger.env of a checkout's `make run` applies
    monkeypatch.setenv("SPENDLEDGER_DATA_DIR", str(tmp_path / "data"))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()

    def run(*args: str, ok: bool = True, stdin: str | None = None) -> Result:
        result = runner.invoke(app, ["--database-url", db_url, *args], input=stdin)
        if ok:
            assert result.exit_code == 0, (result.output, result.exception)
        return result

    return run
