"""Sources (provider accounts the ledger syncs from), their runs and their leases.

Credentials arrive sealed (secrets.py) and leave sealed; this module never sees a key.
A lease is a row-level claim, `lease_owner` until `lease_until`, taken by one UPDATE
whose WHERE only matches a free or expired lease: on PostgreSQL the row lock makes a
second taker re-check and miss, on SQLite writers are serialised; either way two
processes never sync one source at once.

A source may also carry a provider note: the provider's own figure for its account (an
all-time running total, a balance) as its last complete sync read it, shown beside the
source and never summed into the ledger. It lives in `ledger_meta` under the source's id,
so the `sources` table keeps its columns; removing the source removes it.

A run whose process died (killed, a crash, a lost machine) stays `running` in the
tables; it is read as `interrupted` once its source's lease has run out (nobody is
syncing it any more), and stored so when the next run of the source starts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, insert, or_, select, update

from spendledger.errors import SpendledgerError
from spendledger.records import as_utc
from spendledger.store.ledger import delete_meta, set_meta
from spendledger.store.tables import settings_kv, sources, sync_runs


@dataclass(frozen=True)
class ProviderNote:
    """The provider's own figure for a source's account, and when the sync read it."""

    text: str
    at: datetime


@dataclass(frozen=True)
class SourceRow:
    id: int
    name: str
    provider: str
    options: dict[str, str]
    credential: str  # sealed
    key_hint: str
    backfill_days: int
    interval_minutes: int
    created_at: datetime
    synced_until: datetime | None
    last_run_at: datetime | None
    last_status: str | None
    last_error: str | None
    provider_note: ProviderNote | None = None


INTERRUPTED = "interrupted"
INTERRUPTED_ERROR = "the process syncing it stopped before the run finished (killed or crashed)"


def _alive(lease_until: datetime | None) -> bool:
    """Whether a source's lease is held: someone is syncing it now."""
    return lease_until is not None and as_utc(lease_until) >= datetime.now(UTC)


def _status(stored: str | None, lease_until: datetime | None) -> str | None:
    return INTERRUPTED if stored == "running" and not _alive(lease_until) else stored


def _row(r: Any, notes: Mapping[int, ProviderNote]) -> SourceRow:
    m = r._mapping
    interrupted = _status(m["last_status"], m["lease_until"]) == INTERRUPTED
    return SourceRow(
        id=m["id"],
        name=m["name"],
        provider=m["provider"],
        options=dict(m["options"] or {}),
        credential=m["credential"],
        key_hint=m["key_hint"],
        backfill_days=m["backfill_days"],
        interval_minutes=m["interval_minutes"],
        created_at=as_utc(m["created_at"]),
        synced_until=as_utc(m["synced_until"]) if m["synced_until"] else None,
        last_run_at=as_utc(m["last_run_at"]) if m["last_run_at"] else None,
        last_status=INTERRUPTED if interrupted else m["last_status"],
        last_error=INTERRUPTED_ERROR if interrupted else m["last_error"],
        provider_note=notes.get(m["id"]),
    )


_NOTE = "source_note:"  # + the source's id: a name in ledger_meta


def _notes(conn: Connection, source_id: int | None = None) -> dict[int, ProviderNote]:
    """The provider notes of every source (only `source_id`'s when given), by source id."""
    names = (
        settings_kv.c.name == f"{_NOTE}{source_id}"
        if source_id is not None
        else settings_kv.c.name.startswith(_NOTE, autoescape=True)
    )
    found: dict[int, ProviderNote] = {}
    for name, value in conn.execute(select(settings_kv.c.name, settings_kv.c.value).where(names)):
        note = json.loads(value)
        found[int(name.removeprefix(_NOTE))] = ProviderNote(note["text"], datetime.fromisoformat(note["at"]))
    return found


def set_provider_note(conn: Connection, name: str, *, text: str, at: datetime) -> None:
    """Keep `text`, the provider's own figure for the source's account, read at `at`."""
    source_id = conn.execute(select(sources.c.id).where(sources.c.name == name)).scalar_one_or_none()
    if source_id is not None:  # removed while it synced: nothing to show it on
        set_meta(conn, f"{_NOTE}{source_id}", json.dumps({"text": text, "at": as_utc(at).isoformat()}))


class SourceExistsError(SpendledgerError, ValueError):
    pass


class UnknownSourceError(SpendledgerError, LookupError):
    pass


def add_source(
    conn: Connection,
    *,
    name: str,
    provider: str,
    credential: str,
    key_hint: str,
    options: Mapping[str, str],
    now: datetime,
    backfill_days: int = 90,
    interval_minutes: int = 60,
) -> SourceRow:
    if conn.execute(select(sources.c.id).where(sources.c.name == name)).first():
        raise SourceExistsError(f"a source named {name!r} exists; pick another name or remove it first")
    conn.execute(
        insert(sources).values(
            name=name,
            provider=provider,
            options=dict(options),
            credential=credential,
            key_hint=key_hint,
            backfill_days=backfill_days,
            interval_minutes=interval_minutes,
            created_at=now,
        )
    )
    return get_source(conn, name)


def get_source(conn: Connection, name: str) -> SourceRow:
    row = conn.execute(select(sources).where(sources.c.name == name)).first()
    if row is None:
        known = ", ".join(s.name for s in list_sources(conn)) or "none yet"
        raise UnknownSourceError(
            f"no source named {name!r} (sources: {known}); see `spendledger sources list`"
        )
    return _row(row, _notes(conn, row.id))


def list_sources(conn: Connection) -> list[SourceRow]:
    notes = _notes(conn)
    return [_row(r, notes) for r in conn.execute(select(sources).order_by(sources.c.name))]


def remove_source(conn: Connection, name: str) -> None:
    source = get_source(conn, name)
    conn.execute(delete(sources).where(sources.c.name == name))
    delete_meta(conn, f"{_NOTE}{source.id}")


def set_credential(conn: Connection, name: str, *, credential: str, key_hint: str | None = None) -> None:
    """Store a newly sealed key (re-sealed by `secrets rotate`, or a replaced key with its hint)."""
    values: dict[str, Any] = {"credential": credential}
    if key_hint is not None:
        values["key_hint"] = key_hint
    conn.execute(update(sources).where(sources.c.name == name).values(**values))


def update_source(
    conn: Connection, name: str, *, options: Mapping[str, str], backfill_days: int, interval_minutes: int
) -> None:
    """Change a source's options, backfill and interval (its key: `set_credential`)."""
    get_source(conn, name)
    conn.execute(
        update(sources)
        .where(sources.c.name == name)
        .values(options=dict(options), backfill_days=backfill_days, interval_minutes=interval_minutes)
    )


def set_synced_until(conn: Connection, name: str, until: datetime) -> None:
    conn.execute(update(sources).where(sources.c.name == name).values(synced_until=until))


# ---- leases -----------------------------------------------------------------------------------


def acquire_lease(conn: Connection, name: str, *, owner: str, now: datetime, ttl: timedelta) -> bool:
    """Claim the source for `owner` until now + ttl; False when another holds a live lease."""
    stmt = (
        update(sources)
        .where(
            sources.c.name == name,
            or_(sources.c.lease_until.is_(None), sources.c.lease_until < now, sources.c.lease_owner == owner),
        )
        .values(lease_owner=owner, lease_until=now + ttl)
    )
    return bool(conn.execute(stmt).rowcount == 1)


def release_lease(conn: Connection, name: str, *, owner: str) -> None:
    conn.execute(
        update(sources)
        .where(sources.c.name == name, sources.c.lease_owner == owner)
        .values(lease_owner=None, lease_until=None)
    )


# ---- runs -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SyncRun:
    id: int
    source: str
    started_at: datetime
    finished_at: datetime | None
    status: str
    pages: int
    records: int
    error: str | None


def start_run(conn: Connection, name: str, *, now: datetime) -> int:
    """A new run of the source (whose lease the caller holds: any run still `running` is
    a dead process's, and is stored as interrupted)."""
    conn.execute(
        update(sync_runs)
        .where(sync_runs.c.source == name, sync_runs.c.status == "running")
        .values(status=INTERRUPTED, finished_at=now, error=INTERRUPTED_ERROR)
    )
    conn.execute(update(sources).where(sources.c.name == name).values(last_run_at=now, last_status="running"))
    result = conn.execute(insert(sync_runs).values(source=name, started_at=now, status="running"))
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def progress_run(conn: Connection, run_id: int, *, pages: int, records: int) -> None:
    conn.execute(update(sync_runs).where(sync_runs.c.id == run_id).values(pages=pages, records=records))


def finish_run(conn: Connection, run_id: int, name: str, *, now: datetime, error: str | None) -> None:
    status = "failed" if error else "ok"
    conn.execute(
        update(sync_runs).where(sync_runs.c.id == run_id).values(finished_at=now, status=status, error=error)
    )
    conn.execute(update(sources).where(sources.c.name == name).values(last_status=status, last_error=error))


def recent_runs(conn: Connection, name: str | None = None, *, limit: int = 20) -> list[SyncRun]:
    """The latest runs, newest first; a `running` run nobody holds the lease of is interrupted."""
    query = (
        select(sync_runs, sources.c.lease_until)
        .outerjoin(sources, sources.c.name == sync_runs.c.source)
        .order_by(sync_runs.c.started_at.desc(), sync_runs.c.id.desc())
        .limit(limit)
    )
    if name is not None:
        query = query.where(sync_runs.c.source == name)
    return [
        SyncRun(
            id=r.id,
            source=r.source,
            started_at=as_utc(r.started_at),
            finished_at=as_utc(r.finished_at) if r.finished_at else None,
            status=_status(r.status, r.lease_until) or r.status,
            pages=r.pages,
            records=r.records,
            error=INTERRUPTED_ERROR if _status(r.status, r.lease_until) == INTERRUPTED else r.error,
        )
        for r in conn.execute(query)
    ]
