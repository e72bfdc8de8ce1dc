"""Idempotent writes to the ledger; each journals its change to the rollups (rollups.Change)
in its own transaction, and the folder sums the journal into the rollups behind it.

- Events (metered, demo) are append-only: a record whose (start, key) is already
  stored is a duplicate and changes nothing.
- Events (metered, demo) are append-only and stored once per key (their id), whatever
  their timestamp: a unique 64-bit hash of the key (`key_hash`) enforces it (on
  PostgreSQL, whose `usage` is partitioned by month, through `usage_event_ids`).
- Billed buckets and manual entries are revisable: a new version of (start, key)
  replaces the old one, and the rollups move by the difference, never by the sum.
- The billed days a write touches are named to the journal before it touches them, so
  the metered records whose coverage it moves are moved once, at the end.
- A metered record with no account takes the account its project or API key is known
  to belong to (members.py), now or when a later billed record makes it known.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from operator import itemgetter
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    bindparam,
    delete,
    false,
    func,
    or_,
    select,
    true,
    tuple_,
    update,
)

from spendledger.errors import SpendledgerError
from spendledger.records import PricingStatus, UsageRecord, as_utc, instant_of, to_nanos
from spendledger.store import bulk, members, rollups
from spendledger.store.rows import (
    ROW_COLUMNS,
    DayOf,
    dialect_insert,
    record_to_row,
    record_values,
    row_to_record,
)
from spendledger.store.tables import MEASURES, settings_kv, usage, usage_event_ids

_CHUNK = 1000
_COMPARED = tuple(c.name for c in usage.columns if c.name not in ("id", "written_at", "start", "end", "tags"))


@dataclass
class WriteResult:
    inserted: int = 0
    duplicates: int = 0  # events already stored, or revisions identical to what is stored
    replaced: int = 0  # revisable records whose stored version changed

    def __iadd__(self, other: WriteResult) -> WriteResult:
        self.inserted += other.inserted
        self.duplicates += other.duplicates
        self.replaced += other.replaced
        return self


def write_records(
    conn: Connection, records: Sequence[UsageRecord], *, tz: ZoneInfo, now: datetime | None = None
) -> WriteResult:
    """Store priced records idempotently; call inside a transaction (`engine.begin()`)."""
    now = now or datetime.now(UTC)
    check_zone(conn, tz)
    events: list[dict[str, Any]] = []
    revisions: dict[tuple[datetime, str], dict[str, Any]] = {}
    day_of = DayOf(tz)
    for record in records:
        row = record_to_row(record, day_of=day_of, written_at=now)
        if record.revisable:
            revisions[(row["start"], row["key"])] = row  # the last version in a batch wins
        else:
            events.append(row)
    return _write(conn, events, revisions, now)


def write_event_rows(
    conn: Connection, rows: Sequence[dict[str, Any]], *, tz: ZoneInfo, now: datetime
) -> WriteResult:
    """Store the rows of events (`rows.usage_row`, dated in `tz`, written at `now`): the
    events API's batches, built without records; as `write_records` stores events."""
    check_zone(conn, tz)
    return _write(conn, rows, {}, now)


def _write(
    conn: Connection,
    event_rows: Iterable[dict[str, Any]],
    revisions: dict[tuple[datetime, str], dict[str, Any]],
    now: datetime,
) -> WriteResult:
    result = WriteResult()
    events: dict[str, dict[str, Any]] = {}
    for row in event_rows:
        if row["key"] in events:
            result.duplicates += 1
        else:
            events[row["key"]] = row
    change = rollups.Change(conn, exclusive=bool(revisions))  # new events alone share the lock
    learnt = members.learn(conn, members.members_of(revisions.values()))
    members.attribute(conn, [*events.values(), *revisions.values()])
    if events:
        result += _insert_events(conn, events, change)
    if revisions:
        result += _upsert_revisions(conn, revisions, change)
    _move_members(conn, learnt, change)
    change.close()
    if result.inserted or result.replaced:
        set_meta(conn, "last_write_at", now.isoformat())
    return result


def _insert_events(
    conn: Connection, events: dict[str, dict[str, Any]], change: rollups.Change
) -> WriteResult:
    rows = list(events.values())
    ids: Sequence[int]
    if conn.dialect.name == "sqlite":  # one prepared statement for the batch (bulk.insert_new_sqlite)
        unique: dict[str, Any] = {"conflict": ("key_hash",), "conflict_where": "key_hash IS NOT NULL"}
        ids = bulk.insert_new_sqlite(conn, usage, rows, **unique)
    else:  # usage is partitioned: event ids are unique through usage_event_ids
        claim = (usage_event_ids.name, "key_hash")
        ids = [i for (i,) in bulk.upsert(conn, usage, rows, returning=("id",), conflict=(), claim=claim)]
    change.add_inserted(ids, rows)
    return WriteResult(inserted=len(ids), duplicates=len(events) - len(ids))


class ZoneChangedError(SpendledgerError, RuntimeError):
    """The ledger's days were counted in another zone than the one configured now."""


def check_zone(conn: Connection, tz: ZoneInfo) -> None:
    """Record the zone days are counted in; refuse to mix zones in one ledger."""
    stored = get_meta(conn, "timezone")
    if stored is None:
        set_meta(conn, "timezone", tz.key)
    elif stored != tz.key:
        raise ZoneChangedError(
            f"this ledger counts days in {stored} but SPENDLEDGER_TIMEZONE is {tz.key}: "
            f"run `spendledger db rebuild-rollups` to re-date it in {tz.key}, or set the zone back"
        )


def _upsert_revisions(
    conn: Connection, revisions: dict[tuple[datetime, str], dict[str, Any]], change: rollups.Change
) -> WriteResult:
    result = WriteResult()
    keys = list(revisions)
    existing: dict[tuple[datetime, str], Mapping[Any, Any]] = {}
    for i in range(0, len(keys), _CHUNK):
        chunk = keys[i : i + _CHUNK]
        query = select(usage).where(tuple_(usage.c.start, usage.c.key).in_(chunk))
        for row in conn.execute(query):
            existing[(as_utc(row.start), row.key)] = row._mapping
    change.expect(_billed_days([*existing.values(), *revisions.values()]))
    delta = rollups.new_delta()
    changed: list[dict[str, Any]] = []
    for key, new in revisions.items():
        old = existing.get(key)
        if old is None:
            result.inserted += 1
        elif all(old[c] == new[c] for c in _COMPARED) and old["tags"] == new["tags"]:
            result.duplicates += 1
            continue
        else:
            result.replaced += 1
            rollups.add_rows(delta, [old], sign=-1)
        rollups.add_rows(delta, [new])
        changed.append(new)
    replace_all = {c: f"excluded.{c}" for c in changed[0] if c not in ("start", "key")} if changed else {}
    bulk.upsert(conn, usage, changed, conflict=("start", "key"), update=replace_all)
    change.add(delta)
    return result


def _billed_days(rows: Iterable[Mapping[str, Any]]) -> set[tuple[str, str, str]]:
    """The (utc_day, provider, account)s of the billed rows among `rows`."""
    return {(r["utc_day"], r["provider"], r["account"]) for r in rows if r["basis"] == "billed"}


def replace_where(
    conn: Connection,
    condition: ColumnElement[bool],
    records: Sequence[UsageRecord],
    *,
    tz: ZoneInfo,
    now: datetime | None = None,
) -> tuple[int, int]:
    """Replace the records matching `condition` by `records`; returns (removed, written).

    A provider's revised buckets: what was there goes (with its share of the rollups),
    the new figures come in as fresh rows summed by the database, so a page of a billing
    sync costs two statements per table rather than a look-up per record. `records`
    must all match `condition`; the last of two with one (start, key) wins.
    """
    with Replacing(conn, tz=tz, now=now) as replacing:
        return replacing.where(condition, records)


def replace_buckets(
    conn: Connection,
    *,
    source: str,
    endpoint: str,
    buckets: Sequence[tuple[datetime, datetime]],
    records: Sequence[UsageRecord],
    tz: ZoneInfo,
    now: datetime | None = None,
) -> tuple[int, int]:
    """Replace what `source` held for these buckets of `endpoint` by `records`; (removed, written).

    A billing page lists its buckets (empty ones included) and their records, whose keys
    start with `endpoint|`. A later page of a long bucket lists no buckets: it clears
    nothing and only adds its records.
    """
    with Replacing(conn, tz=tz, now=now) as replacing:
        return replacing.buckets(source=source, endpoint=endpoint, buckets=buckets, records=records)


class Replacing:
    """Several replacements (`replace_where`, `replace_buckets`) in one transaction, as one
    change to the rollups: a billing sync's pages of one window ask the billed days'
    coverage once before and once after (rollups.Change), not twice a page. A context
    manager: leaving it without an error closes the change; nothing else may write the
    ledger in the transaction meanwhile."""

    def __init__(self, conn: Connection, *, tz: ZoneInfo, now: datetime | None = None) -> None:
        self._conn = conn
        self._now = now or datetime.now(UTC)
        check_zone(conn, tz)
        self._day_of = DayOf(tz)
        self._change = rollups.Change(conn, exclusive=True)
        self._wrote = self._closed = False

    def __enter__(self) -> Replacing:
        return self

    def __exit__(self, kind: object, *_exc: object) -> None:
        if kind is None:
            self.close()

    def close(self) -> None:
        """Journal the coverage the replacements moved, once; before the commit."""
        if self._closed:
            return
        self._closed = True
        self._change.close()
        if self._wrote:
            set_meta(self._conn, "last_write_at", self._now.isoformat())

    def where(self, condition: ColumnElement[bool], records: Sequence[UsageRecord]) -> tuple[int, int]:
        """`replace_where` within this change."""
        conn, change = self._conn, self._change
        day_of, now = self._day_of, self._now
        by_key = {(v[0], v[1]): v for v in (record_values(r, day_of=day_of, written_at=now) for r in records)}
        rows = list(by_key.values())
        facets = _facets(rows)
        old = _grouped(conn, condition)
        change.expect(_billed_days([*old, *facets]))
        removed = _delete(conn, condition, old, change)
        learnt = members.learn(conn, members.members_of(facets))
        ids = bulk.insert_values(conn, usage, ROW_COLUMNS, rows, conflict=("start", "key"))
        change.add_inserted(ids, facets)
        _move_members(conn, learnt, change)
        self._wrote = self._wrote or bool(removed or ids)
        return removed, len(ids)

    def buckets(
        self,
        *,
        source: str,
        endpoint: str,
        buckets: Sequence[tuple[datetime, datetime]],
        records: Sequence[UsageRecord],
    ) -> tuple[int, int]:
        """`replace_buckets` within this change."""
        starts = [start for start, _ in buckets]
        prefix = f"{endpoint}|"
        terms = [
            usage.c.source == source,
            usage.c.key.startswith(prefix, autoescape=True),
            usage.c.start.in_(starts),
        ]
        if self._conn.dialect.name == "sqlite":
            # the same keys as a range, which the (start, key) index seeks where LIKE scans each
            # day's rows of every endpoint (SQLite compares text bytewise: "|" + 1 is "}")
            terms += [usage.c.key >= prefix, usage.c.key < f"{endpoint}}}"]
        return self.where(and_(*terms) if starts else false(), records)


_FACETS = ("basis", "utc_day", "provider", "account", "project", "api_key_id")
_facets_of = itemgetter(*(ROW_COLUMNS.index(c) for c in _FACETS))


def _facets(rows: Iterable[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """The distinct (basis, UTC day, provider, account, project, API key) of rows in
    ROW_COLUMNS order: what coverage and members read of them, a few dozen on a page."""
    return [dict(zip(_FACETS, f, strict=True)) for f in set(map(_facets_of, rows))]


def delete_records(
    conn: Connection,
    *,
    source: str | None = None,
    basis: str | None = None,
    provider: str | None = None,
    account: str | None = None,
    project: str | None = None,
    start: date | None = None,
    end: date | None = None,
    everything: bool = False,
) -> int:
    """Delete the records in a scope, the rollups following; returns how many.

    The scope is every field given, all of them at once: a source's records (a purged
    source), a basis's (the demo's), a provider's, account's or project's ('' for the
    records with none), between the local days `start` and `end` (both included). An
    empty scope is refused unless `everything` says every record is meant.
    """
    condition = record_scope(
        source=source, basis=basis, provider=provider, account=account, project=project, start=start, end=end
    )
    if condition is None and not everything:
        raise ValueError("delete_records needs a scope, or everything=True")
    return delete_where(conn, true() if condition is None else condition)


def any_record(
    conn: Connection,
    *,
    basis: str | None = None,
    other_than: str | None = None,
    sources_other_than: Sequence[str] = (),
) -> bool:
    """Whether the ledger holds a record of `basis`, or of any basis but `other_than`
    (and of none of `sources_other_than`)."""
    condition = usage.c.basis == basis if basis is not None else usage.c.basis != other_than
    if sources_other_than:
        condition = and_(condition, usage.c.source.not_in(sources_other_than))
    return conn.execute(select(usage.c.id).where(condition).limit(1)).first() is not None


def record_scope(
    *,
    source: str | None = None,
    basis: str | None = None,
    provider: str | None = None,
    account: str | None = None,
    project: str | None = None,
    start: date | None = None,
    end: date | None = None,
) -> ColumnElement[bool] | None:
    """The records matching every field given (`delete_records`'s scope); None: no field."""
    equal = {"source": source, "basis": basis, "provider": provider, "account": account, "project": project}
    conditions = [usage.c[column] == value for column, value in equal.items() if value is not None]
    if start is not None:
        conditions.append(usage.c.day >= start.isoformat())
    if end is not None:
        conditions.append(usage.c.day <= end.isoformat())
    return and_(*conditions) if conditions else None


def records_by_source(conn: Connection, *, source: str | None = None) -> dict[str, int]:
    """How many records each source holds (only `source`'s when given); none: absent."""
    query = select(usage.c.source, func.count().label("n")).group_by(usage.c.source)
    if source is not None:
        query = query.where(usage.c.source == source)
    return {r.source: int(r.n) for r in conn.execute(query)}


def delete_where(conn: Connection, condition: ColumnElement[bool]) -> int:
    """Delete the records matching `condition`, taking them out of the rollups too."""
    change = rollups.Change(conn, exclusive=True)
    old = _grouped(conn, condition)
    change.expect(_billed_days(old))
    deleted = _delete(conn, condition, old, change)
    change.close()
    return deleted


def _delete(
    conn: Connection, condition: ColumnElement[bool], old: list[dict[str, Any]], change: rollups.Change
) -> int:
    """Delete the records matching `condition` (`old`: them, `_grouped`), journaling their removal."""
    if not old:
        return 0
    change.add_rows(old, sign=-1)
    return int(conn.execute(delete(usage).where(condition)).rowcount or 0)


def _any(conn: Connection, condition: ColumnElement[bool]) -> bool:
    return conn.execute(select(usage.c.id).where(condition).limit(1)).first() is not None


def _grouped(conn: Connection, condition: ColumnElement[bool]) -> list[dict[str, Any]]:
    """The records matching `condition`, summed at the rollups' finest key."""
    grouped = (
        select(*(usage.c[k] for k in rollups.FINE_KEY), *(func.sum(usage.c[m]).label(m) for m in MEASURES))
        .where(condition)
        .group_by(*(usage.c[k] for k in rollups.FINE_KEY))
    )
    return [dict(r._mapping) for r in conn.execute(grouped)]


def _move_members(conn: Connection, learnt: set[members.Member], change: rollups.Change) -> None:
    """Attribute the stored metered records that newly learnt projects or keys place."""
    moves = members.stored_to_move(conn, learnt)
    if len(moves) > 1 and not _any(conn, or_(*(condition for condition, _ in moves))):
        return  # one look for them all (each is a walk of `usage`): usually none is stored
    for condition, account in moves:
        rows = _grouped(conn, condition)
        if not rows:
            continue
        delta = rollups.new_delta()
        rollups.add_rows(delta, rows, sign=-1)
        rollups.add_rows(delta, [{**row, "account": account} for row in rows])
        members.move(conn, condition, account)
        change.add(delta)


def iter_priceable(
    conn: Connection, *, since: datetime | None = None, batch_size: int = 5000
) -> Iterator[list[tuple[int, dict[str, Any], UsageRecord]]]:
    """Records the catalogue prices (not provider-reported), in id order, a batch at a time."""
    last_id = 0
    while True:
        query = (
            select(usage)
            .where(usage.c.id > last_id, usage.c.pricing_status != str(PricingStatus.PROVIDER))
            .order_by(usage.c.id)
            .limit(batch_size)
        )
        if since is not None:
            query = query.where(usage.c.start >= since)
        rows = conn.execute(query).all()
        if not rows:
            return
        last_id = rows[-1].id
        yield [(row.id, dict(row._mapping), row_to_record(row)) for row in rows]


def count_priceable(conn: Connection, *, since: datetime | None = None) -> int:
    """How many records `iter_priceable` yields (for a progress bar)."""
    query = select(func.count()).where(usage.c.pricing_status != str(PricingStatus.PROVIDER))
    if since is not None:
        query = query.where(usage.c.start >= since)
    return int(conn.execute(query).scalar_one())


def apply_prices(conn: Connection, items: Sequence[tuple[int, dict[str, Any], UsageRecord]]) -> int:
    """Store the new cost of re-priced records (old row, new record); returns how many changed."""
    change = rollups.Change(conn, exclusive=True)
    delta = rollups.new_delta()
    updates: list[dict[str, Any]] = []
    for row_id, old, record in items:
        unpriced = record.pricing_status is PricingStatus.UNPRICED
        new = {
            "cost_nanos": 0 if record.cost is None else to_nanos(record.cost),
            "unpriced_requests": record.requests if unpriced else 0,
            "pricing_status": str(record.pricing_status),
            "price_source": record.price_source,
            "currency": record.currency,
        }
        if all(old[k] == v for k, v in new.items()):
            continue
        rollups.add_rows(delta, [old], sign=-1)
        rollups.add_rows(delta, [{**old, **new}])
        updates.append(
            {"row_id": row_id, "row_start": old["start"], **{f"new_{k}": v for k, v in new.items()}}
        )
    if updates:
        stmt = (
            update(usage)
            .where(*_by_id(conn))
            .values(**{k[4:]: bindparam(k) for k in updates[0] if k.startswith("new_")})
        )
        conn.execute(stmt, updates)
        change.add(delta)
    return len(updates)


def rebuild_rollups(
    conn: Connection, *, tz: ZoneInfo, progress: Callable[[int, int], None] | None = None
) -> dict[str, int]:
    """Recompute the rollups; when the configured zone changed, re-date every record first.
    `progress(done, total)` follows the rebuild's steps."""
    # a ledger written before the zone was recorded may be in any zone: re-date it too
    if get_meta(conn, "timezone") != tz.key:
        redate(conn, tz=tz)
    set_meta(conn, "timezone", tz.key)
    counts = rollups.rebuild(conn, progress=progress)
    analyze(conn)
    return counts


def analyze(conn: Connection) -> None:
    """SQLite: refresh the planner's statistics, sampled (`analysis_limit`, milliseconds
    at any size). Without them SQLite reads a basis-filtered rollup question through the
    `basis, day` index and walks every metered row instead of the primary key's range of
    days (docs/scaling.md: 1.4-2.3 s against 70-210 ms at 1 M events). PostgreSQL's
    autovacuum keeps its own statistics."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA analysis_limit = 1000")
        conn.exec_driver_sql("ANALYZE")


def redate(conn: Connection, *, tz: ZoneInfo) -> None:
    """Recompute each record's local day for zone `tz`."""
    last_id = 0
    while True:
        rows = conn.execute(
            select(usage.c.id, usage.c.start, usage.c.end)
            .where(usage.c.id > last_id)
            .order_by(usage.c.id)
            .limit(_CHUNK * 10)
        ).all()
        if not rows:
            return
        last_id = rows[-1].id
        changes = []
        for row in rows:
            day = instant_of(row.start, row.end).astimezone(tz).date().isoformat()
            changes.append({"row_id": row.id, "row_start": row.start, "new_day": day})
        conn.execute(update(usage).where(*_by_id(conn)).values(day=bindparam("new_day")), changes)


def _by_id(conn: Connection) -> tuple[ColumnElement[bool], ...]:
    """A row by its id (parameter row_id); on PostgreSQL by its start too (row_start), which
    names its partition: by id alone, every month's partition would be searched."""
    by_id = usage.c.id == bindparam("row_id")
    if conn.dialect.name == "postgresql":
        return by_id, usage.c.start == bindparam("row_start")
    return (by_id,)


def get_meta(conn: Connection, name: str) -> str | None:
    return conn.execute(select(settings_kv.c.value).where(settings_kv.c.name == name)).scalar_one_or_none()


def set_meta(conn: Connection, name: str, value: str) -> None:
    stmt = dialect_insert(conn, settings_kv).values(name=name, value=value)
    conn.execute(stmt.on_conflict_do_update(index_elements=["name"], set_={"value": value}))  # type: ignore[attr-defined]


def delete_meta(conn: Connection, name: str) -> None:
    conn.execute(delete(settings_kv).where(settings_kv.c.name == name))
