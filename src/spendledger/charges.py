"""The ledger's spend as charges: per local day, every dimension and the records' tags.

A query-level read beside `queries.spend` (same `SpendQuery`, same days, filters, scope
and basis, so the charges of a query add up to its report to the nano-unit), at the
grain a cost and usage file needs: nothing is summed away but the records themselves.
Exports read it (a FOCUS file is one row per charge); the store sums it
(store/charges.py) and it streams, in day order.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from spendledger.queries import SpendQuery, question
from spendledger.records import TOKEN_COLUMNS, TokenCounts, from_nanos
from spendledger.store import Connection
from spendledger.store.charges import charge_sums


@dataclass(frozen=True, slots=True)
class Charge:
    """The records of one local day that share every dimension and their tags, summed."""

    day: date  # local, in the configured zone
    provider: str
    account: str  # '' for none, as every dimension
    workspace: str
    project: str
    api_key_id: str
    model: str
    user: str
    feature: str
    basis: str
    currency: str
    cost: Decimal
    requests: int
    tokens: TokenCounts
    unpriced_requests: int
    records: int
    tags: dict[str, Any] = field(default_factory=dict)


def charges(conn: Connection, query: SpendQuery) -> Iterator[Charge]:
    """Every charge of `query` (its period, filters and basis; `by` and granularity unused), by day."""
    for group in charge_sums(conn, question(query)):
        d, sums = group.dims, group.sums
        yield Charge(
            day=date.fromisoformat(d["day"]),
            provider=d["provider"],
            account=d["account"],
            workspace=d["workspace"],
            project=d["project"],
            api_key_id=d["api_key_id"],
            model=d["model"],
            user=d["user"],
            feature=d["feature"],
            basis=d["basis"],
            currency=d["currency"],
            cost=from_nanos(sums["cost_nanos"]),
            requests=sums["requests"],
            tokens=TokenCounts(**{kind: sums[column] for kind, column in TOKEN_COLUMNS.items()}),
            unpriced_requests=sums["unpriced_requests"],
            records=sums["records"],
            tags=_tags(group.tags),
        )


def _tags(text: str | None) -> dict[str, Any]:
    """The stored tags (JSON text; None or `null` for none) as a dict."""
    if not text:
        return {}
    value = json.loads(text)
    return value if isinstance(value, dict) else {}
