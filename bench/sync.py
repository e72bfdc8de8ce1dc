"""Billing sync: a year of a large OpenAI organisation, backfilled from the local fake.

Starts the OpenAI fake (tests/fakes) on 127.0.0.1 with 365 days × 40 projects × 15
models, adds it as a source of a fresh SQLite ledger and runs `sync.sync_source` over
the whole year, every endpoint. Prints pages, records, pages/s, records/s and the total
time (target: ≤ 15 s), then checks the ledger's billed total equals the fake's own to
the cent.

    .venv/bin/python bench/sync.py                 # the full year (~15 s)
    .venv/bin/python bench/sync.py --days 30       # a quick run
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from sqlalchemy import func, select  # noqa: E402

from fakes.openai_admin import ADMIN_KEY, FakeOpenAIAdmin  # noqa: E402
from spendledger.config import Settings  # noqa: E402
from spendledger.records import cents, from_nanos  # noqa: E402
from spendledger.secrets import load_vault, mask  # noqa: E402
from spendledger.sources.base import Page  # noqa: E402
from spendledger.store.engine import make_engine, upgrade  # noqa: E402
from spendledger.store.sources import add_source  # noqa: E402
from spendledger.store.tables import usage  # noqa: E402
from spendledger.sync import sync_source  # noqa: E402

TARGET_S = 15.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--projects", type=int, default=40)
    parser.add_argument("--models", type=int, default=15)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="spendledger-sync-"))
    settings = Settings(database_url=f"sqlite:///{workdir / 'ledger.db'}", data_dir=workdir, timezone="UTC")
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)
    first = date(2025, 11, 20)
    last = first + timedelta(days=args.days - 1)
    print(
        f"spendledger sync benchmark: OpenAI fake, {args.days} days × {args.projects} projects × "
        f"{args.models} models, every endpoint, into SQLite ({workdir})"
    )
    with FakeOpenAIAdmin(
        start=first, days=args.days, projects=args.projects, archived=2, models=args.models
    ) as fake:
        with engine.begin() as conn:
            add_source(
                conn,
                name="bench",
                provider="openai",
                credential=load_vault(settings).seal(ADMIN_KEY),
                key_hint=mask(ADMIN_KEY),
                options={"base_url": fake.url},
                now=datetime.now(UTC),
            )
        pages = 0
        last_print = time.perf_counter()

        def on_page(_name: str, page: Page) -> None:
            nonlocal pages, last_print
            pages += 1
            if time.perf_counter() - last_print > 2:
                print(f"  ... {page.endpoint} page {page.number}", flush=True)
                last_print = time.perf_counter()

        started = time.perf_counter()
        outcome = sync_source(engine, settings, "bench", since=first, until=last, on_page=on_page)
        elapsed = time.perf_counter() - started
        expected = sum(fake.expected_costs().values(), Decimal(0))
    if outcome.error:
        print(f"sync failed: {outcome.error}")
        return 1
    with engine.connect() as conn:
        stored = from_nanos(
            int(
                conn.execute(select(func.sum(usage.c.cost_nanos)).where(usage.c.source == "bench")).scalar()
                or 0
            )
        )
        rows = conn.execute(select(func.count()).select_from(usage)).scalar_one()
    engine.dispose()
    same = cents(stored) == cents(expected)
    print(
        f"{outcome.pages:,} pages, {outcome.records:,} records ({rows:,} rows stored) in {elapsed:.1f} s: "
        f"{outcome.pages / elapsed:,.1f} pages/s, {outcome.records / elapsed:,.0f} records/s"
    )
    verdict = "equal" if same else "DIFFERENT"
    print(f"billed total ${cents(stored):,} vs the fake's ${cents(expected):,}: {verdict}")
    print(f"target <= {TARGET_S:.0f} s: {'PASS' if elapsed <= TARGET_S else 'FAIL'}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
