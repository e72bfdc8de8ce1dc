"""The reconciliation: the providers' bills against the metering, the gap explained.

`reconcile` answers a period by UTC day, provider and account (and workspace, project,
model when asked), with a summary per provider; `reconcile_summary` gives a month's
summary to reports; `close_month` keeps a reconciled month's figures so later changes
show as late adjustments (`closed_month`). It reads through the store's functions and
sits above `queries`, below the exports that render it.
"""

from spendledger.reconcile.closing import (
    Adjustment,
    ClosedMonth,
    close_month,
    closed_month,
    closed_months,
    reopen_month,
)
from spendledger.reconcile.figures import (
    CATEGORIES,
    CATEGORY_LABELS,
    CATEGORY_SHORT,
    DEFAULT_BY,
    DIMS,
    ProviderSummary,
    ReconcileQuery,
    Reconciliation,
    ReconRow,
    build_reconcile_query,
    reconcile,
    reconcile_summary,
)
from spendledger.reconcile.line_items import KIND_LABELS, KINDS, line_item_kind
from spendledger.reconcile_params import ReconcileError, Tolerance, month_range, parse_tolerance

__all__ = [
    "CATEGORIES",
    "CATEGORY_LABELS",
    "CATEGORY_SHORT",
    "DEFAULT_BY",
    "DIMS",
    "KINDS",
    "KIND_LABELS",
    "Adjustment",
    "ClosedMonth",
    "ProviderSummary",
    "ReconRow",
    "ReconcileError",
    "ReconcileQuery",
    "Reconciliation",
    "Tolerance",
    "build_reconcile_query",
    "close_month",
    "closed_month",
    "closed_months",
    "line_item_kind",
    "month_range",
    "parse_tolerance",
    "reconcile",
    "reconcile_summary",
    "reopen_month",
]
