"""/audit: the audit log, newest first (admins only): who deleted or changed what, when,
and how much money it moved, between two local days. The same entries as `spendledger
audit` and GET /api/v1/audit (store/audit.py `entries`).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from spendledger.store.audit import describe, entries
from spendledger.web.auth import Viewer, require
from spendledger.web.deps import EngineDep, SettingsDep, TemplatesDep

router = APIRouter(include_in_schema=False)

AdminViewer = Annotated[Viewer, require("admin")]
LIMIT = 500


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    templates: TemplatesDep,
    engine: EngineDep,
    settings: SettingsDep,
    viewer: AdminViewer,
    start: Annotated[str, Query(alias="from")] = "",
    end: Annotated[str, Query(alias="to")] = "",
) -> HTMLResponse:
    error, days = None, []
    for name, value in (("from", start), ("to", end)):
        try:
            days.append(date.fromisoformat(value) if value.strip() else None)
        except ValueError:
            error = f"{name}: {value!r} is not a date (YYYY-MM-DD)"
            days.append(None)
    with engine.connect() as conn:
        found = entries(conn, start=days[0], end=days[1], tz=settings.tz, limit=LIMIT)
    context = {
        "viewer": viewer,
        "entries": found,
        "describe": describe,
        "tz": settings.tz,
        "start": start,
        "end": end,
        "error": error,
        "limit": LIMIT,
    }
    return templates.TemplateResponse(request, "audit.html", context, status_code=400 if error else 200)
