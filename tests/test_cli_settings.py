"""Which ledger a plain `spendledger` command opens: the nearest `spendledger.env` (what
`make run` writes in the repository folder), the environment over it, and a word on
stderr whenever a command creates a new, empty ledger."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from spendledger.cli import app
from spendledger.config import get_settings


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user with no SPENDLEDGER_* settings and a home of their own."""
    for name in [n for n in os.environ if n.startswith(("SPENDLEDGER_", "XDG_"))]:
        monkeypatch.delenv(name)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return home


def run(*args: str) -> Result:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def test_cli_settings_file_is_found_from_a_subfolder(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    (repo / "docs").mkdir(parents=True)
    (repo / "spendledger.env").write_text(
        "# as make run writes it\nSPENDLEDGER_DATA_DIR=data\nSPENDLEDGER_TIMEZONE=Asia/Tokyo\nOTHER=1\n"
    )
    monkeypatch.chdir(repo / "docs")

    settings = get_settings()
    upgraded = run("db", "upgrade")

    assert settings.data_dir == repo / "data" and settings.timezone == "Asia/Tokyo"
    assert f"Database sqlite:///{repo / 'data' / 'spendledger.db'} is at schema revision" in upgraded.stdout
    assert upgraded.stderr == (
        f"Created a new, empty ledger at {repo / 'data' / 'spendledger.db'} (the data dir set in "
        f"{repo / 'spendledger.env'}).\n"
    )
    assert not (home / ".local").exists()
    assert "Created a new" not in run("tokens", "list").stderr  # the same ledger, no longer new


def test_cli_settings_environment_wins_over_the_file(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "spendledger.env").write_text("SPENDLEDGER_DATA_DIR=data\nSPENDLEDGER_TIMEZONE=Asia/Tokyo\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SPENDLEDGER_DATA_DIR", str(tmp_path / "elsewhere"))

    settings = get_settings()
    created = run("tokens", "create", "ci")

    assert settings.data_dir == tmp_path / "elsewhere" and settings.timezone == "Asia/Tokyo"
    assert (
        f"Created a new, empty ledger at {tmp_path / 'elsewhere' / 'spendledger.db'} (SPENDLEDGER_DATA_DIR)"
        in created.stderr
    )
    assert created.stdout.splitlines()[-1].startswith("sl_")  # the notice never reaches `| tail -1`


def test_cli_new_default_ledger_says_where_it_is(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    ledger = home / ".local" / "share" / "spendledger" / "spendledger.db"

    created = run("tokens", "create", "x")

    assert created.stderr.startswith(
        f"Created a new, empty ledger at {ledger} (the default data dir: no spendledger.env in this "
        "folder or above). For the ledger `make run` serves, run spendledger in its repository folder"
    )
    assert "Created a new" not in run("tokens", "create", "y").stderr


def test_cli_serve_names_the_ledger_it_serves(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    (tmp_path / "spendledger.env").write_text("SPENDLEDGER_DATA_DIR=data\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(uvicorn, "run", lambda app, host, port: None)

    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]  # free once closed
    served = run("serve", "--port", str(port), "--no-sync")

    assert served.stdout == (
        f"spendledger on http://127.0.0.1:{port} (API docs at /docs), ledger sqlite:///"
        f"{tmp_path / 'data' / 'spendledger.db'}; Ctrl+C stops it.\n"
    )
