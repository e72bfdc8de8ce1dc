"""The SDK writing into a real ledger, for the instrumentation tests; the SDK unconfigured
and the chat clients of the SDK tests.

`sdk_ledger()` copies the migrated SQLite template into the test's folder, configures
the SDK with `database_url=` (its background sender writes through the ingest path:
validation, pricing, idempotent upserts) and, on the way out, forgets the
configuration. `Ledger.rows()` flushes the sender and reads back the `usage` table.
`unconfigured_sdk()` keeps the SDK unconfigured, whatever the environment says;
`openai_client()` and `anthropic_client()` are bare clients of the fake chat server.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest
from sqlalchemy import Engine, select

import spendledger
from fakes.chat import ChatServer
from spendledger.records import from_nanos
from spendledger.sdk import _sender
from spendledger.sdk._config import ENV_DATABASE_URL, ENV_SPILL_DIR, ENV_TOKEN, ENV_URL
from spendledger.store.engine import make_engine
from spendledger.store.tables import usage


class Ledger:
    def __init__(self, url: str, engine: Engine) -> None:
        self.url = url
        self.engine = engine

    def rows(self) -> list[dict[str, Any]]:
        """Every stored row, oldest first, after the sender delivered what was queued."""
        assert spendledger.flush(30), spendledger.stats()
        with self.engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(select(usage).order_by(usage.c.id))]
        for row in rows:
            row["cost"] = None if row["cost_nanos"] is None else from_nanos(row["cost_nanos"])
        return rows

    def one(self) -> dict[str, Any]:
        rows = self.rows()
        assert len(rows) == 1, rows
        return rows[0]


@contextmanager
def sdk_ledger(tmp_path: Path, template: Path) -> Iterator[Ledger]:
    path = tmp_path / "ledger.db"
    shutil.copy(template, path)
    url = f"sqlite:///{path}"
    spendledger.configure(database_url=url, spill_dir=tmp_path / "spill")
    engine = make_engine(url)
    try:
        yield Ledger(url, engine)
    finally:
        _sender.reset()
        engine.dispose()


def forget_sdk_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No SDK configuration taken from the environment for the test."""
    for name in (ENV_URL, ENV_TOKEN, ENV_DATABASE_URL, ENV_SPILL_DIR):
        monkeypatch.delenv(name, raising=False)


@contextmanager
def unconfigured_sdk(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The SDK unconfigured, whatever the environment says, on the way in and out."""
    forget_sdk_environment(monkeypatch)
    _sender.reset(timeout=0.5)
    try:
        yield
    finally:
        _sender.reset(timeout=0.5)


def openai_client(srv: ChatServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=srv.openai_url, api_key="sk-test", max_retries=0)


def anthropic_client(srv: ChatServer) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=srv.anthropic_url, api_key="sk-ant-test", max_retries=0)
