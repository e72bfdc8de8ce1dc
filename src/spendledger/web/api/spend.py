"""GET /api/v1/spend: the JSON twin of `spendledger report`, same parameters, same query.

Parameters carry the CLI options' names (`from`, `to`, `period`, `by`, `filter`,
`granularity`, `basis`, `currency`), and `queries.build_query` parses both, so the CLI and the API
accept and refuse the same things with the same messages (a QueryError is a 400). The body is
written straight from the report's tuples (exports/spend.py), not validated row by row against
`SpendPublic`, which documents it; a big CSV answer is streamed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from fastapi.responses import StreamingResponse

from spendledger import queries
from spendledger.exports.spend import (
    CSV_CHUNK_ROWS,
    csv_filename,
    report_csv_chunks,
    report_json,
    report_to_csv,
)
from spendledger.web.api.schemas import ErrorPublic, SpendPublic
from spendledger.web.auth import ApiReader, scoped
from spendledger.web.deps import EngineDep, SettingsDep

router = APIRouter(tags=["spend"])


@router.get(
    "/spend",
    response_model=None,
    responses={
        200: {"model": SpendPublic, "content": {"text/csv": {}}},
        400: {"model": ErrorPublic},
        401: {"model": ErrorPublic},
    },
)
def get_spend(
    settings: SettingsDep,
    engine: EngineDep,
    reader: ApiReader,
    start: Annotated[str | None, Query(alias="from", description="YYYY-MM-DD (local), inclusive")] = None,
    end: Annotated[str | None, Query(alias="to", description="YYYY-MM-DD (local), inclusive")] = None,
    period: Annotated[str | None, Query(description=", ".join(queries.PRESETS))] = None,
    by: Annotated[list[str] | None, Query(description="dimensions, comma-separated or repeated")] = None,
    filters: Annotated[list[str] | None, Query(alias="filter", description="DIM:VALUE, repeatable")] = None,
    granularity: Annotated[str, Query(description="day, week, month or total")] = "total",
    basis: Annotated[str, Query(description=", ".join(queries.BASES))] = "best",
    currency: Annotated[
        str | None,
        Query(
            description="ISO 4217 code to show every amount in, converted at its day's rate "
            "(default SPENDLEDGER_CURRENCY), or `original` for the amounts as charged"
        ),
    ] = None,
    fmt: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
) -> Response:
    """Spend for a period, grouped and filtered like `spendledger report`."""
    query = queries.build_query(
        today=datetime.now(settings.tz).date(),
        start=start,
        end=end,
        period=period,
        by=by or (),
        filters=filters or (),
        granularity=granularity,
        basis=basis,
        currency=settings.currency if currency is None else currency,
    )
    query = scoped(query, reader.user)  # a member reads only their scope
    with engine.connect() as conn:
        report = queries.spend(conn, queries.check_display_currency(conn, query))
    if fmt == "csv":
        media, headers = (
            "text/csv; charset=utf-8",
            {"Content-Disposition": f'attachment; filename="{csv_filename(report.query)}"'},
        )
        if len(report.lines) > CSV_CHUNK_ROWS:  # streamed: encoded a chunk at a time as it is sent
            return StreamingResponse(report_csv_chunks(report), media_type=media, headers=headers)
        return Response(report_to_csv(report), media_type=media, headers=headers)
    return Response(report_json(report), media_type="application/json")
