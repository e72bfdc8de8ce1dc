"""Usage records for tests: one factory, `usage_record(**fields)`, with defaults for what a
test does not care about. A test names every figure it asserts on."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from spendledger.records import Basis, PricingStatus, UsageRecord

NOON = datetime(2026, 11, 20, 12, tzinfo=UTC)  # the default `start`


def usage_record(
    *,
    key: str = "k1",
    source: str = "test",
    basis: Basis = Basis.METERED,
    start: datetime = NOON,
    provider: str = "openai",
    model: str = "m",
    cost: Decimal | str | None = None,
    pricing_status: PricingStatus | None = None,
    **fields: Any,
) -> UsageRecord:
    """A record: a metered call to openai's model "m" by default. `cost` may be a decimal
    string; a record with a cost is the provider's figure (PROVIDER) unless
    `pricing_status` says otherwise, one without waits unpriced. Any other field of
    `UsageRecord` (end, project, user, tokens, requests, currency...) passes through."""
    if pricing_status is None:
        pricing_status = PricingStatus.UNPRICED if cost is None else PricingStatus.PROVIDER
    return UsageRecord(
        key=key,
        source=source,
        basis=basis,
        start=start,
        provider=provider,
        model=model,
        cost=None if cost is None else Decimal(cost),
        pricing_status=pricing_status,
        **fields,
    )


def web_record(key: str, start: datetime, cost: str) -> UsageRecord:
    """`cost` dollars of project "web", as the provider billed them, at `start`."""
    return usage_record(key=key, start=start, project="web", cost=cost)
