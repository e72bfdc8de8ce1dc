"""/alerts: the alert centre — budgets' alerts and spend anomalies, open, acknowledged and
resolved, with their figures.

Admins and viewers read it (an alert's figures span the budget's whole scope, which a
member may not see); an admin acknowledges an alert, recorded with their email and the
moment. Each alert links to the explorer view that explains it: the budget's window up
to today, by project and day, with the budget's filters and basis (links.py). An anomaly
is shown as one, by its subject and words (alerts.headline, alerts.describe).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse

from spendledger.alerts.evaluate import describe, headline
from spendledger.alerts.links import alert_explore_path
from spendledger.store.alerts import AlertRow, UnknownAlertError, acknowledge, list_alerts
from spendledger.store.budgets import list_budgets
from spendledger.store.tables import ALERT_STATUSES
from spendledger.web.auth import Viewer, check_csrf, require
from spendledger.web.deps import EngineDep, SettingsDep, TemplatesDep

router = APIRouter(include_in_schema=False)

AdminViewer = Annotated[Viewer, require("admin")]
ReaderViewer = Annotated[Viewer, require("admin", "viewer")]

STATUS_TITLES = {"open": "Open", "acknowledged": "Acknowledged", "resolved": "Resolved"}


@dataclass(frozen=True)
class AlertView:
    alert: AlertRow
    name: str  # the budget's name, or "Anomaly: model:gpt-4o"
    summary: str
    explore_url: str


@router.get("/alerts", response_class=HTMLResponse)
def alerts_page(
    request: Request,
    settings: SettingsDep,
    engine: EngineDep,
    templates: TemplatesDep,
    viewer: ReaderViewer,
    acked: int | None = None,
) -> HTMLResponse:
    """The alert centre, grouped by status (open first)."""
    today = datetime.now(settings.tz).date()
    with engine.connect() as conn:
        rows = list_alerts(conn)
        budgets = {b.name: b for b in list_budgets(conn)}
    groups: dict[str, list[AlertView]] = {s: [] for s in ALERT_STATUSES}
    for a in rows:
        name = headline(a) if a.kind in ("anomaly", "balance") else a.budget
        view = AlertView(a, name, describe(a), alert_explore_path(a, budgets.get(a.budget), today=today))
        groups.setdefault(a.status, []).append(view)
    context = {
        "viewer": viewer,
        "groups": [(s, STATUS_TITLES.get(s, s), groups[s]) for s in groups],
        "total": len(rows),
        "acked": acked,
    }
    return templates.TemplateResponse(request, "alerts.html", context)


@router.post("/alerts/{alert_id}/ack")
def ack_alert(
    engine: EngineDep,
    viewer: AdminViewer,
    alert_id: int,
    csrf_token: Annotated[str | None, Form()] = None,
) -> RedirectResponse:
    """Acknowledge an alert as the logged-in admin, now; back to the alert centre."""
    check_csrf(viewer, csrf_token)
    try:
        with engine.begin() as conn:
            acknowledge(conn, alert_id, by=viewer.user.email, at=datetime.now(UTC))
    except UnknownAlertError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from None
    return RedirectResponse(
        f"/alerts?acked={alert_id}#alert-{alert_id}", status_code=status.HTTP_303_SEE_OTHER
    )
