"""POST /v1/traces: hand-built OTLP exports (protobuf, JSON, gzip) → priced metered calls.

Prices are the catalogue's (genai-prices) in November 2026, per million tokens:
gpt-4o-mini (openai and azure alike) $0.15 input, $0.075 cached input, $0.60 output;
claude-3-5-haiku-latest $0.80 input, $0.08 cache read, $1.00 cache write, $4.00 output.
"""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from google.rpc.status_pb2 import Status
from httpx import Response
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1 import trace_pb2
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span
from sqlalchemy import Engine, select

from spendledger.config import Settings
from spendledger.ingest.otlp import AttributionKeys, decode_export, map_export
from spendledger.store.tables import usage
from spendledger.web import create_app

START = int(datetime(2026, 11, 20, 10, 0, tzinfo=UTC).timestamp()) * 10**9
PROTOBUF = {"Content-Type": "application/x-protobuf"}
JSON = {"Content-Type": "application/json"}

# canonical names (semconv ≥ 1.37); 1200 in (1024 cached) and 350 out of gpt-4o-mini:
# 176 × 0.15/1e6 + 1024 × 0.075/1e6 + 350 × 0.60/1e6 = 0.0000264 + 0.0000768 + 0.00021 = $0.0003132
CHAT = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o-mini",
    "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
    "gen_ai.usage.input_tokens": 1200,
    "gen_ai.usage.cache_read.input_tokens": 1024,
    "gen_ai.usage.output_tokens": 350,
    "gen_ai.response.id": "chatcmpl-abc",
    "openai.response.service_tier": "default",
}
CHAT_COST = "0.0003132"
# older names (gen_ai.system, prompt/completion tokens, OpenLLMetry's cache attribute) on
# Azure: 1000 in, 200 out of gpt-4o-mini = 1000 × 0.15/1e6 + 200 × 0.60/1e6 = $0.00027
OLD_CHAT = {
    "gen_ai.system": "az.ai.openai",
    "gen_ai.request.model": "gpt-4o-mini",
    "gen_ai.usage.prompt_tokens": 1000,
    "gen_ai.usage.completion_tokens": 200,
    "gen_ai.usage.cache_read_input_tokens": 0,
    "gen_ai.openai.response.service_tier": "default",
}
OLD_CHAT_COST = "0.00027"


def value(v: Any) -> AnyValue:
    if isinstance(v, bool):
        return AnyValue(bool_value=v)
    if isinstance(v, int):
        return AnyValue(int_value=v)
    if isinstance(v, float):
        return AnyValue(double_value=v)
    if isinstance(v, list):
        return AnyValue(array_value=ArrayValue(values=[value(x) for x in v]))
    return AnyValue(string_value=v)


def attrs(values: dict[str, Any]) -> list[KeyValue]:
    return [KeyValue(key=k, value=value(v)) for k, v in values.items()]


def span(n: int, attributes: dict[str, Any], *, ms: int = 812, error: bool = False, trace: int = 1) -> Span:
    """Span `n` of trace `trace`, starting n seconds after START and lasting `ms`."""
    start = START + n * 10**9
    return Span(
        trace_id=trace.to_bytes(16, "big"),
        span_id=(n + 1).to_bytes(8, "big"),
        name=f"span {n}",
        kind=Span.SPAN_KIND_CLIENT,
        start_time_unix_nano=start,
        end_time_unix_nano=start + ms * 1_000_000,
        attributes=attrs(attributes),
        status=trace_pb2.Status(
            code=trace_pb2.Status.STATUS_CODE_ERROR if error else trace_pb2.Status.STATUS_CODE_OK
        ),
    )


def export(*spans: Span, resource: dict[str, Any] | None = None) -> ExportTraceServiceRequest:
    res = {"service.name": "support-bot"} if resource is None else resource
    return ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                resource=Resource(attributes=attrs(res)),
                scope_spans=[ScopeSpans(spans=list(spans))],
            )
        ]
    )


def json_value(v: Any) -> dict[str, Any]:
    """An AnyValue in OTLP/JSON: 64-bit integers as decimal strings."""
    if isinstance(v, bool):
        return {"boolValue": v}
    if isinstance(v, int):
        return {"intValue": str(v)}
    if isinstance(v, float):
        return {"doubleValue": v}
    return {"stringValue": v}


def json_export(*spans: tuple[int, dict[str, Any]]) -> dict[str, Any]:
    """An OTLP/JSON export, written out as the spec shows it: hex ids, camelCase keys."""
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "web"}}]},
                "scopeSpans": [
                    {
                        "scope": {"name": "my.instrumentation", "version": "1.0"},
                        "spans": [
                            {
                                "traceId": "5b8efff798038103d269b633813fc60c",
                                "spanId": f"eee19b7ec3c1b1{n:02x}",
                                "parentSpanId": "",
                                "name": "chat gpt-4o-mini",
                                "kind": 3,
                                "startTimeUnixNano": str(START + n * 10**9),
                                "endTimeUnixNano": str(START + n * 10**9 + 500_000_000),
                                "attributes": [{"key": k, "value": json_value(v)} for k, v in a.items()],
                                "status": {"code": 0},
                                "unknownField": "ignored",
                            }
                            for n, a in spans
                        ],
                    }
                ],
            }
        ]
    }


CHAT_JSON = [{"key": k, "value": json_value(v)} for k, v in CHAT.items()]


def post_proto(client: TestClient, request: ExportTraceServiceRequest, **headers: str) -> Response:
    return client.post("/v1/traces", content=request.SerializeToString(), headers={**PROTOBUF, **headers})


def accepted(response: Response) -> ExportTraceServiceResponse:
    assert response.status_code == 200, response.content
    assert response.headers["content-type"] == "application/x-protobuf"
    return ExportTraceServiceResponse.FromString(response.content)


def november(client: TestClient, **params: str) -> dict[str, Any]:
    response = client.get("/api/v1/spend", params={"from": "2026-11-01", "to": "2026-11-30", **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def rows(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(usage).order_by(usage.c.start))]


def test_otlp_protobuf_export_stores_genai_spans_and_skips_the_rest(
    client: TestClient, engine: Engine
) -> None:
    request = export(
        span(0, {"http.request.method": "POST", "url.full": "https://example.com/chat"}),
        span(1, CHAT),
        span(2, {"db.system.name": "postgresql", "db.query.text": "SELECT 1"}),
        # an agent's run sums its calls' usage: counting it would count them twice
        span(3, {"gen_ai.operation.name": "invoke_agent", "gen_ai.usage.input_tokens": 1200}),
        span(4, {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search"}),
        span(5, {"gen_ai.system": "openai"}),  # neither a model nor usage: not a call
        span(6, OLD_CHAT, error=True),
    )

    response = accepted(post_proto(client, request))

    assert not response.HasField("partial_success")
    report = november(client, by="provider")
    # $0.0003132 + $0.00027
    assert report["total"] == "0.0005832"
    assert {r["provider"]: (r["requests"], r["cost"]) for r in report["rows"]} == {
        "openai": (1, CHAT_COST),
        "azure": (1, OLD_CHAT_COST),
    }
    new, old = rows(engine)
    assert (new["key"], new["model"], new["project"], new["latency_ms"], new["status"]) == (
        "otlp:" + "00" * 15 + "01" + "00" * 7 + "02",
        "gpt-4o-mini-2024-07-18",  # what answered, not what was asked for
        "support-bot",  # the resource's service.name
        812,
        "ok",
    )
    assert (new["request_id"], new["service_tier"], new["start"].replace(tzinfo=UTC)) == (
        "chatcmpl-abc",
        "default",
        datetime(2026, 11, 20, 10, 0, 1, tzinfo=UTC),
    )
    assert (new["input_tokens"], new["cached_input_tokens"], new["output_tokens"]) == (1200, 1024, 350)
    assert new["tags"] == {"otel.operation": "chat"}
    assert (old["provider"], old["model"], old["status"], old["input_tokens"], old["output_tokens"]) == (
        "azure",
        "gpt-4o-mini",
        "error",
        1000,
        200,
    )
    assert old["tags"] == {
        "otel.aliases": [
            "gen_ai.system",
            "gen_ai.usage.prompt_tokens",
            "gen_ai.usage.completion_tokens",
            "gen_ai.usage.cache_read_input_tokens",
            "gen_ai.openai.response.service_tier",
        ]
    }


def test_otlp_export_resent_is_stored_once(client: TestClient, engine: Engine) -> None:
    request = export(span(1, CHAT), span(2, CHAT))
    for _ in range(3):
        accepted(post_proto(client, request))
    assert november(client)["total"] == "0.0006264"  # 2 × $0.0003132
    assert len(rows(engine)) == 2


def test_otlp_json_export_reads_hex_ids_and_string_integers(client: TestClient, engine: Engine) -> None:
    body = json_export((1, CHAT), (2, {"http.route": "/chat"}))

    response = client.post("/v1/traces", json=body)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {}
    (row,) = rows(engine)
    assert (row["source"], row["key"]) == ("otlp", "otlp:5b8efff798038103d269b633813fc60ceee19b7ec3c1b101")
    assert (row["project"], row["latency_ms"], row["input_tokens"], row["tags"]) == (
        "web",
        500,
        1200,
        {"otel.scope": "my.instrumentation", "otel.operation": "chat"},
    )
    assert november(client)["total"] == CHAT_COST
    # the same export as protobuf is the same span: stored once
    proto = decode_export(json.dumps(body).encode(), json_body=True)
    assert proto.resource_spans[0].scope_spans[0].spans[0].span_id.hex() == "eee19b7ec3c1b101"
    accepted(post_proto(client, proto))
    assert len(rows(engine)) == 1


@pytest.mark.parametrize("encoding", ["protobuf", "json"])
def test_otlp_gzip_export_is_read(client: TestClient, engine: Engine, encoding: str) -> None:
    if encoding == "protobuf":
        body, headers = export(span(1, CHAT)).SerializeToString(), PROTOBUF
    else:
        body, headers = json.dumps(json_export((1, CHAT))).encode(), JSON
    response = client.post(
        "/v1/traces", content=gzip.compress(body), headers={**headers, "Content-Encoding": "gzip"}
    )
    assert response.status_code == 200, response.content
    assert november(client)["total"] == CHAT_COST


def test_otlp_rejected_genai_spans_are_a_partial_success(client: TestClient, engine: Engine) -> None:
    no_model = {k: v for k, v in CHAT.items() if "model" not in k}
    request = export(
        span(1, CHAT),
        span(2, no_model),
        span(3, {**CHAT, "gen_ai.usage.output_tokens": -5}),
        span(4, {**CHAT, "gen_ai.usage.input_tokens": "lots"}),
        span(5, {**CHAT, "user.id": "u" * 201}),  # longer than the ledger's column
        span(6, {"http.route": "/"}),
    )

    partial = accepted(post_proto(client, request)).partial_success

    assert partial.rejected_spans == 4
    assert partial.error_message == (
        "4 of 5 GenAI spans rejected: "
        "span 0000000000000003 'span 2': no model: set gen_ai.response.model or gen_ai.request.model; "
        "span 0000000000000004 'span 3': gen_ai.usage.output_tokens must be zero or more, got -5; "
        "span 0000000000000005 'span 4': gen_ai.usage.input_tokens must be a whole number, got lots; "
        "span 0000000000000006 'span 5': user.id is longer than 200 characters"
    )
    assert november(client)["total"] == CHAT_COST  # the good span is stored
    # the same in JSON: int64 as a string, as OTLP/JSON writes it
    body = json_export((1, CHAT), (2, no_model))
    assert client.post("/v1/traces", json=body).json() == {
        "partialSuccess": {
            "rejectedSpans": "1",
            "errorMessage": "1 of 2 GenAI spans rejected: span eee19b7ec3c1b102 'chat gpt-4o-mini': "
            "no model: set gen_ai.response.model or gen_ai.request.model",
        }
    }


def test_otlp_caches_counted_apart_from_input_are_added(client: TestClient, engine: Engine) -> None:
    # Anthropic's API counts input without the cache; an instrumentation passing that on
    # gives cache counts above the input: 10 uncached + 5000 read + 1000 written = 6010 in.
    # 10 × 0.80/1e6 + 5000 × 0.08/1e6 + 1000 × 1.00/1e6 + 100 × 4.00/1e6
    # = 0.000008 + 0.0004 + 0.001 + 0.0004 = $0.001808
    claude = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "anthropic",
        "gen_ai.request.model": "claude-3-5-haiku-latest",
        "gen_ai.usage.input_tokens": 10,
        "gen_ai.usage.cache_read.input_tokens": 5000,
        "gen_ai.usage.cache_creation.input_tokens": 1000,
        "gen_ai.usage.output_tokens": 100,
        "gen_ai.usage.cost": 0.0021,  # the client's own estimate: a tag, not the price
    }
    accepted(post_proto(client, export(span(1, claude))))
    (row,) = rows(engine)
    assert (row["input_tokens"], row["cached_input_tokens"], row["cache_write_5m_tokens"]) == (
        6010,
        5000,
        1000,
    )
    assert row["tags"] == {
        "otel.operation": "chat",
        "otel.reported_cost": "0.0021",
        "otel.disjoint": ["input"],
        "provider_model": "claude-3-5-haiku-latest",  # the span's id; the model is claude-3-5-haiku
    }
    assert row["model"] == "claude-3-5-haiku"
    assert november(client)["total"] == "0.001808"


def test_otlp_reasoning_counted_apart_from_output_is_added(client: TestClient, engine: Engine) -> None:
    # Gemini counts thoughts apart from the answer: 50 out + 200 thinking = 250 out.
    # gemini-2.5-flash at $0.30 input, $2.50 output: 100 × 0.30/1e6 + 250 × 2.50/1e6 = $0.000655
    gemini = {
        "gen_ai.operation.name": "generate_content",
        "gen_ai.system": "gcp.gemini",
        "gen_ai.request.model": "gemini-2.5-flash",
        "gen_ai.usage.input_tokens": 100,
        "gen_ai.usage.output_tokens": 50,
        "gen_ai.usage.reasoning_tokens": 200,
    }
    accepted(post_proto(client, export(span(1, gemini))))
    (row,) = rows(engine)
    assert (row["provider"], row["output_tokens"], row["reasoning_tokens"]) == ("google", 250, 200)
    assert row["tags"]["otel.disjoint"] == ["output"]
    assert november(client)["total"] == "0.000655"


def test_otlp_counts_sent_as_doubles_or_strings_are_read(client: TestClient) -> None:
    # JavaScript's exporter sends numbers it cannot tell from floats as doubles
    tolerant = {**CHAT, "gen_ai.usage.input_tokens": "1200", "gen_ai.usage.output_tokens": 350.0}
    accepted(post_proto(client, export(span(1, tolerant))))
    assert november(client)["total"] == CHAT_COST
    partial = accepted(post_proto(client, export(span(2, {**CHAT, "gen_ai.usage.output_tokens": 2.5}))))
    assert partial.partial_success.error_message.endswith(
        "gen_ai.usage.output_tokens must be a whole number, got 2.5"
    )


def test_otlp_call_without_usage_is_a_request_with_no_tokens(client: TestClient, engine: Engine) -> None:
    failed = {k: v for k, v in CHAT.items() if "usage" not in k and "response" not in k}
    accepted(post_proto(client, export(span(1, {**failed, "error.type": "APIConnectionError"}, ms=30_000))))
    (row,) = rows(engine)
    assert (row["model"], row["requests"], row["input_tokens"], row["status"], row["latency_ms"]) == (
        "gpt-4o-mini",
        1,
        0,
        "error",
        30_000,
    )
    assert row["tags"] == {"otel.operation": "chat", "otel.no_usage": True}


def test_otlp_user_project_and_feature_come_from_span_then_resource(
    settings: Settings, token: str, engine: Engine
) -> None:
    configured = settings.model_copy(
        update={"otlp_user_attributes": ("customer.id", "user.id"), "otlp_feature_attributes": ("feature",)}
    )
    resource = {"service.name": "billing-api", "feature": "invoices", "user.id": "resource-user"}
    request = export(
        span(1, {**CHAT, "user.id": 17, "customer.id": "c_9"}),  # customer.id is listed first
        span(2, {**CHAT, "feature": "refunds", "spendledger.project": "payments"}),
        span(3, CHAT),
        resource=resource,
    )
    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(configured), headers=headers) as client:
        accepted(post_proto(client, request))
        accepted(
            post_proto(client, export(span(4, CHAT), resource={"service.name": "unknown_service:python"}))
        )
    assert [(r["user"], r["project"], r["feature"]) for r in rows(engine)] == [
        ("c_9", "billing-api", "invoices"),
        ("resource-user", "payments", "refunds"),
        ("resource-user", "billing-api", "invoices"),
        ("", "", ""),  # the SDK's default service name names no project
    ]


def test_otlp_settings_read_attribute_lists_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for kind in ("USER", "PROJECT", "FEATURE"):
        monkeypatch.delenv(f"SPENDLEDGER_OTLP_{kind}_ATTRIBUTES", raising=False)
    defaults = Settings()
    assert (
        defaults.otlp_user_attributes,
        defaults.otlp_project_attributes,
        defaults.otlp_feature_attributes,
    ) == (AttributionKeys().user, AttributionKeys().project, AttributionKeys().feature)
    monkeypatch.setenv("SPENDLEDGER_OTLP_USER_ATTRIBUTES", "customer.id, enduser.id")
    monkeypatch.setenv("SPENDLEDGER_OTLP_PROJECT_ATTRIBUTES", "")
    settings = Settings()
    assert (settings.otlp_user_attributes, settings.otlp_project_attributes) == (
        ("customer.id", "enduser.id"),
        (),
    )
    assert settings.otlp_feature_attributes == AttributionKeys().feature


def test_otlp_without_a_valid_token_is_401_in_the_request_encoding(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        as_json = client.post("/v1/traces", json=json_export((1, CHAT)))
        as_proto = post_proto(client, export(span(1, CHAT)))
        wrong = post_proto(client, export(span(1, CHAT)), Authorization="Bearer sl_" + "x" * 43)
    assert (as_json.status_code, as_proto.status_code, wrong.status_code) == (401, 401, 401)
    assert as_json.headers["www-authenticate"] == "Bearer"
    assert as_json.json() == {
        "code": 16,
        "message": "this endpoint needs an API token: send it as 'Authorization: Bearer sl_...'; "
        "create one with `spendledger tokens create NAME`",
    }
    status = Status.FromString(as_proto.content)  # a google.rpc.Status, as OTLP/HTTP answers errors
    assert (status.code, status.message) == (16, as_json.json()["message"])
    assert Status.FromString(wrong.content).message.startswith("the API token is not valid or was revoked")


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        (
            {"Content-Type": "text/plain"},
            "Content-Type 'text/plain' is not OTLP/HTTP: send application/x-protobuf",
        ),
        ({}, "Content-Type '(none)' is not OTLP/HTTP"),
        ({**PROTOBUF, "Content-Encoding": "br"}, "Content-Encoding 'br' is not supported: send gzip"),
    ],
    ids=["text", "none", "brotli"],
)
def test_otlp_other_content_types_are_415(client: TestClient, headers: dict[str, str], message: str) -> None:
    response = client.post("/v1/traces", content=b"\x0a\x00", headers=headers)
    assert response.status_code == 415
    body = response.json() if "json" in response.headers["content-type"] else None
    text = body["message"] if body else Status.FromString(response.content).message
    assert text.startswith(message)


@pytest.mark.parametrize(
    ("body", "headers", "message"),
    [
        (b"this is not protobuf", PROTOBUF, "the body is not a protobuf ExportTraceServiceRequest"),
        (b'{"resourceSpans": [', JSON, "the body is not valid JSON"),
        (b"[1, 2]", JSON, 'the body must be a JSON object: {"resourceSpans": [...]}'),
        (
            b'{"resourceSpans": [{"scopeSpans": 5}]}',
            JSON,
            "the body is not an OTLP/JSON ExportTraceServiceRequest",
        ),
        (
            json.dumps(
                {
                    "resourceSpans": [
                        {"scopeSpans": [{"spans": [{"traceId": "not-hex!", "attributes": CHAT_JSON}]}]}
                    ]
                }
            ).encode(),
            JSON,
            "traceId 'not-hex!' is not hex: OTLP/JSON sends trace and span ids as hex strings",
        ),
        (b"not gzip at all", {**PROTOBUF, "Content-Encoding": "gzip"}, "the body is not valid gzip"),
        (
            gzip.compress(b"x" * 1000)[:-20],
            {**PROTOBUF, "Content-Encoding": "gzip"},
            "the gzip body is truncated",
        ),
    ],
    ids=["protobuf", "json", "json-array", "json-shape", "json-id", "gzip", "gzip-truncated"],
)
def test_otlp_undecodable_body_is_400(
    client: TestClient, engine: Engine, body: bytes, headers: dict[str, str], message: str
) -> None:
    response = client.post("/v1/traces", content=body, headers=headers)
    assert response.status_code == 400
    text = response.json()["message"] if headers is JSON else Status.FromString(response.content).message
    assert text.startswith(message), text
    assert rows(engine) == []


def test_otlp_oversize_and_gzip_bomb_are_413(settings: Settings, token: str) -> None:
    small = settings.model_copy(update={"otlp_max_body_bytes": 1_000_000})
    bomb = gzip.compress(b"\x00" * 50_000_000, compresslevel=9)  # ~50 kB that would become 50 MB
    assert len(bomb) < 100_000
    big = export(*(span(n, {**CHAT, "note": "x" * 1000}) for n in range(1100))).SerializeToString()
    with TestClient(create_app(small), headers={"Authorization": f"Bearer {token}"}) as client:
        refused = client.post("/v1/traces", content=bomb, headers={**PROTOBUF, "Content-Encoding": "gzip"})
        too_big = client.post("/v1/traces", content=big, headers=PROTOBUF)
        ok = post_proto(client, export(span(1, CHAT)))
    assert (refused.status_code, too_big.status_code, ok.status_code) == (413, 413, 200)
    assert Status.FromString(refused.content).message == (
        "decompressed, the body is over the limit; the limit is 1,000,000 bytes "
        "(SPENDLEDGER_OTLP_MAX_BODY_BYTES): export smaller batches "
        "(BatchSpanProcessor's max_export_batch_size)"
    )
    assert Status.FromString(too_big.content).message.startswith(f"the body is {len(big):,} bytes")


def test_otlp_mapping_skips_non_genai_spans_without_decoding_them() -> None:
    """A span without a GenAI key is passed over on its keys alone: even a value that
    would be rejected in a GenAI span is never read."""
    request = export(span(1, {"gen_ai.usage.input_tokens": "never read", "http.route": "/"}), span(2, CHAT))
    mapped = map_export(request, keys=AttributionKeys())
    assert (mapped.spans, mapped.genai_spans, [i for i, _ in mapped.events]) == (2, 1, [1])
