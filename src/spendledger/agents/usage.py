"""The coding agents' records read back: the spend they count and the usage value covered.

`spendledger agents report` groups the imported calls of a range of days (by tool and
plan by default): calls, tokens, the spend counted (the records' cost, which every
total includes) and the usage value a subscription covered (the `usage_value` tags of
calls imported with `--covered-by`, which no total includes). Both per currency, exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from spendledger.agents.events import AGENT_TAG, COVERED_BY_TAG, USAGE_VALUE_CURRENCY_TAG, USAGE_VALUE_TAG
from spendledger.agents.importer import TOOLS
from spendledger.errors import SpendledgerError
from spendledger.ingest.records import SOURCE
from spendledger.records import from_nanos
from spendledger.store import Connection
from spendledger.store.keyed import KeyedRecord, records_by_key_prefix

GROUPS: tuple[str, ...] = ("tool", "covered_by", "user", "project", "model", "provider")


class GroupError(SpendledgerError, ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(f"--by {name!r}: group by any of {', '.join(GROUPS)}", field="by")


@dataclass
class UsageRow:
    group: dict[str, str]
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    spend: dict[str, Decimal] = field(default_factory=dict)  # the cost the ledger counts
    covered: dict[str, Decimal] = field(default_factory=dict)  # the usage value a plan covered
    unpriced: int = 0


@dataclass
class AgentUsage:
    start: date
    end: date
    by: tuple[str, ...]
    rows: list[UsageRow]
    spend: dict[str, Decimal]
    covered: dict[str, Decimal]


def check_groups(by: Sequence[str]) -> tuple[str, ...]:
    names = tuple(
        dict.fromkeys(n.strip().replace("-", "_") for part in by for n in part.split(",") if n.strip())
    )
    for name in names:
        if name not in GROUPS:
            raise GroupError(name)
    return names


def _value(record: KeyedRecord) -> tuple[Decimal, str] | None:
    tags = record.tags or {}
    try:
        value = Decimal(str(tags[USAGE_VALUE_TAG]))
    except (KeyError, InvalidOperation):
        return None
    return (value, str(tags.get(USAGE_VALUE_CURRENCY_TAG) or record.currency)) if value.is_finite() else None


def _add(into: dict[str, Decimal], currency: str, amount: Decimal) -> None:
    into[currency] = into.get(currency, Decimal(0)) + amount


def agent_usage(
    conn: Connection, *, start: date, end: date, by: Sequence[str] = ("tool", "covered_by")
) -> AgentUsage:
    """The agents' calls on local days start..end, grouped by `by`."""
    groups = check_groups(by)
    rows: dict[tuple[str, ...], UsageRow] = {}
    spend: dict[str, Decimal] = {}
    covered: dict[str, Decimal] = {}
    prefixes = [f"{SOURCE}:{tool}:" for tool in TOOLS]
    for record in records_by_key_prefix(
        conn, prefixes=prefixes, first_day=start.isoformat(), last_day=end.isoformat()
    ):
        tags = record.tags or {}
        values = {
            "tool": str(tags.get(AGENT_TAG) or record.key.split(":")[1]),
            "covered_by": str(tags.get(COVERED_BY_TAG) or ""),
            "user": record.user,
            "project": record.project,
            "model": record.model,
            "provider": record.provider,
        }
        key = tuple(values[g] for g in groups)
        row = rows.get(key)
        if row is None:
            row = rows[key] = UsageRow(group=dict(zip(groups, key, strict=True)))
        row.calls += record.requests
        row.input_tokens += record.input_tokens
        row.output_tokens += record.output_tokens
        row.unpriced += record.unpriced_requests
        cost = from_nanos(record.cost_nanos)
        _add(row.spend, record.currency, cost)
        _add(spend, record.currency, cost)
        if values["covered_by"] and (value := _value(record)) is not None:
            _add(row.covered, value[1], value[0])
            _add(covered, value[1], value[0])
    ordered = sorted(rows.values(), key=lambda r: tuple(r.group.values()))
    return AgentUsage(start, end, groups, ordered, spend, covered)
