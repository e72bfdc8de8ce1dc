"""GET /api/v1/exports/focus: the twin of `spendledger export focus`, a FOCUS file download.

The period, filters and basis are `GET /api/v1/spend`'s (one parser, `queries.build_query`,
so a bad one is the same 400 with the same message); a member downloads their own scope.
The file is written to a spooled temporary file first (memory up to a few MB, then disk)
and streamed from there, so an error is a clean 4xx answer, never half a file.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import datetime
from typing import IO, Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from spendledger import queries
from spendledger.exports.focus_files import FocusFormat, check_options, export_focus, file_name
from spendledger.web.api.schemas import ErrorPublic
from spendledger.web.auth import ApiReader, scoped
from spendledger.web.deps import EngineDep, SettingsDep

router = APIRouter(tags=["exports"])
MEDIA_TYPES = {
    FocusFormat.CSV: "text/csv; charset=utf-8",
    FocusFormat.PARQUET: "application/vnd.apache.parquet",
}
SPOOL_BYTES = 8 * 1024 * 1024
CHUNK = 256 * 1024


@router.get(
    "/exports/focus",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "A FOCUS cost and usage file",
            "content": {"text/csv": {}, "application/vnd.apache.parquet": {}},
        },
        400: {"model": ErrorPublic},
        401: {"model": ErrorPublic},
        403: {"model": ErrorPublic},
    },
)
def get_focus_export(
    settings: SettingsDep,
    engine: EngineDep,
    reader: ApiReader,
    start: Annotated[str | None, Query(alias="from", description="YYYY-MM-DD (local), inclusive")] = None,
    end: Annotated[str | None, Query(alias="to", description="YYYY-MM-DD (local), inclusive")] = None,
    period: Annotated[str | None, Query(description=", ".join(queries.PRESETS))] = None,
    filters: Annotated[list[str] | None, Query(alias="filter", description="DIM:VALUE, repeatable")] = None,
    basis: Annotated[str, Query(description=", ".join(queries.BASES))] = "best",
    version: Annotated[str, Query(description="the FOCUS version: 1.2 or 1.3")] = "1.2",
    fmt: Annotated[str, Query(alias="format", description="csv or parquet")] = "csv",
) -> StreamingResponse:
    """The spend of a period as a FOCUS 1.2 or 1.3 file, like `spendledger export focus`."""
    version, form = check_options(version, fmt)
    query = queries.build_query(
        today=datetime.now(settings.tz).date(),
        start=start,
        end=end,
        period=period,
        filters=filters or (),
        basis=basis,
    )
    query = scoped(query, reader.user)  # a member downloads only their scope
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 (closed by the stream)
    try:
        with engine.connect() as conn:
            export_focus(conn, query, tz=settings.tz, out=spool, version=version, fmt=form)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    name = file_name(query, version, str(form))
    return StreamingResponse(
        _chunks(spool),
        media_type=MEDIA_TYPES[form],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _chunks(spool: IO[bytes]) -> Iterator[bytes]:
    try:
        while chunk := spool.read(CHUNK):
            yield chunk
    finally:
        spool.close()
