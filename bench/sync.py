"""Billing sync: a year of each source type, backfilled from its local fake.

For every case below (one per source type) the benchmark starts the type's fake
(tests/fakes) on 127.0.0.1, in a process of its own (a provider's servers are not
in ours), with a year of a large organisation, adds it as a source of a
fresh SQLite ledger and runs `sync.sync_source` over the whole year, every endpoint.
It prints one line per type (pages, records, records/s, seconds) and checks the
ledger's billed total equals the fake's own to the cent. OpenAI: 365 days × 40 projects
× 15 models, target ≤ 15 s.

    .venv/bin/python bench/sync.py                  # every type, a year each
    .venv/bin/python bench/sync.py --type openai    # one type
    .venv/bin/python bench/sync.py --days 30        # a quick run

A new source type adds one `Case` to CASES: how to start its fake for `days` days from
`first`, the key and options its source is added with, and the fake's own billed total.
"""

from __future__ import annotations

import argparse
import multiprocessing
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from sqlalchemy import Engine, event, func, select  # noqa: E402

from fakes import azure_cost  # noqa: E402
from fakes.aws_cost_explorer import ACCESS_KEY_ID, SECRET_KEY, FakeCostExplorer  # noqa: E402
from fakes.gcp_bigquery import TABLE, FakeBigQuery, ServiceAccount, free_port  # noqa: E402
from fakes.github_copilot import FINE_GRAINED, FakeGitHubCopilot  # noqa: E402
from fakes.openai_admin import ADMIN_KEY, FakeOpenAIAdmin  # noqa: E402
from fakes.openrouter import MANAGEMENT_KEY, FakeOpenRouter  # noqa: E402
from spendledger.config import Settings  # noqa: E402
from spendledger.records import cents, from_nanos  # noqa: E402
from spendledger.secrets import load_vault, mask  # noqa: E402
from spendledger.sources.base import Page  # noqa: E402
from spendledger.store.engine import make_engine, upgrade  # noqa: E402
from spendledger.store.sources import add_source  # noqa: E402
from spendledger.store.tables import usage  # noqa: E402
from spendledger.sync import sync_source  # noqa: E402

TARGET_S = 15.0  # OpenAI's year


@dataclass(frozen=True)
class Case:
    """One source type's year: its fake, the source that reads it, and the fake's total."""

    provider: str
    key: str
    fake: Callable[[date, int], AbstractContextManager[Any]]  # (first day, days) → a running fake
    options: Callable[[Any], dict[str, str]]  # the running fake → the source's options
    expected: Callable[[Any], Decimal]  # the running fake → its billed total


CASES: dict[str, Case] = {
    "openai": Case(
        "openai",
        ADMIN_KEY,
        lambda first, days: FakeOpenAIAdmin(start=first, days=days, projects=40, archived=2, models=15),
        lambda fake: {"base_url": fake.url},
        lambda fake: sum(fake.expected_costs().values(), Decimal(0)),
    ),
    "github-copilot": Case(  # 100 Copilot users: a call a day per user who used it that month
        "github-copilot",
        FINE_GRAINED,
        lambda first, days: FakeGitHubCopilot(start=first, days=days, users=100, departed=5, density=0.6),
        lambda fake: {"base_url": fake.base_url, "org": fake.org},
        lambda fake: sum(fake.expected_costs().values(), Decimal(0)),
    ),
    # OpenRouter serves only the last 30 completed UTC days: of the year, the ledger holds those
    "openrouter": Case(
        "openrouter",
        MANAGEMENT_KEY,
        lambda first, days: FakeOpenRouter(start=first, days=days, workspaces=8, endpoints=80),
        lambda fake: {"base_url": fake.url},
        lambda fake: fake.expected_total(),
    ),
    "azure": Case(
        "azure",
        azure_cost.CLIENT_SECRET,
        lambda first, days: azure_cost.FakeAzureCost(start=first, days=days, resources=30),
        lambda fake: {
            "base_url": fake.url,
            "login_url": fake.url,
            "tenant_id": azure_cost.TENANT,
            "client_id": azure_cost.CLIENT_ID,
            "scope": f"/subscriptions/{azure_cost.SUBSCRIPTION}",
        },
        lambda fake: sum(fake.expected_costs().values(), Decimal(0)),
    ),
    "aws": Case(  # 40 linked accounts of a payer, read by linked account: one query per Bedrock service
        "aws",
        SECRET_KEY,
        lambda first, days: FakeCostExplorer(start=first, days=days, accounts=40, density=0.6),
        lambda fake: {"access_key_id": ACCESS_KEY_ID, "endpoint_url": fake.url, "group_by": "LINKED_ACCOUNT"},
        lambda fake: fake.total(),
    ),
    # a year of an export with 40 projects' AI spend (6-hour usage rows, 12 SKUs, labels, credits)
    "gcp": Case(
        "gcp",
        (GCP_ACCOUNT := ServiceAccount()).key_file(f"http://127.0.0.1:{(GCP_PORT := free_port())}/token"),
        lambda first, days: FakeBigQuery(
            account=GCP_ACCOUNT, port=GCP_PORT, start=first, days=days, projects=40
        ),
        lambda fake: {"table": TABLE, "endpoint_url": fake.url},
        lambda fake: sum(fake.expected_costs().values(), Decimal(0)),
    ),
}


class WriteClock:
    """Where the writes' time goes, from the engine's events (nothing of ours is wrapped):
    the transactions that wrote `usage` (the pages' ledger writes, from BEGIN until the
    connection is handed back), and within them the statements on the rollup tables, the
    other statements and the commit. The rest of a write is its Python (and, the next page
    being read meanwhile, waits for the GIL)."""

    def __init__(self, engine: Engine) -> None:
        self.writes = self.rollups = self.other_sql = self.commits = 0.0
        self.pages = 0
        self._begun = self._sent = self._committing = 0.0
        self._wrote = False
        event.listen(engine, "begin", self._begin)
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)
        event.listen(engine, "commit", self._commit)
        event.listen(engine.pool, "checkin", self._checkin)

    def _begin(self, _conn: Any) -> None:
        self._begun, self._wrote = time.perf_counter(), False

    def _before(self, *_args: Any) -> None:
        self._sent = time.perf_counter()

    def _after(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        took = time.perf_counter() - self._sent
        if "rollup_" in statement[:200]:
            self.rollups += took
        else:
            self.other_sql += took
        self._wrote = self._wrote or statement.startswith(("INSERT INTO usage", "DELETE FROM usage"))

    def _commit(self, _conn: Any) -> None:
        self._committing = time.perf_counter()

    def _checkin(self, *_args: Any) -> None:
        if self._wrote and self._begun:
            now = time.perf_counter()
            self.writes += now - self._begun
            self.commits += now - self._committing if self._committing > self._begun else 0.0
            self.pages += 1
        self._begun, self._wrote = 0.0, False

    def line(self, elapsed: float) -> str:
        python = self.writes - self.rollups - self.other_sql - self.commits
        return (
            f"{'':16} ledger writes {self.writes:.1f} s of {elapsed:.1f} s ({self.pages} transactions): "
            f"rollup statements {self.rollups:.1f} s, other SQL {self.other_sql:.1f} s, commits "
            f"{self.commits:.1f} s, the rest {python:.1f} s"
        )


@contextmanager
def fake_provider(name: str, first: date, days: int) -> Iterator[tuple[dict[str, str], Callable[[], Any]]]:
    """Case `name`'s fake, serving in a process of its own (as a provider's servers are
    not in ours: its CPU is not the sync's): the source's options, and a function that
    asks the fake for its billed total."""
    ours, theirs = multiprocessing.get_context("fork").Pipe()
    child = multiprocessing.get_context("fork").Process(target=_serve, args=(name, first, days, theirs))
    child.start()
    try:
        options = ours.recv()

        def expected() -> Decimal:
            ours.send("total")
            return Decimal(ours.recv())

        yield options, expected
    finally:
        ours.send("stop")
        child.join(30)


def _serve(name: str, first: date, days: int, conn: Any) -> None:
    case = CASES[name]
    with case.fake(first, days) as fake:
        conn.send(case.options(fake))
        while conn.recv() == "total":
            conn.send(str(case.expected(fake)))


def run(name: str, case: Case, days: int) -> bool:
    workdir = Path(tempfile.mkdtemp(prefix=f"spendledger-sync-{name}-"))
    try:
        return _run(name, case, days, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)  # a year of OpenAI is ~300 MB


def _run(name: str, case: Case, days: int, workdir: Path) -> bool:
    settings = Settings(database_url=f"sqlite:///{workdir / 'ledger.db'}", data_dir=workdir, timezone="UTC")
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)
    first = date(2025, 11, 20)
    last = first + timedelta(days=days - 1)
    with fake_provider(name, first, days) as (options, expected_of):
        with engine.begin() as conn:
            add_source(
                conn,
                name="bench",
                provider=case.provider,
                credential=load_vault(settings).seal(case.key),
                key_hint=mask(case.key),
                options=options,
                now=datetime.now(UTC),
            )
        last_print = time.perf_counter()

        def on_page(_name: str, page: Page) -> None:
            nonlocal last_print
            if time.perf_counter() - last_print > 2:
                print(f"  ... {name}: {page.endpoint} page {page.number}", flush=True)
                last_print = time.perf_counter()

        clock = WriteClock(engine)
        started, cpu, writer = time.perf_counter(), time.process_time(), time.thread_time()
        outcome = sync_source(engine, settings, "bench", since=first, until=last, on_page=on_page)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        writer = time.thread_time() - writer  # this thread writes; the pages are read on another
        expected = expected_of()
    if outcome.error:
        print(f"{name:16} sync failed: {outcome.error}")
        return False
    with engine.connect() as conn:
        total = conn.execute(select(func.sum(usage.c.cost_nanos)).where(usage.c.source == "bench")).scalar()
        stored = from_nanos(int(total or 0))
    engine.dispose()
    same = cents(stored) == cents(expected)
    verdict = "equal" if same else "DIFFERENT"
    print(
        f"{name:16} {outcome.pages:>7,} pages {outcome.records:>10,} records {elapsed:7.1f} s "
        f"(CPU {cpu:.1f} s, writing thread {writer:.1f} s) {outcome.records / elapsed:>9,.0f} records/s   "
        f"billed {cents(stored):>14,} "
        f"vs fake {cents(expected):>14,}: {verdict}",
        flush=True,
    )
    print(clock.line(elapsed), flush=True)
    if name == "openai":
        print(f"{'':16} openai target <= {TARGET_S:.0f} s: {'PASS' if elapsed <= TARGET_S else 'FAIL'}")
    return same


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--type", choices=sorted(CASES), action="append", help="repeatable; default: all")
    args = parser.parse_args()
    names = args.type or list(CASES)
    print(f"spendledger sync benchmark: {args.days} days of each of {', '.join(names)}, into SQLite")
    results = [run(name, CASES[name], args.days) for name in names]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
