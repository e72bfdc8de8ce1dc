"""The balance kind of source: a provider that only shows what is left (DeepSeek, ...).

Such a provider has no usage or cost history, only its balance now. A balance source
reads it on every sync (`BalanceConnector.read`, the one thing a provider's module
writes) and hands the readings over in `Page.balances`; the sync stamps them with the
moment, stores them (store/balances.py) and turns the history into spend here
(`balance_days`, `day_records`), replacing the "balance" buckets of the days concerned.

The rule, per currency, between two consecutive readings `prev` → `cur`:
- the balance is split into its parts when the provider tells them (DeepSeek: granted
  credit, paid top-ups, and whatever else the total holds). A part that fell was spent;
  a part that rose was credited: a top-up (paid part, or the total when no parts are
  known) or a grant (granted part). So `spent = prev.total + credits - cur.total`,
  never negative, and a top-up is never negative spend.
- Limitation: within one interval a part that both rose and fell shows only its net
  change. When only the total is known, spend in an interval that also saw a top-up
  is hidden by it (the net rise is counted as the top-up); with DeepSeek's parts, only
  spend drawn from the paid part in the interval of a paid top-up is. Frequent syncs
  (the default is hourly) keep such intervals short. Granted credit that expires looks
  like spend (the API does not tell them apart).
- Attribution: an interval's spend and credits land on the UTC day of its *later*
  reading. So day D's spend is the drop from the last reading before D to the last
  reading of D; after a gap of several days (no sync ran) the whole drop lands on the
  day of the reading that observed it, and the days between show none. The first
  reading of a currency is the baseline: nothing is spent before it.

Day records follow the connector conventions: key `balance|<currency>`, basis billed,
pricing status provider, the day's UTC bucket, cost = the day's spend (0 on a day with
only a top-up), the credits and the balances in tags.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, ClassVar, Protocol, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from spendledger.records import Basis, PricingStatus, UsageRecord, as_utc, format_money
from spendledger.sources import _http
from spendledger.sources.base import BalanceReading, Page, SourceConfig, SourceError

ENDPOINT = "balance"
_ZERO = Decimal(0)
M = TypeVar("M", bound=BaseModel)


class Stamped(Protocol):
    """A stored reading: a `BalanceReading` and when it was taken."""

    @property
    def at(self) -> datetime: ...
    @property
    def currency(self) -> str: ...
    @property
    def total(self) -> Decimal: ...
    @property
    def granted(self) -> Decimal | None: ...
    @property
    def topped_up(self) -> Decimal | None: ...


@dataclass(frozen=True)
class BalanceDay:
    """What one currency's balance did on one UTC day."""

    day: date
    currency: str
    spent: Decimal  # never negative
    topped_up: Decimal  # paid top-ups (or any rise of a balance with no parts)
    granted: Decimal  # granted credit
    opening: Decimal  # the total at the last reading before the day (the day's first: its own)
    closing: Decimal  # the total at the day's last reading
    readings: int  # taken on the day

    @property
    def credited(self) -> Decimal:
        return self.topped_up + self.granted


def _parts(r: Stamped) -> tuple[Decimal, Decimal, Decimal] | None:
    """(granted, topped-up, the rest of the total), or None when the provider gave no parts."""
    if r.granted is None or r.topped_up is None:
        return None
    return r.granted, r.topped_up, r.total - r.granted - r.topped_up


def interval(prev: Stamped, cur: Stamped) -> tuple[Decimal, Decimal, Decimal]:
    """(spent, topped up, granted) between two readings of one currency (see the module)."""
    before, after = _parts(prev), _parts(cur)
    if before is None or after is None:
        change = cur.total - prev.total
        return max(-change, _ZERO), max(change, _ZERO), _ZERO
    changes = [a - b for a, b in zip(after, before, strict=True)]
    spent = sum((max(-c, _ZERO) for c in changes), _ZERO)
    granted = max(changes[0], _ZERO)
    return spent, max(changes[1], _ZERO) + max(changes[2], _ZERO), granted


def balance_days(readings: Sequence[Stamped]) -> list[BalanceDay]:
    """Every (UTC day, currency) with a reading, in order: its spend, credits and balances."""
    by_currency: dict[str, list[Stamped]] = defaultdict(list)
    for r in readings:
        by_currency[r.currency].append(r)
    days: list[BalanceDay] = []
    for currency, rs in sorted(by_currency.items()):
        rs.sort(key=lambda r: r.at)
        prev: Stamped | None = None
        current: BalanceDay | None = None
        for r in rs:
            spent, topped, granted = interval(prev, r) if prev is not None else (_ZERO, _ZERO, _ZERO)
            day = as_utc(r.at).date()
            if current is None or current.day != day:
                if current is not None:
                    days.append(current)
                opening = prev.total if prev is not None else r.total
                current = BalanceDay(day, currency, _ZERO, _ZERO, _ZERO, opening, r.total, 0)
            current = BalanceDay(
                day,
                currency,
                current.spent + spent,
                current.topped_up + topped,
                current.granted + granted,
                current.opening,
                r.total,
                current.readings + 1,
            )
            prev = r
        if current is not None:
            days.append(current)
    return days


def day_bucket(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(), UTC)
    return start, start + timedelta(days=1)


def day_records(days: Sequence[BalanceDay], *, source: str, provider: str, account: str) -> list[UsageRecord]:
    """The ledger's records of these days: one per day and currency that spent or was credited."""
    out: list[UsageRecord] = []
    for d in days:
        if not d.spent and not d.credited:
            continue
        start, end = day_bucket(d.day)
        tags: dict[str, object] = {
            "opening_balance": format_money(d.opening),
            "closing_balance": format_money(d.closing),
        }
        if d.topped_up:
            tags["topped_up"] = format_money(d.topped_up)
        if d.granted:
            tags["granted"] = format_money(d.granted)
        out.append(
            UsageRecord(
                key=f"{ENDPOINT}|{d.currency}",
                source=source,
                basis=Basis.BILLED,
                start=start,
                end=end,
                provider=provider,
                account=account,
                tags=tags,
                requests=0,
                cost=d.spent,
                currency=d.currency,
                pricing_status=PricingStatus.PROVIDER,
            )
        )
    return out


class BalanceConnector:
    """A balance-only provider's connector: one endpoint, "balance", one page, no records.

    A provider's module subclasses it with its `label`, its `Hints` and `read()`; the
    client it is handed carries the base URL and the key (SourceType.open)."""

    label: ClassVar[str] = "Balance"

    def __init__(
        self,
        config: SourceConfig,
        *,
        policy: _http.RetryPolicy | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        self.name = config.name
        self._policy = policy or _http.RetryPolicy()
        if client is None:
            raise SourceError(
                "config", f"{self.label} source {config.name!r}: no HTTP client was handed over"
            )
        self._client = client

    def read(self) -> list[BalanceReading]:
        """The balance now, one reading per currency."""
        raise NotImplementedError

    def check(self) -> str:
        shown = ", ".join(f"{r.total} {r.currency}" for r in self.read()) or "no currency yet"
        return f"{self.label} balance reachable: {shown}"

    def endpoints(self) -> list[str]:
        return [ENDPOINT]

    def fetch(self, endpoint: str, start: datetime, end: datetime) -> Iterator[Page]:
        """The balance now, whatever the window: a balance has no history to fetch."""
        if endpoint != ENDPOINT:
            raise SourceError("config", f"{self.label} has no endpoint {endpoint!r}; known: {ENDPOINT}")
        yield Page(endpoint=ENDPOINT, number=1, buckets=[], balances=self.read())

    def close(self) -> None:
        self._client.close()

    def get_json(self, path: str, hints: _http.Hints) -> dict[str, Any]:
        """GET `path` through the shared HTTP path (retries, Retry-After, error messages)."""
        return _http.get_json(self._client, path, hints=hints, endpoint=ENDPOINT, policy=self._policy)

    def validate(self, model: type[M], body: object, hints: _http.Hints) -> M:
        """`body` as `model`; a mismatch is a SourceError naming the endpoint and the field path."""
        try:
            return model.model_validate(body)
        except ValidationError as exc:
            first = exc.errors()[0]
            path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first["loc"]).lstrip(".")
            raise SourceError(
                "malformed",
                f'{hints.provider} source "{self.name}", {ENDPOINT} (page 1): unexpected data at '
                f"{path or 'the body'}: {first['msg']} (got {str(first.get('input'))[:60]!r}); the API's "
                "format may have changed, report this message",
                endpoint=ENDPOINT,
                page=1,
            ) from None
