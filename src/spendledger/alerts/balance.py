"""Balances: where each balance-only source stands, what its balance did day by day, and the
"balance below X" rules raised as alerts.

A rule names a source, a currency and an amount. `check_balance_rules` (run by every
evaluation, evaluate.py) compares each rule with the source's latest reading:
- under the amount: one alert of kind "balance", stored under the rule's subject
  ("balance:<name>", apart from budgets' names) with the local day the balance went under
  as its window start. The alerts table's unique key makes it fire once for that fall,
  whoever evaluates and however often; a later fall (after a top-up took the balance back
  up) starts another window and fires again (two falls on one local day fire once);
- at or above it: the rule's unresolved alerts are resolved.
The alert goes to the rule's channels (none: every channel), as delivery.py routes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from spendledger.alerts.budgets import BudgetError, local_day, parse_amount
from spendledger.sources.balance import BalanceDay, balance_days
from spendledger.store import Connection
from spendledger.store.alerts import AlertRow, raise_alert
from spendledger.store.balances import (
    BalanceRuleRow,
    add_rule,
    history,
    latest_balances,
    list_rules,
    resolve_balance_alerts,
    went_below_at,
)
from spendledger.store.budgets import DIM
from spendledger.store.channels import list_channels
from spendledger.store.sources import get_source

KIND = "balance"


def balance_history(conn: Connection, source: str) -> list[BalanceDay]:
    """What the source's balance did on each UTC day it was read: spend, top-ups, balances."""
    return balance_days(history(conn, source))


def create_rule(
    conn: Connection,
    *,
    name: str,
    source: str,
    below: str | Decimal,
    now: datetime,
    currency: str = "",
    channels: Sequence[str] = (),
) -> BalanceRuleRow:
    """Check a rule's parameters (a BudgetError names the wrong one) and store it. The currency
    defaults to the source's one currency when its balance has been read in only one."""
    name = name.strip()
    if not name or len(name) > DIM:
        raise BudgetError("name", f"a balance alert's name is 1 to {DIM} characters")
    get_source(conn, source)  # an UnknownSourceError lists the sources
    amount = parse_amount(below)
    currency = currency.strip().upper()
    if not currency:
        seen = [r.currency for r in latest_balances(conn).get(source, [])]
        if len(seen) != 1:
            which = f"it holds {', '.join(seen)}" if seen else "its balance was never read yet"
            raise BudgetError("currency", f"give the currency of the balance to watch ({which})")
        currency = seen[0]
    if len(currency) != 3 or not currency.isalpha():
        raise BudgetError("currency", f"{currency!r} is not a currency code such as USD or CNY")
    known = [c.name for c in list_channels(conn)]
    picked = [c.strip() for c in channels if c.strip()]
    for channel in picked:
        if channel not in known:
            raise BudgetError(
                "channels", f"no channel named {channel!r} (channels: {', '.join(known) or 'none yet'})"
            )
    return add_rule(conn, name=name, source=source, currency=currency, below=amount, channels=picked, now=now)


def check_balance_rules(conn: Connection, *, tz: ZoneInfo, now: datetime) -> list[AlertRow]:
    """Raise each rule whose source's balance is under its amount (once per fall); the new ones."""
    readings = latest_balances(conn)
    raised: list[AlertRow] = []
    for rule in list_rules(conn):
        reading = next((r for r in readings.get(rule.source, []) if r.currency == rule.currency), None)
        if reading is None:
            continue
        if reading.total >= rule.below:
            resolve_balance_alerts(conn, rule.subject, at=now)
            continue
        since = went_below_at(conn, source=rule.source, currency=rule.currency, below=rule.below)
        row = raise_alert(
            conn,
            budget=rule.subject,
            kind=KIND,
            threshold=0,
            window_start=local_day(since or reading.at, tz),
            window_end=local_day(reading.at, tz),
            figures={"balance": reading.total, "below": rule.below},
            currency=rule.currency,
            now=now,
            note=f"source {rule.source}",
        )
        if row is not None:
            raised.append(row)
    return raised
