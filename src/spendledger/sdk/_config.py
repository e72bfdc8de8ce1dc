"""The SDK's settings: `configure()`'s arguments over the environment, checked once.

A bad value never raises: each problem is returned as a sentence saying what to do
(the sender logs it and keeps it in `stats().last_error`), a bad tuning value falls back
to its default, and a bad destination leaves the SDK without one (events are counted
and dropped), since an application must never fail because its meter is misconfigured.
Standard library only.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from spendledger.sdk._context import Attribution

ENV_URL = "SPENDLEDGER_URL"
ENV_TOKEN = "SPENDLEDGER_TOKEN"
ENV_DATABASE_URL = "SPENDLEDGER_DATABASE_URL"
ENV_SPILL_DIR = "SPENDLEDGER_SPILL_DIR"
ENV_TIMEZONE = "SPENDLEDGER_TIMEZONE"  # the server's own setting: days of the ledger (database mode)
INGEST_PATH = "/api/v1/events"

_N = TypeVar("_N", int, float)

MAX_QUEUE = 10_000
BATCH_SIZE = 500
FLUSH_INTERVAL = 1.0


@dataclass(frozen=True, slots=True)
class Config:
    endpoint: str | None  # the ingest API's full URL, e.g. http://ledger:8000/api/v1/events
    token: str | None
    database_url: str | None
    defaults: Attribution  # the lowest-precedence attribution, applied when a batch is sent
    spill_dir: Path  # the root folder; each destination spills into its own subfolder
    max_queue: int
    batch_size: int
    flush_interval: float
    enabled: bool
    timezone: str

    @property
    def destination(self) -> str | None:
        """Where events go, as shown in messages (a database URL without its password)."""
        if self.endpoint:
            return self.endpoint
        return _without_password(self.database_url) if self.database_url else None

    @property
    def spill_folder(self) -> Path:
        """This destination's spill folder: a ledger never receives another's events."""
        key = hashlib.sha256((self.destination or "").encode()).hexdigest()[:16]
        return self.spill_dir / key


def resolve(
    *,
    url: Any,
    token: Any,
    database_url: Any,
    project: Any,
    user: Any,
    feature: Any,
    tags: Any,
    spill_dir: Any,
    account: Any = None,
    customer: Any = None,
    max_queue: Any,
    batch_size: Any,
    flush_interval: Any,
    enabled: Any,
    tz: Any,
    environ: Mapping[str, str] = os.environ,
) -> tuple[Config, list[str]]:
    """The configuration from arguments (None: the environment, then the default), and the
    problems found in it."""
    problems: list[str] = []
    url = url if url is not None else environ.get(ENV_URL) or None
    token = token if token is not None else environ.get(ENV_TOKEN) or None
    database_url = database_url if database_url is not None else environ.get(ENV_DATABASE_URL) or None
    endpoint = None
    if url is not None:
        endpoint = endpoint_url(url)
        if endpoint is None:
            problems.append(
                f"url {url!r} is not the base URL of a spendledger server: "
                f"give one such as http://ledger.example.com:8000 (configure(url=...) or {ENV_URL})"
            )
        if database_url is not None:
            problems.append(
                "both url and database_url are set: events go to the url, database_url is ignored"
            )
            database_url = None
        if endpoint is not None and not token:
            problems.append(
                f"no API token for {endpoint}: create one with `spendledger tokens create NAME` "
                f"on the server and pass token=... or set {ENV_TOKEN}"
            )
    if database_url is not None and not isinstance(database_url, str):
        problems.append(f"database_url must be a string such as sqlite:///ledger.db, got {database_url!r}")
        database_url = None
    if token is not None and not isinstance(token, str):
        problems.append(f"token must be a string, got {type(token).__name__}")
        token = None
    config = Config(
        endpoint=endpoint,
        token=token,
        database_url=database_url,
        defaults=_attribution(project, user, feature, tags, problems, account=account, customer=customer),
        spill_dir=_spill_dir(spill_dir, environ, problems),
        max_queue=_positive(int, "max_queue", max_queue, MAX_QUEUE, problems),
        batch_size=_positive(int, "batch_size", batch_size, BATCH_SIZE, problems),
        flush_interval=_positive(float, "flush_interval", flush_interval, FLUSH_INTERVAL, problems),
        enabled=bool(enabled),
        timezone=_timezone(tz, environ, problems, needed=database_url is not None),
    )
    return config, problems


def endpoint_url(url: Any) -> str | None:
    """The ingest endpoint for a server's base URL (given with or without /api/v1[/events])."""
    if not isinstance(url, str):
        return None
    try:
        parts = urlsplit(url.strip())
        _ = parts.port  # raises on a port that is not a number
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    path = parts.path.rstrip("/")
    if not path.endswith(INGEST_PATH):
        path = path.removesuffix("/api/v1") + INGEST_PATH
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def default_spill_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """A per-user cache folder: XDG_CACHE_HOME or ~/.cache (LOCALAPPDATA on Windows)."""
    base = environ.get("LOCALAPPDATA") if os.name == "nt" else environ.get("XDG_CACHE_HOME")
    if not base:
        try:
            base = str(Path.home() / ("AppData/Local" if os.name == "nt" else ".cache"))
        except RuntimeError:  # no home directory (some service accounts)
            base = str(
                Path(tempfile.gettempdir()) / f"spendledger-{os.getuid() if hasattr(os, 'getuid') else 0}"
            )
    return Path(base) / "spendledger" / "spill"


def _spill_dir(value: Any, environ: Mapping[str, str], problems: list[str]) -> Path:
    value = value if value is not None else environ.get(ENV_SPILL_DIR) or None
    if value is None:
        return default_spill_dir(environ)
    try:
        return Path(value).expanduser()
    except (TypeError, RuntimeError):
        problems.append(f"spill_dir must be a path, got {value!r}; using {default_spill_dir(environ)}")
        return default_spill_dir(environ)


def _positive(kind: type[_N], name: str, value: Any, default: _N, problems: list[str]) -> _N:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        problems.append(f"{name} must be a number above zero, got {value!r}; using {default}")
        return default
    return kind(value)


def _attribution(
    project: Any,
    user: Any,
    feature: Any,
    tags: Any,
    problems: list[str],
    *,
    account: Any = None,
    customer: Any = None,
) -> Attribution:
    fields: dict[str, str | None] = {}
    named = (("project", project), ("user", user), ("feature", feature), ("account", account))
    for name, value in (*named, ("customer", customer)):
        if value is not None and not isinstance(value, str):
            problems.append(f"{name} must be a string, got {value!r}; using {str(value)!r}")
            value = str(value)
        fields[name] = value
    if tags is not None and not isinstance(tags, Mapping):
        problems.append(
            f"tags must be a mapping such as {{'env': 'prod'}}, got {type(tags).__name__}; ignored"
        )
        tags = None
    return Attribution(**fields, tags=dict(tags or {}))


def _timezone(value: Any, environ: Mapping[str, str], problems: list[str], *, needed: bool) -> str:
    name = getattr(value, "key", value) if value is not None else environ.get(ENV_TIMEZONE) or "UTC"
    if not needed:
        return str(name)
    from zoneinfo import ZoneInfo

    try:
        ZoneInfo(name)
    except (ValueError, TypeError, KeyError, OSError):  # ZoneInfoNotFoundError is a KeyError
        problems.append(f"tz {value!r} is not an IANA time zone such as Europe/Paris; using UTC")
        return "UTC"
    return str(name)


def _without_password(url: str) -> str:
    return re.sub(r"(//[^:/@]+):[^@/]*@", r"\1:***@", url)
