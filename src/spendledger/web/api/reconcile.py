"""GET /api/v1/reconcile: the JSON twin of `spendledger reconcile` and /reconcile.

Same parameters as the CLI's options (`from`, `to`, `period`, `by`, `tolerance`,
`flagged`), parsed by the same functions, so both accept and refuse the same things with
the same messages (a bad one is a 400). Admins and viewers read it, and API tokens; a
member's scope is projects or users, which a bill does not split by, so members are refused.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Response
from fastapi.responses import JSONResponse

from spendledger import reconcile as recon
from spendledger.exports.reconcile import csv_filename, reconciliation_to_csv, reconciliation_to_dict
from spendledger.queries import PRESETS
from spendledger.web.api.schemas import ErrorPublic, ReconcilePublic
from spendledger.web.auth import Reader, api_require
from spendledger.web.deps import EngineDep, PricerDep, SettingsDep

router = APIRouter(tags=["reconciliation"])

ViewerReader = Annotated[Reader, api_require("admin", "viewer")]


@router.get(
    "/reconcile",
    response_model=None,
    responses={
        200: {"model": ReconcilePublic, "content": {"text/csv": {}}},
        400: {"model": ErrorPublic},
        401: {"model": ErrorPublic},
        403: {"model": ErrorPublic, "description": "a member"},
    },
)
def get_reconcile(
    settings: SettingsDep,
    engine: EngineDep,
    pricer: PricerDep,
    _reader: ViewerReader,
    start: Annotated[str | None, Query(alias="from", description="first UTC day, YYYY-MM-DD")] = None,
    end: Annotated[str | None, Query(alias="to", description="last UTC day, included")] = None,
    period: Annotated[str | None, Query(description=", ".join(PRESETS) + " (default: last-month)")] = None,
    by: Annotated[
        list[str] | None, Query(description=f"rows by: {', '.join(recon.DIMS)} (default provider,account)")
    ] = None,
    tolerance: Annotated[
        str | None, Query(description="a percent of the bill, an amount, or both: 1%,0.01")
    ] = None,
    flagged: Annotated[bool, Query(description="only the rows outside the tolerance")] = False,
    fmt: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
) -> Response:
    """Billed beside metered per UTC day, provider and account, the gap explained by category."""
    try:
        query = recon.build_reconcile_query(
            today=datetime.now(settings.tz).date(), start=start, end=end, period=period, by=by or ()
        )
        limits = recon.parse_tolerance(tolerance or settings.reconcile_tolerance)
    except recon.ReconcileError as exc:
        raise HTTPException(400, detail=str(exc)) from None
    with engine.connect() as conn:
        found = recon.reconcile(conn, query, tolerance=limits, pricer=pricer)
        closed = recon.closed_months(conn, start=query.start, end=query.end)
    if flagged:
        found.rows = [r for r in found.rows if r.flagged]
    if fmt == "csv":
        return Response(
            reconciliation_to_csv(found),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{csv_filename(query)}"'},
        )
    return JSONResponse(reconciliation_to_dict(found, closed))
