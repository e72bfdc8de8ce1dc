"""The boto3 Cost Explorer client an `aws` source talks through, and its errors as SourceErrors.

Only `sources/aws.py` imports this. boto3 signs every request (SigV4) with either the
stored access key pair or the standard AWS credential chain, and is pointed at
`endpoint_url` when one is set (proxies, the fake in tests). Its own retries are off:
`call` retries what a retry can fix with the source's `RetryPolicy` (throttling
- Cost Explorer allows about 5 requests a second - and 5xx back off exponentially;
boto3 gives no Retry-After), and turns every other failure into a `SourceError` whose
kind tells the sync what to do and whose message says what to fix. The secret access
key is handed to boto3 only and never appears in a message.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    HTTPClientError,
    NoCredentialsError,
    PartialCredentialsError,
    ProfileNotFound,
)
from botocore.parsers import ResponseParserError

from spendledger.sources._http import RetryPolicy
from spendledger.sources.errors import ErrorKind, SourceError

DEFAULT_REGION = "us-east-1"  # Cost Explorer's one endpoint lives there
DEFAULT_ENDPOINT = "https://ce.us-east-1.amazonaws.com"

AUTH_ADVICE = (
    "the access key pair is not valid: check the access_key_id option and the secret access key "
    "(IAM → Users → Security credentials → Access keys); with credentials=chain, check the profile, "
    "the AWS_* environment variables or the role"
)
PERMISSION_ADVICE = (
    "the key needs ce:GetCostAndUsage and ce:GetDimensionValues on the payer (management) account or "
    'on the linked account it reads; grant them in IAM (a policy allowing both actions on "*")'
)
_AUTH_CODES = {
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "InvalidClientTokenId",
    "IncompleteSignature",
    "MissingAuthenticationToken",
    "ExpiredTokenException",
    "ExpiredToken",
}
_THROTTLING_CODES = {
    "ThrottlingException",
    "LimitExceededException",
    "Throttling",
    "TooManyRequestsException",
}
_RESTART_CODES = {"RequestChangedException", "InvalidNextTokenException"}


class TokenExpired(SourceError):
    """Cost Explorer refused a NextPageToken (its data changed while we paged): start again."""


@dataclass(frozen=True)
class Credentials:
    """How boto3 signs: a stored access key pair, or the standard chain (a profile or the default)."""

    access_key_id: str | None  # None: the chain
    secret: str  # the secret access key, or the chain's profile ("default": the default chain)
    region: str
    endpoint_url: str | None

    @classmethod
    def from_options(cls, key: str, options: Mapping[str, str]) -> Credentials:
        mode = (options.get("credentials") or "keys").strip().lower()
        access_key_id = (options.get("access_key_id") or "").strip()
        region = (options.get("region") or DEFAULT_REGION).strip()
        endpoint = (options.get("endpoint_url") or options.get("base_url") or "").strip() or None
        if mode == "chain":
            if access_key_id:
                raise SourceError("config", "credentials=chain takes no access_key_id: drop one of them")
            return cls(None, key.strip(), region, endpoint)
        if mode != "keys":
            raise SourceError("config", f"credentials must be keys or chain, not {mode!r}")
        if not access_key_id:
            raise SourceError(
                "config",
                "give the access key id with --option access_key_id=AKIA… (the key is its secret access "
                "key), or --option credentials=chain to use the AWS profile/environment/role",
            )
        return cls(access_key_id, key, region, endpoint)


_shared: list[botocore.session.Session] = []  # one session builds every key pair's client
_shared_lock = threading.Lock()


def make_client(credentials: Credentials) -> Any:
    """A Cost Explorer client signing with `credentials` (clients are thread-safe, sessions are not).

    Key pairs share one botocore session, whose loader reads Cost Explorer's model once
    (a fresh session takes ~0.25 s to build a client); the chain gets a session of its own,
    reading the profile, environment and role as they are now.
    """
    config = Config(
        retries={"total_max_attempts": 1},  # `call` retries, with the source's policy
        connect_timeout=10,
        read_timeout=60,
        user_agent_extra="spendledger",
    )
    try:
        if credentials.access_key_id is None:
            profile = None if credentials.secret in ("", "default") else credentials.secret
            session = boto3.session.Session(profile_name=profile, region_name=credentials.region)
            return session.client("ce", endpoint_url=credentials.endpoint_url, config=config)
        with _shared_lock:
            if not _shared:
                _shared.append(botocore.session.get_session())
            return _shared[0].create_client(
                "ce",
                region_name=credentials.region,
                endpoint_url=credentials.endpoint_url,
                aws_access_key_id=credentials.access_key_id,
                aws_secret_access_key=credentials.secret,
                config=config,
            )
    except ProfileNotFound as exc:
        raise SourceError(
            "auth", f"{exc}; the key of a credentials=chain source names an AWS profile"
        ) from None
    except BotoCoreError as exc:
        raise SourceError("config", f"cannot build the Cost Explorer client: {exc}") from None


def call(
    client: Any,
    operation: str,
    request: dict[str, Any],
    *,
    where: str,
    endpoint: str,
    page: int | None,
    policy: RetryPolicy,
    secret: str,
) -> dict[str, Any]:
    """`client.<operation>(**request)`'s answer, retrying throttling, 5xx and network failures.

    `where` prefixes every message (`AWS source "Acme", costs (page 2)`).
    """
    wait = policy.backoff
    for attempt in range(1, policy.max_attempts + 1):
        try:
            answer: dict[str, Any] = getattr(client, operation)(**request)
            return answer
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", "")).rsplit("#", 1)[-1]
            message = _scrub(str(error.get("Message", "")), secret)
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
            kind = _kind(code, status)
            text = f"{where}: {code or status} {message}".rstrip()
            if kind == "retry":
                if attempt == policy.max_attempts:
                    throttled = code in _THROTTLING_CODES
                    advice = "try later"
                    if throttled:
                        advice = "Cost Explorer kept throttling (about 5 requests a second); sync again later"
                    raise SourceError(
                        "rate_limited" if throttled else "server",
                        f"{text} after {attempt} attempts; {advice}",
                        endpoint=endpoint,
                        page=page,
                    ) from None
            elif kind == "restart":
                raise TokenExpired("server", f"{text}", endpoint=endpoint, page=page) from None
            else:
                raise SourceError(
                    kind, f"{text}: {_advice(kind, code)}", endpoint=endpoint, page=page
                ) from None
        except (NoCredentialsError, PartialCredentialsError) as exc:
            raise SourceError(
                "auth", f"{where}: {exc}: {AUTH_ADVICE}", endpoint=endpoint, page=page
            ) from None
        except (ResponseParserError, AttributeError, TypeError, ValueError):
            # botocore parses the answer against Cost Explorer's model: a wrong shape fails in it
            raise SourceError(
                "malformed",
                f"{where}: the answer does not have Cost Explorer's shape; check endpoint_url",
                endpoint=endpoint,
                page=page,
            ) from None
        except (ConnectionError, HTTPClientError) as exc:
            if attempt == policy.max_attempts:
                raise SourceError(
                    "network",
                    f"{where}: network error: {type(exc).__name__} after {attempt} attempts; "
                    "check endpoint_url and the network",
                    endpoint=endpoint,
                    page=page,
                ) from None
        except BotoCoreError as exc:
            raise SourceError(
                "config", f"{where}: {_scrub(str(exc), secret)}", endpoint=endpoint, page=page
            ) from None
        policy.sleep(min(wait, policy.max_wait))
        wait *= 2
    raise AssertionError("unreachable")  # pragma: no cover


def _kind(code: str, status: int) -> ErrorKind | Literal["retry", "restart"]:
    """The error kind of a Cost Explorer error code; "retry", or "restart" paging from the first page."""
    if code in _THROTTLING_CODES or status == 429:
        return "retry"
    if code in _RESTART_CODES:
        return "restart"
    if code in _AUTH_CODES or status == 401:
        return "auth"
    if code in ("AccessDeniedException", "AccessDenied") or status == 403:
        return "permission"
    if code in ("DataUnavailableException", "BillExpirationException"):
        return "not_found"
    if status >= 500 or code in ("InternalServerError", "ServiceUnavailableException", "ServiceUnavailable"):
        return "retry"
    return "config"


def _advice(kind: str, code: str) -> str:
    if kind == "auth":
        return AUTH_ADVICE
    if kind == "permission":
        return PERMISSION_ADVICE
    if code == "DataUnavailableException":
        return (
            "Cost Explorer has no data for this period yet: enable Cost Explorer in the Billing console "
            "(its data appears within 24 hours) or sync a later period"
        )
    if code == "BillExpirationException":
        return "the period is older than Cost Explorer keeps (about 13 months); sync a later period"
    return "check the source's options (region, endpoint_url, group_by, cost_metric)"


def _scrub(text: str, secret: str) -> str:
    return text.replace(secret, "[key]") if secret and len(secret) > 3 else text
