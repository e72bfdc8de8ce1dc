"""The event is declared once (ingest/event.py): the API's body, OTLP's mapping and the SDK's
dict are built from its fields, and the way in through the SDK never loads the web layer."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from spendledger.ingest.event import FIELDS, TOKEN_FIELDS
from spendledger.ingest.model import EventIn
from spendledger.records import TOKEN_COLUMNS
from spendledger.sdk._context import Attribution
from spendledger.sdk._events import make_event
from test_sdk_import import loaded_after


def test_ingest_event_token_fields_are_the_token_columns_in_order() -> None:
    start = FIELDS.index("input_tokens")
    assert FIELDS[start : start + len(TOKEN_COLUMNS)] == tuple(TOKEN_COLUMNS.values()) == TOKEN_FIELDS


def test_ingest_event_in_has_every_event_field_and_no_other() -> None:
    assert tuple(EventIn.model_fields) == FIELDS
    assert [name for name, f in EventIn.model_fields.items() if f.is_required()] == [
        "id",
        "timestamp",
        "provider",
        "model",
    ]


def test_ingest_event_sdk_dict_keys_are_event_fields() -> None:
    event = make_event(
        provider="openai",
        model="gpt-4o",
        tokens=dict.fromkeys(TOKEN_FIELDS, 1),
        started_at=datetime(2026, 11, 20, tzinfo=UTC),
        latency_ms=5,
        request_id="req_1",
        service_tier="flex",
        cost="0.01",
        attribution=Attribution(
            project="p", account="a", user="u", feature="f", customer="c", tags={"k": "v"}
        ),
    )
    assert set(FIELDS) - set(event) == {"workspace", "api_key_id"}  # the SDK leaves these to the server
    assert set(event) <= set(FIELDS)
    EventIn.model_validate(event)  # and the API accepts it as it is


def test_ingest_event_sdk_database_mode_loads_no_web_layer(tmp_path: Path) -> None:
    loaded = loaded_after(
        f"""
        import spendledger
        spendledger.configure(database_url="sqlite:///{tmp_path / "unmigrated.db"}", spill_dir="{tmp_path}")
        spendledger.record("mistral", "mistral-large-latest", input_tokens=10, output_tokens=2)
        spendledger.flush(5)
        """,
        tmp_path,
    )
    assert "spendledger.ingest.batch" in loaded["ours"]  # the database sink parsed the batch
    assert [m for m in loaded["ours"] if m.startswith(("spendledger.web", "spendledger.scheduler"))] == []
