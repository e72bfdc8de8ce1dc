"""`spendledger serve`: a busy port is named with the ways to choose another, and the
--workers help quotes what the ingest benchmark measured."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest
import typer.main

from clirun import cli_runner
from spendledger.cli import app

README = Path(__file__).resolve().parents[1] / "README.md"


def test_cli_serve_busy_port_names_it_and_the_way_out(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli = cli_runner(db_url, tmp_path, monkeypatch)
    with socket.create_server(("127.0.0.1", 0)) as taken:  # a port another program listens on
        port = taken.getsockname()[1]
        free = next(p for p in range(port + 1, 65536) if _free(p))
        result = cli("serve", "--port", str(port), "--no-sync", ok=False)

    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr == (
        f"port {port} on 127.0.0.1 is in use (another spendledger, or another program); choose another "
        f"with `spendledger serve --port {free}`, or `make run PORT={free}`\n"
    )
    assert "Errno" not in result.output


def test_cli_serve_host_that_cannot_listen_says_so(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli = cli_runner(db_url, tmp_path, monkeypatch)

    result = cli("serve", "--host", "192.0.2.1", "--port", "8000", "--no-sync", ok=False)  # not ours

    assert result.exit_code == 1
    assert result.stderr == (
        "cannot listen on 192.0.2.1:8000: Cannot assign requested address; check --host and --port\n"
    )


def test_cli_serve_workers_help_quotes_the_ingest_benchmark() -> None:
    bench = README.read_text()
    figures = [
        re.search(rf"^API, {n} workers?, {n} clients? .* = +([\d,]+) events/s", bench, re.M) for n in (1, 2)
    ]
    serve = typer.main.get_command(app).commands["serve"]  # type: ignore[attr-defined]
    workers = next(p for p in serve.params if p.name == "workers")

    one, two = (f.group(1) for f in figures if f)
    assert workers.help == (
        "Server processes. Measured by bench/ingest.py on 2 cores (README, Performance): "
        f"{one} events/s with 1 worker, {two} events/s with 2; the writes are serialised, "
        "the parsing and pricing are not."
    )


def _free(port: int) -> bool:
    try:
        socket.create_server(("127.0.0.1", port)).close()
    except OSError:
        return False
    return True
