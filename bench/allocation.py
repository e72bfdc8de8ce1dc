"""Allocation reads on a 200 k-event ledger: aliases, teams, customers, tags, the showback.

Builds a ledger of N metered events (default 200 000) over the 90 days to 2026-11-30
through `write_records` (the ingest path: rollups kept in the writer's transaction),
each with a project of 30, a customer of 60, a user of 300 and tags {"team": one of 8,
"env": prod|staging}; a few billed non-token line items and seat subscriptions; 5
aliases and 10 team mappings. Then times each question through `queries.spend` (and
`showback.showback`), median and slowest of 5 warm runs, with the table that answered:
aliased and team group-bys and customer read from the rollups, tags from the records.

    .venv/bin/python bench/allocation.py
    .venv/bin/python bench/allocation.py --events 50000
    .venv/bin/python bench/allocation.py --postgres postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from spendledger.queries import SpendQuery, spend
from spendledger.records import Basis, PricingStatus, UsageRecord
from spendledger.showback import showback
from spendledger.store import write_records
from spendledger.store.aliases import Alias, add_alias, set_team
from spendledger.store.allocation import AllocationRule, add_rule
from spendledger.store.engine import make_engine, upgrade

END = date(2026, 11, 30)
DAYS = 90
UTC_ZONE = ZoneInfo("UTC")
TEAMS = ("search", "support", "growth", "infra", "data", "mobile", "web", "research")


def records(n: int, seed: int = 11) -> list[UsageRecord]:
    rng = random.Random(seed)
    first = datetime.combine(END - timedelta(days=DAYS - 1), datetime.min.time(), UTC)
    out = []
    for i in range(n):
        project, user = rng.randrange(30), rng.randrange(300)
        out.append(
            UsageRecord(
                key=f"api:{i}",
                source="api",
                basis=Basis.METERED,
                start=first + timedelta(seconds=rng.randrange(DAYS * 86400)),
                provider=rng.choice(("openai", "anthropic", "mistral")),
                model=rng.choice(("gpt-4o", "gpt-4o-mini", "claude-sonnet-4-5", "mistral-large-latest")),
                project=""
                if project == 0
                else (f"Project {project}" if project < 5 else f"project-{project}"),
                user=f"u{user}",
                feature=rng.choice(("chat", "search", "summarise")),
                customer="" if user % 10 == 0 else f"customer-{user % 60}",  # each user one customer's
                tags={"team": rng.choice(TEAMS), "env": "staging" if rng.random() < 0.2 else "prod"},
                cost=Decimal(rng.randrange(1, 50_000)).scaleb(-6),
                pricing_status=PricingStatus.PROVIDER,
            )
        )
    for day in range(0, DAYS, 3):  # billed non-token line items and seat charges, no project
        start = first + timedelta(days=day)
        pools = (
            ("costs||web search|", "org-main", Basis.BILLED),
            ("sub:1|charge|", "subscriptions", Basis.MANUAL),
        )
        for key, source, basis in pools:
            out.append(
                UsageRecord(
                    key=f"{key}{day}",
                    source=source,
                    basis=basis,
                    start=start,
                    end=start + timedelta(days=1),
                    provider="openai" if basis is Basis.MANUAL else "cohere",
                    account="org-main",
                    requests=0,
                    cost=Decimal("12.50"),
                    pricing_status=PricingStatus.PROVIDER,
                )
            )
    out.sort(key=lambda r: r.start)  # events arrive in time order, as a tracker sends them
    return out


def build(engine: Engine, n: int) -> float:
    upgrade(engine)
    rows = records(n)
    started = time.perf_counter()
    for i in range(0, len(rows), 10_000):
        with engine.begin() as conn:
            write_records(conn, rows[i : i + 10_000], tz=UTC_ZONE)
    took = time.perf_counter() - started
    with engine.begin() as conn:
        for p in range(1, 5):
            add_alias(conn, Alias("project", f"Project {p}", f"project-{p}"), actor="bench")
        add_alias(conn, Alias("project", "project-29", "project-28", provider="mistral"), actor="bench")
        for p in range(1, 11):
            set_team(conn, project=f"project-{p}", team=TEAMS[p % len(TEAMS)], actor="bench")
        for what in ("subscriptions", "non-token", "unattributed"):
            for by in ("team", "customer"):
                add_rule(conn, AllocationRule(f"{what}-{by}", what, by, "proportional"), actor="bench")
    return took


def timed(run: Callable[[], tuple[str, int]], repeat: int = 7) -> tuple[float, float, str, int]:
    """(fastest, median) of `repeat` warm runs in ms: the fastest is the least disturbed
    by other work on a shared machine."""
    run()  # warm
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        table, rows = run()
        times.append((time.perf_counter() - started) * 1000)
    return min(times), statistics.median(times), table, rows


def questions(engine: Engine) -> list[tuple[str, Callable[[], tuple[str, int]]]]:
    last30 = (END - timedelta(days=29), END)

    Filters = dict[str, tuple[str, ...]] | None

    def report(
        by: tuple[str, ...], filters: Filters = None, days: tuple[date, date] = last30
    ) -> Callable[[], tuple[str, int]]:
        def run() -> tuple[str, int]:
            with engine.connect() as conn:
                r = spend(conn, SpendQuery(start=days[0], end=days[1], by=by, filters=filters or {}))
            return r.table, len(r.rows)

        return run

    def shown(by: str) -> Callable[[], tuple[str, int]]:
        def run() -> tuple[str, int]:
            with engine.connect() as conn:
                r = showback(conn, SpendQuery(start=last30[0], end=last30[1], by=(by,)))
            return f"{r.table} + pools", len(r.rows)

        return run

    ninety = (END - timedelta(days=DAYS - 1), END)
    return [
        ("30 d by feature (no alias: the baseline)", report(("feature",))),
        ("30 d by project (5 aliases)", report(("project",))),
        ("30 d by team (10 projects mapped)", report(("team",))),
        ("30 d by customer", report(("customer",))),
        ("30 d by customer, filter team=search", report(("customer",), {"team": ("search",)})),
        ("30 d by tag:team", report(("tag:team",))),
        ("90 d by tag:team", report(("tag:team",), days=ninety)),
        ("30 d by project, filter tag:team=search", report(("project",), {"tag:team": ("search",)})),
        ("30 d by tag:env, tag:team", report(("tag:env", "tag:team"))),
        ("showback 30 d by team (3 rules)", shown("team")),
        ("showback 30 d by customer (3 rules)", shown("customer")),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--postgres", help="a server URL; the bench creates its own database there")
    parser.add_argument("--keep", action="store_true", help="reuse the ledger a previous run built")
    args = parser.parse_args()
    if args.postgres:
        if not args.keep:
            admin = make_engine(args.postgres, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text("DROP DATABASE IF EXISTS spendledger_bench_alloc WITH (FORCE)"))
                conn.execute(text("CREATE DATABASE spendledger_bench_alloc"))
        url = (
            make_url(args.postgres)
            .set(database="spendledger_bench_alloc")
            .render_as_string(hide_password=False)
        )
    else:
        path = Path(tempfile.gettempdir()) / "spendledger-bench" / f"allocation-{args.events}.db"
        path.parent.mkdir(exist_ok=True)
        for suffix in ("", "-wal", "-shm") if not args.keep else ():
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        url = f"sqlite:///{path}"
    engine = make_engine(url)
    if not args.keep:
        took = build(engine, args.events)
        rate = f"{args.events / took:,.0f}/s"
        print(f"{make_url(url).get_backend_name()}: {args.events:,} events written in {took:.1f} s ({rate})")
    print(f"{'question':46} {'table':22} {'rows':>5} {'min ms':>8} {'p50 ms':>8}")
    for name, run in questions(engine):
        fastest, p50, table, rows = timed(run)
        print(f"{name:46} {table:22} {rows:5} {fastest:8.1f} {p50:8.1f}")
    engine.dispose()


if __name__ == "__main__":
    main()
