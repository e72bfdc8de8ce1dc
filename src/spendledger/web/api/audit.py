"""GET /api/v1/audit: the audit log between two local days, newest first (admins only, or
an API token): the entries /audit and `spendledger audit` show (store/audit.py)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from spendledger.records import format_money
from spendledger.store.audit import entries
from spendledger.web.api.schemas import AuditEntryPublic, AuditPublic, ErrorPublic
from spendledger.web.auth import Reader, api_require
from spendledger.web.deps import EngineDep, SettingsDep

router = APIRouter(tags=["removing data"])

AdminReader = Annotated[Reader, api_require("admin")]


@router.get(
    "/audit",
    response_model=AuditPublic,
    responses={401: {"model": ErrorPublic}, 403: {"model": ErrorPublic, "description": "not an admin"}},
)
def get_audit(
    settings: SettingsDep,
    engine: EngineDep,
    _reader: AdminReader,
    start: Annotated[date | None, Query(alias="from", description="the first local day")] = None,
    end: Annotated[date | None, Query(alias="to", description="the last local day, included")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> AuditPublic:
    """Who deleted or changed what, when, and how much money it moved; newest first."""
    with engine.connect() as conn:
        found = entries(conn, start=start, end=end, tz=settings.tz, limit=limit)
    return AuditPublic(
        entries=[
            AuditEntryPublic(
                id=e.id,
                at=e.at,
                actor=e.actor,
                action=e.action,
                what=e.what,
                amount=None if e.amount is None else {c: format_money(a) for c, a in e.amount.items()},
            )
            for e in found
        ]
    )
