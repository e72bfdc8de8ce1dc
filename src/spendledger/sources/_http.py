"""The one HTTP path every connector takes: the client, auth, retries, Retry-After, errors.

`make_client` builds the `httpx.Client` a connector is handed (base.py's
`SourceType.open`): the base URL (configurable: proxies, regional endpoints, the fakes
in tests), the provider's fixed headers and an auth hook. Auth is an `httpx.Auth`:
`Bearer` and `KeyHeader` today; OAuth client credentials (fetch and refresh a token)
or signed requests (AWS SigV4) are further `httpx.Auth` subclasses built from the
source's config, with nothing else to change (`_oauth.ClientCredentials` is the first).
Connectors hold an `Api` (client, hints, retry policy, throttle) and call its `get`,
`post` or `get_response` (which also hands back the response, for paging by its
headers); each returns the decoded JSON object or raises a `SourceError`. 429 waits `Retry-After` (capped) or
backs off exponentially; 5xx and network errors back off; both give up after
`max_attempts`. A provider that throttles with other answers (GitHub: a 403 whose
`x-ratelimit-remaining` is 0) passes a `throttle` that reads the wait from them.
401/403/404 never retry. The key is sent only in headers (an OAuth client secret only in
its token request's body) and never appears in a message.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx

from spendledger.sources.errors import ErrorKind, SourceError

Params = Mapping[str, str | int | Sequence[str] | None] | Sequence[tuple[str, str | int]]


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    backoff: float = 1.0  # first wait on 5xx / network / 429 without Retry-After; doubles
    max_wait: float = 60.0  # cap on any one wait, Retry-After included
    sleep: Callable[[float], None] = time.sleep


@dataclass(frozen=True)
class Hints:
    """Provider-specific advice appended to error messages."""

    provider: str  # "OpenAI"
    source: str  # the source's name, e.g. "Edugami"
    auth: str = "check the key"  # what to do on 401
    permission: str = "the key lacks a permission this endpoint needs"  # on 403
    not_found: str = "check base_url (it should end in /v1)"  # on 404
    secret: str | None = field(default=None, repr=False)  # never in a message, even if a proxy echoes it


class Bearer(httpx.Auth):
    """`Authorization: Bearer <key>` on every request."""

    def __init__(self, key: str) -> None:
        self._header = f"Bearer {key}"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._header
        yield request


class KeyHeader(httpx.Auth):
    """The key in a header of the provider's own (Anthropic: `x-api-key`)."""

    def __init__(self, header: str, key: str) -> None:
        self._header, self._key = header, key

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers[self._header] = self._key
        yield request


def make_client(
    base_url: str,
    headers: Mapping[str, str] | None = None,
    *,
    auth: httpx.Auth | None = None,
    timeout: float = 60.0,
) -> httpx.Client:
    """The client one connector owns (and closes): base URL, fixed headers, auth."""
    return httpx.Client(
        base_url=base_url, headers=dict(headers or {}), auth=auth, timeout=timeout, follow_redirects=True
    )


def _flatten(params: Params | None) -> list[tuple[str, str | int | float | bool | None]]:
    if params is None:
        return []
    if not isinstance(params, Mapping):
        return list(params)
    out: list[tuple[str, str | int | float | bool | None]] = []
    for name, value in params.items():
        if value is None:
            continue
        if isinstance(value, str | int):
            out.append((name, value))
        else:
            out.extend((name, v) for v in value)
    return out


def _retry_after(response: httpx.Response) -> float | None:
    raw = response.headers.get("retry-after")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        return None  # an HTTP date: rare on these APIs; fall back to backoff


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])[:300]
    if isinstance(body, dict) and isinstance(body.get("message"), str):  # GitHub: {"message": ...}
        return str(body["message"])[:300]
    return response.text[:200]


# reads a 4xx answer: the seconds it asks to wait when it is a throttling one, else None
# (the default reads only a 429's Retry-After: see get_json)
Throttle = Callable[[httpx.Response], float | None]


@dataclass(frozen=True)
class Api:
    """One source's line to its provider: the client, the advice its errors carry, the retry
    policy and the throttle reading, so a connector's call names only what differs."""

    client: httpx.Client
    hints: Hints
    policy: RetryPolicy = RetryPolicy()
    throttle: Throttle | None = None

    def get(
        self, path: str, params: Params | None = None, *, endpoint: str, page: int | None = None
    ) -> dict[str, Any]:
        return self.get_response(path, params, endpoint=endpoint, page=page)[0]

    def get_response(
        self, path: str, params: Params | None = None, *, endpoint: str, page: int | None = None
    ) -> tuple[dict[str, Any], httpx.Response]:
        return get_response(
            self.client,
            path,
            params=params,
            hints=self.hints,
            endpoint=endpoint,
            page=page,
            policy=self.policy,
            throttle=self.throttle,
        )

    def post(
        self,
        path: str,
        body: Mapping[str, Any],
        params: Params | None = None,
        *,
        endpoint: str,
        page: int | None = None,
    ) -> dict[str, Any]:
        return post_json(
            self.client,
            path,
            body,
            params=params,
            hints=self.hints,
            endpoint=endpoint,
            page=page,
            policy=self.policy,
            throttle=self.throttle,
        )


def get_json(
    client: httpx.Client,
    path: str,
    *,
    params: Params | None = None,
    hints: Hints,
    endpoint: str,
    page: int | None = None,
    policy: RetryPolicy = RetryPolicy(),
    throttle: Throttle | None = None,
) -> dict[str, Any]:
    """GET `path` and return its JSON object, retrying what a retry can fix."""
    return get_response(
        client,
        path,
        params=params,
        hints=hints,
        endpoint=endpoint,
        page=page,
        policy=policy,
        throttle=throttle,
    )[0]


def get_response(
    client: httpx.Client,
    path: str,
    *,
    params: Params | None = None,
    hints: Hints,
    endpoint: str,
    page: int | None = None,
    policy: RetryPolicy = RetryPolicy(),
    throttle: Throttle | None = None,
) -> tuple[dict[str, Any], httpx.Response]:
    """`get_json`, also handing back the response (its headers: Link paging)."""
    flat = _flatten(params)
    return _json_call(lambda: client.get(path, params=flat), hints, endpoint, page, policy, throttle)


def post_json(
    client: httpx.Client,
    path: str,
    body: Mapping[str, Any],
    *,
    params: Params | None = None,
    hints: Hints,
    endpoint: str,
    page: int | None = None,
    policy: RetryPolicy = RetryPolicy(),
    throttle: Throttle | None = None,
) -> dict[str, Any]:
    """POST `body` as JSON to `path` and return the JSON object answered, retrying like `get_json`."""
    flat = _flatten(params) or None  # None, not []: httpx drops a query already in `path` for []
    send = lambda: client.post(path, params=flat, json=body)  # noqa: E731
    return _json_call(send, hints, endpoint, page, policy, throttle)[0]


def _json_call(
    send: Callable[[], httpx.Response],
    hints: Hints,
    endpoint: str,
    page: int | None,
    policy: RetryPolicy,
    throttle: Throttle | None,
) -> tuple[dict[str, Any], httpx.Response]:
    try:
        return _attempts(send, hints, endpoint, page, policy, throttle)
    except SourceError as exc:  # defence in depth: an echoing proxy must not leak the key
        secret = hints.secret
        if secret and len(secret) > 3 and secret in str(exc):
            message = str(exc).replace(secret, "[key]")
            raise SourceError(exc.kind, message, endpoint=exc.endpoint, page=exc.page) from None
        raise


def _attempts(
    send: Callable[[], httpx.Response],
    hints: Hints,
    endpoint: str,
    page: int | None,
    policy: RetryPolicy,
    throttle: Throttle | None,
) -> tuple[dict[str, Any], httpx.Response]:
    where = f"{endpoint}" + (f" (page {page})" if page else "")
    prefix = f'{hints.provider} source "{hints.source}", {where}'
    wait = policy.backoff
    last = ""
    for attempt in range(1, policy.max_attempts + 1):
        try:
            response = send()
        except httpx.TransportError as exc:
            last = f"network error: {type(exc).__name__}: {exc}"
            if attempt == policy.max_attempts:
                raise SourceError(
                    "network",
                    f"{prefix}: {last} after {attempt} attempts; check base_url and the network",
                    endpoint=endpoint,
                    page=page,
                ) from None
            policy.sleep(min(wait, policy.max_wait))
            wait *= 2
            continue
        status = response.status_code
        if status < 300:
            try:  # floats as Decimal: OpenAI sends dollar amounts as JSON numbers
                body = json.loads(response.content, parse_float=Decimal)
            except ValueError:
                raise SourceError(
                    "malformed", f"{prefix}: the response is not JSON", endpoint=endpoint, page=page
                ) from None
            if not isinstance(body, dict):
                raise SourceError(
                    "malformed", f"{prefix}: the response is not a JSON object", endpoint=endpoint, page=page
                )
            return body, response
        pause = throttle(response) if throttle is not None and status >= 400 else None
        if status == 401:
            raise SourceError(
                "auth", f"{prefix}: 401 {_error_text(response)}: {hints.auth}", endpoint=endpoint, page=page
            )
        if status == 403 and pause is None:
            raise SourceError(
                "permission",
                f"{prefix}: 403 {_error_text(response)}: {hints.permission}",
                endpoint=endpoint,
                page=page,
            )
        if status == 404:
            raise SourceError(
                "not_found",
                f"{prefix}: 404 {_error_text(response)}: {hints.not_found}",
                endpoint=endpoint,
                page=page,
            )
        if pause is not None or status == 429 or status >= 500:
            kind: ErrorKind = "rate_limited" if pause is not None or status == 429 else "server"
            last = f"{status} {_error_text(response)}"
            if attempt == policy.max_attempts:
                advice = (
                    "the provider keeps rate-limiting; sync again later"
                    if kind == "rate_limited"
                    else "try later"
                )
                raise SourceError(
                    kind, f"{prefix}: {last} after {attempt} attempts; {advice}", endpoint=endpoint, page=page
                )
            after = pause if pause is not None else _retry_after(response) if status == 429 else None
            policy.sleep(min(after if after is not None else wait, policy.max_wait))
            wait *= 2
            continue
        raise SourceError(
            "config", f"{prefix}: {status} {_error_text(response)}", endpoint=endpoint, page=page
        )
    raise AssertionError("unreachable")  # pragma: no cover


def field_path(loc: tuple[int | str, ...]) -> str:
    """Pydantic's error location as the JSON path a reader knows: data[0].results[2].amount."""
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path
