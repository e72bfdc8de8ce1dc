"""POST /api/v1/events: the ingest API for any language.

The body is read raw so that its size is checked before anything is parsed; the batch
parser (spendledger.ingest.batch) validates it and stores its good events.
"""

from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from spendledger.ingest.batch import BatchError, store_batch
from spendledger.web.api.intake import after_new_data, read_body
from spendledger.web.api.schemas import ErrorPublic, EventBatchIn, IngestResultPublic, request_body
from spendledger.web.deps import CurrentToken, EngineDep, PricerDep, SettingsDep

router = APIRouter(tags=["ingest"])


@router.post(
    "/events",
    response_model=IngestResultPublic,
    responses={401: {"model": ErrorPublic}, 413: {"model": ErrorPublic}, 422: {"model": ErrorPublic}},
    openapi_extra=request_body(EventBatchIn),
)
async def post_events(
    request: Request,
    background: BackgroundTasks,
    _token: CurrentToken,
    settings: SettingsDep,
    engine: EngineDep,
    pricer: PricerDep,
) -> IngestResultPublic:
    """Store a batch of metered calls; events already stored (same id) are counted as duplicates."""
    body = await read_body(request, limit=settings.max_body_bytes)
    try:
        result = await run_in_threadpool(
            store_batch, engine, body, pricer=pricer, tz=settings.tz, max_events=settings.max_batch_events
        )
    except BatchError as exc:
        raise HTTPException(exc.status, detail=str(exc)) from None
    after_new_data(request, background, accepted=result.accepted)
    return IngestResultPublic.from_result(result)
