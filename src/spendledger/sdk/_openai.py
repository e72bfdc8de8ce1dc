"""OpenAI's clients, Azure's included: chat completions, responses and embeddings, recorded.

Patched on the client instance: `chat.completions.create` and `.parse`,
`responses.create` and `.parse`, `embeddings.create`. The SDK's own helpers go through
them (`chat.completions.stream()` and `responses.stream()` call `create`), and
`.with_raw_response` is rebuilt on top of them; `.with_streaming_response` calls pass
through unrecorded (the caller reads the raw body; its usage is never parsed).

Usage shapes are provider-apis.md §1.7. A chat stream reports usage only when asked
(`stream_options.include_usage`), in a last chunk with no choices: the instrumentation
asks for it and hides that chunk from a caller who did not, so the caller iterates the
same chunks as without it. Responses streams carry usage in `response.completed`.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from typing import Any

from spendledger.sdk import _usage
from spendledger.sdk._context import Attribution
from spendledger.sdk._instrument import Observer, forget_raw_response, patch_method, wrap_async, wrap_sync
from spendledger.sdk._usage import Call, Endpoint, record_response

# Azure OpenAI accepts `stream_options` from api-version 2024-09-01-preview on (unconfirmed
# for every preview); older dated versions answer 400, so their chat streams are not asked
# for usage and are recorded without tokens. The v1 API ("preview", "latest", none) has it.
AZURE_STREAM_OPTIONS_SINCE = "2024-09-01"
_DATED = re.compile(r"^\d{4}-\d{2}-\d{2}")

# Responses stream events carrying the response: its model, tier and, once done, usage
_RESPONSE_EVENTS: dict[str, str | None] = {
    "response.created": None,
    "response.in_progress": None,
    "response.completed": "ok",
    "response.incomplete": "ok",  # stopped at max_output_tokens or by a filter: billed
    "response.failed": "error",
}


def patch_client(client: Any, *, provider: str, is_async: bool, defaults: Attribution) -> bool:
    """Patch `client`'s methods in place; False when it has none of them."""
    api_error = getattr(sys.modules.get("openai"), "APIError", None) or Exception
    chat = Endpoint(
        provider,
        "x-request-id",
        api_error,
        _usage.openai_chat,
        record_response,
        ChatObserver,
        include_usage if _accepts_stream_options(client, provider) else None,
    )
    responses = Endpoint(
        provider, "x-request-id", api_error, _usage.openai_responses, record_responses, ResponsesObserver
    )
    embeddings = Endpoint(provider, "x-request-id", api_error, _usage.openai_embeddings, record_response)
    wrap = wrap_async if is_async else wrap_sync
    chat_resource = getattr(client, "chat", None)
    completions = getattr(chat_resource, "completions", None)
    responses_resource = getattr(client, "responses", None)
    patched = [
        patch_method(completions, "create", lambda f: wrap(f, chat, defaults)),
        patch_method(completions, "parse", lambda f: wrap(f, chat, defaults)),
        patch_method(responses_resource, "create", lambda f: wrap(f, responses, defaults)),
        patch_method(responses_resource, "parse", lambda f: wrap(f, responses, defaults)),
        patch_method(getattr(client, "embeddings", None), "create", lambda f: wrap(f, embeddings, defaults)),
    ]
    forget_raw_response(client)
    forget_raw_response(chat_resource)
    return any(patched)


def _accepts_stream_options(client: Any, provider: str) -> bool:
    if provider != "azure":
        return True
    version = getattr(client, "_api_version", None)
    if isinstance(version, str) and _DATED.match(version):
        return version[:10] >= AZURE_STREAM_OPTIONS_SINCE
    return True


def include_usage(kwargs: dict[str, Any]) -> bool:
    """Ask a chat stream for its usage; True when the caller did not (hide the usage chunk).

    An explicit `include_usage: False` is overridden too: the ledger needs the tokens, and
    the caller still sees no usage chunk.
    """
    options = kwargs.get("stream_options")
    if isinstance(options, Mapping):
        if options.get("include_usage") is True:
            return False
        kwargs["stream_options"] = {**options, "include_usage": True}
    else:  # absent, None or the SDK's `omit`
        kwargs["stream_options"] = {"include_usage": True}
    return True


def record_responses(call: Call, response: Any) -> None:
    """A Responses API response; a background one (queued) is not finished: not recorded."""
    status = getattr(response, "status", None)
    if status in ("queued", "in_progress"):
        call.done = True  # its usage comes with the finished response, fetched later
        return
    usage = getattr(response, "usage", None)
    call.finish(
        "error" if status == "failed" else "ok",
        None if usage is None else _usage.openai_responses(usage),
        getattr(response, "model", None),
        getattr(response, "_request_id", None),
        getattr(response, "service_tier", None),
    )


class ChatObserver(Observer):
    """Chat completion chunks: model and tier from the first, usage from the last."""

    __slots__ = ()

    def see(self, chunk: Any) -> None:
        if self.model is None:
            self.model = getattr(chunk, "model", None)
            self.tier = getattr(chunk, "service_tier", None)
        usage = getattr(chunk, "usage", None)
        if usage is not None:
            self.usage = usage
            self.complete = True

    def visible(self, chunk: Any) -> bool:
        # the usage-only chunk has no choices (Azure's content-filter chunks have none
        # either, but no usage); never fails: a chunk it cannot read is shown
        try:
            return getattr(chunk, "usage", None) is None or bool(getattr(chunk, "choices", True))
        except Exception:
            return True


class ResponsesObserver(Observer):
    """Responses API events: the response object rides on the lifecycle events."""

    __slots__ = ()

    def see(self, event: Any) -> None:
        kind = getattr(event, "type", None)
        if kind in _RESPONSE_EVENTS:
            response = getattr(event, "response", None)
            self.model = getattr(response, "model", None) or self.model
            self.tier = getattr(response, "service_tier", None) or self.tier
            usage = getattr(response, "usage", None)
            if usage is not None:
                self.usage = usage
            outcome = _RESPONSE_EVENTS[kind]
            if outcome is not None:
                self.complete = True
                if outcome == "error":
                    self.status = "error"
        elif kind == "error":  # an error event ends the stream
            self.status = "error"
