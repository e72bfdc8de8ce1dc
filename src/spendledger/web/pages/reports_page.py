"""/reports: the monthly and weekly PDF reports, one download per period, within the
viewer's scope (a member's report holds their projects' or their own spend, and no
budgets, which span every scope). The same report as `spendledger report monthly|weekly`
and the digests' attachment (reports.period_report).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from spendledger.exports.periods import parse_period
from spendledger.exports.report_figures import recent_periods
from spendledger.reports.period_report import period_report_pdf, report_filename
from spendledger.web.auth import PageViewer, scope_of
from spendledger.web.deps import EngineDep, SettingsDep, TemplatesDep

router = APIRouter(include_in_schema=False)

MONTHS, WEEKS = 13, 8  # the periods the page lists, the current one first


@router.get("/reports", response_class=HTMLResponse)
def reports_page(
    request: Request, settings: SettingsDep, engine: EngineDep, templates: TemplatesDep, viewer: PageViewer
) -> HTMLResponse:
    """Each recent month and week with its spend and a link to its PDF."""
    scope = scope_of(viewer.user)
    today = datetime.now(settings.tz).date()
    with engine.connect() as conn:
        months = recent_periods(conn, kind="month", today=today, count=MONTHS, scope=scope)
        weeks = recent_periods(conn, kind="week", today=today, count=WEEKS, scope=scope)
    context = {"viewer": viewer, "months": months, "weeks": weeks, "today": today, "scoped": bool(scope)}
    return templates.TemplateResponse(request, "reports.html", context)


@router.get("/reports/{key}.pdf")
def report_pdf(
    settings: SettingsDep,
    engine: EngineDep,
    viewer: PageViewer,
    key: str,
    currency: Annotated[str | None, Query(description="the currency to show")] = None,
) -> Response:
    """The PDF of a month (`2026-11`) or an ISO week (`2026-W47`), as a download."""
    period = parse_period(key)
    scope = scope_of(viewer.user)
    now = datetime.now(settings.tz)
    with engine.connect() as conn:
        pdf = period_report_pdf(
            conn,
            period=period,
            today=now.date(),
            timezone=settings.timezone,
            now=now,
            scope=scope,
            currency=currency or None,
            with_budgets=viewer.user.role != "member",
            tolerance=settings.reconcile_limits,
        )
    disposition = f'attachment; filename="{report_filename(period)}"'
    return Response(pdf, media_type="application/pdf", headers={"Content-Disposition": disposition})
