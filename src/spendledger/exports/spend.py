"""A `SpendReport` as JSON (the API's and `report --format json`'s shape) and as CSV.

Money leaves as decimal strings, exact to the nano-unit with at least two places;
tables round to the cent with `records.cents`. Both come from the same report, so
every rendering of a query agrees to the cent.
"""

from __future__ import annotations

from typing import Any

from spendledger.exports.csvfile import write_csv
from spendledger.queries import SpendQuery, SpendReport, SpendRow
from spendledger.records import format_money

ROW_FIELDS: tuple[str, ...] = (
    "period",
    "currency",
    "cost",
    "requests",
    "input_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "output_tokens",
    "reasoning_tokens",
    "unpriced_requests",
)


def row_to_dict(row: SpendRow) -> dict[str, Any]:
    return {
        **row.dims,
        "period": row.period,
        "currency": row.currency,
        "cost": format_money(row.cost),
        "requests": row.requests,
        "input_tokens": row.input_tokens,
        "cached_input_tokens": row.cached_input_tokens,
        "cache_write_tokens": row.cache_write_tokens,
        "output_tokens": row.output_tokens,
        "reasoning_tokens": row.reasoning_tokens,
        "unpriced_requests": row.unpriced_requests,
    }


def report_to_dict(report: SpendReport) -> dict[str, Any]:
    q = report.query
    out: dict[str, Any] = {
        "currency": report.currency,
        "from": q.start.isoformat(),
        "to": q.end.isoformat(),
        "basis": q.basis,
        "granularity": str(q.granularity),
        "by": list(q.by),
        "filters": {k: list(v) for k, v in q.filters.items()},
        # several currencies are never added up: `currency` and `total` are null then
        "total": None if report.total is None else format_money(report.total),
        "totals": {c: format_money(v) for c, v in sorted(report.totals.items())},
        "rows": [row_to_dict(r) for r in report.rows],
    }
    if q.currency is not None:
        out["unconverted"] = [
            {"day": u.day.isoformat(), "currency": u.currency, "amount": format_money(u.amount)}
            for u in report.unconverted
        ]
    if report.unconverted:
        days = len({u.day for u in report.unconverted})
        out["note"] = (
            f"{days} days had no exchange rate into {q.currency} on or before them: their amounts stay "
            "in their own currency, in `totals` and in `unconverted`; import rates with `spendledger fx`"
        )
    elif report.currency is None:
        out["note"] = "several currencies: no single total, one per currency in `totals` (not converted)"
    return out


def report_to_csv(report: SpendReport) -> str:
    """The report's rows as CSV: dimensions, then `ROW_FIELDS`; text cells made safe."""
    by = report.query.by
    rows = (
        [
            *(r.dims.get(k) for k in by),
            r.period,
            r.currency,
            r.cost,
            r.requests,
            r.input_tokens,
            r.cached_input_tokens,
            r.cache_write_tokens,
            r.output_tokens,
            r.reasoning_tokens,
            r.unpriced_requests,
        ]
        for r in report.rows
    )
    return write_csv([*by, *ROW_FIELDS], rows)


def csv_filename(query: SpendQuery) -> str:
    """The name a CSV download is saved under: `spend-<from>_<to>.csv`."""
    return f"spend-{query.start.isoformat()}_{query.end.isoformat()}.csv"
