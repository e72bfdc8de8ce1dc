"""The application-side tracker: every LLM call recorded in the ledger, never in the way.

    import spendledger

    spendledger.configure(url="http://ledger:8000", token="sl_...", project="support-bot")
    client = spendledger.instrument(OpenAI())
    with spendledger.context(user="u_17", feature="summarise"):
        client.chat.completions.create(...)
    spendledger.record("mistral", "mistral-large-latest", input_tokens=1200, output_tokens=300)

Calls are queued in memory and sent in batches by a background thread (see `_queue`);
when the ledger cannot be reached they wait in spill files and are sent when it answers.
No function here raises: a problem is logged (logger "spendledger") and shows in `stats()`.
This package imports the standard library only; `database_url=` mode imports the
server's dependencies on the background thread, when it writes its first batch.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from spendledger.sdk import _sender
from spendledger.sdk._config import resolve
from spendledger.sdk._context import EMPTY, Attribution, context, current
from spendledger.sdk._events import attribute, make_event
from spendledger.sdk._sender import Stats

__all__ = [
    "Attribution",
    "Stats",
    "configure",
    "context",
    "current",
    "flush",
    "instrument",
    "record",
    "stats",
]

ClientT = TypeVar("ClientT")


def configure(
    url: str | None = None,
    token: str | None = None,
    database_url: str | None = None,
    *,
    project: str | None = None,
    user: str | None = None,
    feature: str | None = None,
    tags: Mapping[str, Any] | None = None,
    spill_dir: str | Path | None = None,
    max_queue: int = 10_000,
    batch_size: int = 500,
    flush_interval: float = 1.0,
    enabled: bool = True,
    tz: str | tzinfo | None = None,
    account: str | None = None,
    customer: str | None = None,
) -> None:
    """Say where events go. Without a call, the first event reads SPENDLEDGER_URL and
    SPENDLEDGER_TOKEN (or SPENDLEDGER_DATABASE_URL); calling again replaces the
    configuration, after sending (or spilling) what the previous one had queued.

    Args:
        url: the spendledger server's base URL (default SPENDLEDGER_URL); events are
            posted to `<url>/api/v1/events`.
        token: an API token from `spendledger tokens create NAME` (default SPENDLEDGER_TOKEN).
        database_url: write straight into this ledger database instead of a server
            (default SPENDLEDGER_DATABASE_URL); it must be migrated (`spendledger db
            upgrade`), and this mode needs the server's dependencies installed.
        project, user, feature, tags: attribution for calls that name none
            (`record()` arguments, `context()` and `instrument()` defaults win).
        spill_dir: where undeliverable events wait (default SPENDLEDGER_SPILL_DIR, else
            ~/.cache/spendledger/spill); one subfolder per destination.
        max_queue: events held in memory; beyond it new events go straight to the spill.
        batch_size: events per request.
        flush_interval: seconds between sends when batches do not fill up.
        enabled: False records nothing (e.g. in tests).
        tz: the ledger's time zone for `database_url` mode (default SPENDLEDGER_TIMEZONE,
            else UTC); a server uses its own.
        account: the provider account (organisation) calls are billed to, as the ledger's
            billing source names it; a call with no account counts against its provider's
            only billed account, if it has one (`record()`, `context()` and `instrument()` win).
        customer: the customer (tenant) calls serve, a dimension of every report
            (`record()`, `context()` and `instrument()` win).
    """
    try:
        config, problems = resolve(
            url=url,
            token=token,
            database_url=database_url,
            project=project,
            user=user,
            feature=feature,
            tags=tags,
            spill_dir=spill_dir,
            max_queue=max_queue,
            batch_size=batch_size,
            flush_interval=flush_interval,
            enabled=enabled,
            tz=tz,
            account=account,
            customer=customer,
        )
        _sender.install(config, problems)
    except Exception as exc:  # noqa: BLE001 - never in the application's way
        _sender.internal_error("configure", exc)


def instrument(
    client: ClientT,
    *,
    project: str | None = None,
    user: str | None = None,
    feature: str | None = None,
    tags: Mapping[str, Any] | None = None,
    account: str | None = None,
    provider: str | None = None,
    customer: str | None = None,
) -> ClientT:
    """Record every call made through an `openai` or `anthropic` client (sync or async).

    Args:
        client: an `OpenAI`, `AsyncOpenAI`, `Anthropic` or `AsyncAnthropic` client.
        project, user, feature, tags, account, customer: attribution for this client's
            calls (`context()` and `record()` arguments win over them).
        provider: the provider its calls are recorded under. Default: the self-hosted
            server its base_url points at (Ollama at localhost:11434, LM Studio :1234,
            vLLM :8000, llama.cpp :8080, or an address of SPENDLEDGER_LOCAL_SERVERS,
            "host[:port]=provider,..."), whose calls cost $0 unless a price is set;
            else the client's own (openai, azure, anthropic).

    Returns:
        The same client, instrumented; unchanged if it cannot be instrumented.
    """
    try:
        from spendledger.sdk._instrument import instrument as instrument_client

        instrumented: ClientT = instrument_client(
            client,
            project=project,
            user=user,
            feature=feature,
            tags=tags,
            account=account,
            provider=provider,
            customer=customer,
        )
        return instrumented
    except Exception as exc:  # noqa: BLE001 - an uninstrumented client still works
        _sender.internal_error("instrument", exc)
        return client


def record(
    provider: str,
    model: str,
    *,
    input_tokens: int = 0,
    output_tokens: int = 0,
    cached_input_tokens: int = 0,
    cache_write_5m_tokens: int = 0,
    cache_write_1h_tokens: int = 0,
    reasoning_tokens: int = 0,
    audio_input_tokens: int = 0,
    audio_output_tokens: int = 0,
    requests: int = 1,
    cost: Decimal | str | float | None = None,
    currency: str = "USD",
    latency_ms: float | None = None,
    status: str = "ok",
    request_id: str | None = None,
    service_tier: str | None = None,
    batch: bool = False,
    project: str | None = None,
    user: str | None = None,
    feature: str | None = None,
    tags: Mapping[str, Any] | None = None,
    timestamp: datetime | None = None,
    event_id: str | None = None,
    account: str | None = None,
    customer: str | None = None,
) -> str | None:
    """Record one call made without an instrumented client (Mistral, Gemini, a local model).

    Token counts follow the ledger's contract: `cached_input_tokens` and cache writes are
    part of `input_tokens`, `reasoning_tokens` part of `output_tokens`.

    Args:
        provider, model: as the price catalogue names them, e.g. "mistral", "mistral-large-latest".
        cost: what the provider charged, in `currency`; omit it to have the ledger price
            the call from its catalogue (an unknown model is kept unpriced, never at $0).
        latency_ms, status, request_id: the call's duration, "ok" | "error" | "cancelled",
            and the provider's request id.
        project, user, feature, tags: attribution; they win over `context()` and `configure()`.
        account: the provider account (organisation) the call is billed to, as the
            ledger's billing source names it; wins over `context()` and `configure()`.
        customer: the customer (tenant) the call served; wins over `context()` and `configure()`.
        timestamp: when the call started (default now; a naive datetime is local time).
        event_id: a unique id; recording the same id (and timestamp) again changes nothing.

    Returns:
        The event's id, or None if it could not be recorded (see `stats().last_error`).
    """
    try:
        tokens = {
            "input_tokens": input_tokens,
            "cached_input_tokens": cached_input_tokens,
            "cache_write_5m_tokens": cache_write_5m_tokens,
            "cache_write_1h_tokens": cache_write_1h_tokens,
            "output_tokens": output_tokens,
            "reasoning_tokens": reasoning_tokens,
            "audio_input_tokens": audio_input_tokens,
            "audio_output_tokens": audio_output_tokens,
        }
        explicit = Attribution(
            project=project,
            user=user,
            feature=feature,
            tags=dict(tags or {}),
            account=account,
            customer=customer,
        )
        event = make_event(
            provider=provider,
            model=model,
            tokens=tokens,
            started_at=timestamp,
            latency_ms=None if latency_ms is None else round(latency_ms),
            status=status,
            request_id=request_id,
            service_tier=service_tier,
            batch=batch,
            cost=None if cost is None else str(cost),
            currency=currency,
            requests=requests,
            attribution=attribute(EMPTY, explicit),
            event_id=event_id,
        )
    except Exception as exc:  # noqa: BLE001 - e.g. a token count that is not a number
        _sender.internal_error("record", exc)
        return None
    _sender.emit(event)
    event_id_: str = event["id"]
    return event_id_


def flush(timeout: float = 5.0) -> bool:
    """Send what is queued and spilled now, waiting up to `timeout` seconds.

    An `atexit` hook flushes with a 2-second timeout and spills what is left.

    Returns:
        True when nothing recorded before the call is left waiting: each event reached
        the ledger, was refused by it or was dropped (see `stats()`); False when the
        timeout passed or events wait in the spill folder for the ledger to answer.
    """
    try:
        sender = _sender.current()
        return True if sender is None else sender.flush(float(timeout))
    except Exception as exc:  # noqa: BLE001 - never in the application's way
        _sender.internal_error("flush", exc)
        return False


def stats() -> Stats:
    """What became of the events since the last `configure()`: see `Stats`."""
    try:
        sender = _sender.current()
        return Stats() if sender is None else sender.stats()
    except Exception as exc:  # noqa: BLE001 - never in the application's way
        _sender.internal_error("stats", exc)
        return Stats(last_error=f"stats() failed: {exc}")
