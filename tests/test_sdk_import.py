"""`import spendledger` in an application loads the tracker and the standard library only:
none of the server's dependencies, whatever the tracker is asked to do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from receivers import free_port

SERVER_DEPENDENCIES = (
    "sqlalchemy",
    "alembic",
    "psycopg",
    "fastapi",
    "starlette",
    "uvicorn",
    "pydantic",
    "pydantic_core",
    "pydantic_settings",
    "apprise",
    "httpx",
    "jinja2",
    "typer",
    "rich",
    "cryptography",
    "argon2",
    "genai_prices",
    "opentelemetry",
)


def loaded_after(code: str, tmp_path: Path) -> dict[str, list[str]]:
    """Run `code` in a fresh interpreter; the top-level modules it loaded (beyond what the
    interpreter loads at start, e.g. an editable install's finder), by kind."""
    script = (
        "import sys\nbefore = set(sys.modules)\n"
        + textwrap.dedent(code)
        + textwrap.dedent(
            """
        import json
        tops = sorted({name.split(".")[0] for name in set(sys.modules) - before})
        print(json.dumps({
            "third_party": [t for t in tops if t not in sys.stdlib_module_names and t != "spendledger"],
            "ours": sorted(m for m in sys.modules if m.startswith("spendledger")),
        }))
        """
        )
    )
    env = {**os.environ, "SPENDLEDGER_SPILL_DIR": str(tmp_path)}
    for name in ("SPENDLEDGER_URL", "SPENDLEDGER_TOKEN", "SPENDLEDGER_DATABASE_URL"):
        env.pop(name, None)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30, env=env)
    assert done.returncode == 0, done.stderr
    loaded: dict[str, list[str]] = json.loads(done.stdout.splitlines()[-1])
    return loaded


def test_sdk_import_loads_no_server_dependency(tmp_path: Path) -> None:
    loaded = loaded_after(
        f"""
        import spendledger
        spendledger.configure(url="http://127.0.0.1:{free_port()}", token="sl_x", project="p")
        with spendledger.context(user="u"):
            spendledger.record("mistral", "mistral-large-latest", input_tokens=10, output_tokens=2)
        assert spendledger.flush(2) is False  # nobody listens: spilled
        assert spendledger.stats().spilled == 1
        """,
        tmp_path,
    )
    assert loaded["third_party"] == [], f"the SDK loaded {loaded['third_party']}"
    # of ours, the tracker, the record contract, the errors' base and the event's field list
    # (records.py, errors.py and ingest/event.py import the standard library only;
    # ingest/__init__.py imports nothing)
    sdk_and_records = (
        "spendledger",
        "spendledger.records",
        "spendledger.errors",
        "spendledger.ingest",
        "spendledger.ingest.event",
    )
    assert not [m for m in loaded["ours"] if not m.startswith("spendledger.sdk") and m not in sdk_and_records]
    assert not set(loaded["third_party"]) & set(SERVER_DEPENDENCIES)


def test_sdk_import_of_the_package_alone_loads_nothing_more(tmp_path: Path) -> None:
    loaded = loaded_after("import spendledger; assert 'record' in dir(spendledger)", tmp_path)
    assert loaded == {"third_party": [], "ours": ["spendledger"]}


def test_sdk_public_names_are_the_sdk_functions() -> None:
    import spendledger
    import spendledger.sdk

    for name in ("configure", "instrument", "context", "record", "flush", "stats"):
        assert getattr(spendledger, name) is getattr(spendledger.sdk, name)


def test_sdk_instrument_leaves_an_unknown_client_working() -> None:
    import spendledger

    client = object()
    assert spendledger.instrument(client) is client
