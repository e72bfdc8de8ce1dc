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

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query
from fastapi.responses import HTMLResponse

from spendledger import reconcile as recon
from spendledger.errors import SpendledgerError
from spendledger.pricing import Pricer
from spendledger.queries import PRESETS
from spendledger.store import Connection
from spendledger.web.auth import Viewer, check_csrf, require
from spendledger.web.deps import PricerDep
from spendledger.web.pages.forms import Page, PageDep, submit

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


@dataclass(frozen=True)
class MonthForm:
    """The Close and Reopen buttons' form: the month, and the page's parameters to show again."""

    month: str
    csrf_token: str | None
    asked: Asked


def _month_form(
    month: Annotated[str, Form()] = "",
    csrf_token: Annotated[str | None, Form()] = None,
    start: Annotated[str, Form(alias="from")] = "",
    end: Annotated[str, Form(alias="to")] = "",
    period: Annotated[str, Form()] = "",
    by: Annotated[str, Form()] = "",
    tolerance: Annotated[str, Form()] = "",
) -> MonthForm:
    return MonthForm(month, csrf_token, Asked(start, end, period, by, tolerance))


MonthFormDep = Annotated[MonthForm, Depends(_month_form)]


@router.get("/reconcile", response_class=HTMLResponse)
def reconcile_page(
    page: PageDep,
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
    return _render(page, pricer, viewer, asked)


@router.post("/reconcile/close", response_class=HTMLResponse)
def close(page: PageDep, pricer: PricerDep, viewer: AdminViewer, form: MonthFormDep) -> HTMLResponse:
    """Close a month: its figures are kept; later changes show as late adjustments."""

    def change(conn: Connection) -> str:
        done = recon.close_month(conn, form.month, actor=viewer.user.email, today=datetime.now(UTC).date())
        month = form.month.strip()
        return f"Closed {month}." if done else f"{month} was closed already."

    return _month_change(page, pricer, viewer, form, change)


@router.post("/reconcile/reopen", response_class=HTMLResponse)
def reopen(page: PageDep, pricer: PricerDep, viewer: AdminViewer, form: MonthFormDep) -> HTMLResponse:
    """Reopen a closed month (its kept figures are dropped)."""

    def change(conn: Connection) -> str:
        done = recon.reopen_month(conn, form.month, actor=viewer.user.email)
        month = form.month.strip()
        return f"Reopened {month}." if done else f"{month} was not closed."

    return _month_change(page, pricer, viewer, form, change)


def _month_change(
    page: Page, pricer: Pricer, viewer: Viewer, form: MonthForm, change: Callable[[Connection], str]
) -> HTMLResponse:
    """Close or reopen (forms.submit): the page again with what happened, or why not (400)."""
    check_csrf(viewer, form.csrf_token)
    return submit(
        page.engine,
        change,
        done=lambda notice: _render(page, pricer, viewer, form.asked, notice=notice),
        refused=lambda error, _field: _render(page, pricer, viewer, form.asked, error=error, status_code=400),
    )


def _months(first: date, last: date) -> list[str]:
    months, day = [], first.replace(day=1)
    while day <= last:
        months.append(day.strftime("%Y-%m"))
        day = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return months


def _render(
    page: Page,
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
            today=datetime.now(page.settings.tz).date(),
            start=asked.start or None,
            end=asked.end or None,
            period=asked.period or None,
            by=[asked.by] if asked.by else (),
        )
        limits = recon.parse_tolerance(asked.tolerance or page.settings.reconcile_tolerance)
    except SpendledgerError as exc:
        error, status_code = str(exc), 400
    else:
        with page.engine.connect() as conn:
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
    shown = {
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
    return page.templates.TemplateResponse(page.request, "reconcile.html", shown, status_code=status_code)
