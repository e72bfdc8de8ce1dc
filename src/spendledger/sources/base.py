"""The source type declaration, the connector contract and the registry of types.

A source type (`SourceType`) declares its name and label, the key it needs, the
options it takes (typed, with help) and its connector: how to check a key and fetch
pages. `sources add`, the /sources form and `sources test|remove` are generated from
it (sources_admin.py). The registry finds types without importing them up front and
without any registering at import time: the built-in modules below are imported by
name when asked for, then the `spendledger.sources` entry-point group, so a package
of a third party adds a type by declaring `name = "module:SOURCE_TYPE"` there.

A connector only translates. It fetches one endpoint at a time, page after page, and
hands each page to the caller as a `Page`: the UTC day buckets the page covers and the
records those buckets hold. The sync (sync.py) writes each page in one transaction and
*replaces* what the ledger held for those buckets of that endpoint, so a revised bucket
replaces the old figures, a re-run changes nothing, and an interrupted run keeps the
pages it completed.

A source that can only read a balance (DeepSeek) hands over `Page.balances` instead of
records: the sync stores each reading and derives the spend from the drops between
readings (sources/balance.py).

Record conventions every connector follows:
- `source` is the source's name (`SourceConfig.name`); `key` starts with the endpoint
  name and a bar (`"costs|proj_1|gpt-4o, input"`), then the ids (never display names)
  that make the record unique within its bucket; `start`/`end` are the bucket's.
- `account` is `options["account"]`, else the source's name: one source is one account.
- money records (cost reports) are basis billed, pricing status `provider`, requests 0,
  no tokens; usage records are basis billed, pricing status `provider`, cost 0, with
  their tokens and requests. A report by model then shows the provider's money and its
  tokens on one row, and nothing is counted twice.

Errors carry what to do: `SourceError.kind` tells the sync whether to stop this source
(auth, permission, malformed) or whether it was a transient failure that ran out of
retries (rate_limited, server, network).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from importlib.metadata import entry_points
from typing import Literal, Protocol, runtime_checkable

import httpx

from spendledger.records import UsageRecord
from spendledger.sources._http import Bearer, RetryPolicy, make_client
from spendledger.sources.errors import ErrorKind, SourceError

__all__ = [
    "ENTRY_POINTS",
    "BalanceReading",
    "Connector",
    "ConnectorFactory",
    "ErrorKind",
    "HasProviderNote",
    "Option",
    "Page",
    "SourceConfig",
    "SourceError",
    "SourceType",
    "connector_for",
    "source_type",
    "source_types",
]


@dataclass(frozen=True)
class BalanceReading:
    """A provider's balance in one currency, as read now (the sync stamps the moment).

    `granted` and `topped_up` are the parts of `total` when the provider tells them
    (DeepSeek: granted credit and paid top-ups); a rise of a part is a credit, not spend.
    """

    currency: str
    total: Decimal
    granted: Decimal | None = None
    topped_up: Decimal | None = None


@dataclass
class Page:
    """One fetched page: the records of the buckets it covers, complete.

    `buckets` lists the (start, end) of every bucket the page returned, empty ones
    included: the sync clears those buckets of `endpoint` before writing `records`.
    """

    endpoint: str  # stable name, e.g. "costs" or "usage/completions"
    number: int  # 1-based page number within this endpoint's run
    buckets: list[tuple[datetime, datetime]]
    records: list[UsageRecord] = field(default_factory=list)
    balances: list[BalanceReading] = field(default_factory=list)  # a balance-only source's readings


@dataclass(frozen=True)
class SourceConfig:
    """What a connector needs to run: the source's name, its secret and its options."""

    name: str
    key: str
    options: Mapping[str, str] = field(default_factory=dict)


class Connector(Protocol):
    """A provider's billing API, read for one source (one organisation's admin key)."""

    def check(self) -> str:
        """One cheap authenticated call; returns what it saw (e.g. "3 projects")."""
        ...

    def endpoints(self) -> list[str]:
        """The endpoints `fetch` reads, in order (for progress bars)."""
        ...

    def fetch(self, endpoint: str, start: datetime, end: datetime) -> Iterator[Page]:
        """Every page of `endpoint` for [start, end) (UTC day boundaries), in order."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class HasProviderNote(Protocol):
    """A connector that also reads the provider's own figure for the account (a running total,
    a balance): after each complete run the sync keeps that line with the source, to show."""

    def provider_note(self) -> str: ...


class ConnectorFactory(Protocol):
    """Builds a connector around the client it is handed (its own one on the type's base URL
    when none is: tests construct connectors directly); the connector closes the client."""

    def __call__(
        self, config: SourceConfig, *, policy: RetryPolicy | None = None, client: httpx.Client | None = None
    ) -> Connector: ...


OptionKind = Literal["text", "url", "ids"]


@dataclass(frozen=True)
class Option:
    """One option a source takes (`SourceConfig.options[name]`), a string; `required` ones
    must be given (`sources add` and the /sources form refuse a source without them)."""

    name: str
    label: str
    help: str
    kind: OptionKind = "text"  # url: must start with http(s)://; ids: a comma-separated list
    form: bool = True  # shown in the /sources form (else only `sources add --option`)
    required: bool = False


# the options every source type takes, before its own
COMMON_OPTIONS = (
    Option(
        "base_url",
        "Base URL (optional)",
        "Blank: the provider's API. Set it for a proxy or a regional endpoint.",
        "url",
    ),
    Option("account", "Account", "The account its records carry (default: the source's name).", form=False),
)


def bearer(config: SourceConfig) -> httpx.Auth:
    return Bearer(config.key)


def no_problems(key: str | None, options: Mapping[str, str]) -> dict[str, str]:
    return {}


@dataclass(frozen=True)
class SourceType:
    """What a provider's source is and needs; `open` gives a connector ready to check and fetch."""

    name: str  # stored in sources.provider: "openai"
    label: str  # shown: "OpenAI"
    connector: ConnectorFactory
    base_url: str  # the default; the `base_url` option overrides it
    key_help: str  # what key to give and where to create it
    options: tuple[Option, ...] = ()  # its own, after COMMON_OPTIONS
    auth: Callable[[SourceConfig], httpx.Auth] = bearer  # OAuth, signed requests: another httpx.Auth
    headers: Mapping[str, str] = field(default_factory=dict)  # sent on every request (API versions)
    # False: the connector talks through the provider's official client (boto3, BigQuery),
    # which it builds itself from the config; it is handed no httpx client
    http: bool = True
    # a sync reads its window in windows of this many days, oldest first, each complete
    # before the next and kept as synced, so a long backfill cut short (a provider's hourly
    # limit, a kill) resumes after the last complete window; None: the whole window at once
    # (a balance has no history to window)
    window_days: int | None = 31
    # what is wrong with a key (None: not given) and options before they are stored, by field
    # ("key" or an option's name); the message never holds the key
    problems: Callable[[str | None, Mapping[str, str]], dict[str, str]] = no_problems

    @property
    def all_options(self) -> tuple[Option, ...]:
        return (*COMMON_OPTIONS, *self.options)

    def client(self, config: SourceConfig) -> httpx.Client:
        """The HTTP client a connector of this type is handed."""
        base_url = config.options.get("base_url") or self.base_url
        return make_client(base_url, self.headers, auth=self.auth(config))

    def open(self, config: SourceConfig, *, policy: RetryPolicy | None = None) -> Connector:
        return self.connector(config, policy=policy, client=self.client(config) if self.http else None)


ENTRY_POINTS = "spendledger.sources"
# built-in types: name → module holding SOURCE_TYPE, imported only when asked for
_BUILT_IN = {
    "openai": "spendledger.sources.openai",
    "anthropic": "spendledger.sources.anthropic",
    "github-copilot": "spendledger.sources.github_copilot",
    "openrouter": "spendledger.sources.openrouter",
    "azure": "spendledger.sources.azure",
    "deepseek": "spendledger.sources.deepseek",
    "aws": "spendledger.sources.aws",
    "gcp": "spendledger.sources.gcp",
}


def _declared(found: object, where: str) -> SourceType:
    found = getattr(found, "SOURCE_TYPE", found)  # an entry point may name the module
    if not isinstance(found, SourceType):
        raise SourceError("config", f"{where} is not a spendledger SourceType")
    return found


def source_type(name: str) -> SourceType:
    """The type called `name`: built in, else from the `spendledger.sources` entry points."""
    if name in _BUILT_IN:
        return _declared(importlib.import_module(_BUILT_IN[name]), _BUILT_IN[name])
    for point in entry_points(group=ENTRY_POINTS, name=name):
        return _declared(point.load(), f"entry point {point.value!r}")
    known = ", ".join(t.name for t in source_types()) or "none"
    raise SourceError("config", f"unknown provider {name!r}; known: {known}")


def source_types() -> list[SourceType]:
    """Every type there is: the built-in ones, then the installed packages' in name order."""
    names = [*_BUILT_IN, *sorted({p.name for p in entry_points(group=ENTRY_POINTS)} - set(_BUILT_IN))]
    return [source_type(name) for name in names]


def connector_for(provider: str) -> ConnectorFactory:
    """The connector of a type (tests build one on a config of their own)."""
    return source_type(provider).connector
