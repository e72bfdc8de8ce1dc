"""Hand-built OTLP exports for tests: GenAI spans as an instrumentation sends them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

START = int(datetime(2026, 11, 20, 10, 0, tzinfo=UTC).timestamp()) * 10**9  # the spans' day


def value(v: Any) -> AnyValue:
    if isinstance(v, bool):
        return AnyValue(bool_value=v)
    if isinstance(v, int):
        return AnyValue(int_value=v)
    return AnyValue(string_value=str(v))


def span(n: int, attributes: dict[str, Any], *, ms: int = 812) -> Span:
    """Span `n` of one trace, starting n seconds after START and lasting `ms`."""
    start = START + n * 10**9
    return Span(
        trace_id=(1).to_bytes(16, "big"),
        span_id=(n + 1).to_bytes(8, "big"),
        name=f"span {n}",
        kind=Span.SPAN_KIND_CLIENT,
        start_time_unix_nano=start,
        end_time_unix_nano=start + ms * 1_000_000,
        attributes=[KeyValue(key=k, value=value(v)) for k, v in attributes.items()],
    )


def export(*spans: Span) -> ExportTraceServiceRequest:
    resource = Resource(attributes=[KeyValue(key="service.name", value=value("support-bot"))])
    return ExportTraceServiceRequest(
        resource_spans=[ResourceSpans(resource=resource, scope_spans=[ScopeSpans(spans=list(spans))])]
    )


def post_proto(client: TestClient, request: ExportTraceServiceRequest) -> Response:
    headers = {"Content-Type": "application/x-protobuf"}
    return client.post("/v1/traces", content=request.SerializeToString(), headers=headers)


def accepted(response: Response) -> ExportTraceServiceResponse:
    assert response.status_code == 200, response.content
    return ExportTraceServiceResponse.FromString(response.content)
