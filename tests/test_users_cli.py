"""`spendledger users ...`: create, list, passwords, roles, grants, the demo admin."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from clirun import Cli, cli_runner
from logins import login
from spendledger.config import Settings
from spendledger.store.tables import users
from spendledger.web import create_app


@pytest.fixture
def cli(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    return cli_runner(db_url, tmp_path, monkeypatch)


def test_users_create_list_and_log_in(cli: Any, settings: Settings, engine: Engine) -> None:
    cli(
        "users",
        "create",
        "Root@Example.com",
        "--role",
        "admin",
        "--password-stdin",
        stdin="a long secret 1\n",
    )
    cli("users", "create", "m@example.com", "--password-stdin", stdin="another secret\n")
    listed = cli("users", "list").stdout
    assert "root@example.com" in listed and "admin" in listed and "own spend (user m@example.com)" in listed
    with engine.connect() as conn:
        hashes = conn.execute(select(users.c.password_hash)).scalars().all()
    assert all(h.startswith("$argon2id$") and "secret" not in h for h in hashes)
    with TestClient(create_app(settings)) as client:
        assert login(client, "root@example.com", "a long secret 1").status_code == 303


def test_users_create_refuses_short_password_and_unknown_role(cli: Any) -> None:
    short = cli("users", "create", "a@b.c", "--password-stdin", stdin="short\n", ok=False)
    assert short.exit_code == 1 and "at least 10 characters" in short.stderr
    role = cli(
        "users", "create", "a@b.c", "--role", "owner", "--password-stdin", stdin="long enough!\n", ok=False
    )
    assert role.exit_code == 1 and "unknown role 'owner'" in role.stderr


def test_users_last_admin_cannot_be_demoted_or_removed(cli: Any) -> None:
    cli("users", "create", "root@example.com", "--role", "admin", "--generate")
    demoted = cli("users", "set-role", "root@example.com", "viewer", ok=False)
    removed = cli("users", "remove", "root@example.com", ok=False)
    assert "last admin" in demoted.stderr and "last admin" in removed.stderr


def test_users_passwd_and_grant(cli: Any, settings: Settings) -> None:
    created = cli("users", "create", "m@example.com", "--generate")
    first = created.stdout.strip().splitlines()[-1].removeprefix("Password (shown once): ")
    cli("users", "passwd", "m@example.com", "--password-stdin", stdin="the new password\n")
    cli("users", "grant", "m@example.com", "--project", "support-bot", "--user", "u_17")
    assert "project support-bot, user u_17" in cli("users", "list").stdout
    with TestClient(create_app(settings)) as client:
        assert login(client, "m@example.com", first).status_code == 401
        assert login(client, "m@example.com", "the new password").status_code == 303


def test_users_demo_admin_is_made_once_and_printed_while_unchanged(cli: Any) -> None:
    first = cli("users", "demo-admin").stdout
    assert "admin@demo.local" in first and "spendledger-demo" in first
    assert "spendledger-demo" in cli("users", "demo-admin").stdout  # make run prints it every time
    cli("users", "passwd", "admin@demo.local", "--password-stdin", stdin="my own password\n")
    assert cli("users", "demo-admin").stdout == ""  # changed: no longer printed
