"""POST /api/v1/events: batches are idempotent, bad events are named and skipped, costs are exact."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from spendledger.config import Settings
from spendledger.store.overrides import add_override
from spendledger.store.tables import usage
from spendledger.store.tokens import revoke_token
from spendledger.web import create_app

EVENT: dict[str, Any] = {
    "id": "evt-1",
    "timestamp": "2026-11-20T10:00:00Z",
    "provider": "openai",
    "model": "gpt-4o-mini",
    "account": None,
    "workspace": None,
    "project": "support-bot",
    "api_key_id": None,
    "user": "u_17",
    "feature": "summarise",
    "tags": {"env": "prod"},
    "requests": 1,
    "input_tokens": 1200,
    "cached_input_tokens": 1024,
    "cache_write_5m_tokens": 0,
    "cache_write_1h_tokens": 0,
    "output_tokens": 350,
    "reasoning_tokens": 192,
    "audio_input_tokens": 0,
    "audio_output_tokens": 0,
    "service_tier": None,
    "batch": False,
    "cost": None,
    "currency": "USD",
}
# gpt-4o-mini in 2026: $0.15/M input, $0.075/M cached input, $0.60/M output. EVENT costs
# 176 uncached × 0.15/1e6 + 1024 cached × 0.075/1e6 + 350 out × 0.6/1e6
# = 0.0000264 + 0.0000768 + 0.00021 = $0.0003132
EVENT_COST = "0.0003132"


def event(i: int, **changes: Any) -> dict[str, Any]:
    return {**EVENT, "id": f"evt-{i}", "timestamp": f"2026-11-{1 + i % 28:02d}T10:00:00Z", **changes}


def post(client: TestClient, events: list[dict[str, Any]]) -> dict[str, Any]:
    response = client.post("/api/v1/events", json={"events": events})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def november(client: TestClient, **params: str) -> dict[str, Any]:
    response = client.get("/api/v1/spend", params={"from": "2026-11-01", "to": "2026-11-30", **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_ingest_batch_resent_three_times_changes_no_total(client: TestClient) -> None:
    batch = [event(i) for i in range(50)]
    counts = [
        (r["accepted"], r["duplicates"], r["rejected_count"]) for r in (post(client, batch) for _ in range(3))
    ]
    assert counts == [(50, 0, 0), (0, 50, 0), (0, 50, 0)]
    # 50 × $0.0003132
    assert november(client)["total"] == "0.01566"
    assert november(client)["rows"][0]["requests"] == 50


def test_ingest_repeated_id_within_a_batch_is_a_duplicate(client: TestClient) -> None:
    result = post(client, [event(1), event(1), event(2)])
    assert (result["accepted"], result["duplicates"]) == (2, 1)
    assert november(client)["total"] == "0.0006264"  # 2 × $0.0003132


def test_ingest_event_id_stored_once_whatever_its_timestamp(client: TestClient) -> None:
    first = post(client, [event(1, timestamp="2026-11-20T10:00:00Z")])
    again = post(client, [event(1, timestamp="2026-11-20T10:00:01Z")])
    both = post(
        client, [event(2, timestamp="2026-11-20T10:00:00Z"), event(2, timestamp="2026-11-21T09:00:00Z")]
    )
    assert [(r["accepted"], r["duplicates"]) for r in (first, again, both)] == [(1, 0), (0, 1), (1, 1)]
    assert november(client)["total"] == "0.0006264"  # two events: 2 × $0.0003132


def test_ingest_thousand_events_with_seven_bad_stores_the_rest(client: TestClient) -> None:
    batch = [event(i) for i in range(1000)]
    del batch[3]["model"]
    batch[100]["timestamp"] = "2026-11-20T10:00:00"  # no zone
    batch[250]["cached_input_tokens"] = 1300  # more than input_tokens (1200)
    batch[400]["output_tokens"] = -5
    batch[555]["reasoning_tokens"] = 400  # more than output_tokens (350)
    batch[777]["timestamp"] = "yesterday at noon"
    batch[999]["input_tokens"] = 12.5

    result = post(client, batch)

    assert (result["accepted"], result["duplicates"], result["rejected_count"]) == (993, 0, 7)
    rejected = result["rejected"]
    assert [(r["index"], r["field"]) for r in rejected] == [
        (3, "model"),
        (100, "timestamp"),
        (250, "cached_input_tokens"),
        (400, "output_tokens"),
        (555, "reasoning_tokens"),
        (777, "timestamp"),
        (999, "input_tokens"),
    ]
    reasons = {r["index"]: r["reason"] for r in rejected}
    assert reasons[3] == "model is required"
    assert "add Z for UTC or an offset" in reasons[100]
    assert "input_tokens (1200)" in reasons[250]
    assert reasons[400] == "output_tokens must be zero or more, got -5"
    assert "reasoning_tokens (400) exceed output_tokens (350)" in reasons[555]
    assert (
        reasons[777]
        == 'timestamp "yesterday at noon" is not an ISO 8601 date-time such as 2026-11-20T10:00:00Z'
    )
    assert reasons[999] == "input_tokens must be a whole number, got 12.5"
    # 993 × $0.0003132
    assert november(client)["total"] == "0.3110076"


def test_ingest_event_that_is_not_an_object_is_rejected_alone(client: TestClient) -> None:
    result = post(client, [5, event(1)])  # type: ignore[list-item]
    assert result["accepted"] == 1
    assert [(r["index"], r["field"]) for r in result["rejected"]] == [(0, "")]
    assert result["rejected"][0]["reason"].startswith("each event must be a JSON object")


def test_ingest_values_the_database_cannot_store_are_rejected_alone(client: TestClient) -> None:
    result = post(
        client,
        [
            event(1, input_tokens=2**70, output_tokens=0, reasoning_tokens=0),  # past a 64-bit column
            event(2, cost="1e30"),
            event(3, user="a\u0000b"),  # PostgreSQL text cannot hold NUL
            event(4, tags={"note": "a\u0000b"}),  # fine inside JSON
        ],
    )
    assert result["accepted"] == 1
    assert [(r["index"], r["field"], r["reason"]) for r in result["rejected"]] == [
        (0, "input_tokens", "input_tokens must be at most 1,000,000,000,000, got 1180591620717411303424"),
        (1, "cost", 'cost must be at most 1,000,000,000, got "1e30"'),
        (2, "user", "user contains a NUL character (\\u0000); remove it"),
    ]


def test_ingest_known_event_is_priced_as_hand_computed(client: TestClient, engine: Engine) -> None:
    assert post(client, [EVENT])["accepted"] == 1
    report = november(client)
    assert report["total"] == EVENT_COST
    (row,) = report["rows"]
    assert (
        row["input_tokens"],
        row["cached_input_tokens"],
        row["output_tokens"],
        row["reasoning_tokens"],
    ) == (
        1200,
        1024,
        350,
        192,
    )
    with engine.connect() as conn:
        stored = conn.execute(select(usage)).one()._mapping
    assert (stored["key"], stored["source"], stored["basis"], stored["pricing_status"]) == (
        "api:evt-1",
        "api",
        "metered",
        "priced",
    )
    assert stored["cost_nanos"] == 313_200
    assert stored["price_source"].startswith("genai-prices")
    assert (stored["project"], stored["user"], stored["account"], stored["tags"]) == (
        "support-bot",
        "u_17",
        "",
        {"env": "prod"},
    )


def test_ingest_unknown_model_is_stored_unpriced_never_zero(client: TestClient, engine: Engine) -> None:
    post(client, [event(1), event(2, provider="acme", model="acme-llm-9000")])
    rows = {r["model"]: r for r in november(client, by="model")["rows"]}
    assert (rows["acme-llm-9000"]["cost"], rows["acme-llm-9000"]["unpriced_requests"]) == ("0.00", 1)
    assert (rows["gpt-4o-mini"]["cost"], rows["gpt-4o-mini"]["unpriced_requests"]) == (EVENT_COST, 0)
    with engine.connect() as conn:
        stored = conn.execute(select(usage).where(usage.c.model == "acme-llm-9000")).one()._mapping
    assert (stored["pricing_status"], stored["price_source"], stored["unpriced_requests"]) == (
        "unpriced",
        None,
        1,
    )


def test_ingest_uses_price_overrides_added_while_running(client: TestClient, engine: Engine) -> None:
    acme = {
        "provider": "acme",
        "model": "acme-x",
        "input_tokens": 1000,
        "cached_input_tokens": 0,
        "output_tokens": 100,
        "reasoning_tokens": 0,
    }
    post(client, [event(1, **acme)])
    with engine.begin() as conn:
        add_override(
            conn,
            provider="acme",
            model_pattern="acme-x",
            prices={"input": "1", "output": "2"},
            note="contract",
        )
    post(client, [event(2, **acme)])
    rows = november(client, by="model", granularity="day")["rows"]
    # before the override: unpriced; after: 1000 × $1/M + 100 × $2/M = 0.001 + 0.0002 = $0.0012
    assert [(r["period"], r["cost"], r["unpriced_requests"]) for r in rows] == [
        ("2026-11-02", "0.00", 1),
        ("2026-11-03", "0.0012", 0),
    ]


def test_ingest_provided_cost_is_kept_as_is(client: TestClient, engine: Engine) -> None:
    post(client, [event(1, cost=0.0123), event(2, cost="1.5", currency="eur")])
    report = november(client, by="currency")
    assert report["totals"] == {"EUR": "1.50", "USD": "0.0123"}
    with engine.connect() as conn:
        stored = {r.currency: r for r in conn.execute(select(usage))}
    assert (stored["USD"].pricing_status, stored["USD"].cost_nanos, stored["USD"].price_source) == (
        "provider",
        12_300_000,
        None,
    )
    assert stored["EUR"].cost_nanos == 1_500_000_000


def test_ingest_more_than_max_events_is_413(client: TestClient) -> None:
    response = client.post("/api/v1/events", json={"events": [event(i) for i in range(10_001)]})
    assert response.status_code == 413
    assert response.json()["detail"] == (
        "the batch has 10,001 events; the limit is 10,000 per request (SPENDLEDGER_MAX_BATCH_EVENTS): "
        "split it into batches of at most 10,000"
    )
    assert november(client)["total"] == "0.00"


def test_ingest_oversize_body_is_413(settings: Settings, token: str) -> None:
    small = settings.model_copy(update={"max_body_bytes": 2000})
    body = json.dumps({"events": [event(i) for i in range(10)]}).encode()
    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(small), headers=headers) as client:
        response = client.post("/api/v1/events", content=body)
        assert response.status_code == 413
        assert response.json()["detail"] == (
            f"the body is {len(body):,} bytes; the limit is 2,000 bytes (SPENDLEDGER_MAX_BODY_BYTES): "
            "send smaller batches"
        )
        chunked = client.post("/api/v1/events", content=iter([body[:1500], body[1500:]]))  # no Content-Length
        assert chunked.status_code == 413
        assert chunked.json()["detail"].startswith("the body is over 2,000 bytes; the limit is 2,000 bytes")
        assert post(client, [event(1)])["accepted"] == 1  # a small batch still goes in


def test_ingest_without_token_is_401_saying_how_to_get_one(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        response = client.post("/api/v1/events", json={"events": [event(1)]})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["detail"] == (
        "this endpoint needs an API token: send it as 'Authorization: Bearer sl_...'; "
        "create one with `spendledger tokens create NAME`"
    )


@pytest.mark.parametrize("kind", ["wrong", "revoked"])
def test_ingest_wrong_or_revoked_token_is_401(
    settings: Settings, engine: Engine, token: str, kind: str
) -> None:
    if kind == "revoked":
        with engine.begin() as conn:
            revoke_token(conn, name="test")
        sent = token
    else:
        sent = "sl_" + "x" * 43
    with TestClient(create_app(settings), headers={"Authorization": f"Bearer {sent}"}) as client:
        response = client.post("/api/v1/events", json={"events": [event(1)]})
    assert response.status_code == 401
    assert response.json()["detail"].startswith("the API token is not valid or was revoked")
    with engine.connect() as conn:
        assert conn.execute(select(usage)).first() is None


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b'{"events": [', "the body is not valid JSON"),
        (
            b'{"items": []}',
            'the body must be a JSON object with a list of events: {"events": [{"id": ...}, ...]}',
        ),
        (b"[1, 2]", 'the body must be a JSON object with a list of events: {"events": [{"id": ...}, ...]}'),
    ],
    ids=["truncated", "no-events-key", "array"],
)
def test_ingest_malformed_body_is_422(client: TestClient, body: bytes, detail: str) -> None:
    response = client.post("/api/v1/events", content=body)
    assert response.status_code == 422
    assert response.json()["detail"].startswith(detail)


def test_ingest_empty_batch_stores_nothing(client: TestClient) -> None:
    assert post(client, []) == {"accepted": 0, "duplicates": 0, "rejected_count": 0, "rejected": []}


def test_ingest_keeps_a_calls_latency_status_and_request_id(client: TestClient, engine: Engine) -> None:
    body = post(
        client,
        [
            event(1, latency_ms=812, status="error", request_id="req_abc123"),
            event(2),  # none of them: stored as NULL
            event(3, status="exploded"),  # not a status: rejected alone, naming the field
        ],
    )
    assert (body["accepted"], body["rejected_count"]) == (2, 1)
    assert body["rejected"][0]["index"] == 2
    assert body["rejected"][0]["field"] == "status"
    with engine.connect() as conn:
        rows = conn.execute(
            select(usage.c.key, usage.c.latency_ms, usage.c.status, usage.c.request_id).order_by(usage.c.key)
        ).all()
    assert [tuple(r) for r in rows] == [
        ("api:evt-1", 812, "error", "req_abc123"),
        ("api:evt-2", None, None, None),
    ]
