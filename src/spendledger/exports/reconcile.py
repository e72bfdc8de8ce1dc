"""A reconciliation as JSON (the API's and `reconcile --format json`'s shape) and as CSV.

Money leaves as exact decimal strings (`records.format_money`), coverage as a percentage
with one decimal; a row's `gaps` add up to its `gap` exactly. The CSV has one column per
category, so a spreadsheet sums them as the JSON does.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from spendledger.exports.csvfile import write_csv
from spendledger.reconcile import (
    CATEGORIES,
    Adjustment,
    ClosedMonth,
    ProviderSummary,
    ReconcileQuery,
    Reconciliation,
    ReconRow,
)
from spendledger.records import format_money


def _money(amounts: dict[str, Decimal]) -> dict[str, str]:
    return {k: format_money(v) for k, v in amounts.items()}


def _figures(row: ReconRow) -> dict[str, Any]:
    return {
        "currency": row.currency,
        "billed": format_money(row.billed),
        "metered": format_money(row.metered),
        "coverage_pct": None if row.coverage is None else f"{row.coverage:f}",
        "gap": format_money(row.gap),
        "gaps": _money(row.gaps),
        "non_token": _money(row.non_token),
    }


def row_to_dict(row: ReconRow) -> dict[str, Any]:
    return {"day": row.day, **row.dims, **_figures(row), "flagged": row.flagged}


def provider_to_dict(summary: ProviderSummary) -> dict[str, Any]:
    return {
        "provider": summary.provider,
        **_figures(summary),
        "days": summary.days,
        "flagged_days": summary.flagged_days,
    }


def adjustment_to_dict(a: Adjustment) -> dict[str, Any]:
    return {
        "day": a.day,
        "provider": a.provider,
        "account": a.account,
        "currency": a.currency,
        "billed_then": format_money(a.billed_then),
        "billed_now": format_money(a.billed_now),
        "metered_then": format_money(a.metered_then),
        "metered_now": format_money(a.metered_now),
    }


def closed_to_dict(month: ClosedMonth) -> dict[str, Any]:
    return {
        "month": month.month,
        "closed_at": month.closed_at.isoformat(),
        "closed_by": month.closed_by,
        "late_adjustments": [adjustment_to_dict(a) for a in month.adjustments],
    }


def reconciliation_to_dict(found: Reconciliation, closed: list[ClosedMonth]) -> dict[str, Any]:
    q = found.query
    return {
        "from": q.start.isoformat(),
        "to": q.end.isoformat(),
        "days": "UTC",
        "by": list(q.by),
        "tolerance": {
            "percent": f"{found.tolerance.percent.normalize():f}",
            "amount": format_money(found.tolerance.amount),
        },
        "providers": [provider_to_dict(p) for p in found.providers],
        "rows": [row_to_dict(r) for r in found.rows],
        "closed_months": [closed_to_dict(m) for m in closed],
    }


def reconciliation_to_csv(found: Reconciliation) -> str:
    """One line per row: day, the `by` dimensions, the figures, one column per category."""
    by = found.query.by
    rows = (
        [
            r.day,
            *(r.dims.get(d) for d in by),
            r.currency,
            r.billed,
            r.metered,
            None if r.coverage is None else f"{r.coverage:f}",
            r.gap,
            *(r.gaps.get(c, Decimal(0)) for c in CATEGORIES),
            "yes" if r.flagged else "no",
        ]
        for r in found.rows
    )
    header = ["day", *by, "currency", "billed", "metered", "coverage_pct", "gap", *CATEGORIES, "flagged"]
    return write_csv(header, rows)


def csv_filename(query: ReconcileQuery) -> str:
    return f"reconcile-{query.start.isoformat()}_{query.end.isoformat()}.csv"
