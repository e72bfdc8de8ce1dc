"""Download the ECB's rate file (or any file `files.read_rates` reads) from a URL.

The URL is a setting (SPENDLEDGER_FX_URL, default the ECB's daily XML), so a proxy, a
mirror or a fake server in tests can stand in. One GET with a timeout, redirects
followed, the body capped; every failure is an `FxFetchError` saying what went wrong
and what to check, never a traceback.
"""

from __future__ import annotations

import httpx

from spendledger.errors import SpendledgerError

MAX_BYTES = 64 * 1024 * 1024
TIMEOUT = 30.0


class FxFetchError(SpendledgerError, RuntimeError):
    """The rate file could not be downloaded; the message names the URL and the cause."""


def fetch_rate_file(url: str, *, client: httpx.Client | None = None) -> bytes:
    """The body of `url` (http or https), at most MAX_BYTES."""
    if not url.startswith(("http://", "https://")):
        raise FxFetchError(f"SPENDLEDGER_FX_URL {url!r} is not an http(s) URL", field="url")
    own = client is None
    http = client or httpx.Client(timeout=TIMEOUT, follow_redirects=True)
    try:
        with http.stream("GET", url) as response:
            if response.status_code != 200:
                raise FxFetchError(
                    f"{url} answered HTTP {response.status_code}; check SPENDLEDGER_FX_URL", field="url"
                )
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_BYTES:
                    message = f"{url} sent more than {MAX_BYTES:,} bytes: not a rate file"
                    raise FxFetchError(message, field="url")
            return bytes(body)
    except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
        raise FxFetchError(
            f"could not fetch {url}: {exc.__class__.__name__}: {exc}; "
            "check SPENDLEDGER_FX_URL and the network",
            field="url",
        ) from None
    finally:
        if own:
            http.close()
