"""Where the events go: this ledger, or a spendledger server's events API.

Both take the same batch, `{"events": [...]}` as `POST /api/v1/events` takes it, so a
laptop sending to the team's server and an import into a local ledger store the same
records: `LedgerSink` hands the batch to `ingest.batch.store_batch`, the events API's own
parser, pricing and idempotent write (as the tracker's database mode does);
`ApiSink` posts it with the connectors' HTTP path (sources/_http.py: retries with
backoff, Retry-After honoured, 401/403/404 explained, the token sent only in its
header). Each sink also gives the `Pricer` the events will be priced with, so a covered
call's usage value is what the ledger would have charged: the ledger's overrides in
ledger mode, the catalogue alone for a server.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from spendledger.errors import SpendledgerError
from spendledger.ingest.batch import store_batch
from spendledger.ingest.records import PricerCache
from spendledger.pricing import Pricer
from spendledger.sources._http import Bearer, Hints, RetryPolicy, make_client, post_json
from spendledger.store import Engine

INGEST_PATH = "/api/v1/events"
HOW_TO_GET_A_TOKEN = (
    "create one with `spendledger tokens create NAME` on the server and pass it as --token "
    "or SPENDLEDGER_TOKEN"
)


class DeliveryError(SpendledgerError):
    """The destination cannot take the events; the message says what to fix."""


@dataclass(slots=True)
class Delivered:
    stored: int = 0  # events new to the ledger
    duplicates: int = 0  # events it already held
    rejected: list[str] = field(default_factory=list)  # "event ID: field: reason"


class Sink(Protocol):
    where: str  # the destination, as the summary names it

    def pricer(self) -> Pricer: ...

    def send(self, events: Sequence[dict[str, Any]]) -> Delivered: ...

    def close(self) -> None: ...


def _refusals(rejected: Sequence[tuple[int, str, str]], events: Sequence[dict[str, Any]]) -> list[str]:
    out = []
    for index, name, reason in rejected:
        event_id = events[index].get("id", "?") if 0 <= index < len(events) else "?"
        out.append(f"event {event_id}: {name or 'event'}: {reason}")
    return out


class LedgerSink:
    """The configured ledger, written as the events API writes."""

    def __init__(self, engine: Engine, *, tz: ZoneInfo, where: str) -> None:
        self.engine = engine
        self.tz = tz
        self.where = where
        self._pricers = PricerCache()

    def pricer(self) -> Pricer:
        with self.engine.connect() as conn:
            return self._pricers.get(conn)

    def send(self, events: Sequence[dict[str, Any]]) -> Delivered:
        body = json.dumps({"events": list(events)}).encode()
        result = store_batch(
            self.engine, body, pricer=self.pricer(), tz=self.tz, max_events=max(len(events), 1)
        )
        refused = [(r.index, r.field, r.reason) for r in result.rejected]
        return Delivered(result.accepted, result.duplicates, _refusals(refused, events))

    def close(self) -> None:
        """The engine is the caller's to dispose of."""


def base_url(url: str) -> str:
    """The server's base URL from what the user typed (the events endpoint's URL is accepted too)."""
    text = url.strip().rstrip("/")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise DeliveryError(
            f"--send {url!r} is not a server's URL: give its base URL, e.g. http://ledger:8000", field="send"
        )
    return text.removesuffix(INGEST_PATH)


class ApiSink:
    """A spendledger server's `POST /api/v1/events`, with a bearer token."""

    def __init__(self, url: str, token: str | None, *, policy: RetryPolicy | None = None) -> None:
        if not token:
            raise DeliveryError(f"--send needs an API token: {HOW_TO_GET_A_TOKEN}", field="token")
        self.where = base_url(url)
        self._client = make_client(self.where, {"User-Agent": "spendledger-agents"}, auth=Bearer(token))
        self._policy = policy or RetryPolicy()
        self._hints = Hints(
            provider="spendledger server",
            source=self.where,
            auth=f"the API token …{token[-4:]} is not valid or was revoked; {HOW_TO_GET_A_TOKEN}",
            permission=f"the API token may not send events; {HOW_TO_GET_A_TOKEN}",
            not_found="is the URL the spendledger server's base URL (e.g. http://ledger:8000)?",
        )
        self._pricer: Pricer | None = None

    def pricer(self) -> Pricer:
        if self._pricer is None:
            self._pricer = Pricer()
        return self._pricer

    def send(self, events: Sequence[dict[str, Any]]) -> Delivered:
        reply = post_json(
            self._client,
            INGEST_PATH,
            {"events": list(events)},
            hints=self._hints,
            endpoint=f"POST {INGEST_PATH}",
            policy=self._policy,
        )
        try:
            refused = [(int(r["index"]), str(r["field"]), str(r["reason"])) for r in reply["rejected"]]
            return Delivered(int(reply["accepted"]), int(reply["duplicates"]), _refusals(refused, events))
        except (KeyError, TypeError, ValueError):
            raise DeliveryError(
                f"{self.where} answered POST {INGEST_PATH} with JSON that is not the events API's reply: "
                "is the URL the spendledger server's base URL (e.g. http://ledger:8000)?"
            ) from None

    def close(self) -> None:
        self._client.close()
