"""Billed against metered, per UTC day, provider and account, with the gap explained.

For each cell — a UTC day, provider, account and currency, and the workspace, project
and model when the question groups by them — the bill's money (`billed`) is set beside
the metering's estimate (`metered`, priced from the catalogue), and their gap
(billed − metered) is split into categories that add up to it exactly:

- `non_token`: billed line items that are not tokens (line_items.py), which no metering sees;
- `outside`: metering of an account no billing covers (never billed; or no account, when
  the provider bills several that day), as −metered;
- `missed`: the bill's token money on a day the account has no metered record at all
  (the tracker was down, or not yet installed);
- `unbilled`: metering after the account's last billed day (the bill is not synced yet);
- per model, the bill's token money against the catalogue's price of the same tokens
  (the bill's own token counts): `priced` (a negotiated rate, a price the catalogue
  lacks), then the catalogue's price of the billed tokens against the metered estimate,
  a difference in volume: `unexplained` (calls one side has and the other has not).
  A model's part of either within half a cent per billed line is `rounding`: bills
  round each line to the cent.

Days are UTC days: providers bill by them. Amounts are in nano-units until the rows are
built, so every sum is exact; each row's categories add up to its gap to the nano-unit.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal

from spendledger.pricing import Pricer
from spendledger.queries import QueryError, build_query
from spendledger.reconcile.line_items import KINDS, line_item_kind
from spendledger.reconcile_params import Tolerance, month_range
from spendledger.records import PricingStatus, UsageRecord, from_nanos, to_nanos
from spendledger.store import Connection
from spendledger.store import reconcile as store
from spendledger.store.overrides import load_overrides

CATEGORIES: tuple[str, ...] = (
    "missed",
    "outside",
    "priced",
    "non_token",
    "rounding",
    "unbilled",
    "unexplained",
)
CATEGORY_LABELS: dict[str, str] = {
    "missed": "calls the bill has and the metering missed",
    "outside": "metering outside any synced account",
    "priced": "same tokens priced differently (catalogue vs bill)",
    "non_token": "billed line items that are not tokens",
    "rounding": "rounding",
    "unbilled": "metered, not billed yet",
    "unexplained": "unexplained",
}
CATEGORY_SHORT: dict[str, str] = {  # in tables
    "missed": "missed calls",
    "outside": "outside synced accounts",
    "priced": "priced differently",
    "non_token": "non-token items",
    "rounding": "rounding",
    "unbilled": "not billed yet",
    "unexplained": "unexplained",
}
DIMS: tuple[str, ...] = ("provider", "account", "workspace", "project", "model")
DEFAULT_BY: tuple[str, ...] = ("provider", "account")
HALF_CENT = 5_000_000  # nano-units: how far a line rounded to the cent can move
_EXTRA = ("workspace", "project", "model")  # the dimensions a cell splits by when asked


# ---- the question ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ReconcileQuery:
    start: date  # UTC days, inclusive
    end: date
    by: tuple[str, ...] = DEFAULT_BY


def build_reconcile_query(
    *,
    today: date,
    start: str | date | None = None,
    end: str | date | None = None,
    period: str | None = None,
    by: Sequence[str] = (),
) -> ReconcileQuery:
    """Parse the parameters the CLI and the API share; without dates or a period, last month."""
    if not (start or end or period):
        period = "last-month"
    spend = build_query(today=today, start=start, end=end, period=period)
    if (spend.end - spend.start).days > 366:
        raise QueryError(
            "from", f"{spend.start} to {spend.end} is longer than a year; reconcile a year at most"
        )
    names = [d.strip().replace("-", "_") for part in by for d in part.split(",") if d.strip()]
    for name in names:
        if name not in DIMS:
            raise QueryError("by", f"unknown dimension {name!r}; use any of {', '.join(DIMS)}")
    return ReconcileQuery(spend.start, spend.end, tuple(dict.fromkeys(names)) if names else DEFAULT_BY)


# ---- the answer -----------------------------------------------------------------------------


@dataclass
class ReconRow:
    day: str | None  # a UTC day; None in a summary over days
    dims: dict[str, str]  # the question's `by` dimensions ('' when the records have none)
    currency: str
    billed: Decimal
    metered: Decimal
    gaps: dict[str, Decimal]  # category → amount, in CATEGORIES order, only the non-zero ones
    non_token: dict[str, Decimal]  # kind → amount (the `non_token` category, split)
    flagged: bool = False

    @property
    def gap(self) -> Decimal:
        return self.billed - self.metered

    @property
    def coverage(self) -> Decimal | None:
        """The metered estimate as a percentage of the bill; None with no bill."""
        if not self.billed:
            return None
        return (self.metered / self.billed * 100).quantize(Decimal("0.1"))


@dataclass
class ProviderSummary(ReconRow):
    days: int = 0  # UTC days with a bill or metering
    flagged_days: list[str] = field(default_factory=list)  # days whose provider total is outside tolerance

    @property
    def provider(self) -> str:
        return self.dims["provider"]


@dataclass
class Reconciliation:
    query: ReconcileQuery
    tolerance: Tolerance
    rows: list[ReconRow]
    providers: list[ProviderSummary]


# ---- the work -------------------------------------------------------------------------------


@dataclass
class _Model:
    billed: int = 0  # token money on the bill
    lines: int = 0  # billed money lines of it (each rounded to the cent)
    catalogue: int | None = None  # the catalogue's price of the bill's tokens; None: no tokens billed
    metered: int = 0


@dataclass
class _Cell:
    billed: int = 0
    metered: int = 0
    non_token: dict[str, int] = field(default_factory=dict)
    models: dict[str, _Model] = field(default_factory=dict)

    def model(self, name: str) -> _Model:
        found = self.models.get(name)
        if found is None:
            found = self.models[name] = _Model()
        return found


# (utc day, provider, account, currency, workspace, project, model) with '' for the dimensions not split
CellKey = tuple[str, str, str, str, str, str, str]


def reconcile(
    conn: Connection,
    query: ReconcileQuery,
    *,
    tolerance: Tolerance | None = None,
    pricer: Pricer | None = None,
) -> Reconciliation:
    """The rows of `query` (by UTC day and its `by` dimensions) and a summary per provider."""
    tolerance = tolerance or Tolerance()
    pricer = pricer or Pricer(load_overrides(conn))
    split = tuple(d for d in _EXTRA if d in query.by)
    last_billed = store.last_billed_days(conn)
    cells: dict[CellKey, _Cell] = defaultdict(_Cell)
    billed_accounts: dict[tuple[str, str], set[str]] = defaultdict(set)
    for day, record in store.billed_records(conn, first=query.start, last=query.end):
        billed_accounts[(day, record.provider)].add(record.account)
        _add_billed(
            cells[_key(day, record.provider, record.account, record.currency, split, record)], record, pricer
        )
    metered_days: dict[tuple[str, str, str], int] = defaultdict(int)
    for m in store.metered_sums(conn, first=query.start, last=query.end):
        account = m.account
        if not account and len(billed_accounts.get((m.day, m.provider), ())) == 1:
            (account,) = billed_accounts[(m.day, m.provider)]  # the ledger's coverage rule (rollups.py)
        cell = cells[_key(m.day, m.provider, account, m.currency, split, m)]
        cell.metered += m.cost_nanos
        cell.model(m.model).metered += m.cost_nanos
        metered_days[(m.day, m.provider, account)] += m.records
    explained = {
        key: _explain(
            cell,
            synced=(key[1], key[2]) in last_billed,
            metered_that_day=metered_days.get(key[:3], 0) > 0,
            after_last_bill=key[0] > last_billed.get((key[1], key[2]), ""),
        )
        for key, cell in cells.items()
    }
    rows = _rows(cells, explained, query.by, tolerance)
    providers = _providers(cells, explained, tolerance)
    return Reconciliation(query=query, tolerance=tolerance, rows=rows, providers=providers)


def _key(
    day: str, provider: str, account: str, currency: str, split: tuple[str, ...], source: object
) -> CellKey:
    ws, project, model = (getattr(source, d) if d in split else "" for d in _EXTRA)
    return (day, provider, account, currency, ws, project, model)


def _add_billed(cell: _Cell, record: UsageRecord, pricer: Pricer) -> None:
    cost = to_nanos(record.cost) if record.cost is not None else 0
    kind = line_item_kind(record)
    if kind is not None:
        if cost:
            cell.non_token[kind] = cell.non_token.get(kind, 0) + cost
            cell.billed += cost
        return
    model = cell.model(record.model)
    if cost:
        model.billed += cost
        model.lines += 1
        cell.billed += cost
    if record.tokens.input or record.tokens.output:
        catalogue = _catalogue_price(record, pricer)
        if catalogue is not None:
            model.catalogue = (model.catalogue or 0) + catalogue


def _catalogue_price(record: UsageRecord, pricer: Pricer) -> int | None:
    """What the catalogue (with the user's overrides) charges for a billed record's tokens.

    A bucket that does not count its requests is priced as calls of at most 1 000 input
    tokens, below every long-context tier, unless the bill says its calls were above one.
    """
    requests = record.requests
    if requests <= 0:
        above = str(record.tags.get("context_window", "")).startswith("200k")
        requests = 1 if above else max(1, math.ceil(record.tokens.input / 1000))
    priced = replace(
        record, cost=None, pricing_status=PricingStatus.UNPRICED, requests=requests, tags=dict(record.tags)
    )
    pricer.price(priced)
    return None if priced.cost is None or priced.currency != record.currency else to_nanos(priced.cost)


def _explain(cell: _Cell, *, synced: bool, metered_that_day: bool, after_last_bill: bool) -> dict[str, int]:
    """The cell's gap (billed − metered) by category; the amounts add up to it exactly."""
    gaps: dict[str, int] = defaultdict(int)
    gaps["non_token"] = sum(cell.non_token.values())
    token_billed = sum(m.billed for m in cell.models.values())
    if not synced:
        gaps["outside"] = -cell.metered
        gaps["unexplained"] += token_billed  # never: an account with a bill is synced
    elif not metered_that_day:
        gaps["missed"] = token_billed - cell.metered
    elif not cell.billed and after_last_bill:
        gaps["unbilled"] = -cell.metered
    else:
        for m in cell.models.values():
            if m.catalogue is not None and m.lines:
                priced, volume = m.billed - m.catalogue, m.catalogue - m.metered
            else:
                priced, volume = 0, m.billed - m.metered
            allowance = HALF_CENT * max(1, m.lines)
            gaps["rounding" if abs(priced) <= allowance else "priced"] += priced
            gaps["rounding" if abs(volume) <= allowance else "unexplained"] += volume
    return {c: gaps[c] for c in CATEGORIES if gaps.get(c)}


def _decimals(amounts: Mapping[str, int], order: Iterable[str]) -> dict[str, Decimal]:
    return {k: from_nanos(amounts[k]) for k in order if amounts.get(k)}


def _sum_into(acc: dict[str, int], more: Mapping[str, int]) -> None:
    for k, v in more.items():
        acc[k] = acc.get(k, 0) + v


@dataclass
class _Sums:
    billed: int = 0
    metered: int = 0
    gaps: dict[str, int] = field(default_factory=dict)
    non_token: dict[str, int] = field(default_factory=dict)

    def add(self, cell: _Cell, gaps: Mapping[str, int]) -> None:
        self.billed += cell.billed
        self.metered += cell.metered
        _sum_into(self.gaps, gaps)
        _sum_into(self.non_token, cell.non_token)

    def row(self, day: str | None, dims: dict[str, str], currency: str, tolerance: Tolerance) -> ReconRow:
        billed, metered = from_nanos(self.billed), from_nanos(self.metered)
        return ReconRow(
            day=day,
            dims=dims,
            currency=currency,
            billed=billed,
            metered=metered,
            gaps=_decimals(self.gaps, CATEGORIES),
            non_token=_decimals(self.non_token, KINDS),
            flagged=not tolerance.allows(billed - metered, billed),
        )


def _dims_of(key: CellKey, by: tuple[str, ...]) -> dict[str, str]:
    values = dict(zip(("provider", "account", *_EXTRA), (key[1], key[2], *key[4:]), strict=True))
    return {d: values[d] for d in by}


def _rows(
    cells: Mapping[CellKey, _Cell],
    explained: Mapping[CellKey, dict[str, int]],
    by: tuple[str, ...],
    tolerance: Tolerance,
) -> list[ReconRow]:
    grouped: dict[tuple[str, tuple[str, ...], str], _Sums] = defaultdict(_Sums)
    for key, cell in cells.items():
        dims = _dims_of(key, by)
        grouped[(key[0], tuple(dims.values()), key[3])].add(cell, explained[key])
    rows = [
        sums.row(day, dict(zip(by, values, strict=True)), currency, tolerance)
        for (day, values, currency), sums in grouped.items()
        if sums.billed or sums.metered
    ]
    rows.sort(key=lambda r: (r.day or "", *r.dims.values(), r.currency))
    return rows


def _providers(
    cells: Mapping[CellKey, _Cell], explained: Mapping[CellKey, dict[str, int]], tolerance: Tolerance
) -> list[ProviderSummary]:
    """Per provider and currency: the period's sums, and the days its total is outside tolerance."""
    totals: dict[tuple[str, str], _Sums] = defaultdict(_Sums)
    daily: dict[tuple[str, str], dict[str, _Sums]] = defaultdict(lambda: defaultdict(_Sums))
    for key, cell in cells.items():
        totals[(key[1], key[3])].add(cell, explained[key])
        daily[(key[1], key[3])][key[0]].add(cell, explained[key])
    summaries = []
    for (provider, currency), sums in sorted(totals.items()):
        if not (sums.billed or sums.metered):
            continue
        row = sums.row(None, {"provider": provider}, currency, tolerance)
        days = daily[(provider, currency)]
        flagged = sorted(
            day
            for day, s in days.items()
            if not tolerance.allows(from_nanos(s.billed - s.metered), from_nanos(s.billed))
        )
        summaries.append(
            ProviderSummary(
                **vars(row), days=sum(1 for s in days.values() if s.billed or s.metered), flagged_days=flagged
            )
        )
    return summaries


def reconcile_summary(
    conn: Connection, month: str | date, *, tolerance: Tolerance | None = None
) -> list[ProviderSummary]:
    """A month's reconciliation per provider (billed, metered, coverage, gaps by category),
    for reports that show it beside other figures (the monthly PDF)."""
    first, last = month_range(month)
    return reconcile(conn, ReconcileQuery(first, last), tolerance=tolerance).providers
