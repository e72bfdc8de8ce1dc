"""Anthropic's clients: messages, streamed or not, recorded.

Patched on the client instance: `messages.create` (with or without `stream=True`),
`messages.parse` and `messages.stream`. The stream helper builds its request itself
(not through `create`), so its manager is wrapped: on entering it, the raw event stream
inside the SDK's `MessageStream` is swapped for an observed proxy, and whatever the
caller uses (iteration, `text_stream`, `get_final_message()`, `until_done()`) reads the
events through it.

Usage (provider-apis.md §2.7): `message_start` carries the input side (cache reads and
writes apart from `input_tokens`) and the tier, `message_delta` the cumulative output
(and, newer, updated input counts). _usage.anthropic converts them to the contract.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from spendledger.sdk import _usage
from spendledger.sdk._context import Attribution
from spendledger.sdk._instrument import (
    AsyncStreamProxy,
    Observer,
    StreamProxy,
    forget_raw_response,
    mark,
    patch_method,
    wrap_async,
    wrap_sync,
)
from spendledger.sdk._usage import Call, Endpoint, warn_once


def patch_client(client: Any, *, provider: str, is_async: bool, defaults: Attribution) -> bool:
    """Patch `client`'s methods in place; False when it has none of them."""
    api_error = getattr(sys.modules.get("anthropic"), "APIError", None) or Exception
    endpoint = Endpoint(provider, "request-id", api_error, _usage.anthropic, record_message, MessagesObserver)
    wrap = wrap_async if is_async else wrap_sync
    messages = getattr(client, "messages", None)
    patched = [
        patch_method(messages, "create", lambda f: wrap(f, endpoint, defaults)),
        patch_method(messages, "parse", lambda f: wrap(f, endpoint, defaults)),
        patch_method(messages, "stream", lambda f: wrap_stream(f, endpoint, defaults, is_async)),
    ]
    forget_raw_response(client)
    return any(patched)


def record_message(call: Call, message: Any) -> None:
    usage = getattr(message, "usage", None)
    call.finish(
        "ok",
        None if usage is None else _usage.anthropic(usage),
        getattr(message, "model", None),
        getattr(message, "_request_id", None),
        getattr(usage, "service_tier", None),
    )


class MessagesObserver(Observer):
    """Raw message events: `message_start` (model, input usage), `message_delta` (output)."""

    __slots__ = ("delta",)

    def __init__(self, call: Call, hide: bool = False) -> None:
        super().__init__(call, hide)
        self.delta: Any = None

    def see(self, event: Any) -> None:
        kind = getattr(event, "type", None)
        if kind == "message_start":
            message = getattr(event, "message", None)
            self.model = getattr(message, "model", None)
            self.usage = getattr(message, "usage", None)
            self.tier = getattr(self.usage, "service_tier", None)
        elif kind == "message_delta":
            self.delta = getattr(event, "usage", None)
            self.complete = True  # the last usage: only message_stop follows

    def tokens(self) -> _usage.Tokens | None:
        if self.usage is None and self.delta is None:
            return None
        return _usage.anthropic(self.usage, self.delta)


def wrap_stream(
    original: Callable[..., Any], endpoint: Endpoint, defaults: Attribution, is_async: bool
) -> Callable[..., Any]:
    """`messages.stream`: the manager it returns, wrapped (the request is sent on entering)."""
    manager_cls = AsyncStreamManager if is_async else StreamManager

    def stream(*args: Any, **kwargs: Any) -> Any:
        try:
            call = Call(endpoint, kwargs.get("model"), defaults)  # attribution at call time
        except Exception:
            warn_once("starting to record a call failed")
            return original(*args, **kwargs)
        return manager_cls(original(*args, **kwargs), call)

    return mark(stream, original)


class _Manager:
    """A stream manager whose `MessageStream` reads its events through an observed proxy."""

    _proxy_cls: type[StreamProxy | AsyncStreamProxy]

    def __init__(self, manager: Any, call: Call) -> None:
        self._sl_manager = manager
        self._sl_call = call
        self._sl_observer = MessagesObserver(call)
        self._sl_raw: Any = None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_sl_"):
            raise AttributeError(name)
        return getattr(self._sl_manager, name)

    def _sl_attach(self, message_stream: Any) -> None:
        try:
            raw = message_stream._raw_stream
            message_stream._raw_stream = self._proxy_cls(raw, self._sl_observer)
            self._sl_raw = raw
        except Exception:
            warn_once("anthropic's MessageStream has no _raw_stream: messages.stream() goes without tokens")

    def _sl_end(self) -> None:
        if self._sl_raw is None:  # never attached: the call is counted, its usage unknown
            self._sl_call.finish("ok")
        self._sl_observer.end(self._sl_raw, "cancelled")


class StreamManager(_Manager):
    """`MessageStreamManager`, observed."""

    _proxy_cls = StreamProxy

    def __enter__(self) -> Any:
        self._sl_call.restart()
        try:
            message_stream = self._sl_manager.__enter__()
        except BaseException as exc:
            self._sl_call.fail(exc)
            raise
        self._sl_attach(message_stream)
        return message_stream

    def __exit__(self, *exc: Any) -> Any:
        try:
            return self._sl_manager.__exit__(*exc)
        finally:
            self._sl_end()


class AsyncStreamManager(_Manager):
    """`AsyncMessageStreamManager`, observed."""

    _proxy_cls = AsyncStreamProxy

    async def __aenter__(self) -> Any:
        self._sl_call.restart()
        try:
            message_stream = await self._sl_manager.__aenter__()
        except BaseException as exc:
            self._sl_call.fail(exc)
            raise
        self._sl_attach(message_stream)
        return message_stream

    async def __aexit__(self, *exc: Any) -> Any:
        try:
            return await self._sl_manager.__aexit__(*exc)
        finally:
            self._sl_end()
