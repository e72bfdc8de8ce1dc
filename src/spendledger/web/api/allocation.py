"""/api/v1/showback and /api/v1/aliases: the showback's JSON (or CSV) twin, and the aliases.

The showback takes /api/v1/spend's parameters (`from`, `to`, `period`, `filter`,
`basis`, parsed by the same `queries.build_query`) and `by` team, project or customer;
its figures are `showback.showback`'s, the function /showback and `spendledger showback`
call. It spans every scope (the shared pools), so admins, viewers and API tokens read it;
members are refused (403). Aliases are read likewise and changed by an API token or an
admin's session sending its CSRF token (as deletions are), each change audited.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response, status
from fastapi.responses import JSONResponse

from spendledger import queries
from spendledger.showback import csv_filename, showback, showback_to_csv, showback_to_dict
from spendledger.store.aliases import Alias, AliasError, add_alias, list_aliases, remove_alias
from spendledger.web.api.deletions import deleting_actor
from spendledger.web.api.schemas import (
    AliasesPublic,
    AliasIn,
    AliasOutcomePublic,
    AliasPublic,
    ErrorPublic,
    ShowbackPublic,
)
from spendledger.web.auth import Reader, api_require
from spendledger.web.deps import EngineDep, SettingsDep

router = APIRouter(tags=["allocation"])

ReaderOfAll = Annotated[Reader, api_require("admin", "viewer")]
AdminActor = Annotated[
    str, Depends(deleting_actor)
]  # an API token, or an admin's session with its CSRF token


@router.get(
    "/showback",
    response_model=None,
    responses={
        200: {"model": ShowbackPublic, "content": {"text/csv": {}}},
        400: {"model": ErrorPublic, "description": "a parameter the caller got wrong, named in `param`"},
        401: {"model": ErrorPublic},
        403: {"model": ErrorPublic, "description": "a member"},
    },
)
def get_showback(
    settings: SettingsDep,
    engine: EngineDep,
    _reader: ReaderOfAll,
    by: Annotated[str, Query(description="team, project or customer")] = "team",
    start: Annotated[str | None, Query(alias="from", description="YYYY-MM-DD (local), inclusive")] = None,
    end: Annotated[str | None, Query(alias="to", description="YYYY-MM-DD (local), inclusive")] = None,
    period: Annotated[str | None, Query(description=", ".join(queries.PRESETS))] = None,
    filters: Annotated[list[str] | None, Query(alias="filter", description="DIM:VALUE, repeatable")] = None,
    basis: Annotated[str, Query(description=", ".join(queries.BASES))] = "best",
    fmt: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
) -> Response:
    """What each team, project or customer cost in a period: direct spend, shares of the
    shared costs the allocation rules split, and the total."""
    query = queries.build_query(
        today=datetime.now(settings.tz).date(),
        start=start,
        end=end,
        period=period,
        by=[by],
        filters=filters or (),
        basis=basis,
    )
    with engine.connect() as conn:
        result = showback(conn, query)
    if fmt == "csv":
        return Response(
            showback_to_csv(result),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{csv_filename(result)}"'},
        )
    return JSONResponse(showback_to_dict(result))


@router.get(
    "/aliases",
    response_model=AliasesPublic,
    responses={401: {"model": ErrorPublic}, 403: {"model": ErrorPublic, "description": "a member"}},
)
def get_aliases(engine: EngineDep, _reader: ReaderOfAll) -> AliasesPublic:
    """Every alias: the names reports give what the sources name differently."""
    with engine.connect() as conn:
        return AliasesPublic(aliases=[_public(a) for a in list_aliases(conn)])


@router.post(
    "/aliases",
    response_model=AliasOutcomePublic,
    responses={
        400: {"model": ErrorPublic, "description": "an alias that cannot be stored; the message says why"},
        401: {"model": ErrorPublic},
        403: {"model": ErrorPublic, "description": "not an admin"},
    },
)
def post_alias(body: AliasIn, engine: EngineDep, actor: AdminActor) -> AliasOutcomePublic:
    """Add an alias (adding it again changes nothing): every figure, past and future, follows."""
    alias = Alias(
        dimension=body.dimension.strip().lower(),
        name=body.name,
        canonical=body.canonical,
        found_in=body.from_.strip().lower(),
        provider=body.provider,
        account=body.account,
    )
    try:
        with engine.begin() as conn:
            stored, outcome = add_alias(conn, alias, actor=actor)
    except AliasError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=str(exc)) from None
    return AliasOutcomePublic(outcome=outcome, alias=_public(stored))


@router.delete(
    "/aliases/{alias_id}",
    response_model=AliasOutcomePublic,
    responses={
        401: {"model": ErrorPublic},
        403: {"model": ErrorPublic, "description": "not an admin"},
        404: {"model": ErrorPublic, "description": "no alias with this id"},
    },
)
def delete_alias(
    alias_id: Annotated[
        int, Path(ge=1, le=2**31 - 1, examples=[1], description="its id in GET /api/v1/aliases")
    ],
    engine: EngineDep,
    actor: AdminActor,
) -> AliasOutcomePublic:
    """Remove an alias: the figures show the names the sources sent again."""
    try:
        with engine.begin() as conn:
            gone = remove_alias(conn, alias_id, actor=actor)
    except AliasError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from None
    return AliasOutcomePublic(outcome="removed", alias=_public(gone))


def _public(alias: Alias) -> AliasPublic:
    return AliasPublic.model_validate(
        {
            "id": alias.id,
            "dimension": alias.dimension,
            "from": alias.field,
            "name": alias.name,
            "canonical": alias.canonical,
            "provider": alias.provider or None,
            "account": alias.account or None,
        }
    )
