"""OAuth 2 client credentials as an `httpx.Auth`: fetch a token, reuse it, refresh it.

A source whose key is a client secret (Azure's service principals; later other clouds)
declares `SourceType.auth` as a function building a `ClientCredentials` from its config.
The connector's client then signs every request with `Authorization: Bearer <token>`:

- the token is fetched from `token_url` (RFC 6749 §4.4: a form POST of grant_type,
  client_id, client_secret and scope) on the first request, and again when it is within
  `margin` seconds of its `expires_in`, or when the API answers 401 to it (revoked or
  expired early): one fresh token, one retry, never a loop;
- the token request goes through the same client (its transport, timeouts and proxies),
  so tests point `token_url` at a fake like any other URL;
- a 429, a 5xx or a network failure of the token endpoint is handed back as the answer to
  the request it was fetched for, so `_http`'s retries and Retry-After apply to it too;
- a 400/401 of the token endpoint is the credentials' fault: `on_error` turns it into the
  provider's `SourceError` (which secret, tenant or client id to fix, and where);
- the secret travels only in the token request's form body; it is never in a message.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator

import httpx

from spendledger.sources.errors import SourceError

TokenError = Callable[[httpx.Response], SourceError]  # a 400/401 of the token endpoint → what to fix


class ClientCredentials(httpx.Auth):
    """Bearer tokens from an OAuth 2 token endpoint, by the client-credentials grant."""

    requires_response_body = True  # the token answer is read inside the flow

    def __init__(
        self,
        *,
        token_url: str,
        client_id: str,
        client_secret: str,
        scope: str,
        on_error: TokenError,
        margin: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url, self._on_error, self._margin, self._clock = token_url, on_error, margin, clock
        self._form = {
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": client_secret,
            "scope": scope,
        }
        self._token: str | None = None
        self._renew_at = 0.0  # on `clock`: `margin` (at most half its life) before the token expires
        self.fetched = 0  # tokens fetched so far (for tests and diagnostics)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        fresh = False
        if self._token is None or self._clock() >= self._renew_at:
            failed = yield from self._fetch()
            if failed:
                return
            fresh = True
        request.headers["Authorization"] = f"Bearer {self._token}"
        response = yield request
        if response.status_code != 401 or fresh:
            return
        failed = yield from self._fetch()  # the token was refused: one new token, one retry
        if failed:
            return
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request

    def _fetch(self) -> Generator[httpx.Request, httpx.Response, bool]:
        """Fetch a token; True when the endpoint failed transiently (its answer stands)."""
        self._token = None
        asked = self._clock()
        response = yield httpx.Request(
            "POST", self._url, data=self._form, headers={"Accept": "application/json"}
        )
        if response.status_code == 429 or response.status_code >= 500:
            return True
        if response.status_code >= 300:
            raise self._on_error(response)
        try:
            body = response.json()
        except ValueError:
            body = None
        token = body.get("access_token") if isinstance(body, dict) else None
        seconds = _seconds(body.get("expires_in", 3600) if isinstance(body, dict) else None)
        if not isinstance(token, str) or not token or seconds is None:
            raise SourceError(
                "malformed",
                f"the token endpoint {self._url} answered {response.status_code} without a usable "
                "access_token and expires_in; check login_url",
            )
        self._token, self._renew_at = token, asked + seconds - min(self._margin, seconds / 2)
        self.fetched += 1
        return False


def _seconds(value: object) -> float | None:
    """A token's `expires_in`: a number (Entra) or a numeric string (some servers); None if neither."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if 0 <= seconds < 10**9 else None
