"""The tracker's `account=`: the provider account (organisation) a call is billed to,
given to `configure`, `instrument`, `context` or `record` with the same precedence as
the other attribution, and stored in the event's `account`. An unknown currency is
refused by the ledger for that event alone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import spendledger
from fakes.chat import ChatServer, Usage
from sdk_ledger import Ledger, openai_client, sdk_ledger

MESSAGES: list[dict[str, str]] = [{"role": "user", "content": "Hello"}]


@pytest.fixture
def ledger(tmp_path: Path, sqlite_template: Path) -> Iterator[Ledger]:
    with sdk_ledger(tmp_path, sqlite_template) as ledger:
        spendledger.configure(database_url=ledger.url, spill_dir=tmp_path / "spill", account="org-main")
        yield ledger


def test_sdk_account_record_beats_context_beats_instrument_beats_configure(ledger: Ledger) -> None:
    with ChatServer(model="gpt-4o-mini", usage=Usage(input=10, cached=0, output=5)) as srv:
        with openai_client(srv) as plain:
            plain.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)  # type: ignore[arg-type]
        with openai_client(srv) as client:
            spendledger.instrument(client, account="org-second")
            client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)  # type: ignore[arg-type]
            with spendledger.context(account="org-third"):
                client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)  # type: ignore[arg-type]
                spendledger.record("mistral", "mistral-small-latest", input_tokens=1)
                spendledger.record("mistral", "mistral-small-latest", input_tokens=1, account="org-fourth")
    spendledger.record("mistral", "mistral-small-latest", input_tokens=1)
    assert [row["account"] for row in ledger.rows()] == [
        "org-second",
        "org-third",
        "org-third",
        "org-fourth",
        "org-main",
    ]


def test_sdk_unknown_currency_is_refused_alone(ledger: Ledger) -> None:
    spendledger.record("mistral", "mistral-small-latest", input_tokens=1, cost="0.5", currency="XYZ")
    spendledger.record("mistral", "mistral-small-latest", input_tokens=1, cost="0.5", currency="EUR")
    rows = ledger.rows()
    assert [(row["currency"], row["account"]) for row in rows] == [("EUR", "org-main")]
    stats = spendledger.stats()
    assert stats.rejected == 1
    assert stats.last_error is not None
    assert "currency 'XYZ' is not an ISO 4217 code: send a code such as USD, EUR or JPY" in stats.last_error
