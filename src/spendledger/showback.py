"""The showback: what each team, project or customer cost, shared costs split by rule.

A group's direct spend is what `queries.spend` puts under it (best available, aliases
and teams applied). The spend no group carries (no team, no project, no customer) is
the shared part; allocation rules (store/allocation.py) split pools of it among the
groups, in this order, each from what the previous left:
1. `subscriptions`: the seat subscriptions' records (source "subscriptions");
2. `non-token`: a provider's billed line items that name no model (web search,
   storage, fine-tuning, seats billed by a connector...);
3. `unattributed`: whatever is left.
A pool without a rule stays "unallocated", shown as such. Spend a group carries is
never moved: direct attribution wins over every rule.

Splits are exact: each pool is split in integer nano-units, the shares summing to the
pool to the nano-unit; `even` gives every group with spend in the period one share,
`proportional` shares in proportion to each group's direct spend in the pool's currency
(even when no group spent in it). The nano-units a split leaves over go one each to the
groups with the largest remainders, ties by name: the same figures every time. Totals
per currency equal `queries.spend`'s for the same query (currencies are never added up).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from spendledger.exports.csvfile import write_csv
from spendledger.queries import NOTHING, Granularity, QueryError, SpendQuery, spend
from spendledger.records import format_money, from_nanos, to_nanos
from spendledger.store import Connection
from spendledger.store.allocation import POOLS, RULE_DIMENSIONS, AllocationRule, list_rules
from spendledger.store.subscriptions import SOURCE as SUBSCRIPTIONS_SOURCE

UNALLOCATED = "(unallocated)"
_NONE = ("", "-", "none")


@dataclass
class Pool:
    """One shared cost in one currency, and how its rule split it."""

    what: str  # one of POOLS
    currency: str
    amount: Decimal
    rule: AllocationRule
    shares: dict[str, Decimal] = field(default_factory=dict)  # group → share; empty: no group to share with

    @property
    def allocated(self) -> bool:
        return bool(self.shares)


@dataclass
class ShowbackRow:
    group: str
    currency: str
    direct: Decimal
    shared: Decimal

    @property
    def total(self) -> Decimal:
        return self.direct + self.shared


@dataclass
class Showback:
    query: SpendQuery  # by the one dimension, in total
    rows: list[ShowbackRow]  # by total in the leading currency, largest first
    pools: list[Pool]
    unallocated: dict[str, Decimal]  # per currency: shared spend no rule split
    totals: dict[str, Decimal]  # per currency: `queries.spend(query)`'s totals
    table: str  # what `queries.spend` read the direct spend from

    @property
    def dimension(self) -> str:
        return self.query.by[0]


def split(amount: int, weights: Mapping[str, int]) -> dict[str, int]:
    """`amount` nano-units split in proportion to `weights` (integers ≥ 0, not all 0),
    the shares summing to `amount` exactly: largest remainders first, ties by name."""
    total = sum(weights.values())
    if total <= 0 or any(w < 0 for w in weights.values()):
        raise ValueError("weights must be zero or more, and not all zero")
    sign, whole = (-1 if amount < 0 else 1), abs(amount)
    shares = {g: whole * w // total for g, w in weights.items()}
    left = whole - sum(shares.values())
    by_remainder = sorted(weights, key=lambda g: (-(whole * weights[g] % total), g))
    for group in by_remainder[:left]:  # left < len(weights): each remainder is under `total`
        shares[group] += 1
    return {g: sign * n for g, n in shares.items()}


def showback(conn: Connection, query: SpendQuery) -> Showback:
    """Each group's direct spend and its shares of the shared pools, for `query` by one of
    RULE_DIMENSIONS (team, project or customer), in total over its period."""
    if len(query.by) != 1 or query.by[0] not in RULE_DIMENSIONS:
        raise QueryError("by", f"the showback groups by one of {', '.join(RULE_DIMENSIONS)}")
    (dim,) = query.by
    query = replace(query, granularity=Granularity.TOTAL)
    base = spend(conn, query)
    direct: dict[tuple[str, str], Decimal] = {}
    left: dict[str, Decimal] = {}  # the shared spend not yet in a pool, per currency
    for row in base.rows:
        group = row.dims[dim]
        if group is None:
            left[row.currency] = left.get(row.currency, Decimal(0)) + row.cost
        else:
            direct[(group, row.currency)] = direct.get((group, row.currency), Decimal(0)) + row.cost
    rules = {r.what: r for r in list_rules(conn) if r.by == dim}
    pools: list[Pool] = []
    for what in POOLS:
        rule = rules.get(what)
        if rule is None:
            continue
        amounts = dict(left) if what == "unattributed" else _pool_amounts(conn, query, dim, what)
        for currency, amount in sorted(amounts.items()):
            if amount:
                left[currency] = left.get(currency, Decimal(0)) - amount
                pools.append(_split(Pool(what, currency, amount, rule), direct))
    unallocated = {c: a for c, a in sorted(left.items()) if a}
    for pool in pools:
        if not pool.allocated:
            unallocated[pool.currency] = unallocated.get(pool.currency, Decimal(0)) + pool.amount
    return Showback(
        query, _rows(direct, pools, base.leading_currency), pools, unallocated, base.totals, base.table
    )


def _pool_amounts(conn: Connection, query: SpendQuery, dim: str, what: str) -> dict[str, Decimal]:
    """The shared spend (no group) of a pool, per currency."""
    wanted = query.filters.get(dim)
    if wanted is not None and not any(v in _NONE for v in wanted if v is not NOTHING):
        return {}  # the query reads named groups only: nothing shared in it
    # each read through a partial index of usage (manual, billed): never the metered events
    narrower: dict[str, tuple[str, ...]] = {"basis": ("manual",), "source": (SUBSCRIPTIONS_SOURCE,)}
    if what == "non-token":
        narrower = {"basis": ("billed",), "model": ("",)}
    filters = dict(query.filters) | {dim: ("",)}
    for name, values in narrower.items():
        if name in filters and not set(values) & set(filters[name]):
            return {}
        filters[name] = values
    return spend(conn, replace(query, filters=filters)).totals


def _split(pool: Pool, direct: Mapping[tuple[str, str], Decimal]) -> Pool:
    """The pool with its shares: among the groups that spent in the period (any currency)."""
    groups = sorted({g for (g, _), cost in direct.items() if cost > 0})
    if not groups:
        return pool  # nobody to share with: unallocated
    weights = dict.fromkeys(groups, 1)
    if pool.rule.split == "proportional":
        spent = {g: max(0, to_nanos(direct.get((g, pool.currency), Decimal(0)))) for g in groups}
        if sum(spent.values()) > 0:
            weights = spent
    shares = split(to_nanos(pool.amount), weights)
    pool.shares = {g: from_nanos(n) for g, n in shares.items()}
    return pool


def _rows(
    direct: Mapping[tuple[str, str], Decimal], pools: Sequence[Pool], leading: str
) -> list[ShowbackRow]:
    rows: dict[tuple[str, str], ShowbackRow] = {
        key: ShowbackRow(key[0], key[1], cost, Decimal(0)) for key, cost in direct.items()
    }
    for pool in pools:
        for group, share in pool.shares.items():
            row = rows.setdefault(
                (group, pool.currency), ShowbackRow(group, pool.currency, Decimal(0), Decimal(0))
            )
            row.shared += share
    ranked: dict[str, Decimal] = {}
    for row in rows.values():
        if row.currency == leading:
            ranked[row.group] = row.total
    return sorted(rows.values(), key=lambda r: (-ranked.get(r.group, Decimal(0)), r.group, r.currency))


# ---- renderings: the API's and the CLI's JSON, and the CSV ------------------------------------


def showback_to_dict(result: Showback) -> dict[str, Any]:
    q = result.query
    return {
        "dimension": result.dimension,
        "from": q.start.isoformat(),
        "to": q.end.isoformat(),
        "basis": q.basis,
        "filters": {k: list(v) for k, v in q.filters.items()},
        "totals": {c: format_money(v) for c, v in sorted(result.totals.items())},
        "rows": [
            {
                "group": r.group,
                "currency": r.currency,
                "direct": format_money(r.direct),
                "shared": format_money(r.shared),
                "total": format_money(r.total),
            }
            for r in result.rows
        ],
        "unallocated": {c: format_money(v) for c, v in result.unallocated.items()},
        "pools": [
            {
                "what": p.what,
                "rule": p.rule.name,
                "split": p.rule.split,
                "currency": p.currency,
                "amount": format_money(p.amount),
                "shares": {g: format_money(v) for g, v in sorted(p.shares.items())},
            }
            for p in result.pools
        ],
    }


def showback_to_csv(result: Showback) -> str:
    """A row per group and currency (direct, shared, total), then one per currency for the
    shared spend no rule split: the total column sums to the report's total."""
    rows: list[list[Any]] = [[r.group, r.currency, r.direct, r.shared, r.total] for r in result.rows]
    rows += [[UNALLOCATED, c, v, Decimal(0), v] for c, v in result.unallocated.items()]
    return write_csv([result.dimension, "currency", "direct", "shared", "total"], rows)


def csv_filename(result: Showback) -> str:
    q = result.query
    return f"showback-by-{result.dimension}-{q.start.isoformat()}-{q.end.isoformat()}.csv"
