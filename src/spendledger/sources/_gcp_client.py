"""The BigQuery client a `gcp` source talks through: credentials, retries and errors.

Only `sources/gcp.py` imports this. The client is google-cloud-bigquery's own, built from
the stored service-account key (`service_account.Credentials`: the JWT-bearer exchange at
the key's `token_uri`) and pointed at `endpoint_url` when set (tests, proxies). Its
retrying is replaced by `PolicyRetry`, which follows the source's `RetryPolicy` (so tests
never sleep and a sync gives up when the other sources do) and honours `Retry-After`.
`translate` turns what the Google libraries raise into a `SourceError` that says what to
do: the IAM roles on 403 accessDenied, a new key on 401 / invalid_grant, the `table`
option on 404 notFound. The key never appears in a message.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import requests
from google.api_core import exceptions as api_errors
from google.api_core import retry
from google.auth import exceptions as auth_errors
from google.cloud import bigquery
from google.oauth2 import service_account

from spendledger.errors import SpendledgerError
from spendledger.sources._http import RetryPolicy
from spendledger.sources.errors import ErrorKind, SourceError

SCOPES = ("https://www.googleapis.com/auth/bigquery",)
# BigQuery's reasons for a failure a later attempt may not meet (its own client retries these)
_RETRY_REASONS = frozenset({"rateLimitExceeded", "jobRateLimitExceeded", "backendError", "internalError"})
_RETRY_CODES = frozenset({429, 500, 502, 503, 504})
T = TypeVar("T")
_REQUEST = re.compile(r"^(GET|POST|PUT|PATCH|DELETE) \S+: ")  # google-api-core's prefix of a message


def make_client(
    info: dict[str, Any], *, project: str, endpoint: str | None, location: str | None
) -> bigquery.Client:
    """A BigQuery client that runs its jobs in `project`, authenticated as the key's account."""
    credentials = service_account.Credentials.from_service_account_info(info, scopes=list(SCOPES))  # type: ignore[no-untyped-call]
    options = {"api_endpoint": endpoint} if endpoint else None
    return bigquery.Client(
        project=project, credentials=credentials, client_options=options, location=location
    )


def _reason(exc: api_errors.GoogleAPICallError) -> str:
    for error in exc.errors or ():
        if isinstance(error, dict) and error.get("reason"):
            return str(error["reason"])
    return ""


def _retry_after(exc: api_errors.GoogleAPICallError) -> float | None:
    response = getattr(exc, "response", None)
    raw = response.headers.get("Retry-After") if response is not None else None
    try:
        return max(0.0, float(raw)) if raw is not None else None
    except ValueError:
        return None


def _transient(exc: Exception) -> bool:
    if isinstance(exc, api_errors.GoogleAPICallError):
        return exc.code in _RETRY_CODES or _reason(exc) in _RETRY_REASONS
    if isinstance(exc, auth_errors.RefreshError):
        return bool(getattr(exc, "retryable", False))
    return isinstance(exc, requests.ConnectionError | requests.Timeout | auth_errors.TransportError)


class GaveUp(SpendledgerError):
    """A transient failure that lasted through every attempt (translated into a SourceError)."""

    def __init__(self, cause: Exception, attempts: int) -> None:
        super().__init__(str(cause))
        self.cause, self.attempts = cause, attempts


class PolicyRetry(retry.Retry):
    """A google-api-core retry that follows a RetryPolicy (its sleep, attempts and waits).

    The client calls it around each HTTP request (jobs.query, each getQueryResults page,
    tables.get), so a throttled page is asked again, not the whole query; as the job retry
    it wraps the whole query, which only an error the requests did not retry reaches.
    """

    def __init__(self, policy: RetryPolicy) -> None:
        super().__init__(predicate=_transient)
        self.policy = policy

    def __call__(
        self, func: Callable[..., T], on_error: Callable[[Exception], Any] | None = None
    ) -> Callable[..., T]:
        @functools.wraps(func)
        def retried(*args: Any, **kwargs: Any) -> T:
            wait = self.policy.backoff
            for attempt in range(1, self.policy.max_attempts + 1):
                try:
                    return func(*args, **kwargs)
                except Exception as exc:
                    if not _transient(exc):
                        raise
                    if attempt == self.policy.max_attempts:
                        raise GaveUp(exc, attempt) from exc
                    after = _retry_after(exc) if isinstance(exc, api_errors.GoogleAPICallError) else None
                    self.policy.sleep(min(after if after is not None else wait, self.policy.max_wait))
                    wait *= 2
            raise AssertionError("unreachable")  # pragma: no cover

        return retried


@dataclass(frozen=True)
class Context:
    """What an error message names: the source, the account, the table and the job project."""

    source: str
    email: str
    table: str
    project: str

    @property
    def dataset(self) -> str:
        return self.table.rsplit(".", 1)[0]


def translate(exc: Exception, context: Context, *, endpoint: str, page: int | None = None) -> SourceError:
    """What the Google libraries raised, as a SourceError naming what to do."""
    prefix = f'Google source "{context.source}", {endpoint}' + (f" (page {page})" if page else "")
    attempts = f" after {exc.attempts} attempts" if isinstance(exc, GaveUp) else ""
    exc = exc.cause if isinstance(exc, GaveUp) else exc
    kind: ErrorKind
    if isinstance(exc, auth_errors.RefreshError):
        if getattr(exc, "retryable", False):
            return SourceError(
                "server", f"{prefix}: the token endpoint failed{attempts}: {exc.args[0]}; try later"
            )
        kind, advice = (
            "auth",
            (
                f"the service-account key was refused ({exc.args[0]}): it is wrong, disabled or deleted; "
                f"create a new JSON key for {context.email} under IAM & Admin → Service accounts → Keys "
                "and set it as this source's key"
            ),
        )
        return SourceError(kind, f"{prefix}: {advice}", endpoint=endpoint, page=page)
    if isinstance(exc, api_errors.GoogleAPICallError):
        reason, message = _reason(exc), _REQUEST.sub("", exc.message, count=1)
        code = exc.code or 0
        status = f"{code} {reason}".strip()
        if code == 429 or reason in _RETRY_REASONS and code < 500:
            kind, advice = "rate_limited", "BigQuery keeps rate-limiting; sync again later"
        elif code >= 500:
            kind, advice = "server", "BigQuery failed; try later"
        elif code == 401:
            kind, advice = (
                "auth",
                (
                    f"the key's token was refused: create a new JSON key for {context.email} under "
                    "IAM & Admin → Service accounts → Keys and set it as this source's key"
                ),
            )
        elif code == 403:
            kind, advice = (
                "permission",
                (
                    f"the service account {context.email} needs roles/bigquery.dataViewer on the dataset "
                    f"{context.dataset} and roles/bigquery.jobUser on the project {context.project}; grant "
                    "them in IAM (IAM & Admin → IAM, or the dataset's Sharing → Permissions)"
                ),
            )
        elif code == 404:
            kind, advice = (
                "not_found",
                (
                    f"check the table option: table={context.table} should name the billing export "
                    "(project.dataset.gcp_billing_export_v1_<BILLING_ACCOUNT_ID>, or _resource_v1_ for the "
                    "detailed export), and the job project and location should exist"
                ),
            )
        else:
            kind, advice = (
                "config",
                "BigQuery refused the query; check the table option names a billing export",
            )
        text = f"{prefix}: {status}: {message}{attempts}: {advice}"
        return SourceError(kind, text, endpoint=endpoint, page=page)
    what = f"{type(exc).__name__}: {exc}"
    return SourceError(
        "network",
        f"{prefix}: network error{attempts}: {what[:300]}; check endpoint_url and the network",
        endpoint=endpoint,
        page=page,
    )
