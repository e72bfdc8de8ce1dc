"""Manual entries: spend typed in by hand (an invoice, a seat bill), as ledger records.

An entry is an amount a provider charged, on one day or spread over a period (a month,
or from one day to another, both included). It becomes one record of basis `manual` and
source "manual" per day it covers, keyed `entry|<id>|<YYYY-MM-DD>`, a bucket from that
local midnight to the next in the configured zone. Why per day: the rollups date a
record by its instant (`UsageRecord.instant`, a bucket's midpoint), so one record
spanning November would put all of it on November 15 and the daily chart would show a
spike; a record per day puts a thirtieth on each day and the month still sums to it.

Invariants, tested in tests/test_entries.py:
- the days sum to the amount exactly: the amount in nano-units is divided by the number
  of days, and the remainder (fewer nano-units than days) goes one nano-unit each to the
  first days: $40.00 over November is $1.333333334 on Nov 1–10 and $1.333333333 on
  Nov 11–30 (10 × 1.333333334 + 20 × 1.333333333 = 40.000000000);
- every input is checked here, whatever the way in (CLI, page, API): an `EntryError`
  names the field at fault and what to send instead;
- provider and model names are the ledger's (model_names.py), so an entry groups with
  the synced and metered spend of the same provider and model.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from spendledger.currencies import currency_problem
from spendledger.errors import SpendledgerError
from spendledger.model_names import canonical_model, canonical_provider
from spendledger.records import Basis, PricingStatus, UsageRecord, from_nanos, to_nanos
from spendledger.store.entries import KEY_PREFIX, SOURCE

PRICE_SOURCE = "manual entry"

# what an entry holds, by its field name in the API, the form and the CLI's options
TEXT_FIELDS = ("account", "workspace", "project", "user", "feature", "model")
DATE_FIELDS = ("date", "period", "from", "to")
FIELDS = ("id", "provider", "amount", "currency", *DATE_FIELDS, *TEXT_FIELDS, "note")

MAX_AMOUNT = Decimal(1_000_000_000)  # per entry: far above any bill, far below what nano-units hold
NANO = Decimal("1e-9")
MAX_DAYS = 731  # two years: an annual bill spread over its year fits with room
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)  # records.EARLIEST, LATEST
MAX_TEXT = 200  # tables.DIM
MAX_NOTE = 500
ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
ID_RULE = "1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit (e.g. invoice-1234)"


class EntryError(SpendledgerError, ValueError):
    """An entry that cannot be stored; `field` names the input at fault."""

    field: str  # always set here

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}", field=field_name)


@dataclass(frozen=True)
class Entry:
    """One manual entry, checked: `amount` counts over `first`..`last`, both included."""

    id: str  # "" until the store gives it one
    provider: str
    amount: Decimal
    first: date
    last: date
    currency: str = "USD"
    account: str = ""
    workspace: str = ""
    project: str = ""
    user: str = ""
    feature: str = ""
    model: str = ""
    note: str = ""

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def fields(self) -> dict[str, Any]:
        """The entry as `parse_entry`'s input (its span as from/to): what an edit starts from."""
        return {
            "id": self.id,
            "provider": self.provider,
            "amount": self.amount,
            "currency": self.currency,
            "from": self.first.isoformat(),
            "to": self.last.isoformat(),
            **{name: getattr(self, name) for name in TEXT_FIELDS},
            "note": self.note,
        }


def parse_entry(values: Mapping[str, Any]) -> Entry:
    """A checked `Entry` from raw values (text as typed, JSON values, CLI options); None or
    "" means not given. Raises EntryError naming the first field at fault."""
    unknown = [name for name in values if name not in FIELDS]
    if unknown:
        raise EntryError(str(unknown[0])[:40], f"is not a field of an entry; send only {', '.join(FIELDS)}")
    entry_id = _text(values, "id", MAX_TEXT)
    if entry_id and not ID_PATTERN.fullmatch(entry_id):
        raise EntryError("id", f"{entry_id[:70]!r} is not an entry id: use {ID_RULE}")
    provider = _text(values, "provider", MAX_TEXT)
    if not provider:
        raise EntryError("provider", "name the provider that charged it, e.g. openai, mistral or perplexity")
    amount = parse_amount(values.get("amount"))
    currency = (_text(values, "currency", 12) or "USD").upper()
    if problem := currency_problem(currency):
        raise EntryError("currency", problem)
    first, last = parse_span(values)
    texts = {name: _text(values, name, MAX_TEXT) for name in TEXT_FIELDS}
    texts["model"] = canonical_model(texts["model"]) if texts["model"] else ""
    return Entry(
        id=entry_id,
        provider=canonical_provider(provider),
        amount=amount,
        first=first,
        last=last,
        currency=currency,
        note=_text(values, "note", MAX_NOTE),
        **texts,
    )


def parse_amount(value: Any) -> Decimal:
    """The amount charged: more than zero, at most MAX_AMOUNT, to the nano-unit at most."""
    if value is None or value == "":
        raise EntryError("amount", "give the amount charged, e.g. 40.00")
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal | float):
        raise EntryError("amount", "send the amount as a number or a decimal string, e.g. 40.00")
    shown = str(value).strip()[:40]
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise EntryError(
            "amount", f"{shown!r} is not a number: send digits with a decimal point, e.g. 40.00 or 1250.5"
        ) from None
    if not amount.is_finite():
        raise EntryError("amount", f"{shown!r} is not a number: send digits, e.g. 40.00")
    if amount <= 0:
        raise EntryError(
            "amount", f"{shown} is not more than zero: enter what was charged; remove an entry to undo it"
        )
    if amount > MAX_AMOUNT:
        raise EntryError("amount", f"{shown} is more than an entry holds ({MAX_AMOUNT:,}); split it")
    if amount != amount.quantize(NANO):
        raise EntryError("amount", f"{shown} has more than 9 decimal places (the ledger keeps nano-units)")
    return amount


def parse_span(values: Mapping[str, Any]) -> tuple[date, date]:
    """The days an entry covers, from one of: `date` (one day), `period` (a month,
    YYYY-MM), or `from` and `to` (both included)."""
    given = [name for name in DATE_FIELDS if values.get(name) not in (None, "")]
    forms = {"date" if n == "date" else "period" if n == "period" else "range" for n in given}
    if not given:
        raise EntryError(
            "date",
            "give the day it counts on (date 2026-11-30), the month it covers (period 2026-11) "
            "or a range (from 2026-11-01 and to 2026-11-30)",
        )
    if len(forms) > 1:
        raise EntryError(given[-1], "give one of date, period, or from and to; not several")
    if "date" in forms:
        first = last = _day(values, "date")
    elif "period" in forms:
        first, last = _month(values)
    else:
        if "from" not in given or "to" not in given:
            missing = "to" if "from" in given else "from"
            raise EntryError(missing, f"a range needs both from and to (YYYY-MM-DD); {missing} is missing")
        first, last = _day(values, "from"), _day(values, "to")
        if last < first:
            raise EntryError("to", f"{last} is before from {first}: the range must run forwards")
    if (last - first).days + 1 > MAX_DAYS:
        raise EntryError(
            "to", f"{first} to {last} is {(last - first).days + 1} days; an entry covers at most {MAX_DAYS}"
        )
    return first, last


def split_nanos(total: int, days: int) -> list[int]:
    """`total` nano-units over `days` days, summing to it exactly: each day the floor of
    the share, the first `total % days` days one nano-unit more."""
    base, extra = divmod(total, days)
    return [base + 1 if i < extra else base for i in range(days)]


def entry_records(entry: Entry, *, tz: ZoneInfo) -> list[UsageRecord]:
    """The entry's records: one per day, each a bucket from that local midnight to the next."""
    tags = {"note": entry.note} if entry.note else {}
    records = []
    for i, share in enumerate(split_nanos(to_nanos(entry.amount), entry.days)):
        day = entry.first + timedelta(days=i)
        records.append(
            UsageRecord(
                key=f"{KEY_PREFIX}{entry.id}|{day.isoformat()}",
                source=SOURCE,
                basis=Basis.MANUAL,
                start=datetime.combine(day, time(), tz),
                end=datetime.combine(day + timedelta(days=1), time(), tz),
                provider=entry.provider,
                model=entry.model,
                account=entry.account,
                workspace=entry.workspace,
                project=entry.project,
                user=entry.user,
                feature=entry.feature,
                tags=dict(tags),
                requests=0,  # money, not calls: request counts stay those of real calls
                cost=from_nanos(share),
                currency=entry.currency,
                pricing_status=PricingStatus.PROVIDER,
                price_source=PRICE_SOURCE,
            )
        )
    return records


def _text(values: Mapping[str, Any], name: str, limit: int) -> str:
    value = values.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise EntryError(name, f'send {name} as text, e.g. "{_EXAMPLES.get(name, "web")}"')
    value = value.strip()
    if len(value) > limit:
        raise EntryError(name, f"is {len(value):,} characters long; at most {limit} are kept")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise EntryError(name, "contains a control character (a NUL, a tab or a line break); remove it")
    return value


_EXAMPLES = {
    "id": "invoice-1234",
    "provider": "mistral",
    "currency": "USD",
    "note": "invoice 1234",
    "date": "2026-11-30",
    "from": "2026-11-01",
    "to": "2026-11-30",
    "period": "2026-11",
}


def _day(values: Mapping[str, Any], name: str) -> date:
    raw = values.get(name)
    if isinstance(raw, date) and not isinstance(raw, datetime):
        day = raw
    else:
        text = _text(values, name, 40)
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise EntryError(name, f"{text!r} is not a date: send YYYY-MM-DD, e.g. 2026-11-30") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise EntryError(name, f"{day} is outside the years the ledger keeps ({FIRST_DAY} to {LAST_DAY})")
    return day


def _month(values: Mapping[str, Any]) -> tuple[date, date]:
    text = _text(values, "period", 40)
    match = re.fullmatch(r"(\d{4})-(\d{2})", text)
    if not match or not 1 <= int(match[2]) <= 12:
        raise EntryError("period", f"{text!r} is not a month: send YYYY-MM, e.g. 2026-11")
    first = date(int(match[1]), int(match[2]), 1)
    if not FIRST_DAY <= first <= LAST_DAY:
        raise EntryError("period", f"{text} is outside the years the ledger keeps (2000 to 2099)")
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    return first, last
