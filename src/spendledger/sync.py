"""Billing sync: for each source, fetch its pages, replace their buckets in the ledger,
record the run.

Invariants:
- each page *replaces* what the ledger held for the page's buckets of that endpoint: a
  revised bucket replaces the old figures and a second run changes nothing. Pages read
  while the last was written share its transaction (at most a window's, `_Writer`), each
  transaction whole pages with their progress: a run killed keeps the pages committed
  before it, and a failure to read a page keeps every page before it;
- the first sync backfills `backfill_days`; later ones start 3 days before the end of
  the last complete day synced (providers revise recent buckets); the window is read in
  windows of the type's `window_days` (31), oldest first, every endpoint of one before
  the next, and `synced_until` moves to the end of each window completed: a failed run
  (a provider's hourly limit halfway through a year's backfill, a kill) is redone from
  the last complete window, not from the start;
- one process syncs a source at a time (a lease in the database, renewed per page);
- the connector reads the next page on a thread while the last one is written
  (readahead.py): the provider still sees one request at a time, and a page's failure
  reaches the sync after the pages before it are stored, as if read in turn;
- while pages flow the cyclic collector is paused (process-wide, as ingest's batches do)
  and the writes' SQLite connection has a wide page cache; the collector runs again once
  a page is late and when the pages end, and the connection's own cache is put back
  before it returns to the pool (`engine.widen_cache`);
- a connector that reads the provider's own figure for the account (`HasProviderNote`:
  a running total, a balance) is asked for it once its endpoints completed; the line is
  kept with the source, to show, and never enters the ledger;
- a balance-only source's page carries readings, not records: they are stored as taken
  at the page's moment and the days they change are re-derived (store/balances.py);
- the key is opened (sources_admin.connect), handed to the connector and never logged or returned;
- every record's model is stored under the ledger's name of it (model_names.py), the id
  the provider billed kept in its tags: connectors keep the provider's ids.
"""

from __future__ import annotations

import gc
import os
import socket
import uuid
from collections.abc import Callable, Generator, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TypeVar

from spendledger.config import Settings
from spendledger.model_names import canonical_model, canonical_provider, canonicalise
from spendledger.readahead import ReadAhead
from spendledger.records import UsageRecord
from spendledger.sources._http import RetryPolicy
from spendledger.sources.base import Connector, HasProviderNote, Page, SourceError
from spendledger.sources_admin import connect, source_type
from spendledger.store import Connection, Engine
from spendledger.store.balances import record_balances
from spendledger.store.engine import widen_cache
from spendledger.store.ledger import Replacing
from spendledger.store.sources import (
    SourceRow,
    acquire_lease,
    finish_run,
    get_source,
    progress_run,
    release_lease,
    set_provider_note,
    set_synced_until,
    start_run,
)

T = TypeVar("T")
OVERLAP = timedelta(days=3)  # providers revise recent buckets
LEASE = timedelta(minutes=10)  # renewed after every page
PATIENCE = 0.5  # seconds a page may be late before the cyclic collector runs meanwhile


@dataclass
class SyncOutcome:
    source: str
    start: datetime
    end: datetime
    pages: int = 0
    records: int = 0
    error: str | None = None
    skipped: bool = False  # another process holds the source's lease
    endpoints: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None and not self.skipped


PageCallback = Callable[[str, Page], None]  # (source name, page) after the page is stored


def default_owner() -> str:
    """Who holds a lease: host, process and a random part (two workers never share one)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def is_due(source: SourceRow, *, now: datetime) -> bool:
    """The source's interval has passed since its last run started (or it never ran)."""
    return (
        source.last_run_at is None or source.last_run_at + timedelta(minutes=source.interval_minutes) <= now
    )


def sync_window(
    source: SourceRow, *, since: date | None, until: date | None, now: datetime
) -> tuple[datetime, datetime]:
    """[start, end) in whole UTC days: explicit dates, else resume or backfill; up to now."""
    today = datetime.combine(now.astimezone(UTC).date(), time(), UTC)
    if since is not None:
        start = datetime.combine(since, time(), UTC)
    elif source.synced_until is not None:
        start = source.synced_until - OVERLAP
    else:
        start = today - timedelta(days=source.backfill_days)
    end = datetime.combine(until, time(), UTC) + timedelta(days=1) if until else today + timedelta(days=1)
    return start, end


def windows(start: datetime, end: datetime, days: int | None) -> list[tuple[datetime, datetime]]:
    """[start, end) cut into consecutive windows of `days` days, oldest first (None: one)."""
    if days is None:
        return [(start, end)]
    step = timedelta(days=days)
    cuts = [start]
    while cuts[-1] + step < end:
        cuts.append(cuts[-1] + step)
    return list(zip(cuts, [*cuts[1:], end], strict=True))


def sync_source(
    engine: Engine,
    settings: Settings,
    name: str,
    *,
    since: date | None = None,
    until: date | None = None,
    owner: str | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    on_page: PageCallback | None = None,
    policy: RetryPolicy | None = None,
    only_if_due: bool = False,
) -> SyncOutcome:
    """Sync one source; failures are returned (and recorded), not raised.

    With `only_if_due` (the scheduler), a source another process synced since the caller
    looked is left alone: the check is made after the lease is taken.
    """
    owner = owner or default_owner()
    with engine.begin() as conn:
        source = get_source(conn, name)
        start, end = sync_window(source, since=since, until=until, now=now())
        if not acquire_lease(conn, name, owner=owner, now=now(), ttl=LEASE):
            return SyncOutcome(name, start, end, skipped=True, error="another process is syncing it")
        source = get_source(conn, name)  # as it is now that the lease is ours
        if only_if_due and not is_due(source, now=now()):
            release_lease(conn, name, owner=owner)
            return SyncOutcome(name, start, end, skipped=True, error="another process synced it moments ago")
        start, end = sync_window(source, since=since, until=until, now=now())
        run_id = start_run(conn, name, now=now())
    outcome = SyncOutcome(name, start, end)
    note: str | None = None
    # the ledger's days before `start` are synced: a window completed after them extends that
    contiguous = until is None and (source.synced_until is None or start <= source.synced_until)
    try:
        connector = connect(settings, source, policy=policy)
        try:
            endpoints = connector.endpoints()
            outcome.endpoints.extend(endpoints)
            spans = windows(start, end, source_type(source.provider).window_days)
            writer = _Writer(engine, settings, source, outcome, run_id, owner)
            try:
                # the next page is read (on a thread) while this one is written
                ours = gc.isenabled()  # before the reading thread pauses it for its first page
                with (
                    ReadAhead(_pages(connector, endpoints, spans), name=f"sync {name}") as pages,
                    closing(_collector_paused_while_flowing(pages, ours=ours)) as flowing,
                ):
                    for w_end, page in flowing:
                        if page is not None:
                            writer.write(page, now())
                            if not pages.ready():  # never hold the ledger while the provider answers
                                writer.commit()
                            if on_page:
                                on_page(name, page)
                        elif (
                            contiguous
                            and w_end < end
                            and (source.synced_until is None or w_end > source.synced_until)
                        ):
                            writer.commit(synced_until=w_end)  # a rerun resumes after this window
                        else:
                            writer.commit()
            finally:
                writer.commit()  # the pages before a failure to read the next are kept
            if isinstance(connector, HasProviderNote):
                note = connector.provider_note()
        finally:
            connector.close()
    except SourceError as exc:
        outcome.error = str(exc)
    except Exception as exc:  # a bug or the database: record it, let the other sources run
        outcome.error = f"{type(exc).__name__}: {exc}"
    with engine.begin() as conn:
        if outcome.error is None and contiguous:
            today = datetime.combine(now().astimezone(UTC).date(), time(), UTC)
            set_synced_until(conn, name, today)  # every day before today is complete
        if note is not None:  # read only when every endpoint completed
            set_provider_note(conn, name, text=note, at=now())
        finish_run(conn, run_id, name, now=now(), error=outcome.error)
        release_lease(conn, name, owner=owner)
    return outcome


def _collector_paused_while_flowing(pages: ReadAhead[T], *, ours: bool) -> Generator[T, None, None]:
    """`pages`, the cyclic collector paused while they flow: they are acyclic, freed by
    reference counting, and its passes over them and the libraries cost a year of OpenAI
    4 s of CPU on both threads (measured, bench/sync.py; the collector is process-wide).
    It runs again once a page is PATIENCE late (a provider's back-off may last minutes,
    and a server's other threads make garbage meanwhile) and when the pages end. A
    collector paused before the pages started (not `ours`) is left to whoever paused it."""
    if not ours:
        yield from pages
        return
    items = iter(pages)
    try:
        while True:
            if not pages.wait(PATIENCE):
                gc.enable()
            try:
                item = next(items)
            except StopIteration:
                return
            gc.disable()
            yield item
    finally:
        gc.enable()


def _pages(
    connector: Connector, endpoints: list[str], spans: list[tuple[datetime, datetime]]
) -> Iterator[tuple[datetime, Page | None]]:
    """(window end, page) for every page of every endpoint, window after window, its models
    under the ledger's names; (window end, None) once a window's endpoints are all read."""
    for w_start, w_end in spans:
        for endpoint in endpoints:
            for page in connector.fetch(endpoint, w_start, w_end):
                _canonicalise(page.records)
                yield w_end, page
        yield w_end, None


def _canonicalise(records: list[UsageRecord]) -> None:
    """`canonicalise` every record. A page repeats a few (provider, model) pairs, mostly
    the ledger's names already, which canonicalise leaves as they are whatever the tags:
    those pairs are looked at once (the page is read beside the writing, on its core)."""
    named: set[tuple[str, str]] = set()
    for record in records:
        pair = (record.provider, record.model)
        if pair in named:
            continue
        canonicalise(record)
        if canonical_provider(pair[0]) == pair[0] and canonical_model(pair[1]) == pair[1]:
            named.add(pair)


class _Writer:
    """Writes the pages, a few to a transaction, as one change to the ledger
    (ledger.Replacing): the billed days' coverage is asked once a transaction rather than
    twice a page, and the pages share a commit. A transaction takes the pages read while
    the last was written, up to a window's, MAX_PAGES and about MAX_RECORDS: it is
    committed as soon as the next page is not there yet (the ledger is never held while a
    provider answers or backs off). A transaction holds whole pages and their progress: a
    run killed keeps the pages of the transactions committed, and a rerun resumes exactly
    as it would after any page."""

    MAX_PAGES = 16
    MAX_RECORDS = 40_000

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        source: SourceRow,
        outcome: SyncOutcome,
        run_id: int,
        owner: str,
    ) -> None:
        self._engine, self._settings, self._source = engine, settings, source
        self._outcome, self._run_id, self._owner = outcome, run_id, owner
        self._open: tuple[Connection, Replacing, Callable[[], None]] | None = None
        self._pages = self._records = 0

    def write(self, page: Page, at: datetime) -> None:
        """Write `page` in the open transaction (opening one); commit when it is full."""
        if page.balances:
            self.commit()  # a balance page is a transaction of its own (store/balances.py)
        if self._open is None:
            conn = self._engine.connect()
            try:
                conn.begin()
                narrow = widen_cache(conn)  # put back before the connection returns to the pool
                try:
                    self._open = (conn, Replacing(conn, tz=self._settings.tz, now=at), narrow)
                except BaseException:
                    narrow()  # never raises
                    raise
            except BaseException:
                conn.close()
                raise
        conn, replacing, narrow = self._open
        try:
            self._write(conn, replacing, page, at)  # the collector is paused while pages flow
        except BaseException:
            self._open = None
            self._pages = self._records = 0
            narrow()
            conn.close()  # rolls the transaction back
            raise
        self._pages += 1
        self._records += len(page.records)
        if page.balances or self._pages >= self.MAX_PAGES or self._records >= self.MAX_RECORDS:
            self.commit()

    def commit(self, *, synced_until: datetime | None = None) -> None:
        """Commit the open transaction, with `synced_until` when given."""
        if self._open is None:
            if synced_until is not None:
                with self._engine.begin() as conn:
                    set_synced_until(conn, self._source.name, synced_until)
            return
        conn, replacing, narrow = self._open
        self._open = None
        self._pages = self._records = 0
        try:
            replacing.close()
            if synced_until is not None:
                set_synced_until(conn, self._source.name, synced_until)
            conn.commit()
        finally:
            narrow()  # never raises
            conn.close()  # rolls back what a failure left uncommitted

    def _write(self, conn: Connection, replacing: Replacing, page: Page, at: datetime) -> None:
        name, outcome = self._source.name, self._outcome
        replacing.buckets(source=name, endpoint=page.endpoint, buckets=page.buckets, records=page.records)
        if page.balances:  # a balance-only source: its readings, and the spend they show
            replacing.close()  # a change of its own follows in this transaction
            _, written = record_balances(
                conn, source=name, provider=self._source.provider,
                account=self._source.options.get("account") or name,
                readings=page.balances, at=at, tz=self._settings.tz,
            )  # fmt: skip
            outcome.records += written
        outcome.pages += 1
        outcome.records += len(page.records)
        progress_run(conn, self._run_id, pages=outcome.pages, records=outcome.records)
        if not acquire_lease(conn, name, owner=self._owner, now=at, ttl=LEASE):  # renew
            # our lease ran out and another process holds it now: leave the source to it
            raise SourceError("config", f'source "{name}": another process took over its sync; stopped')
