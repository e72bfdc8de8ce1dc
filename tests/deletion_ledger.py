"""A small ledger for the deletion and audit tests, every figure named: three days, two
providers, three bases, two currencies. Totals (basis all) by hand:

    key  day         provider   basis    source       project  account  cost
    a    2026-11-19  openai     metered  api          web               1.25 USD
    b    2026-11-20  openai     metered  api          web               2.50 USD
    c    2026-11-20  openai     billed   openai-prod           org-1   10.00 USD
    d    2026-11-20  anthropic  metered  api          web               4.00 USD
    e    2026-11-21  openai     metered  api          search            0.75 USD
    f    2026-11-20  openai     manual   manual                         3.00 EUR

    USD 1.25 + 2.50 + 10.00 + 4.00 + 0.75 = 18.50; EUR 3.00
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select

from spendledger.queries import SpendQuery, spend
from spendledger.records import Basis
from spendledger.store.folder import fold_all
from spendledger.store.ledger import rebuild_rollups, write_records
from spendledger.store.tables import rollups, usage
from usage_records import NOON, usage_record

UTC_ZONE = ZoneInfo("UTC")
DAY = timedelta(days=1)
FIRST, LAST = date(2026, 11, 19), date(2026, 11, 21)


def seed(engine: Engine) -> None:
    records = [
        usage_record(key="a", source="api", start=NOON - DAY, project="web", cost="1.25"),
        usage_record(key="b", source="api", start=NOON, project="web", cost="2.50"),
        usage_record(
            key="c", source="openai-prod", basis=Basis.BILLED, start=NOON, account="org-1", cost="10.00"
        ),
        usage_record(key="d", source="api", start=NOON, provider="anthropic", project="web", cost="4.00"),
        usage_record(key="e", source="api", start=NOON + DAY, project="search", cost="0.75"),
        usage_record(key="f", source="manual", basis=Basis.MANUAL, start=NOON, cost="3.00", currency="EUR"),
    ]
    with engine.begin() as conn:
        write_records(conn, records, tz=UTC_ZONE)


def keys(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(select(usage.c.key)).scalars())


def totals(engine: Engine, basis: str = "all") -> dict[str, Decimal]:
    """The ledger's totals per currency over the three days, as every report reads them."""
    with engine.connect() as conn:
        return dict(spend(conn, SpendQuery(start=FIRST, end=LAST, basis=basis)).totals)


def rollups_equal_a_rebuild(engine: Engine) -> bool:
    """Whether the rollups kept by the writes equal those rebuilt from the records."""
    fold_all(engine)  # the rollups are written behind: fold the journal before reading them
    with engine.begin() as conn:
        kept = _rollup_rows(conn)
        rebuild_rollups(conn, tz=UTC_ZONE)
        return kept == _rollup_rows(conn)


def _rollup_rows(conn: Any) -> dict[str, list[tuple[Any, ...]]]:
    return {name: sorted(tuple(row) for row in conn.execute(select(t))) for name, t in rollups.items()}


def at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC_ZONE)
