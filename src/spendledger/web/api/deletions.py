"""POST /api/v1/deletions: remove the records of a scope from a script (admins only).

The same scope, checks and figures as `spendledger delete` and /data (store/deletions.py);
`dry_run` states what would go and deletes nothing. An API token may delete (tokens are
made by admins; the audit log names it `token:NAME`), and so may an admin's session that
sends its CSRF token as `X-CSRF-Token`; members and viewers are refused (403). The
deletion and its audit entry are one transaction.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, status

from spendledger.records import format_money
from spendledger.store.deletions import DeletionError, Summary, delete, parse_scope, summarise
from spendledger.web.api.schemas import DeletionIn, DeletionPublic, DeletionSlicePublic, ErrorPublic
from spendledger.web.auth import OptionalViewer, Reader, api_require
from spendledger.web.deps import EngineDep

router = APIRouter(tags=["removing data"])

AdminReader = Annotated[Reader, api_require("admin")]


def deleting_actor(
    reader: AdminReader,
    viewer: OptionalViewer,
    x_csrf_token: Annotated[str | None, Header(description="an admin session's CSRF token")] = None,
) -> str:
    """Who deletes, for the audit log: the token's name or the admin's email (whose
    session must prove the request is its own page's or script's: CSRF)."""
    if reader.token is not None:
        return f"token:{reader.token}"
    if viewer is None or not x_csrf_token or not hmac.compare_digest(x_csrf_token, viewer.csrf):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail="a session must send its CSRF token as X-CSRF-Token; scripts: send an API token",
        )
    return viewer.user.email


@router.post(
    "/deletions",
    response_model=DeletionPublic,
    responses={
        400: {"model": ErrorPublic, "description": "a scope that is empty or wrong"},
        401: {"model": ErrorPublic},
        403: {"model": ErrorPublic, "description": "not an admin"},
    },
)
def post_deletion(
    body: DeletionIn, engine: EngineDep, actor: Annotated[str, Depends(deleting_actor)]
) -> DeletionPublic:
    """Delete the records matching every field given (or, with `dry_run`, say what would go)."""
    try:
        scope = parse_scope(
            source=body.source,
            provider=body.provider,
            account=body.account,
            project=body.project,
            basis=body.basis,
            start=body.from_.isoformat() if body.from_ else None,
            end=body.to.isoformat() if body.to else None,
            everything=body.all,
        )
    except DeletionError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=str(exc)) from None
    if body.dry_run:
        with engine.connect() as conn:
            return _public(summarise(conn, scope), dry_run=True)
    with engine.begin() as conn:
        gone = delete(conn, scope, actor=actor)
    return _public(gone, dry_run=False)


def _public(s: Summary, *, dry_run: bool) -> DeletionPublic:
    return DeletionPublic(
        dry_run=dry_run,
        deleted=0 if dry_run else s.records,
        records=s.records,
        scope=s.scope.filters() or {"all": "true"},
        amounts={c: format_money(a) for c, a in s.amounts.items()},
        by_provider_basis=[
            DeletionSlicePublic(
                provider=x.provider,
                basis=x.basis,
                records=x.records,
                amounts={c: format_money(a) for c, a in x.amounts.items()},
            )
            for x in s.slices
        ],
        first_day=s.first_day,
        last_day=s.last_day,
        days=s.days,
    )
