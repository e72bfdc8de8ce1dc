"""Adding, changing, removing and listing manual entries: what the CLI, the /entries page
and the entries API all call.

Invariants:
- idempotent on the id: saving an entry equal to the stored one changes nothing and is
  reported `unchanged`; a different one replaces every day of the old (`replaced`), the
  rollups moving by the difference (store/entries.py uses the ledger's verbs);
- an id is generated when none is given: `e-` and six characters of an alphabet
  without look-alikes (0/o, 1/l/i), e.g. `e-k7m2qx`;
- a batch (the API's) stores its good entries and names each bad one by its index, its
  id and the field at fault; an id given twice in one batch is refused the second time;
- every change is written to the audit log (store/audit.py) in its transaction: who
  changed what and by how much.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from spendledger.errors import SpendledgerError
from spendledger.ingest.entries import TEXT_FIELDS, Entry, EntryError, entry_records, parse_entry
from spendledger.records import format_money, from_nanos
from spendledger.store import Connection, audit
from spendledger.store.entries import EntryDayRow, delete_entry, entry_days, entry_exists, replace_entry

ID_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
MAX_BATCH = 1000


class EntryBatchError(SpendledgerError, ValueError):
    """A batch body refused whole (not JSON, not {"entries": [...]}, too many entries)."""


class UnknownEntryError(SpendledgerError, LookupError):
    def __init__(self, entry_id: str) -> None:
        super().__init__(
            f"no entry with id {entry_id!r}: `spendledger entries list` shows the ids", field="id"
        )


class EntryExistsError(SpendledgerError, ValueError):
    def __init__(self, entry_id: str) -> None:
        super().__init__(
            f"id: an entry {entry_id!r} exists already; change it with `spendledger entries edit "
            f"{entry_id}`, or leave the id out for a new one",
            field="id",
        )


@dataclass(frozen=True)
class Saved:
    entry: Entry
    outcome: str  # added | replaced | unchanged


@dataclass(frozen=True)
class Listed:
    """An entry with what it counts in the period asked for (all of it without one)."""

    entry: Entry
    in_range: Decimal


@dataclass(frozen=True)
class Rejected:
    index: int
    id: str | None
    field: str
    reason: str


@dataclass
class BatchResult:
    saved: list[tuple[int, Saved]] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(1 for _, s in self.saved if s.outcome == outcome)


def save_entry(
    conn: Connection,
    entry: Entry,
    *,
    tz: ZoneInfo,
    actor: str,
    overwrite: bool = True,
    now: datetime | None = None,
) -> Saved:
    """Store `entry` (a new id when it has none); with `overwrite` False an id already
    stored with other figures is refused (EntryExistsError) rather than replaced."""
    if not entry.id:
        entry = replace(entry, id=new_entry_id(conn))
    old = get_entry(conn, entry.id)
    if old == entry:
        return Saved(entry, "unchanged")
    if old is not None and not overwrite:
        raise EntryExistsError(entry.id)
    replace_entry(conn, entry.id, entry_records(entry, tz=tz), tz=tz, now=now or datetime.now(UTC))
    audit.record(
        conn,
        actor=actor,
        action="entry.add" if old is None else "entry.edit",
        what={"id": entry.id, "entry": describe(entry, old)},
        amount={entry.currency: entry.amount},
    )
    return Saved(entry, "added" if old is None else "replaced")


def edit_entry(
    conn: Connection, entry_id: str, changes: Mapping[str, Any], *, tz: ZoneInfo, actor: str
) -> Saved:
    """Change the given fields of entry `entry_id`, keeping the others. A new date or period
    replaces its span; a new from (or to) alone moves that end only."""
    old = get_entry(conn, entry_id)
    if old is None:
        raise UnknownEntryError(entry_id)
    given = {k: v for k, v in changes.items() if v is not None}
    if given.get("id", entry_id) != entry_id:
        raise EntryError("id", "an entry's id cannot change: remove it and add it again under the new id")
    values = old.fields()
    if "date" in given or "period" in given:
        del values["from"], values["to"]
    values.update(given)
    return save_entry(conn, parse_entry(values), tz=tz, actor=actor)


def remove_entry(conn: Connection, entry_id: str, *, actor: str) -> Entry:
    """Delete entry `entry_id` (every day of it); the rollups follow."""
    old = get_entry(conn, entry_id)
    if old is None:
        raise UnknownEntryError(entry_id)
    delete_entry(conn, entry_id)
    audit.record(
        conn,
        actor=actor,
        action="entry.remove",
        what={"id": old.id, "entry": describe(old)},
        amount={old.currency: -old.amount},
    )
    return old


def new_entry_id(conn: Connection) -> str:
    """A short, readable id no entry holds."""
    while True:
        candidate = "e-" + "".join(secrets.choice(ID_ALPHABET) for _ in range(6))
        if not entry_exists(conn, candidate):
            return candidate


def get_entry(
    conn: Connection, entry_id: str, *, scope: Mapping[str, Sequence[str]] | None = None
) -> Entry | None:
    """The stored entry `entry_id` (None when absent, or outside `scope`)."""
    found = _entries(entry_days(conn, ids=[entry_id], scope=scope))
    return found[0][0] if found else None


def list_entries(
    conn: Connection,
    *,
    start: date | None = None,
    end: date | None = None,
    scope: Mapping[str, Sequence[str]] | None = None,
) -> list[Listed]:
    """The entries with a day in [start, end] (every entry without them), first day first,
    each with its amount inside the range; `scope` keeps a member's entries only."""
    lo, hi = (start or date.min).isoformat(), (end or date.max).isoformat()
    listed = []
    for entry, days in _entries(entry_days(conn, scope=scope)):
        inside = sum(d.cost_nanos for d in days if lo <= d.day <= hi)
        if any(lo <= d.day <= hi for d in days):
            listed.append(Listed(entry, from_nanos(inside)))
    return sorted(listed, key=lambda e: (e.entry.first, e.entry.last, e.entry.id))


def describe(entry: Entry, old: Entry | None = None) -> str:
    """The entry in one line, for messages and the audit log: what it was when changed."""
    span = str(entry.first) if entry.days == 1 else f"{entry.first} to {entry.last}"
    text = f"entry {entry.id}: {format_money(entry.amount)} {entry.currency} {entry.provider} on {span}"
    if old is not None:
        was = str(old.first) if old.days == 1 else f"{old.first} to {old.last}"
        text += f" (was {format_money(old.amount)} {old.currency} {old.provider} on {was})"
    return text


def parse_entry_batch(body: bytes) -> list[Any]:
    """The items of a batch body, `{"entries": [...]}` (numbers read exactly, as Decimal);
    raises EntryBatchError saying what to send."""
    try:
        parsed = json.loads(body, parse_float=Decimal)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        reason = "nests too deep" if isinstance(exc, RecursionError) else f"is not JSON ({str(exc)[:120]})"
        raise EntryBatchError(f'the body {reason}: send {{"entries": [{{...}}, ...]}}') from None
    items = parsed.get("entries") if isinstance(parsed, dict) else None
    if not isinstance(items, list) or not items:
        raise EntryBatchError(
            'send {"entries": [...]} with at least one entry, e.g. {"entries": [{"provider": "mistral", '
            '"amount": "40.00", "period": "2026-11", "id": "invoice-1234"}]}'
        )
    if len(items) > MAX_BATCH:
        raise EntryBatchError(f"the batch holds {len(items):,} entries; send at most {MAX_BATCH:,} at a time")
    return items


def store_entry_batch(conn: Connection, items: Sequence[Any], *, tz: ZoneInfo, actor: str) -> BatchResult:
    """Check and store each item of a batch (dicts of `parse_entry`'s fields): the good ones
    are stored, each bad one named with its index, id and field."""
    result = BatchResult()
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        item_id = item.get("id") if isinstance(item, dict) else None
        shown_id = item_id if isinstance(item_id, str) and item_id else None
        try:
            if not isinstance(item, dict):
                raise EntryError("", 'an entry is a JSON object of its fields, e.g. {"provider": ...}')
            entry = parse_entry(item)
            if entry.id in seen:
                raise EntryError("id", f"{entry.id!r} is given twice in this batch (item {seen[entry.id]})")
            if entry.id:
                seen[entry.id] = index
            result.saved.append((index, save_entry(conn, entry, tz=tz, actor=actor)))
        except EntryError as exc:
            reason = exc.message.removeprefix(f"{exc.field}: ") if exc.field else exc.message
            result.rejected.append(Rejected(index, shown_id, exc.field, reason))
    return result


def _entries(days: Iterable[EntryDayRow]) -> list[tuple[Entry, list[EntryDayRow]]]:
    """Entries rebuilt from their stored days (given in day order)."""
    grouped: dict[str, list[EntryDayRow]] = {}
    for day in days:
        grouped.setdefault(day.entry_id, []).append(day)
    rebuilt = []
    for entry_id, rows in grouped.items():
        dims = rows[0].dims
        note = rows[0].tags.get("note", "")
        rebuilt.append(
            (
                Entry(
                    id=entry_id,
                    provider=dims["provider"],
                    amount=from_nanos(sum(r.cost_nanos for r in rows)),
                    first=date.fromisoformat(rows[0].day),
                    last=date.fromisoformat(rows[-1].day),
                    currency=dims["currency"],
                    account=dims["account"],
                    workspace=dims["workspace"],
                    project=dims["project"],
                    user=dims["user"],
                    feature=dims["feature"],
                    model=dims["model"],
                    note=note if isinstance(note, str) else "",
                ),
                rows,
            )
        )
    return rebuilt


def as_json(listed: Listed) -> dict[str, Any]:
    """An entry as the API and `entries list --format json` show it: money as exact strings."""
    e = listed.entry
    return {
        "id": e.id,
        "provider": e.provider,
        "amount": format_money(e.amount),
        "currency": e.currency,
        "from": e.first.isoformat(),
        "to": e.last.isoformat(),
        "days": e.days,
        "in_range": format_money(listed.in_range),
        **{name: getattr(e, name) for name in TEXT_FIELDS},
        "note": e.note,
    }


def totals(listed: Iterable[Listed]) -> dict[str, Decimal]:
    """What the entries count in the range asked for, per currency (never added across)."""
    sums: dict[str, Decimal] = {}
    for item in listed:
        sums[item.entry.currency] = sums.get(item.entry.currency, Decimal(0)) + item.in_range
    return dict(sorted(sums.items()))
