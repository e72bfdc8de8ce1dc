"""Alerts: budgets checked against their thresholds and their period-end forecast.

`check_budgets` looks at every budget's current window (budgets.py) on a given local day:

- threshold: spend in the window has reached a threshold (a percentage of the amount);
  one alert for the highest threshold an evaluation finds crossed. The lower ones it
  crossed at the same time are recorded as passed (stored resolved, under their own key,
  store/alerts.py) rather than raised: one evaluation that finds 105 % spent says "100 %
  reached" once, not three times, and no later evaluation raises 50 or 80 % either. A
  threshold raised by an earlier evaluation stays as it is;
- forecast: the period-end projection (forecast.py, same scope, basis and currency)
  passes the amount while spend has not reached it yet.

Each alert is stored once per budget, kind, threshold and window (the table's unique key,
inserted with ON CONFLICT DO NOTHING; a forecast alert's threshold is 100), so checking
again — or from two processes at once — raises nothing new. When a budget's new window
has started, the alerts of its earlier windows that are still open (or acknowledged) are
resolved.

An anomaly alert (`check_anomalies`) is stored under its subject, a filter such as
"model:gpt-4o", with threshold 0; its words come from `describe` here ("Anomaly:
model:gpt-4o — spend jumped to ..."), never as a budget at 0 %.

A balance alert (`alerts/balance.py`: a source's balance under a rule's amount) is stored
under the rule's subject, "balance:<name>", once per fall below it.

Every alert is said in one place: `subject`, `headline`, `describe` and `severity` (a
warning below 100 %, a failure at or over it) serve the page, the CLI and the messages.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from spendledger.alerts.anomalies import find_anomalies, incidents, jump_text
from spendledger.alerts.balance import check_balance_rules
from spendledger.alerts.budgets import budget_status, local_day
from spendledger.alerts.forecast import forecast_spend
from spendledger.records import display_money
from spendledger.store import Connection
from spendledger.store.alerts import (
    FORECAST_THRESHOLD,
    AlertRow,
    raise_alert,
    record_passed,
    resolve_before,
)
from spendledger.store.budgets import BudgetRow, list_budgets


def check_budgets(
    conn: Connection, *, tz: ZoneInfo, today: date | None = None, now: datetime | None = None
) -> list[AlertRow]:
    """Raise the alerts every budget is due on `today` (default: today in `tz`); the new ones.

    `now` (default: the clock) is the moment stored as when alerts were raised or resolved.
    """
    now = now or datetime.now(UTC)
    today = today or local_day(now, tz)
    raised: list[AlertRow] = []
    for budget in list_budgets(conn):
        raised.extend(check_budget(conn, budget, today=today, now=now))
    return raised


def check_budget(conn: Connection, budget: BudgetRow, *, today: date, now: datetime) -> list[AlertRow]:
    """One budget's new alerts on `today` (see the module's docstring)."""
    status = budget_status(conn, budget, today=today, history=0)
    window = status.window
    if budget.period != "custom":
        resolve_before(conn, budget.name, window.start, at=now)
    if today < window.start:  # a custom window that has not begun
        return []
    base = {"spent": status.spent, "amount": budget.amount, "percent": status.percent}
    raised: list[AlertRow] = []

    def fire(kind: str, threshold: int, figures: dict[str, Decimal]) -> None:
        row = raise_alert(
            conn,
            budget=budget.name,
            kind=kind,
            threshold=threshold,
            window_start=window.start,
            window_end=window.end,
            figures=figures,
            currency=budget.currency,
            now=now,
        )
        if row is not None:
            raised.append(row)

    if status.crossed:
        *lower, highest = sorted(status.crossed)
        fire("threshold", highest, base)
        for threshold in lower:
            record_passed(
                conn,
                budget=budget.name,
                threshold=threshold,
                above=highest,
                window_start=window.start,
                window_end=window.end,
                figures=base,
                currency=budget.currency,
                now=now,
            )
    if status.spent < budget.amount and today <= window.end:
        forecast = forecast_spend(
            conn,
            start=window.start,
            end=window.end,
            today=today,
            filters=budget.scope,
            basis=budget.basis,
            currency=budget.currency,
        )
        if forecast is not None and forecast.projected_total > budget.amount:
            projected = {"projected": forecast.projected_total, "low": forecast.low, "high": forecast.high}
            fire("forecast", FORECAST_THRESHOLD, {**base, **projected})
    return raised


def evaluate(conn: Connection, *, tz: ZoneInfo, at: datetime | None = None) -> list[AlertRow]:
    """Every alert due as of `at` (default: now): budgets on that day, anomalies of the day
    before it (the last whole day), balances under their rules; the new ones. Each fires
    once, whoever evaluates."""
    now = at or datetime.now(UTC)
    today = local_day(now, tz)
    return [
        *check_budgets(conn, tz=tz, today=today, now=now),
        *check_anomalies(conn, day=today - timedelta(days=1), now=now),
        *check_balance_rules(conn, tz=tz, now=now),
    ]


def check_anomalies(conn: Connection, *, day: date, now: datetime) -> list[AlertRow]:
    """An alert for each incident of `day` (one jump seen in several dimensions is one
    alert, led by its model or project), once; its subject is a filter: "model:gpt-4o"."""
    raised: list[AlertRow] = []
    for incident in incidents(find_anomalies(conn, day=day)):
        anomaly = incident.lead
        row = raise_alert(
            conn,
            budget=f"{anomaly.dimension}:{anomaly.value}",
            kind="anomaly",
            threshold=0,
            window_start=day,
            window_end=day,
            figures={"spent": anomaly.spent, "usual": anomaly.usual, "spread": anomaly.spread},
            currency=anomaly.currency,
            now=now,
            note=incident.explanation() or None,
        )
        if row is not None:
            raised.append(row)
    return raised


def subject(alert: AlertRow) -> str:
    """What the alert is about: the budget's name, or an anomaly's subject as a filter,
    "model:gpt-4o" ("project:(none)" for spend with no project)."""
    if alert.kind != "anomaly":
        return alert.budget
    dimension, _, value = alert.budget.partition(":")
    return f"{dimension}:{value or '(none)'}"


def headline(alert: AlertRow) -> str:
    """A few words: "budget web reached 80 %", "budget web heading over", "Anomaly: model:gpt-4o"."""
    if alert.kind == "anomaly":
        return f"Anomaly: {subject(alert)}"
    if alert.kind == "balance":
        below = display_money(alert.figures.get("below", Decimal(0)))
        return f"balance {alert.budget.removeprefix('balance:')} below {below} {alert.currency}"
    if alert.kind == "forecast":
        return f"budget {alert.budget} heading over"
    return f"budget {alert.budget} reached {alert.threshold} %"


def severity(alert: AlertRow) -> str:
    """ "failure" once a budget's spend has reached 100 % (a threshold of 100 or more),
    "warning" for the rest (lower thresholds, forecasts, anomalies): Apprise's notify types."""
    return "failure" if alert.kind == "threshold" and alert.threshold >= 100 else "warning"


def describe(alert: AlertRow) -> str:
    """One line: what the alert says, with its figures."""
    f, cur = alert.figures, alert.currency
    if alert.kind == "anomaly":
        figures = jump_text(
            spent=f.get("spent", Decimal(0)),
            usual=f.get("usual", Decimal(0)),
            spread=f.get("spread", Decimal(0)),
            currency=cur,
            day=alert.window_start,
        )
        text = f"Anomaly: {subject(alert)} — spend jumped to {figures}"
        return f"{text}; {alert.note}" if alert.note else text

    def money(name: str) -> str:
        return display_money(Decimal(f.get(name, 0)))

    if alert.kind == "balance":
        where = f" ({alert.note})" if alert.note else ""
        return (
            f"{alert.budget.removeprefix('balance:')}{where}: the balance is {money('balance')} {cur}, "
            f"below {money('below')} {cur} since {alert.window_start}; top up the account"
        )
    spent = f"{money('spent')} of {money('amount')} {cur}"
    window = f"{alert.window_start} → {alert.window_end}"
    if alert.kind == "forecast":
        band = f"{money('low')}–{money('high')}"
        return (
            f"{alert.budget}: heading over — projected {money('projected')} {cur} "
            f"(80 % band {band}) by {alert.window_end}; spent {spent} so far ({f.get('percent')} %)"
        )
    return f"{alert.budget}: {alert.threshold} % reached — spent {spent} ({f.get('percent')} %) in {window}"
