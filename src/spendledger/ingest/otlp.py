"""OTLP trace exports → metered events: the GenAI spans of an ExportTraceServiceRequest.

The receiver (web/api/otlp.py) decodes a body with `decode_export`, `map_export` turns
its GenAI spans into events (`event.Event`, the ingest API's fields), and
`ingest_events` prices and stores them: spans, the JSON API and the SDK share one price
table. The attribute names and their older spellings are standards.md's table.

Invariants:
- a span is a GenAI call when it names a GenAI operation, system or provider and carries
  a model or token usage; agent and tool operations are not calls (a framework's sum of
  its child calls' usage would count them twice). Other spans are skipped after a look
  at their attribute keys alone, before anything is decoded. A call without usage (it
  failed before answering, or streamed without usage) is stored with no tokens and
  tagged `otel.no_usage`: it still counts as a request, with its latency and status;
- tokens follow the convention, which is also the ledger's contract: input counts cached
  reads and cache writes, output counts reasoning. A span whose subsets exceed their
  whole counted them apart (Anthropic's API and Gemini's thoughts do): they are added,
  and the span's tags say so (`otel.disjoint`), as they name the older spellings it used
  (`otel.aliases`);
- a span whose `server.address` (and `server.port`) is a self-hosted server's
  (local_servers.py: a loopback host at Ollama's, LM Studio's, vLLM's or llama.cpp's
  default port, or an address of `SPENDLEDGER_LOCAL_SERVERS`) is that server's call,
  whatever provider its OpenAI-compatible client reported, which the tags keep
  (`otel.reported_provider`): it is priced as self-hosted, never from the catalogue;
- the record's key is `otlp:<trace id><span id>` in hex, so a re-sent export is stored once;
- a GenAI span that cannot become a record is rejected with its reason (the export's
  partial success), and one bad span never sinks the others.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from spendledger.errors import SpendledgerError
from spendledger.ingest.event import Event
from spendledger.ingest.model import MAX_COUNT  # as the ingest API: every sum stays inside 64 bits
from spendledger.ingest.records import IngestResult, Rejection, ingest_events
from spendledger.local_servers import Servers, server_provider, split_address
from spendledger.model_names import canonical_provider
from spendledger.pricing import Pricer
from spendledger.records import timestamp_problem
from spendledger.store import Connection
from spendledger.store.tables import DIM

SOURCE = "otlp"  # records' source, and their keys' prefix: otlp:<trace id><span id>
MARKERS = frozenset({"gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.system"})
NOT_CALLS = frozenset({"invoke_agent", "create_agent", "execute_tool", "invoke_workflow"})

# Each ledger field's attributes, the canonical spelling first (standards.md).
PROVIDER = ("gen_ai.provider.name", "gen_ai.system")
MODEL = ("gen_ai.response.model", "gen_ai.request.model")  # what answered, else what was asked for
INPUT = ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens")
OUTPUT = ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens")
CACHE_READ = (
    "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.usage.cache_read_input_tokens",
    "gen_ai.usage.input_cached_tokens",
    "gen_ai.usage.cached_tokens",
    "gen_ai.usage.prompt_tokens_details.cached_tokens",
)
CACHE_WRITE = (
    "gen_ai.usage.cache_creation.input_tokens",
    "gen_ai.usage.cache_creation_input_tokens",
    "gen_ai.usage.prompt_tokens_details.cache_creation_tokens",
)
REASONING = ("gen_ai.usage.reasoning.output_tokens", "gen_ai.usage.reasoning_tokens")
SERVICE_TIER = ("openai.response.service_tier", "gen_ai.openai.response.service_tier")
SERVER_ADDRESS, SERVER_PORT = "server.address", "server.port"
USAGE = frozenset(INPUT + OUTPUT)

STATUS_CODE_ERROR = 2  # opentelemetry.proto.trace.v1.Status.StatusCode
MAX_LATENCY_MS = 2**31 - 1
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
TAG_TEXT = 200  # the longest text a span's tags keep of a name or figure: tags stay small
WHOLE_NUMBER = re.compile(r"\s*-?[0-9]+\s*")  # a count sent as a string ("1200"), ASCII digits only


class ExportError(SpendledgerError, ValueError):
    """A body that is not an OTLP trace export (the receiver answers 400)."""


class SpanError(SpendledgerError, ValueError):
    """A GenAI span that cannot become a record; `field` names the attribute at fault."""

    field: str  # always set here

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message, field=field_name)


@dataclass(frozen=True, slots=True)
class AttributionKeys:
    """The span or resource attributes naming a call's user, project, feature and provider
    account, in order."""

    user: tuple[str, ...] = ("user.id", "enduser.id", "gen_ai.user.id")
    project: tuple[str, ...] = ("spendledger.project", "project", "service.name")
    feature: tuple[str, ...] = ("spendledger.feature", "feature")
    account: tuple[str, ...] = ("spendledger.account",)


@dataclass(slots=True)
class MappedExport:
    spans: int = 0  # every span of the export
    events: list[tuple[int, Event]] = field(default_factory=list)  # (span index, event)
    rejected: list[Rejection] = field(default_factory=list)
    labels: dict[int, str] = field(default_factory=dict)  # GenAI span index → its name in messages

    @property
    def genai_spans(self) -> int:
        return len(self.events) + len(self.rejected)


def decode_export(body: bytes, *, json_body: bool) -> Any:
    """An ExportTraceServiceRequest from OTLP/HTTP protobuf or OTLP/JSON; raises ExportError."""
    if not json_body:
        try:
            return ExportTraceServiceRequest.FromString(body)
        except DecodeError as exc:
            raise ExportError(f"the body is not a protobuf ExportTraceServiceRequest ({exc})") from None
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise ExportError(f"the body is not valid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise ExportError('the body must be a JSON object: {"resourceSpans": [...]}')
    _genai_only(doc)
    try:
        return json_format.ParseDict(doc, ExportTraceServiceRequest(), ignore_unknown_fields=True)
    except (json_format.ParseError, ValueError, TypeError, RecursionError) as exc:
        raise ExportError(f"the body is not an OTLP/JSON ExportTraceServiceRequest ({exc})") from None


def _genai_only(doc: dict[str, Any]) -> None:
    """OTLP/JSON → proto3 JSON, GenAI spans only, in place: a span without a GenAI key is
    emptied (its place kept, so spans keep their index) before protobuf's slow JSON
    parser reads it, and the others' ids, hex in OTLP/JSON where proto3 JSON expects
    base64, are converted."""
    for resource_spans in _items(doc, "resourceSpans"):
        for scope_spans in _items(resource_spans, "scopeSpans"):
            spans = scope_spans.get("spans") if isinstance(scope_spans, dict) else None
            if not isinstance(spans, list):
                continue
            for i, span in enumerate(spans):
                if not any(
                    isinstance(kv, dict) and kv.get("key") in MARKERS for kv in _items(span, "attributes")
                ):
                    spans[i] = {}
                    continue
                _to_base64(span, "traceId", "spanId", "parentSpanId")
                for link in _items(span, "links"):
                    _to_base64(link, "traceId", "spanId")


def _items(obj: Any, key: str) -> Iterator[Any]:
    value = obj.get(key) if isinstance(obj, dict) else None
    return iter(value) if isinstance(value, list) else iter(())


def _to_base64(obj: Any, *keys: str) -> None:
    if not isinstance(obj, dict):
        return
    for key in keys:
        value = obj.get(key)
        if isinstance(value, str) and value:
            try:
                obj[key] = base64.b64encode(bytes.fromhex(value)).decode()
            except ValueError:
                raise ExportError(
                    f"{key} {value[:40]!r} is not hex: OTLP/JSON sends trace and span ids as hex strings"
                ) from None


def map_export(request: Any, *, keys: AttributionKeys, servers: Servers | None = None) -> MappedExport:
    """The GenAI spans of an export as (span index, event) pairs and rejections; `servers`
    are the configured self-hosted servers' addresses (local_servers.py)."""
    mapped = MappedExport()
    index = -1
    for resource_spans in request.resource_spans:
        resource: dict[str, Any] | None = None
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                index += 1
                attributes = span.attributes
                if not any(kv.key in MARKERS for kv in attributes):  # most spans: not GenAI
                    continue
                values = {kv.key: kv.value for kv in attributes}  # AnyValues, decoded as read
                if not _is_call(values):
                    continue
                if resource is None:
                    resource = {kv.key: kv.value for kv in resource_spans.resource.attributes}
                mapped.labels[index] = f"span {span.span_id.hex() or '?'} {span.name[:60]!r}"
                try:
                    event = _span_event(span, values, resource, scope_spans.scope.name, keys, servers or {})
                except SpanError as exc:
                    mapped.rejected.append(Rejection(index, exc.field, str(exc)))
                else:
                    mapped.events.append((index, event))
    mapped.spans = index + 1
    return mapped


def _is_call(values: dict[str, Any]) -> bool:
    operation = values.get("gen_ai.operation.name")
    if operation is not None and operation.string_value in NOT_CALLS:
        return False
    return any(name in values for name in MODEL) or not USAGE.isdisjoint(values)


def _span_event(
    span: Any,
    values: dict[str, Any],
    resource: dict[str, Any],
    scope: str,
    keys: AttributionKeys,
    servers: Servers,
) -> Event:
    if len(span.trace_id) != 16 or len(span.span_id) != 8:
        raise SpanError("spanId", "the span has no valid trace and span id (16 and 8 bytes)")
    start = span.start_time_unix_nano
    if not start:
        raise SpanError("startTimeUnixNano", "the span has no start time (startTimeUnixNano)")
    timestamp = EPOCH + timedelta(microseconds=start // 1000)  # uint64 nanoseconds: before 2555
    if problem := timestamp_problem("startTimeUnixNano", timestamp):
        raise SpanError("startTimeUnixNano", problem)
    aliases: list[str] = []
    tags: dict[str, Any] = {"otel.scope": scope[:TAG_TEXT]} if scope else {}

    found = _first(values, PROVIDER, aliases)
    provider_raw = _text(found[1]).strip().lower() if found else ""
    provider = _column(PROVIDER[0], canonical_provider(provider_raw), DIM)
    if (local := _local_server(values, servers)) and local != provider:
        if provider:
            tags["otel.reported_provider"] = provider[:TAG_TEXT]
        provider = _column(SERVER_ADDRESS, local, DIM)
    found = _first(values, MODEL)
    if found is None or not _text(found[1]).strip():
        raise SpanError(MODEL[0], "no model: set gen_ai.response.model or gen_ai.request.model")
    model = _column(found[0], _text(found[1]).strip(), DIM)

    input_tokens = _count(values, INPUT, aliases)
    output_tokens = _count(values, OUTPUT, aliases)
    cached = _count(values, CACHE_READ, aliases)
    cache_write = _count(values, CACHE_WRITE, aliases)
    reasoning = _count(values, REASONING, aliases)
    disjoint: list[str] = []
    if cached + cache_write > input_tokens:  # input counted without the cache: add it
        input_tokens += cached + cache_write
        disjoint.append("input")
    if reasoning > output_tokens:  # output counted without reasoning: add it
        output_tokens += reasoning
        disjoint.append("output")
    if max(input_tokens, output_tokens) > MAX_COUNT:
        raise SpanError(INPUT[0], f"token counts must be at most {MAX_COUNT:,}")

    end = span.end_time_unix_nano
    latency = (end - start) // 1_000_000 if end >= start else None
    status = "error" if span.status.code == STATUS_CODE_ERROR or "error.type" in values else "ok"
    found = _first(values, ("gen_ai.response.id",))
    request_id = _column(found[0], _text(found[1]), DIM) if found else None
    found = _first(values, SERVICE_TIER, aliases)
    service_tier = _column(found[0], _text(found[1]), 32) if found else None

    operation = values.get("gen_ai.operation.name")
    if operation is not None:
        tags["otel.operation"] = operation.string_value[:TAG_TEXT]
    cost = values.get("gen_ai.usage.cost")  # a client's own estimate: kept apart from the price
    if cost is not None and (reported := _decimal_text(cost)) is not None:
        tags["otel.reported_cost"] = reported
    if aliases:
        tags["otel.aliases"] = aliases
    if disjoint:
        tags["otel.disjoint"] = disjoint
    if USAGE.isdisjoint(values):  # a call without usage (a failed call, a stream without it)
        tags["otel.no_usage"] = True
    return Event(
        id=span.trace_id.hex() + span.span_id.hex(),
        timestamp=timestamp,
        provider=provider,
        model=model,
        user=_attribute(keys.user, values, resource),
        project=_attribute(keys.project, values, resource),
        feature=_attribute(keys.feature, values, resource),
        account=_attribute(keys.account, values, resource),
        tags=tags or None,
        input_tokens=input_tokens,
        cached_input_tokens=cached,
        cache_write_5m_tokens=cache_write,  # the convention has no TTL; 5 minutes is Anthropic's default
        output_tokens=output_tokens,
        reasoning_tokens=reasoning,
        service_tier=service_tier,
        latency_ms=latency if latency is not None and latency <= MAX_LATENCY_MS else None,
        status=status,
        request_id=request_id,
    )


def _local_server(values: dict[str, Any], servers: Servers) -> str | None:
    """The ledger's name of the self-hosted server the span's `server.address` (and
    `server.port`) names, or None; an address it cannot read is no server's."""
    address = values.get(SERVER_ADDRESS)
    if address is None:
        return None
    port_value = values.get(SERVER_PORT)
    port_text = _text(port_value).strip() if port_value is not None else ""
    port = int(port_text) if port_text.isascii() and port_text.isdigit() and len(port_text) <= 5 else None
    host, port = split_address(_text(address), port)
    found = server_provider(host, port, servers)
    return canonical_provider(found) if found else None


def _first(values: dict[str, Any], names: tuple[str, ...], aliases: list[str] | None = None) -> Any:
    """(name, AnyValue) of the first of `names` the span carries, or None; notes an alias used."""
    for name in names:
        value = values.get(name)
        if value is not None:
            if aliases is not None and name != names[0]:
                aliases.append(name)
            return name, value
    return None


def _count(values: dict[str, Any], names: tuple[str, ...], aliases: list[str]) -> int:
    found = _first(values, names, aliases)
    if found is None:
        return 0
    name, value = found
    kind = value.WhichOneof("value")
    number: int | None = None
    if kind == "int_value":
        number = value.int_value
    elif kind == "double_value" and value.double_value.is_integer():
        number = int(value.double_value)
    elif kind == "string_value" and WHOLE_NUMBER.fullmatch(value.string_value):
        digits = value.string_value.strip()
        # past 20 digits no count is that large (or small): the figure need not be read
        number = int(digits) if len(digits) <= 20 else (-1 if digits.startswith("-") else MAX_COUNT + 1)
    if number is None:
        raise SpanError(name, f"{name} must be a whole number, got {_short(value)}")
    if number < 0:
        raise SpanError(name, f"{name} must be zero or more, got {_short(value)}")
    if number > MAX_COUNT:
        raise SpanError(name, f"{name} must be at most {MAX_COUNT:,}, got {_short(value)}")
    return number


def _text(value: Any) -> str:
    """A scalar AnyValue as text ('' for arrays, lists and bytes)."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return str(value.string_value)
    if kind == "int_value":
        return str(value.int_value)
    if kind == "double_value":
        return repr(value.double_value)
    if kind == "bool_value":
        return "true" if value.bool_value else "false"
    return ""


def _decimal_text(value: Any) -> str | None:
    """A number's text, kept as sent; None for anything else, or past TAG_TEXT characters."""
    text = _text(value)
    if len(text) > TAG_TEXT:
        return None
    try:
        return str(Decimal(text))
    except InvalidOperation:
        return None


def _short(value: Any) -> str:
    text = _text(value) or value.WhichOneof("value") or "nothing"
    return text if len(text) <= 60 else text[:57] + "..."


def _column(name: str, text: str, limit: int) -> str:
    """`text` when a column of `limit` characters can store it; else SpanError."""
    if len(text) > limit:
        raise SpanError(name, f"{name} is longer than {limit} characters")
    if "\x00" in text:
        raise SpanError(name, f"{name} contains a NUL character; remove it")
    return text


def _attribute(names: tuple[str, ...], span: dict[str, Any], resource: dict[str, Any]) -> str | None:
    """The first of `names` on the span, else on its resource (an unset service.name skipped)."""
    for values in (span, resource):
        for name in names:
            value = values.get(name)
            if value is None:
                continue
            text = _text(value).strip()
            if text and not (name == "service.name" and text.startswith("unknown_service")):
                return _column(name, text, DIM)
    return None


def ingest_export(conn: Connection, mapped: MappedExport, *, pricer: Pricer, tz: ZoneInfo) -> IngestResult:
    """Price and store a mapped export's events; call inside a transaction (`engine.begin()`)."""
    return ingest_events(conn, mapped.events, pricer=pricer, tz=tz, rejected=mapped.rejected, source=SOURCE)


def partial_success(mapped: MappedExport, result: IngestResult) -> tuple[int, str]:
    """(rejected spans, error message) of an export: the first few rejections, each named."""
    rejected = result.rejected
    if not rejected:
        return 0, ""
    shown = "; ".join(f"{mapped.labels.get(r.index, f'span #{r.index}')}: {r.reason}" for r in rejected[:5])
    more = f"; and {len(rejected) - 5} more" if len(rejected) > 5 else ""
    return len(rejected), f"{len(rejected)} of {mapped.genai_spans} GenAI spans rejected: {shown}{more}"


def encode_response(rejected: int, message: str, *, json_body: bool) -> bytes:
    """An ExportTraceServiceResponse: empty on success, a partial success otherwise."""
    response = ExportTraceServiceResponse()
    if rejected:
        response.partial_success.rejected_spans = rejected
        response.partial_success.error_message = message
    if json_body:
        return json.dumps(json_format.MessageToDict(response)).encode()
    data: bytes = response.SerializeToString()
    return data
