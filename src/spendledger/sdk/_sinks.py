"""Sinks: where a batch of events (JSON texts) goes, and what came of it.

`HttpSink` posts to the ingest API with the standard library (one kept-alive
connection); `DatabaseSink` writes straight into a ledger database through the server's
own code (`ingest.ingest_events`), importing the server's dependencies when first used.
A sink never raises for a failed delivery: it returns a `Delivery` saying whether the
batch should be kept (spilled) and retried, and why, in words that say what to do.
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

TIMEOUT = 10.0  # seconds, for connecting and for each read
MAX_RETRY_AFTER = 3600.0
REASONS_SHOWN = 5
HOW_TO_GET_A_TOKEN = (
    "create one with `spendledger tokens create NAME` on the server and pass it as "
    "configure(token=...) or SPENDLEDGER_TOKEN"
)


@dataclass(slots=True)
class Delivery:
    stored: int = 0  # events the ledger stored or already held
    rejected: int = 0  # events the ledger refused; retrying would not help
    reasons: list[str] = field(default_factory=list)  # why, for the first few
    retry: bool = False  # not delivered: keep the batch and try again later
    retry_after: float | None = None  # seconds the server asked us to wait
    error: str | None = None  # what went wrong and what to do
    kind: str = ""  # a short name of the failure, for logging it once ("auth", "http", ...)


class Sink(Protocol):
    def send(self, lines: Sequence[str]) -> Delivery: ...

    def close(self) -> None: ...

    def after_fork(self) -> None: ...


def batch_body(lines: Sequence[str]) -> bytes:
    return ('{"events":[' + ",".join(lines) + "]}").encode()


class HttpSink:
    """POST {"events": [...]} to the ingest endpoint with a bearer token."""

    def __init__(self, endpoint: str, token: str | None, *, timeout: float = TIMEOUT) -> None:
        self.endpoint = endpoint
        parts = urlsplit(endpoint)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port
        self._path = parts.path + (f"?{parts.query}" if parts.query else "")
        self._timeout = timeout
        self._conn: http.client.HTTPConnection | None = None
        self._headers = {"Content-Type": "application/json", "User-Agent": "spendledger-sdk"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self._token_hint = f"…{token[-4:]}" if token else "(none)"

    def send(self, lines: Sequence[str]) -> Delivery:
        try:
            status, headers, data = self._post(batch_body(lines))
        except (OSError, http.client.HTTPException) as exc:
            return Delivery(
                retry=True,
                kind="connection",
                error=f"cannot reach {self.endpoint} ({exc.__class__.__name__}: {exc}); "
                "the events are kept in the spill folder and sent when it answers",
            )
        if status == 413 and len(lines) > 1:  # the server's batch or body limit: halve and retry
            half = len(lines) // 2
            first, second = self.send(lines[:half]), self.send(lines[half:])
            return _combined(first, second)
        return self._outcome(status, headers, data, lines)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def after_fork(self) -> None:
        self.close()  # the child's copy of the parent's socket: closing it leaves the parent's open

    def _post(self, body: bytes) -> tuple[int, http.client.HTTPMessage, bytes]:
        reused = self._conn is not None
        try:
            return self._request(body)
        except (ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine):
            self.close()
            if not reused:
                raise
            # a kept-alive connection the server had closed meanwhile: once more, afresh
            return self._request(body)
        except BaseException:
            self.close()
            raise

    def _request(self, body: bytes) -> tuple[int, http.client.HTTPMessage, bytes]:
        if self._conn is None:
            if self._https:
                import ssl

                self._conn = http.client.HTTPSConnection(
                    self._host, self._port, timeout=self._timeout, context=ssl.create_default_context()
                )
            else:
                self._conn = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
        self._conn.request("POST", self._path, body, self._headers)
        response = self._conn.getresponse()
        data = response.read()
        if response.will_close:
            self.close()
        return response.status, response.headers, data

    def _outcome(
        self, status: int, headers: http.client.HTTPMessage, data: bytes, lines: Sequence[str]
    ) -> Delivery:
        where = self.endpoint
        detail = _detail(data)
        if status == 200:
            try:
                reply = json.loads(data)
                stored = int(reply["accepted"]) + int(reply["duplicates"])
                refusals = list(reply["rejected"])
                rejected = int(reply.get("rejected_count", len(refusals)))
            except (ValueError, KeyError, TypeError):
                kind = headers.get_content_type()
                return Delivery(
                    retry=True,
                    kind="reply",
                    error=f"{where} answered 200 with {kind} that is not the ingest API's reply: "
                    "is the url the spendledger server's base URL (e.g. http://ledger:8000)?",
                )
            reasons = [_refusal(r, lines) for r in refusals[:REASONS_SHOWN]]
            return Delivery(stored=stored, rejected=rejected, reasons=reasons)
        if status in (401, 403):
            return Delivery(
                retry=True,
                kind="auth",
                error=f"{status} from {where}: the API token {self._token_hint} is missing, not valid "
                f"or revoked ({detail}); {HOW_TO_GET_A_TOKEN}",
            )
        if status in (413, 422):  # one event too large, or a body the server cannot read
            return Delivery(rejected=len(lines), reasons=[f"{status} from {where}: {detail}"], kind="refused")
        wait = _retry_after(headers.get("Retry-After"))
        if status == 429 or status >= 500:
            return Delivery(
                retry=True,
                retry_after=wait,
                kind="busy",
                error=f"{status} from {where} ({detail}); retrying"
                + (f" after {wait:g} s as the server asked" if wait is not None else " with backoff"),
            )
        hint = "is the url the spendledger server's base URL (e.g. http://ledger:8000)?"
        if 300 <= status < 400:
            hint = f"the server redirects to {headers.get('Location')}: set the url to that address"
        return Delivery(
            retry=True, retry_after=wait, kind="http", error=f"{status} from {where} ({detail}); {hint}"
        )


class DatabaseSink:
    """Write batches into a ledger database, as the ingest API does (same validation,
    pricing and idempotent writes). The database must be migrated already: the SDK does
    not run migrations (`spendledger db upgrade` does); unmigrated, batches are spilled."""

    def __init__(self, database_url: str, *, timezone: str, shown_as: str) -> None:
        self.database_url = database_url
        self.timezone = timezone
        self.shown_as = shown_as
        self._writer: Any = None  # ingest.direct.DirectWriter, imported when first used

    def send(self, lines: Sequence[str]) -> Delivery:
        try:
            return self._send(lines)
        except Exception as exc:  # noqa: BLE001 - a database error keeps the batch for later
            text = f"{exc.__class__.__name__}: {exc}".splitlines()[0][:300]
            hint = "the events are kept in the spill folder and written when the database answers"
            if any(s in str(exc) for s in ("no such table", "does not exist", "UndefinedTable")):
                hint = (
                    f"is the database migrated? run `spendledger db upgrade` with "
                    f"SPENDLEDGER_DATABASE_URL={self.shown_as}"
                )
            return Delivery(
                retry=True, kind="database", error=f"cannot write to {self.shown_as} ({text}); {hint}"
            )

    def _send(self, lines: Sequence[str]) -> Delivery:
        if self._writer is None:
            from spendledger.ingest.direct import DirectWriter

            self._writer = DirectWriter(self.database_url, timezone=self.timezone)
        result = self._writer.write(batch_body(lines), max_events=len(lines))
        reasons = [
            _refusal({"index": r.index, "field": r.field, "reason": r.reason}, lines)
            for r in result.rejected[:REASONS_SHOWN]
        ]
        return Delivery(
            stored=result.accepted + result.duplicates, rejected=len(result.rejected), reasons=reasons
        )

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def after_fork(self) -> None:
        if self._writer is not None:
            self._writer.after_fork()


def _combined(a: Delivery, b: Delivery) -> Delivery:
    if a.retry or b.retry:  # resend both halves later: the delivered one is then a duplicate
        return a if a.retry else b
    return Delivery(
        stored=a.stored + b.stored, rejected=a.rejected + b.rejected, reasons=a.reasons + b.reasons
    )


def _refusal(refusal: Any, lines: Sequence[str]) -> str:
    try:
        index = int(refusal["index"])
        event_id = json.loads(lines[index]).get("id", "?")
        return f"event {event_id}: {refusal['field'] or 'event'}: {refusal['reason']}"
    except Exception:  # noqa: BLE001 - a reply we cannot read still counts as a refusal
        return str(refusal)[:300]


def _detail(data: bytes) -> str:
    try:
        detail = json.loads(data).get("detail")
        if isinstance(detail, str):
            return detail[:300]
    except (ValueError, AttributeError):
        pass
    text = data[:120].decode("utf-8", "replace").strip().replace("\n", " ")
    return text or "no body"


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date), capped."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError, IndexError):
            return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)
