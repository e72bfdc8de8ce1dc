"""`instrument(client)`: every call an OpenAI or Anthropic client makes becomes one event.

Data flow: a patched method → `Call` (attribution and clock taken at call time) → the
provider's response, stream items (seen through an `Observer`) or error → token counts
in the ledger's contract → `make_event` → `_sender.emit`, which only enqueues (the
`Call` and the conversions are _usage.py's; the provider modules say where usage is).

Invariants:
- the caller sees what the bare client gives: the same return values (a stream is
  wrapped in a thin proxy that forwards every attribute), the same exceptions, re-raised
  unchanged. Nothing in here raises into the caller: a failure to read or record a call
  is logged (once per kind of failure) and the call goes on.
- each call is recorded exactly once: when its response arrives, when its stream is
  exhausted, fails, is closed or is garbage-collected (`ok`, `error`, `cancelled`).
- a client pointed at a self-hosted server (its `base_url` at a loopback host on Ollama's,
  LM Studio's, vLLM's or llama.cpp's default port, or an address of SPENDLEDGER_LOCAL_SERVERS:
  local_servers.py) records that server as the provider, so the ledger prices its calls
  as self-hosted; `instrument(client, provider=...)` names it outright.
- openai and anthropic are never imported here: a client is recognised by the modules
  and names of its classes, and the provider modules read responses with `getattr`.
- the per-call path is short (no imports, copies or introspection): an instrumented
  call must stay within 50 µs and 3 % of a bare one (bench/sdk_overhead.py).
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from spendledger.local_servers import ENV_LOCAL_SERVERS, parse_servers, url_provider
from spendledger.sdk._context import Attribution
from spendledger.sdk._usage import Call, Endpoint, Tokens, warn_once

log = logging.getLogger("spendledger.sdk")

RAW_HEADER = "X-Stainless-Raw-Response"  # set by the SDKs' `.with_raw_response` / `.with_streaming_response`
_PASS = "pass"  # a call in a shape not recorded (`.with_streaming_response`): passed through

# (package, class name) → (provider, async); matched along the client's MRO, so subclasses count
_CLIENTS: dict[tuple[str, str], tuple[str, bool]] = {
    ("openai", "OpenAI"): ("openai", False),
    ("openai", "AsyncOpenAI"): ("openai", True),
    ("openai", "AzureOpenAI"): ("azure", False),
    ("openai", "AsyncAzureOpenAI"): ("azure", True),
    ("anthropic", "Anthropic"): ("anthropic", False),
    ("anthropic", "AsyncAnthropic"): ("anthropic", True),
}


def instrument(
    client: Any,
    *,
    project: str | None = None,
    user: str | None = None,
    feature: str | None = None,
    tags: Mapping[str, Any] | None = None,
    account: str | None = None,
    provider: str | None = None,
    customer: str | None = None,
) -> Any:
    """Record every call `client` makes as an event; patches the client in place.

    Instruments `chat.completions.create` / `.parse`, `responses.create` / `.parse`
    and `embeddings.create` of `openai.OpenAI`, `AsyncOpenAI` and their Azure variants,
    and `messages.create` / `.stream` / `.parse` of `anthropic.Anthropic` and
    `AsyncAnthropic`, streams included. Instrumenting a client again replaces its
    defaults; its calls are still recorded once. Never raises.

    Args:
        client: the SDK client; anything else is logged and returned untouched.
        project: default project of its calls; `spendledger.context()` and the
            arguments of `record()` take precedence.
        user: default end user of its calls.
        feature: default feature of its calls.
        tags: default tags, merged under the tags of an enclosing `context()`.
        account: the provider account (organisation) its calls are billed to, as the
            ledger's billing source names it.
        customer: the customer (tenant) its calls serve.
        provider: the provider its calls are recorded under, e.g. "vllm" for a client of
            a self-hosted server; default: the self-hosted server its base_url names
            (local_servers.py), else the client's own (openai, azure, anthropic).

    Returns:
        The same client.
    """
    try:
        found = _identify(client)
        if found is None:
            log.warning(
                "spendledger.instrument: %s.%s is not an OpenAI or Anthropic client; left untouched",
                type(client).__module__,
                type(client).__qualname__,
            )
            return client
        package, client_provider, is_async = found
        recorded = provider or _server_of(client) or client_provider
        defaults = Attribution(
            project=project,
            user=user,
            feature=feature,
            tags=dict(tags or {}),
            account=account,
            customer=customer,
        )
        # our own modules, imported on the first instrument() of each kind, never per call
        if package == "openai":
            from spendledger.sdk._openai import patch_client
        else:
            from spendledger.sdk._anthropic import patch_client
        if not patch_client(client, provider=recorded, is_async=is_async, defaults=defaults):
            log.warning("spendledger.instrument: found no method to instrument on %r", client)
        _patch_copies(
            client,
            {
                "project": project,
                "user": user,
                "feature": feature,
                "tags": tags,
                "account": account,
                "provider": provider,
                "customer": customer,
            },
        )
    except Exception:
        log.warning(
            "spendledger.instrument: could not instrument %r; its calls go unrecorded", client, exc_info=True
        )
    return client


def _patch_copies(client: Any, defaults: dict[str, Any]) -> None:
    """`client.copy()` / `.with_options()` make a new client: instrument it like this one."""

    def make(original: Callable[..., Any]) -> Callable[..., Any]:
        def copy(*args: Any, **kwargs: Any) -> Any:
            return instrument(original(*args, **kwargs), **defaults)

        return mark(copy, original)

    for name in ("copy", "with_options"):
        patch_method(client, name, make)


def _server_of(client: Any) -> str | None:
    """The self-hosted server `client.base_url` names (local_servers.py), or None."""
    base_url = getattr(client, "base_url", None)
    if base_url is None:
        return None
    servers, problems = parse_servers(os.environ.get(ENV_LOCAL_SERVERS, ""))
    for problem in problems:
        log.warning("spendledger.instrument: %s", problem)
    return url_provider(base_url, servers)


def _identify(client: Any) -> tuple[str, str, bool] | None:
    """(package, provider, async) of an SDK client, from its classes' modules and names."""
    for cls in type(client).__mro__:
        package = str(getattr(cls, "__module__", "")).partition(".")[0]
        if package in ("openai", "anthropic"):
            found = _CLIENTS.get((package, cls.__name__))
            if found is not None:
                return package, *found
    return None


class Observer:
    """Reads a stream's items as they pass and records the call when the stream ends."""

    __slots__ = ("call", "hide", "usage", "model", "tier", "status", "complete")

    def __init__(self, call: Call, hide: bool = False) -> None:
        self.call = call
        self.hide = hide  # hide the usage-only chunk the instrumentation asked for (`visible`)
        self.usage: Any = None
        self.model: Any = None
        self.tier: Any = None
        self.status: str | None = None  # set by an item that says the call failed
        self.complete = False  # the item that ends a response was seen

    def see(self, item: Any) -> None:
        """Read one item (model, usage, ...) as it passes."""

    def visible(self, item: Any) -> bool:
        """With `hide`: False for the item the instrumentation asked for, not the caller."""
        return True

    def tokens(self) -> Tokens | None:
        return None if self.usage is None else self.call.endpoint.tokens(self.usage)

    def end(self, stream: Any, status: str) -> None:
        """Record the call: `ok` (exhausted), `error` or `cancelled` (closed or dropped early)."""
        call = self.call
        if call.done:
            return
        tokens = request_id = None
        try:
            tokens = self.tokens()
            headers = getattr(getattr(stream, "response", None), "headers", None)
            request_id = headers.get(call.endpoint.id_header) if headers is not None else None
        except Exception:
            warn_once(f"reading a {call.endpoint.provider} stream failed")
        if status == "cancelled" and self.complete:
            status = "ok"  # closed after its last item: nothing was cut short
        call.finish(self.status or status, tokens, self.model, request_id, self.tier)

    def failed(self, stream: Any, exc: BaseException) -> None:
        self.end(stream, "error" if isinstance(exc, Exception) else "cancelled")


class _Proxy:
    """Forwards every attribute to the stream; records a stream dropped before its end."""

    _sl_stream: Any
    _sl_observer: Observer

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_sl_"):  # not set yet (a failed __init__): never recurse
            raise AttributeError(name)
        return getattr(self._sl_stream, name)

    def __del__(self) -> None:
        observer = self.__dict__.get("_sl_observer")
        if observer is not None and not observer.call.done:
            observer.end(self.__dict__.get("_sl_stream"), "cancelled")


class StreamProxy(_Proxy):
    """A sync stream, seen through an `Observer`."""

    def __init__(self, stream: Any, observer: Observer) -> None:
        self._sl_stream = stream
        self._sl_iter = stream if hasattr(stream, "__next__") else iter(stream)
        self._sl_observer = observer

    def __iter__(self) -> Iterator[Any]:
        # a generator: a `for` loop resumes it per item, cheaper than calling __next__
        observer, stream = self._sl_observer, self._sl_stream
        try:
            for item in self._sl_iter:
                try:
                    observer.see(item)
                except Exception:
                    warn_once("reading a stream item failed")
                if not observer.hide or observer.visible(item):
                    yield item
        except GeneratorExit:  # the loop was left: the stream may still be read on, or closed
            raise
        except BaseException as exc:
            observer.failed(stream, exc)
            raise
        observer.end(stream, "ok")

    def __next__(self) -> Any:
        observer = self._sl_observer
        try:
            while True:
                item = next(self._sl_iter)
                try:
                    observer.see(item)
                except Exception:
                    warn_once("reading a stream item failed")
                if not observer.hide or observer.visible(item):
                    return item
        except StopIteration:
            observer.end(self._sl_stream, "ok")
            raise
        except BaseException as exc:
            observer.failed(self._sl_stream, exc)
            raise

    def close(self) -> Any:
        try:
            return self._sl_stream.close()
        finally:
            self._sl_observer.end(self._sl_stream, "cancelled")

    def __enter__(self) -> StreamProxy:
        self._sl_stream.__enter__()
        return self

    def __exit__(self, *exc: Any) -> Any:
        try:
            return self._sl_stream.__exit__(*exc)
        finally:
            self._sl_observer.end(self._sl_stream, "cancelled")


class AsyncStreamProxy(_Proxy):
    """An async stream, seen through an `Observer`."""

    def __init__(self, stream: Any, observer: Observer) -> None:
        self._sl_stream = stream
        self._sl_iter = stream if hasattr(stream, "__anext__") else stream.__aiter__()
        self._sl_observer = observer

    def __aiter__(self) -> AsyncStreamProxy:
        return self

    async def __anext__(self) -> Any:
        observer = self._sl_observer
        try:
            while True:
                item = await self._sl_iter.__anext__()
                try:
                    observer.see(item)
                except Exception:
                    warn_once("reading a stream item failed")
                if not observer.hide or observer.visible(item):
                    return item
        except StopAsyncIteration:
            observer.end(self._sl_stream, "ok")
            raise
        except BaseException as exc:
            observer.failed(self._sl_stream, exc)
            raise

    async def close(self) -> Any:
        try:
            return await self._sl_stream.close()
        finally:
            self._sl_observer.end(self._sl_stream, "cancelled")

    async def __aenter__(self) -> AsyncStreamProxy:
        await self._sl_stream.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> Any:
        try:
            return await self._sl_stream.__aexit__(*exc)
        finally:
            self._sl_observer.end(self._sl_stream, "cancelled")


class RawResponseProxy:
    """A streamed `.with_raw_response` call: its `parse()` returns the stream, observed."""

    def __init__(self, raw: Any, observer: Observer, proxy: type[StreamProxy | AsyncStreamProxy]) -> None:
        self._sl_raw = raw
        self._sl_observer = observer
        self._sl_proxy_cls = proxy
        self._sl_proxy: StreamProxy | AsyncStreamProxy | None = None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_sl_"):
            raise AttributeError(name)
        return getattr(self._sl_raw, name)

    def parse(self, *args: Any, **kwargs: Any) -> Any:
        value = self._sl_raw.parse(*args, **kwargs)
        if hasattr(value, "__await__"):  # anthropic's AsyncAPIResponse.parse is a coroutine
            return self._sl_parse_async(value)
        return self._sl_wrap(value)

    async def _sl_parse_async(self, value: Any) -> Any:
        return self._sl_wrap(await value)

    def _sl_wrap(self, value: Any) -> Any:
        proxy = self._sl_proxy
        if proxy is not None and proxy._sl_stream is value:
            return proxy
        if proxy is None and (hasattr(value, "__next__") or hasattr(value, "__anext__")):
            self._sl_proxy = self._sl_proxy_cls(value, self._sl_observer)
            return self._sl_proxy
        return value

    def __del__(self) -> None:
        observer = self.__dict__.get("_sl_observer")
        if observer is not None and self.__dict__.get("_sl_proxy") is None and not observer.call.done:
            observer.end(None, "cancelled")  # never parsed: the stream was not read


def _raw_mode(headers: Any) -> str | None:
    """For a call's `extra_headers`: None for a plain call, "true"/"raw" for
    `.with_raw_response`, _PASS for another raw mode (`.with_streaming_response`)."""
    try:
        mode = headers.get(RAW_HEADER)
    except Exception:
        return None
    if mode is None:
        return None
    return mode if mode in ("true", "raw") else _PASS


def _prepare(endpoint: Endpoint, kwargs: dict[str, Any]) -> bool:
    try:
        return endpoint.prepare(kwargs) if endpoint.prepare is not None else False
    except Exception:
        warn_once("preparing a stream request failed")
        return False


def wrap_sync(original: Callable[..., Any], endpoint: Endpoint, defaults: Attribution) -> Callable[..., Any]:
    """`original` (a bound SDK method), recording each call."""
    observer_cls = endpoint.observer or Observer

    def method(*args: Any, **kwargs: Any) -> Any:
        headers = kwargs.get("extra_headers")
        mode = None if headers is None else _raw_mode(headers)
        if mode == _PASS:
            return original(*args, **kwargs)
        try:
            stream = bool(kwargs.get("stream"))
            call = Call(endpoint, kwargs.get("model"), defaults)
            hide = _prepare(endpoint, kwargs) if stream else False
        except Exception:
            warn_once("starting to record a call failed")
            return original(*args, **kwargs)
        try:
            result = original(*args, **kwargs)
        except BaseException as exc:
            call.fail(exc)
            raise
        if stream:
            observer = observer_cls(call, hide)
            if mode is not None:
                return RawResponseProxy(result, observer, StreamProxy)
            return StreamProxy(result, observer)
        if mode is not None:
            try:
                call.complete(result.parse())  # cached: the caller's own parse() gets this object
            except Exception:
                warn_once("parsing a raw response failed")
                call.finish("ok")
            return result
        call.complete(result)
        return result

    return mark(method, original)


def wrap_async(original: Callable[..., Any], endpoint: Endpoint, defaults: Attribution) -> Callable[..., Any]:
    """`original` (a bound async SDK method), recording each call."""
    observer_cls = endpoint.observer or Observer

    async def method(*args: Any, **kwargs: Any) -> Any:
        headers = kwargs.get("extra_headers")
        mode = None if headers is None else _raw_mode(headers)
        if mode == _PASS:
            return await original(*args, **kwargs)
        try:
            stream = bool(kwargs.get("stream"))
            call = Call(endpoint, kwargs.get("model"), defaults)
            hide = _prepare(endpoint, kwargs) if stream else False
        except Exception:
            warn_once("starting to record a call failed")
            return await original(*args, **kwargs)
        try:
            result = await original(*args, **kwargs)
        except BaseException as exc:
            call.fail(exc)
            raise
        if stream:
            observer = observer_cls(call, hide)
            if mode is not None:
                return RawResponseProxy(result, observer, AsyncStreamProxy)
            return AsyncStreamProxy(result, observer)
        if mode is not None:
            try:
                parsed = result.parse()
                call.complete(await parsed if hasattr(parsed, "__await__") else parsed)
            except Exception:
                warn_once("parsing a raw response failed")
                call.finish("ok")
            return result
        call.complete(result)
        return result

    return mark(method, original)


def mark(wrapper: Callable[..., Any], original: Callable[..., Any]) -> Callable[..., Any]:
    functools.update_wrapper(wrapper, original)
    wrapper.__spendledger_original__ = original  # type: ignore[attr-defined]
    return wrapper


def patch_method(resource: Any, name: str, make: Callable[[Callable[..., Any]], Callable[..., Any]]) -> bool:
    """Replace `resource.name` (a bound method) on this instance by `make(original)`.

    Patching again wraps the original again, so a call is never recorded twice.
    `.with_raw_response`, cached with the methods it wraps, is dropped to be rebuilt.
    """
    current = getattr(resource, name, None) if resource is not None else None
    if current is None or not callable(current):
        return False
    original = getattr(current, "__spendledger_original__", current)
    setattr(resource, name, make(original))
    forget_raw_response(resource)
    return True


def forget_raw_response(obj: Any) -> None:
    """Drop a cached `.with_raw_response`: rebuilt on next use, it wraps the patched methods."""
    cached = getattr(obj, "__dict__", None)
    if isinstance(cached, dict):
        cached.pop("with_raw_response", None)
