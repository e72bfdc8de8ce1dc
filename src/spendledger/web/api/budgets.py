"""GET /api/v1/budgets: the JSON twin of /budgets, each budget's window, spend, forecast, status.

The figures are the page's and the CLI's: `budget_status` (spend through `queries.spend`
over the budget's scope and basis, in its currency) and the page's `budget_forecast`. As
on the page, admins and viewers read it (a budget's figures span every scope, so a member
may not: 403), and so does an API token.

`status` says in one word what the page's flags say: `over` (spent more than the
amount), `heading_over` (the window-end forecast passes it), `not_started` or `ended`
(a custom window today is outside of), else `on_track`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter

from spendledger.alerts.budgets import BudgetStatus, budget_status
from spendledger.alerts.forecast import Forecast
from spendledger.records import format_money
from spendledger.store.budgets import list_budgets
from spendledger.web.api.schemas import (
    BudgetPublic,
    BudgetsPublic,
    ErrorPublic,
    ForecastPublic,
    PastWindowPublic,
)
from spendledger.web.auth import Reader, api_require
from spendledger.web.deps import EngineDep, SettingsDep
from spendledger.web.pages.budgets_page import budget_forecast

router = APIRouter(tags=["budgets and alerts"])

ReaderOfAll = Annotated[Reader, api_require("admin", "viewer")]


@router.get(
    "/budgets",
    response_model=BudgetsPublic,
    responses={401: {"model": ErrorPublic}, 403: {"model": ErrorPublic, "description": "a member"}},
)
def get_budgets(settings: SettingsDep, engine: EngineDep, _reader: ReaderOfAll) -> BudgetsPublic:
    """Every budget with its limit, period, spend so far, forecast and status, by name."""
    today = datetime.now(settings.tz).date()
    with engine.connect() as conn:
        budgets = []
        for budget in list_budgets(conn):
            s = budget_status(conn, budget, today=today)
            budgets.append(_public(s, budget_forecast(conn, s)))
    return BudgetsPublic(today=today, budgets=budgets)


def budget_state(s: BudgetStatus, forecast: Forecast | None) -> str:
    """The budget's status in one word (see the module's docstring)."""
    if s.over:
        return "over"
    if forecast is not None and forecast.projected_total > s.budget.amount:
        return "heading_over"
    if s.today < s.window.start:
        return "not_started"
    return "ended" if s.today > s.window.end else "on_track"


def _public(s: BudgetStatus, forecast: Forecast | None) -> BudgetPublic:
    b = s.budget
    return BudgetPublic(
        name=b.name,
        amount=format_money(b.amount),
        currency=b.currency,
        period=b.period,
        scope={dim: list(values) for dim, values in b.scope.items()},
        basis=b.basis,
        thresholds=list(b.thresholds),
        channels=list(b.channels),
        window_start=s.window.start,
        window_end=s.window.end,
        spent=format_money(s.spent),
        left=format_money(s.left),
        percent=str(s.percent),
        resets_in=s.resets_in,
        crossed=list(s.crossed),
        status=budget_state(s, forecast),
        forecast=None
        if forecast is None
        else ForecastPublic(
            spent_so_far=format_money(forecast.spent_so_far),
            projected_total=format_money(forecast.projected_total),
            low=format_money(forecast.low),
            high=format_money(forecast.high),
            method=forecast.method,
            exceeds=forecast.projected_total > b.amount,
        ),
        past=[
            PastWindowPublic(start=p.start, end=p.end, spent=format_money(p.spent), percent=str(p.percent))
            for p in s.past
        ],
        unconverted={c: format_money(v) for c, v in s.unconverted.items()},
    )
