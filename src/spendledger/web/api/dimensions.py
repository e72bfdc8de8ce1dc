"""GET /api/v1/dimensions/{dim}: the providers, accounts, projects, models, users... the
ledger knows, each with its spend in a period.

The parameters are /api/v1/spend's (`from`, `to`, `period`, `filter`, `basis`), parsed by
the same `queries.build_query`, and the figures are `queries.dimension_values`', which are
`queries.spend`'s rows by the dimension: the two endpoints agree to the nano-unit. A member
reads only their scope, by the same rule as /api/v1/spend (`auth.scoped`): the values and
the spend outside it are not shown, and a filter outside it is refused (403).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, NoReturn

from fastapi import APIRouter, HTTPException, Path, Query, status
from fastapi.openapi.models import Example

from spendledger import queries
from spendledger.records import DIMENSIONS, format_money
from spendledger.web.api.schemas import DimensionPublic, ErrorPublic
from spendledger.web.auth import ApiReader, scoped
from spendledger.web.deps import EngineDep, SettingsDep

router = APIRouter(tags=["spend"])

UNKNOWN = f"use one of {', '.join(DIMENSIONS)} (key stands for api_key_id)"


@router.get(
    "/dimensions/{dim}",
    response_model=DimensionPublic,
    responses={
        400: {"model": ErrorPublic, "description": "a parameter the caller got wrong, named in `param`"},
        401: {"model": ErrorPublic},
        403: {"model": ErrorPublic, "description": "a filter outside the caller's scope"},
        404: {"model": ErrorPublic, "description": "no such dimension; the message lists them"},
    },
)
def get_dimension(
    settings: SettingsDep,
    engine: EngineDep,
    reader: ApiReader,
    dim: Annotated[
        str,
        Path(
            description="a dimension, as in /api/v1/spend's `by`",
            json_schema_extra={"enum": list(DIMENSIONS)},
            openapi_examples={
                "projects": Example(summary="projects", value="project"),
                "models": Example(summary="models", value="model"),
            },
        ),
    ],
    start: Annotated[str | None, Query(alias="from", description="YYYY-MM-DD (local), inclusive")] = None,
    end: Annotated[str | None, Query(alias="to", description="YYYY-MM-DD (local), inclusive")] = None,
    period: Annotated[str | None, Query(description=", ".join(queries.PRESETS))] = None,
    filters: Annotated[list[str] | None, Query(alias="filter", description="DIM:VALUE, repeatable")] = None,
    basis: Annotated[str, Query(description=", ".join(queries.BASES))] = "best",
) -> DimensionPublic:
    """The values of a dimension the ledger holds within your scope (ever, on any basis),
    each with its spend in the period (last 30 days by default), per currency."""
    if "," in dim:
        _unknown(dim)
    try:
        query = queries.build_query(
            today=datetime.now(settings.tz).date(),
            start=start,
            end=end,
            period=period,
            by=[dim],
            filters=filters or (),
            basis=basis,
        )
    except queries.QueryError as exc:
        if exc.param == "by":
            _unknown(dim)
        raise
    if len(query.by) != 1:
        _unknown(dim)
    query = scoped(query, reader.user)  # a member reads only their scope
    with engine.connect() as conn:
        report = queries.dimension_values(conn, query)
    return DimensionPublic.model_validate(
        {
            "dimension": report.dimension,
            "from": report.query.start.isoformat(),
            "to": report.query.end.isoformat(),
            "basis": report.query.basis,
            "filters": {k: list(v) for k, v in report.query.filters.items()},
            "totals": {c: format_money(v) for c, v in sorted(report.totals.items())},
            "values": [
                {
                    "value": v.value,
                    "spend": {c: format_money(m) for c, m in v.spend.items()},
                    "requests": v.requests,
                    "unpriced_requests": v.unpriced_requests,
                }
                for v in report.values
            ],
        }
    )


def _unknown(dim: str) -> NoReturn:
    shown = dim if len(dim) <= 40 else dim[:37] + "..."
    raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"unknown dimension {shown!r}; {UNKNOWN}")
