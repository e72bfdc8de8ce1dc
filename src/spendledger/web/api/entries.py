"""/api/v1/entries: manual entries for scripts, the JSON twin of the /entries page.

POST stores a batch with an API token (as the events API: a session is not enough, so no
form elsewhere can post it): idempotent on each entry's id, good entries kept, each bad
one named by its index, id and field. GET lists the entries within the caller's scope,
as the page does: everything for a token, an admin or a viewer, a member's grants only.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, BackgroundTasks, HTTPException, Query, Request, status
from starlette.concurrency import run_in_threadpool

from spendledger.ingest.manual import (
    BatchResult,
    EntryBatchError,
    as_json,
    list_entries,
    parse_entry_batch,
    store_entry_batch,
    totals,
)
from spendledger.records import format_money
from spendledger.store import Engine
from spendledger.web.api.intake import after_new_data, read_body
from spendledger.web.api.schemas import (
    EntriesPublic,
    EntryBatchIn,
    EntryBatchResultPublic,
    EntryOutcomePublic,
    EntryRejectionPublic,
    ErrorPublic,
    request_body,
)
from spendledger.web.auth import ApiReader
from spendledger.web.deps import CurrentToken, EngineDep, SettingsDep

router = APIRouter(tags=["manual entries"])


@router.post(
    "/entries",
    response_model=EntryBatchResultPublic,
    responses={401: {"model": ErrorPublic}, 413: {"model": ErrorPublic}, 422: {"model": ErrorPublic}},
    openapi_extra=request_body(EntryBatchIn),
)
async def post_entries(
    request: Request,
    background: BackgroundTasks,
    token: CurrentToken,
    settings: SettingsDep,
    engine: EngineDep,
) -> EntryBatchResultPublic:
    """Add or replace manual entries (an id sent again replaces that entry; unchanged: nothing moves)."""
    body = await read_body(request, limit=settings.max_body_bytes)
    try:
        items = parse_entry_batch(body)
    except EntryBatchError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from None
    result = await run_in_threadpool(_store, engine, items, settings.tz, f"token:{token}")
    after_new_data(request, background, accepted=result.count("added") + result.count("replaced"))
    return EntryBatchResultPublic(
        added=result.count("added"),
        replaced=result.count("replaced"),
        unchanged=result.count("unchanged"),
        rejected_count=len(result.rejected),
        entries=[EntryOutcomePublic(index=i, id=s.entry.id, outcome=s.outcome) for i, s in result.saved],
        rejected=[
            EntryRejectionPublic(index=r.index, id=r.id, field=r.field, reason=r.reason)
            for r in result.rejected
        ],
    )


def _store(engine: Engine, items: list[Any], tz: ZoneInfo, actor: str) -> BatchResult:
    with engine.begin() as conn:
        return store_entry_batch(conn, items, tz=tz, actor=actor)


@router.get(
    "/entries",
    response_model=EntriesPublic,
    responses={401: {"model": ErrorPublic}},
)
def get_entries(
    engine: EngineDep,
    reader: ApiReader,
    start: Annotated[date | None, Query(alias="from", description="entries with a day from this one")] = None,
    end: Annotated[date | None, Query(alias="to", description="to this one, included")] = None,
) -> EntriesPublic:
    """The manual entries (with a day in from..to), with what each counts there."""
    with engine.connect() as conn:
        listed = list_entries(conn, start=start, end=end, scope=reader.scope)
    return EntriesPublic.model_validate(
        {
            "from": start,
            "to": end,
            "totals": {c: format_money(t) for c, t in totals(listed).items()},
            "entries": [as_json(item) for item in listed],
        }
    )
