"""What /budgets shows of the balance alerts: each rule with its source's latest balance,
and the sources whose balance may be watched (those read at least once)."""

from __future__ import annotations

from dataclasses import dataclass

from spendledger.store import Connection
from spendledger.store.balances import BalanceRow, BalanceRuleRow, latest_balances, list_rules


@dataclass(frozen=True)
class RuleView:
    rule: BalanceRuleRow
    balance: BalanceRow | None  # the source's latest reading in the rule's currency

    @property
    def below(self) -> bool:
        return self.balance is not None and self.balance.total < self.rule.below


@dataclass(frozen=True)
class BalanceAlerts:
    """What the page's balance section shows: the rules, and the sources one may watch."""

    rules: list[RuleView]
    sources: dict[str, list[BalanceRow]]  # source → its latest readings


def balance_alerts(conn: Connection) -> BalanceAlerts:
    latest = latest_balances(conn)
    views = [
        RuleView(r, next((b for b in latest.get(r.source, []) if b.currency == r.currency), None))
        for r in list_rules(conn)
    ]
    return BalanceAlerts(views, latest)
