"""POST /v1/traces: the OTLP/HTTP trace receiver, for apps instrumented with OpenTelemetry.

OTLP/HTTP's rules (standards.md): protobuf or JSON, answered in the type received, gzip
accepted; 200 with an empty response, or with a partial success naming the GenAI spans
rejected (the exporter must not retry those); errors as a google.rpc.Status in the
request's encoding. The body is capped as received and again as decompressed, so a
gzip bomb stops at the cap. The token is the ingest API's; spans become events in
spendledger.ingest.otlp and are priced and stored by spendledger.ingest.records.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from typing import NoReturn

from fastapi import APIRouter, BackgroundTasks, HTTPException, Request, Response, status
from fastapi.security import HTTPAuthorizationCredentials
from starlette.concurrency import run_in_threadpool

from spendledger.config import Settings
from spendledger.errors import SpendledgerError
from spendledger.ingest.batch import gc_paused
from spendledger.ingest.otlp import (
    AttributionKeys,
    ExportError,
    decode_export,
    encode_response,
    ingest_export,
    map_export,
    partial_success,
)
from spendledger.ingest.records import PricerCache
from spendledger.store import Engine
from spendledger.web.api.intake import after_new_data, read_body
from spendledger.web.deps import EngineDep, SettingsDep, current_token

router = APIRouter(tags=["ingest"])

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
MEDIA_TYPES = {PROTOBUF: False, "application/protobuf": False, JSON: True}  # → is JSON
# google.rpc.Code of each HTTP status the receiver answers with
RPC_CODES = {400: 3, 401: 16, 413: 8, 415: 3}  # INVALID_ARGUMENT, UNAUTHENTICATED, RESOURCE_EXHAUSTED


@dataclass(frozen=True, slots=True)
class Stored:
    accepted: int
    rejected: int
    message: str


class OtlpError(SpendledgerError):
    """An export refused whole: answered with `status_code` and a google.rpc.Status."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code


@router.post(
    "/v1/traces",
    response_class=Response,
    responses={
        200: {
            "description": "An ExportTraceServiceResponse; a partial success when GenAI spans were rejected",
            "content": {PROTOBUF: {}, JSON: {}},
        },
        400: {"description": "The body is not an ExportTraceServiceRequest (a google.rpc.Status)"},
        401: {"description": "No valid API token (a google.rpc.Status)"},
        413: {"description": "The body is over SPENDLEDGER_OTLP_MAX_BODY_BYTES, as sent or decompressed"},
        415: {"description": "Neither application/x-protobuf nor application/json, or not gzip"},
    },
    openapi_extra={
        "requestBody": {"required": True, "content": {PROTOBUF: {}, JSON: {}}},
        "security": [{"HTTPBearer": []}],
    },
)
async def post_traces(
    request: Request, background: BackgroundTasks, settings: SettingsDep, engine: EngineDep
) -> Response:
    """Receive an OTLP trace export; its GenAI spans are priced and stored as metered calls."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    json_body = MEDIA_TYPES.get(media, True)  # errors for an unknown type are sent as JSON
    try:
        refusal = await run_in_threadpool(_refusal, engine, request.headers.get("authorization", ""))
        if refusal:
            raise OtlpError(status.HTTP_401_UNAUTHORIZED, refusal)
        if media not in MEDIA_TYPES:
            raise OtlpError(
                status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
                f"Content-Type {media or '(none)'!r} is not OTLP/HTTP: send {PROTOBUF} or {JSON}",
            )
        gzipped = _gzipped(request.headers.get("content-encoding", ""))
        body = await read_body(request, limit=settings.otlp_max_body_bytes, refuse=_refuse_large)
        pricers: PricerCache = request.app.state.pricers
        stored = await run_in_threadpool(
            store_export, engine, pricers, body, settings, gzipped=gzipped, json_body=json_body
        )
    except OtlpError as exc:
        return _error(exc, json_body=json_body)
    after_new_data(request, background, accepted=stored.accepted)
    return Response(
        encode_response(stored.rejected, stored.message, json_body=json_body),
        media_type=JSON if json_body else PROTOBUF,
    )


def store_export(
    engine: Engine, pricers: PricerCache, body: bytes, settings: Settings, *, gzipped: bool, json_body: bool
) -> Stored:
    """Decompress, decode, map and store one export; runs in a worker thread."""
    keys = AttributionKeys(
        user=settings.otlp_user_attributes,
        project=settings.otlp_project_attributes,
        feature=settings.otlp_feature_attributes,
        account=settings.otlp_account_attributes,
    )
    with gc_paused():
        if gzipped:
            body = gunzip(body, limit=settings.otlp_max_body_bytes)
        try:
            export = decode_export(body, json_body=json_body)
        except ExportError as exc:
            raise OtlpError(status.HTTP_400_BAD_REQUEST, str(exc)) from None
        mapped = map_export(export, keys=keys, servers=settings.local_server_map)
        if not mapped.genai_spans:  # no GenAI call: nothing to write
            return Stored(0, 0, "")
        with engine.begin() as conn:
            result = ingest_export(conn, mapped, pricer=pricers.get(conn), tz=settings.tz)
    rejected, message = partial_success(mapped, result)
    return Stored(result.accepted, rejected, message)


def _refusal(engine: Engine, authorization: str) -> str | None:
    """Why the request's token is refused (the ingest API's words), or None when it is valid."""
    scheme, _, token = authorization.partition(" ")
    credentials = (
        HTTPAuthorizationCredentials(scheme=scheme, credentials=token.strip())
        if scheme.lower() == "bearer" and token.strip()
        else None
    )
    try:
        current_token(engine, credentials)
    except HTTPException as exc:
        return str(exc.detail)
    return None


def _gzipped(encoding: str) -> bool:
    encoding = encoding.strip().lower()
    if encoding in ("gzip", "x-gzip"):
        return True
    if encoding in ("", "identity"):
        return False
    raise OtlpError(
        status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
        f"Content-Encoding {encoding!r} is not supported: send gzip or an uncompressed body",
    )


def _refuse_large(what: str, limit: int) -> NoReturn:
    raise _too_large(what, limit)


def gunzip(body: bytes, *, limit: int) -> bytes:
    """A gzip body (one or more members) decompressed, never past `limit` bytes (413)."""
    parts: list[bytes] = []
    size = 0
    data = body
    try:
        while data:
            stream = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            part = stream.decompress(data, limit - size + 1)  # stops one byte past the cap
            size += len(part)
            if size > limit:
                raise _too_large("decompressed, the body is over the limit", limit)
            if not stream.eof:
                raise OtlpError(status.HTTP_400_BAD_REQUEST, "the gzip body is truncated")
            parts.append(part)
            data = stream.unused_data
    except zlib.error as exc:
        raise OtlpError(status.HTTP_400_BAD_REQUEST, f"the body is not valid gzip ({exc})") from None
    return b"".join(parts)


def _too_large(what: str, limit: int) -> OtlpError:
    return OtlpError(
        status.HTTP_413_CONTENT_TOO_LARGE,
        f"{what}; the limit is {limit:,} bytes (SPENDLEDGER_OTLP_MAX_BODY_BYTES): "
        "export smaller batches (BatchSpanProcessor's max_export_batch_size)",
    )


def _error(exc: OtlpError, *, json_body: bool) -> Response:
    """A google.rpc.Status in the request's encoding, as OTLP/HTTP answers errors."""
    code, message = RPC_CODES.get(exc.status_code, 2), str(exc)  # 2: UNKNOWN
    headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == status.HTTP_401_UNAUTHORIZED else None
    if json_body:
        body = json.dumps({"code": code, "message": message}).encode()
        return Response(body, status_code=exc.status_code, media_type=JSON, headers=headers)
    return Response(_status_proto(code, message), exc.status_code, headers, PROTOBUF)


def _status_proto(code: int, message: str) -> bytes:
    """google.rpc.Status {code = 1, message = 2} in protobuf's wire format."""
    text = message.encode()
    return b"\x08" + _varint(code) + b"\x12" + _varint(len(text)) + text


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)
