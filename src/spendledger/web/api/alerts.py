"""GET /api/v1/alerts: the JSON twin of /alerts, the alert rules and the recent alerts.

The rules are what raises an alert: each budget's thresholds and its window-end forecast
(alerts/evaluate.py), and the daily anomaly check over its dimensions (alerts/anomalies.py),
each with the channels its alerts go to (a budget's own, else every channel, as delivery
sends them). The alerts are the page's, newest first, said in the page's words
(`headline`, `describe`, `severity`) with the explorer view that explains each. As on the
page, admins and viewers read it (a member may not: 403), and so does an API token.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from spendledger.alerts.anomalies import DIMENSIONS as ANOMALY_DIMENSIONS
from spendledger.alerts.evaluate import describe, headline, severity, subject
from spendledger.alerts.links import alert_explore_path
from spendledger.records import format_money
from spendledger.store.alerts import AlertRow, list_alerts
from spendledger.store.budgets import BudgetRow, list_budgets
from spendledger.store.channels import list_channels
from spendledger.web.api.schemas import AlertPublic, AlertRulePublic, AlertsPublic, ErrorPublic
from spendledger.web.auth import Reader, api_require
from spendledger.web.deps import EngineDep, SettingsDep

router = APIRouter(tags=["budgets and alerts"])

ReaderOfAll = Annotated[Reader, api_require("admin", "viewer")]


@router.get(
    "/alerts",
    response_model=AlertsPublic,
    responses={401: {"model": ErrorPublic}, 403: {"model": ErrorPublic, "description": "a member"}},
)
def get_alerts(
    settings: SettingsDep,
    engine: EngineDep,
    _reader: ReaderOfAll,
    status: Annotated[
        Literal["all", "open", "acknowledged", "resolved"], Query(description="the alerts' status")
    ] = "all",
    limit: Annotated[int, Query(ge=1, le=1000, description="at most this many alerts, newest first")] = 100,
) -> AlertsPublic:
    """The alert rules and the most recent alerts, newest first."""
    today = datetime.now(settings.tz).date()
    with engine.connect() as conn:
        budgets = {b.name: b for b in list_budgets(conn)}
        every = [c.name for c in list_channels(conn)]
        rows = list_alerts(conn, None if status == "all" else status)
    rules = [
        AlertRulePublic(
            kind="budget",
            budget=b.name,
            thresholds=list(b.thresholds),
            forecast=True,
            dimensions=[],
            channels=list(b.channels) or every,
        )
        for b in budgets.values()
    ]
    rules.append(
        AlertRulePublic(
            kind="anomaly",
            budget=None,
            thresholds=[],
            forecast=False,
            dimensions=list(ANOMALY_DIMENSIONS),
            channels=every,
        )
    )
    alerts = [_public(a, budgets.get(a.budget), today) for a in rows[:limit]]
    return AlertsPublic(rules=rules, total=len(rows), alerts=alerts)


def _public(a: AlertRow, budget: BudgetRow | None, today: date) -> AlertPublic:
    assert a.id is not None and a.created_at is not None  # a stored alert has both
    return AlertPublic(
        id=a.id,
        kind=a.kind,
        subject=subject(a),
        headline=headline(a),
        description=describe(a),
        severity=severity(a),
        threshold=a.threshold,
        window_start=a.window_start,
        window_end=a.window_end,
        figures={k: format_money(v) for k, v in a.figures.items()},
        currency=a.currency,
        status=a.status,
        passed=a.passed,
        created_at=a.created_at,
        acknowledged_by=a.acknowledged_by,
        acknowledged_at=a.acknowledged_at,
        resolved_at=a.resolved_at,
        note=a.note,
        explore_url=alert_explore_path(a, budget, today=today),
    )
