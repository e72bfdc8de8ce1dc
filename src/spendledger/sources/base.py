"""The connector contract: a provider account's billing data → pages of ledger records.

A connector only translates. It fetches one endpoint at a time, page after page, and
hands each page to the caller as a `Page`: the UTC day buckets the page covers and the
records those buckets hold. The sync (sync.py) writes each page in one transaction and
*replaces* what the ledger held for those buckets of that endpoint, so a revised bucket
replaces the old figures, a re-run changes nothing, and an interrupted run keeps the
pages it completed.

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

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar, Literal, Protocol

from spendledger.errors import SpendledgerError
from spendledger.records import UsageRecord

if TYPE_CHECKING:
    from spendledger.sources._http import RetryPolicy

ErrorKind = Literal[
    "auth", "permission", "not_found", "rate_limited", "server", "network", "malformed", "config"
]


class SourceError(SpendledgerError):
    """A failure of one source, with a message that names it and says what to do."""

    def __init__(
        self, kind: ErrorKind, message: str, *, endpoint: str | None = None, page: int | None = None
    ):
        super().__init__(message)
        self.kind = kind
        self.endpoint = endpoint
        self.page = page

    @property
    def stops_source(self) -> bool:
        """Retrying will not help: the key, its permissions or the data are wrong."""
        return self.kind in ("auth", "permission", "not_found", "malformed", "config")


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


@dataclass(frozen=True)
class SourceConfig:
    """What a connector needs to run: the source's name, its secret and its options."""

    name: str
    key: str
    options: Mapping[str, str] = field(default_factory=dict)


class Connector(Protocol):
    """A provider's billing API, read for one source (one organisation's admin key)."""

    provider: ClassVar[str]

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


class ConnectorFactory(Protocol):
    """Builds a connector; it owns an httpx.Client on `config.options["base_url"]` or the default."""

    def __call__(self, config: SourceConfig, *, policy: RetryPolicy | None = None) -> Connector: ...


_REGISTRY: dict[str, ConnectorFactory] = {}


def register(provider: str, factory: ConnectorFactory) -> None:
    _REGISTRY[provider] = factory


def connector_for(provider: str) -> ConnectorFactory:
    from spendledger.sources import anthropic, openai  # noqa: F401  (they register themselves)

    try:
        return _REGISTRY[provider]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise SourceError("config", f"unknown provider {provider!r}; known: {known}") from None
