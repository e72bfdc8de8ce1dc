"""What the ledger writes to disk is its owner's alone: the data dir 0700, the SQLite file
and its -wal/-shm 0600, like secret.key, whatever the umask lets others read."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from spendledger.cli import app
from spendledger.config import Settings
from spendledger.secrets import load_vault
from spendledger.store.engine import make_engine, upgrade


@pytest.fixture(autouse=True)
def open_umask() -> Iterator[None]:
    """The common default umask, under which files are world-readable unless made otherwise."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_file_modes_sqlite_file_wal_shm_and_folder_are_private(tmp_path: Path) -> None:
    path = tmp_path / "new" / "ledger" / "spendledger.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.connect() as conn:  # a reader keeps the -wal and -shm files open
        conn.execute(text("SELECT 1"))
        modes = {p.name: _mode(p) for p in path.parent.iterdir()}
    engine.dispose()

    assert modes == {"spendledger.db": 0o600, "spendledger.db-wal": 0o600, "spendledger.db-shm": 0o600}
    assert _mode(path.parent) == 0o700
    assert _mode(tmp_path / "new") == 0o755  # a parent the ledger had to create is not its data dir


def test_file_modes_existing_folder_is_left_as_its_owner_set_it(tmp_path: Path) -> None:
    (tmp_path / "shared").mkdir(mode=0o750)
    engine = make_engine(f"sqlite:///{tmp_path / 'shared' / 'ledger.db'}")
    upgrade(engine)
    engine.dispose()

    assert _mode(tmp_path / "shared") == 0o750
    assert _mode(tmp_path / "shared" / "ledger.db") == 0o600


def test_file_modes_cli_default_ledger_and_key_are_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [n for n in os.environ if n.startswith("SPENDLEDGER_")]:
        monkeypatch.delenv(name)
    data = tmp_path / "data"
    monkeypatch.setenv("SPENDLEDGER_DATA_DIR", str(data))

    result = CliRunner().invoke(app, ["db", "upgrade"])

    assert result.exit_code == 0, result.output
    assert _mode(data) == 0o700
    assert _mode(data / "spendledger.db") == 0o600


def test_file_modes_key_file_creates_a_private_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url="sqlite://")
    load_vault(settings)

    assert _mode(tmp_path / "data") == 0o700
    assert _mode(tmp_path / "data" / "secret.key") == 0o600
