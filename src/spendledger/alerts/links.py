"""The dashboard's addresses that explain a figure, shared by the pages and the messages.

An alert links to the explorer view behind it: a budget's window up to today, by project
and day, in the budget's scope and basis; an anomaly's four weeks before it and its day,
by user (who usually drives a jump), filtered to its subject. A filter is written
`DIM:VALUE`, or `DIM=VALUE` when the value holds an equals sign.
"""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import urlencode

from spendledger.store.alerts import AlertRow
from spendledger.store.budgets import BudgetRow


def filter_token(dim: str, value: str | None) -> str:
    """DIM:VALUE for a filter parameter ('=' when the value holds one, as the explorer splits)."""
    text = value if value is not None else "-"
    return f"{dim}{'=' if '=' in text else ':'}{text}"


def alert_explore_path(alert: AlertRow, budget: BudgetRow | None, *, today: date) -> str:
    """The explorer over the alert's window (up to today) that explains it; for a balance
    alert, the /sources page, which shows each source's balance."""
    if alert.kind == "balance":
        return "/sources"
    end = min(max(today, alert.window_start), alert.window_end)
    params = [
        ("from", alert.window_start.isoformat()),
        ("to", end.isoformat()),
        ("by", "project"),
        ("granularity", "day"),
    ]
    if alert.kind == "anomaly":  # its subject is a filter; by user, who usually drives a jump
        params = [*params[:2], ("by", "user"), ("granularity", "day"), ("filter", alert.budget)]
        params[0] = ("from", (alert.window_start - timedelta(days=27)).isoformat())
    elif budget is not None:
        params += [("filter", filter_token(dim, v)) for dim, values in budget.scope.items() for v in values]
        if budget.basis != "best":
            params.append(("basis", budget.basis))
    return "/explore?" + urlencode(params)
