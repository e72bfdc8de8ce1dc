"""POST /api/v1/events with input past the parser's or the ledger's limits: the event at
fault is rejected alone, naming its field, and the good events of the batch are stored.
Nothing it accepts can break a later command."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, text

from clirun import cli_runner
from spendledger.records import TAGS_RULE
from spendledger.store.engine import UNREADABLE
from spendledger.store.tables import usage

TIME_RANGE = "send a time from 2000-01-01 to 2099-12-31T23:59:59Z (UTC)"


def event(i: int, **changes: Any) -> dict[str, Any]:
    return {
        "id": f"evt-{i}",
        "timestamp": "2026-11-20T10:00:00Z",
        "provider": "openai",
        "model": "gpt-4o-mini",
        "input_tokens": 100,
        **changes,
    }


def nested(depth: int) -> str:
    """A JSON list nested `depth` levels deep, as text (json.dumps would recurse)."""
    return "[" * depth + "]" * depth


def post_raw(client: TestClient, *events: str) -> dict[str, Any]:
    """POST events given as JSON texts; the answer must be a 200."""
    response = client.post("/api/v1/events", content='{"events": [' + ", ".join(events) + "]}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def with_field(base: dict[str, Any], name: str, raw_value: str) -> str:
    """`base` as JSON text with `name` set to the raw JSON text `raw_value`."""
    return json.dumps(base)[:-1] + f', "{name}": {raw_value}}}'


def rejections(result: dict[str, Any]) -> list[tuple[int, str, str]]:
    return [(r["index"], r["field"], r["reason"]) for r in result["rejected"]]


def stored(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(usage)).scalar_one())


def test_ingest_tags_nested_1000_deep_rejects_that_event_alone(client: TestClient, engine: Engine) -> None:
    result = post_raw(
        client,
        json.dumps(event(1)),
        with_field(event(2), "tags", '{"a": ' + nested(1000) + "}"),
        json.dumps(event(3)),
    )
    assert rejections(result) == [(1, "tags", f"{TAGS_RULE}; these nest more than 198 levels deep")]
    assert result["accepted"] == 2
    assert stored(engine) == 2


def test_ingest_ignored_field_nested_1000_deep_rejects_that_event_alone(
    client: TestClient, engine: Engine
) -> None:
    result = post_raw(client, with_field(event(1), "extra", nested(1000)), json.dumps(event(2)))
    assert rejections(result) == [
        (
            0,
            "extra",
            "extra nests more than 198 levels deep; the server reads every field, even one it ignores: "
            "flatten it or leave it out",
        )
    ]
    assert result["accepted"] == 1
    assert stored(engine) == 1


def test_ingest_integer_of_5000_digits_rejects_that_event_alone(client: TestClient, engine: Engine) -> None:
    result = post_raw(client, json.dumps(event(1)), with_field(event(2), "extra", "9" * 5000))
    assert rejections(result) == [
        (
            1,
            "extra",
            "extra holds a number too large to read; the server reads every field, even one it ignores: "
            "send it as a string or leave it out",
        )
    ]
    assert stored(engine) == 1


def test_ingest_half_a_surrogate_pair_rejects_that_event_alone(client: TestClient, engine: Engine) -> None:
    result = post_raw(client, with_field(event(1), "user", '"\\ud800"'), json.dumps(event(2)))
    assert rejections(result) == [
        (
            0,
            "user",
            "user holds half of a UTF-16 surrogate pair (\\ud800-\\udfff); the server reads every field, "
            "even one it ignores: send whole characters or leave it out",
        )
    ]
    assert stored(engine) == 1


def test_ingest_body_nested_too_deep_outside_its_events_is_422(client: TestClient) -> None:
    response = client.post(
        "/api/v1/events", content='{"meta": ' + nested(1000) + ', "events": [' + json.dumps(event(1)) + "]}"
    )
    assert response.status_code == 422
    assert (
        response.json()["detail"] == "the body nests more than 201 levels deep outside its events: remove it"
    )


@pytest.mark.parametrize(
    ("tags", "why"),
    [
        ('{"a": {"b": {"c": {"d": {}}}}}', "these nest deeper"),
        ('{"note": "' + "x" * 5000 + '"}', "these take 5,011 bytes"),
        ('{"x": 1e400}', "a number in them is not finite or is too long"),
    ],
    ids=["5-levels", "5011-bytes", "infinite"],
)
def test_ingest_tags_past_the_limits_reject_that_event_alone(client: TestClient, tags: str, why: str) -> None:
    result = post_raw(client, with_field(event(1), "tags", tags), json.dumps(event(2)))
    assert rejections(result) == [(0, "tags", f"{TAGS_RULE}; {why}")]
    assert result["accepted"] == 1


def test_ingest_tags_at_the_limits_are_stored(client: TestClient, engine: Engine) -> None:
    tags = {"a": {"b": {"c": {"d": 1}}}, "note": "x" * 4000}
    assert post_raw(client, json.dumps(event(1, tags=tags)))["accepted"] == 1
    with engine.connect() as conn:
        assert conn.execute(select(usage.c.tags)).scalar_one() == tags


def test_ingest_tags_nested_980_deep_never_break_reprice_or_prices_set(
    client: TestClient, engine: Engine, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tags 980 levels deep were stored, and every later re-pricing of the ledger crashed."""
    post_raw(client, with_field(event(1), "tags", '{"a": ' + nested(980) + "}"), json.dumps(event(2)))
    cli = cli_runner(db_url, tmp_path, monkeypatch)
    cli("prices", "reprice")
    cli("prices", "set", "--provider", "openai", "--model", "gpt-4o-mini", "--input", "1", "--note", "test")
    assert stored(engine) == 1


@pytest.mark.parametrize(
    "timestamp",
    [
        "9999-12-31T23:59:59-14:00",
        "0001-01-01T00:00:00+14:00",
        "1999-12-31T23:59:59Z",
        "2100-01-01T00:00:00Z",
    ],
)
def test_ingest_timestamp_outside_the_ledgers_years_rejects_that_event_alone(
    client: TestClient, engine: Engine, timestamp: str
) -> None:
    result = post_raw(client, json.dumps(event(1, timestamp=timestamp)), json.dumps(event(2)))
    shown = timestamp.replace("Z", "+00:00")
    assert rejections(result) == [
        (0, "timestamp", f"timestamp {shown} is outside the years the ledger keeps: {TIME_RANGE}")
    ]
    assert stored(engine) == 1


def test_ingest_timestamps_at_the_ledgers_bounds_are_stored(client: TestClient) -> None:
    result = post_raw(
        client,
        json.dumps(event(1, timestamp="2000-01-01T00:00:00Z")),
        json.dumps(event(2, timestamp="2100-01-01T09:59:59+10:00")),
    )
    assert (result["accepted"], result["rejected"]) == (2, [])


def test_ingest_unknown_currency_rejects_that_event_alone(client: TestClient, engine: Engine) -> None:
    result = post_raw(
        client,
        json.dumps(event(1, cost="0.5", currency="XYZ")),
        json.dumps(event(2, cost="0.5", currency="eur")),
        json.dumps(event(3, cost="0.5", currency="US$")),
    )
    assert rejections(result) == [
        (0, "currency", "currency 'XYZ' is not an ISO 4217 code: send a code such as USD, EUR or JPY"),
        (2, "currency", "currency 'US$' is not an ISO 4217 code: send a code such as USD, EUR or JPY"),
    ]
    with engine.connect() as conn:
        assert conn.execute(select(usage.c.currency)).scalar_one() == "EUR"


def test_stored_tags_nested_980_deep_never_break_reprice(
    client: TestClient, engine: Engine, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ledger written before tags were limited may hold such tags: every command still runs."""
    post_raw(client, json.dumps(event(1)), json.dumps(event(2)))
    deep = '{"a": ' + nested(980) + "}"
    with engine.begin() as conn:  # as the first wave stored them (text on SQLite, json on PostgreSQL)
        value = "CAST(:tags AS json)" if engine.dialect.name == "postgresql" else ":tags"
        conn.execute(
            text(f"UPDATE usage SET tags = {value} WHERE key LIKE :key"), {"tags": deep, "key": "%evt-1"}
        )
    cli = cli_runner(db_url, tmp_path, monkeypatch)
    cli("prices", "reprice")
    cli("prices", "set", "--provider", "openai", "--model", "gpt-4o-mini", "--input", "1", "--note", "test")
    with engine.connect() as conn:
        tags = {key[-5:]: t for key, t in conn.execute(select(usage.c.key, usage.c.tags))}
    assert tags == {"evt-1": UNREADABLE, "evt-2": None}
