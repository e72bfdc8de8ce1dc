"""Re-price stored records once the catalogue or an override covers them.

An unknown model is never priced $0 (DESIGN.md): its records wait as "unpriced" until
a price arrives, then `reprice` fills them in. It also moves records priced earlier
when an override changes. Provider-reported costs are the provider's word and are never
touched (`iter_priceable` skips them). Each batch is read, priced and written in one
transaction, so an interrupted run leaves every record and rollup consistent and a
second run carries on where the first stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from spendledger.pricing import Pricer
from spendledger.records import PricingStatus
from spendledger.store import Engine
from spendledger.store.ledger import apply_prices, count_priceable, iter_priceable

# progress(records examined so far, records to examine)
Progress = Callable[[int, int], None]


@dataclass
class RepriceResult:
    examined: int = 0
    changed: int = 0  # records whose cost, status or price source moved
    newly_priced: int = 0  # unpriced before, priced now
    still_unpriced: int = 0  # no price known yet


def reprice(
    engine: Engine,
    *,
    pricer: Pricer,
    since: datetime | None = None,
    progress: Progress | None = None,
    batch_size: int = 5000,
) -> RepriceResult:
    """Price again every record (from `since`, by its start) that the ledger priced itself."""
    result = RepriceResult()
    with engine.connect() as conn:
        total = count_priceable(conn, since=since)
        conn.commit()
        if progress:
            progress(0, total)
        for batch in iter_priceable(conn, since=since, batch_size=batch_size):
            for _row_id, old, record in batch:
                pricer.price(record)
                if record.pricing_status is PricingStatus.UNPRICED:
                    result.still_unpriced += 1
                elif old["pricing_status"] == PricingStatus.UNPRICED:
                    result.newly_priced += 1
            result.changed += apply_prices(conn, batch)
            conn.commit()
            result.examined += len(batch)
            if progress:
                progress(result.examined, max(total, result.examined))
    return result
