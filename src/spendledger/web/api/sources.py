"""GET /api/v1/sources: the provider accounts the ledger syncs from, as /sources shows them.

Admins only (a session of another role is refused, 403), or an API token. A key is never
returned, only its masked form (`sk-admin…a1b2`, stored when the key was added); options
are shown with any URL password masked (`sources_admin.public_options`). The last sync is
the source's row (`ok`, `failed`, `running`, or `interrupted` once a dead run's lease ran
out) with its latest recorded run's pages and records.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from spendledger import sources_admin
from spendledger.store.sources import SourceRow, SyncRun, list_sources, recent_runs
from spendledger.web.api.schemas import ErrorPublic, LastSyncPublic, SourcePublic, SourcesPublic
from spendledger.web.auth import Reader, api_require
from spendledger.web.deps import EngineDep

router = APIRouter(tags=["sources"])

AdminReader = Annotated[Reader, api_require("admin")]


@router.get(
    "/sources",
    response_model=SourcesPublic,
    responses={401: {"model": ErrorPublic}, 403: {"model": ErrorPublic, "description": "not an admin"}},
)
def get_sources(engine: EngineDep, _reader: AdminReader) -> SourcesPublic:
    """Every source by name: type, status, last sync, masked key and options."""
    labels = {t.name: t.label for t in sources_admin.source_types()}
    with engine.connect() as conn:
        rows = [(row, recent_runs(conn, row.name, limit=1)) for row in list_sources(conn)]
    return SourcesPublic(sources=[_public(row, runs[0] if runs else None, labels) for row, runs in rows])


def _public(row: SourceRow, run: SyncRun | None, labels: dict[str, str]) -> SourcePublic:
    last = None
    if row.last_run_at is not None:
        last = LastSyncPublic(
            at=row.last_run_at,
            outcome=row.last_status or "running",
            error=row.last_error,
            pages=run.pages if run else None,
            records=run.records if run else None,
        )
    return SourcePublic(
        name=row.name,
        type=row.provider,
        type_label=labels.get(row.provider, row.provider),  # a type from a package since removed
        status=last.outcome if last else "never_synced",
        key=row.key_hint,
        options=sources_admin.public_options(row.options),
        last_sync=last,
        synced_until=row.synced_until,
        interval_minutes=row.interval_minutes,
        backfill_days=row.backfill_days,
        created_at=row.created_at,
    )
