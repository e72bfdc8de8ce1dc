"""A period's report: the spend figures, each budget's outcome and the anomalies, as one
`ReportFigures`, and as a PDF. The CLI, the download route and the digests all call
`period_report`, so each shows the same figures.

Budgets are judged on the windows of theirs that end in the period (a monthly budget's
month, each week of a weekly budget), and on the window still running at its last day when
the period is the current one. Anomalies are found day by day over the period's whole
days, as `spendledger anomalies` finds them, one line per incident. The reconciliation is
the reconcile package's own summary per provider over the period's UTC days, the figures
`spendledger reconcile` prints and GET /api/v1/reconcile returns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from spendledger.alerts.anomalies import find_anomalies, incidents
from spendledger.alerts.budgets import Window, budget_spent, budget_window, describe_scope
from spendledger.exports.pdf import render_pdf
from spendledger.exports.periods import Period
from spendledger.exports.report_figures import AnomalyLine, BudgetLine, ReportFigures, percent, spend_figures
from spendledger.reconcile import ProviderSummary, ReconcileQuery, Tolerance, reconcile, reconcile_summary
from spendledger.records import display_money
from spendledger.store import Connection
from spendledger.store.budgets import BudgetRow, list_budgets

MAX_ANOMALIES = 25  # the largest jumps, when a period has more
WINDOW_NAMES = {"daily": "days", "weekly": "weeks", "monthly": "months", "quarterly": "quarters"}


def report_filename(period: Period) -> str:
    """The name a report is saved under: `spendledger-2026-11.pdf`, `spendledger-2026-W47.pdf`."""
    return f"spendledger-{period.key}.pdf"


def period_report(
    conn: Connection,
    *,
    period: Period,
    today: date,
    timezone: str,
    now: datetime,
    scope: Mapping[str, Sequence[str]] | None = None,
    currency: str | None = None,
    with_budgets: bool = True,
    tolerance: Tolerance | None = None,
) -> ReportFigures:
    """The period's figures within `scope` (a member's grants; None: everything). Budgets
    span every scope, so a report for a scoped reader leaves them out (`with_budgets`); so
    does the reconciliation (a bill does not split by user), whose flagged days are those
    outside `tolerance` (the settings' `reconcile_tolerance`; None: its default)."""
    figures = spend_figures(
        conn,
        period=period,
        today=today,
        scope=scope or {},
        currency=currency,
        timezone=timezone,
        generated_at=now,
    )
    if with_budgets and not scope:
        figures.budgets = [
            line
            for budget in list_budgets(conn)
            if (line := budget_line(conn, budget, period, figures.through))
        ]
    if not scope:
        figures.reconciliation = reconciliation_summary(conn, period, tolerance=tolerance)
    last_whole_day = min(figures.through, today - timedelta(days=1))
    figures.anomalies, figures.anomalies_left_out = _anomalies(conn, period.start, last_whole_day, scope)
    return figures


def period_report_pdf(conn: Connection, **kwargs: Any) -> bytes:
    """`period_report(conn, **kwargs)` as PDF bytes."""
    return render_pdf(period_report(conn, **kwargs))


def reconciliation_summary(
    conn: Connection, period: Period, *, tolerance: Tolerance | None = None
) -> list[ProviderSummary]:
    """The reconciliation's summary per provider over the period's UTC days, as `spendledger
    reconcile --from FIRST --to LAST` prints it (for a month: `reconcile_summary`'s)."""
    if period.kind == "month":
        return reconcile_summary(conn, period.key, tolerance=tolerance)
    return reconcile(conn, ReconcileQuery(period.start, period.end), tolerance=tolerance).providers


def budget_line(conn: Connection, budget: BudgetRow, period: Period, through: date) -> BudgetLine | None:
    """How `budget` did over the period: None when none of its windows touch it."""
    windows = _windows(budget, period, through)
    if not windows:
        return None
    judged = [(w, budget_spent(conn, budget, w.start, min(w.end, through))) for w in windows]
    over = [(w, spent) for w, spent in judged if spent > budget.amount]
    window, spent = max(judged, key=lambda ws: ws[1])

    def money(amount: Decimal) -> str:
        return display_money(amount, budget.currency)

    running = windows[-1].end > through
    if len(windows) == 1:
        when = f"{window.start:%-d %b} – {window.end:%-d %b %Y}"
        if spent > budget.amount:
            outcome = f"over by {money(spent - budget.amount)}"
        else:
            outcome = f"within: {money(budget.amount - spent)} left"
        outcome = f"so far {outcome}" if running else outcome
    else:
        name = WINDOW_NAMES.get(budget.period, "windows")
        when = f"{len(windows)} {name}, {windows[0].start:%-d %b} – {windows[-1].end:%-d %b %Y}"
        outcome = f"{len(over)} of {len(windows)} {name} over; the highest shown"
        if running:
            outcome += " (the last still running)"
    return BudgetLine(
        name=budget.name,
        scope=describe_scope(budget.scope),
        period=budget.period,
        window=when,
        spent=spent,
        amount=budget.amount,
        currency=budget.currency,
        percent=percent(spent, budget.amount) or Decimal(0),
        outcome=outcome,
        over=bool(over),
    )


def _windows(budget: BudgetRow, period: Period, through: date) -> list[Window]:
    """The budget's windows that end within the period up to `through`, then the one running
    at `through` (if it started by then)."""
    found: list[Window] = []
    window = budget_window(budget, period.start)
    if budget.period == "custom":
        overlaps = window.start <= through and window.end >= period.start
        return [window] if overlaps else []
    while window.start <= through:
        if window.end >= period.start:
            found.append(window)
        if window.end >= through:
            break
        window = budget_window(budget, window.end + timedelta(days=1))
    return found


def _anomalies(
    conn: Connection, first: date, last: date, scope: Mapping[str, Sequence[str]] | None
) -> tuple[list[AnomalyLine], int]:
    """One line per incident of each whole day from `first` to `last` (the largest
    MAX_ANOMALIES jumps, by day), and how many were left out."""
    found = []
    day = first
    while day <= last:
        for incident in incidents(find_anomalies(conn, day=day, scope=scope)):
            lead = incident.lead
            found.append(
                AnomalyLine(day, lead.label, lead.spent, lead.usual, lead.currency, incident.explanation())
            )
        day += timedelta(days=1)
    kept = sorted(found, key=lambda a: -(a.spent - a.usual))[:MAX_ANOMALIES]
    return sorted(kept, key=lambda a: (a.day, -(a.spent - a.usual))), len(found) - len(kept)
