"""/reconcile: the providers' bills against the metering, per UTC day, with the gap explained.

The figures are `reconcile.reconcile`'s, as `spendledger reconcile` prints them and GET
/api/v1/reconcile returns them: the coverage per provider, billed beside metered per day,
provider and account (or the dimensions asked for), each gap split into its categories,
the rows outside the tolerance flagged. Each month of the period is closed or open: an
admin closes a month once it is reconciled (POST /reconcile/close, CSRF checked, written
to the audit log) and its later changes are listed as late adjustments until it is
reopened. Admins and viewers read the page; members, whose scope a bill does not split
by, may not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse

from spendledger import reconcile as recon
from spendledger.errors import SpendledgerError
from spendledger.pricing import Pricer
from spendledger.queries import PRESETS
from spendledger.web.auth import Viewer, check_csrf, require
from spendledger.web.deps import EngineDep, PricerDep, SettingsDep, TemplatesDep

router = APIRouter(include_in_schema=False)

AdminViewer = Annotated[Viewer, require("admin")]
ReaderViewer = Annotated[Viewer, require("admin", "viewer")]


@dataclass(frozen=True)
class Asked:
    """The page's parameters as typed (the same names as the API's)."""

    start: str = ""
    end: str = ""
    period: str = ""
    by: str = ""
    tolerance: str = ""
    flagged: bool = False

    def params(self) -> dict[str, str]:
        given = {
            "from": self.start,
            "to": self.end,
            "period": self.period,
            "by": self.by,
            "tolerance": self.tolerance,
        }
        return {k: v for k, v in given.items() if v} | ({"flagged": "true"} if self.flagged else {})


@dataclass(frozen=True)
class MonthState:
    month: str  # YYYY-MM
    over: bool  # its last UTC day is past: it may be closed
    closed: recon.ClosedMonth | None


@router.get("/reconcile", response_class=HTMLResponse)
def reconcile_page(
    request: Request,
    templates: TemplatesDep,
    engine: EngineDep,
    settings: SettingsDep,
    pricer: PricerDep,
    viewer: ReaderViewer,
    start: Annotated[str, Query(alias="from")] = "",
    end: Annotated[str, Query(alias="to")] = "",
    period: str = "",
    by: str = "",
    tolerance: str = "",
    flagged: bool = False,
) -> HTMLResponse:
    asked = Asked(start.strip(), end.strip(), period.strip(), by.strip(), tolerance.strip(), flagged)
    return _render(request, templates, engine, settings, pricer, viewer, asked)


@router.post("/reconcile/close", response_class=HTMLResponse)
def close(
    request: Request,
    templates: TemplatesDep,
    engine: EngineDep,
    settings: SettingsDep,
    pricer: PricerDep,
    viewer: AdminViewer,
    month: Annotated[str, Form()] = "",
    csrf_token: Annotated[str | None, Form()] = None,
    start: Annotated[str, Form(alias="from")] = "",
    end: Annotated[str, Form(alias="to")] = "",
    period: Annotated[str, Form()] = "",
    by: Annotated[str, Form()] = "",
    tolerance: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """Close a month: its figures are kept; later changes show as late adjustments."""
    check_csrf(viewer, csrf_token)
    asked = Asked(start, end, period, by, tolerance)
    try:
        with engine.begin() as conn:
            done = recon.close_month(conn, month, actor=viewer.user.email, today=datetime.now(UTC).date())
    except SpendledgerError as exc:
        return _render(
            request, templates, engine, settings, pricer, viewer, asked, error=str(exc), status_code=400
        )
    notice = f"Closed {month.strip()}." if done else f"{month.strip()} was closed already."
    return _render(request, templates, engine, settings, pricer, viewer, asked, notice=notice)


@router.post("/reconcile/reopen", response_class=HTMLResponse)
def reopen(
    request: Request,
    templates: TemplatesDep,
    engine: EngineDep,
    settings: SettingsDep,
    pricer: PricerDep,
    viewer: AdminViewer,
    month: Annotated[str, Form()] = "",
    csrf_token: Annotated[str | None, Form()] = None,
    start: Annotated[str, Form(alias="from")] = "",
    end: Annotated[str, Form(alias="to")] = "",
    period: Annotated[str, Form()] = "",
    by: Annotated[str, Form()] = "",
    tolerance: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """Reopen a closed month (its kept figures are dropped)."""
    check_csrf(viewer, csrf_token)
    asked = Asked(start, end, period, by, tolerance)
    try:
        with engine.begin() as conn:
            done = recon.reopen_month(conn, month, actor=viewer.user.email)
    except SpendledgerError as exc:
        return _render(
            request, templates, engine, settings, pricer, viewer, asked, error=str(exc), status_code=400
        )
    notice = f"Reopened {month.strip()}." if done else f"{month.strip()} was not closed."
    return _render(request, templates, engine, settings, pricer, viewer, asked, notice=notice)


def _months(first: date, last: date) -> list[str]:
    months, day = [], first.replace(day=1)
    while day <= last:
        months.append(day.strftime("%Y-%m"))
        day = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return months


def _render(
    request: Request,
    templates: TemplatesDep,
    engine: EngineDep,
    settings: SettingsDep,
    pricer: Pricer,
    viewer: Viewer,
    asked: Asked,
    *,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    found, states, error = None, [], context.pop("error", None)
    try:
        query = recon.build_reconcile_query(
            today=datetime.now(settings.tz).date(),
            start=asked.start or None,
            end=asked.end or None,
            period=asked.period or None,
            by=[asked.by] if asked.by else (),
        )
        limits = recon.parse_tolerance(asked.tolerance or settings.reconcile_tolerance)
    except SpendledgerError as exc:
        error, status_code = str(exc), 400
    else:
        with engine.connect() as conn:
            found = recon.reconcile(conn, query, tolerance=limits, pricer=pricer)
            closed = {m.month: m for m in recon.closed_months(conn, start=query.start, end=query.end)}
        if asked.flagged:
            found.rows = [r for r in found.rows if r.flagged]
        today = datetime.now(UTC).date()
        states = [
            MonthState(m, recon.month_range(m)[1] < today, closed.get(m))
            for m in _months(query.start, query.end)
        ]
    params = asked.params()
    page = {
        "viewer": viewer,
        "asked": asked,
        "found": found,
        "months": states,
        "error": error,
        "notice": None,
        "presets": PRESETS,
        "dims": recon.DIMS,
        "categories": recon.CATEGORIES,
        "labels": recon.CATEGORY_LABELS,
        "short": recon.CATEGORY_SHORT,
        "kinds": recon.KIND_LABELS,
        "present": [c for c in recon.CATEGORIES if found and any(c in p.gaps for p in found.providers)],
        "page_url": "/reconcile" + (f"?{urlencode(params)}" if params else ""),
        "export": {
            fmt: "/api/v1/reconcile?" + urlencode({**params, "format": fmt}) for fmt in ("csv", "json")
        },
        **context,
    }
    return templates.TemplateResponse(request, "reconcile.html", page, status_code=status_code)
