"""Usage records for tests that need spend in the ledger, not the detail of a call."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from spendledger.records import Basis, PricingStatus, UsageRecord


def web_record(key: str, start: datetime, cost: str) -> UsageRecord:
    """`cost` dollars of project "web", as the provider billed them, at `start`."""
    return UsageRecord(
        key=key,
        source="test",
        basis=Basis.METERED,
        start=start,
        provider="openai",
        model="m",
        project="web",
        cost=Decimal(cost),
        pricing_status=PricingStatus.PROVIDER,
    )
