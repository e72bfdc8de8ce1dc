"""Explorer queries on a large ledger: rollups against the raw records.

Builds a SQLite ledger of N metered events (default 10 M) spread over two years, with
billed day-buckets for some accounts (so the "best" basis has work to do), a few
manual subscriptions and a trickle of unpriced events; rebuilds the rollups; then times
20 explorer queries through `queries.spend` (the code the pages and the API call) and
the same aggregates computed straight from `usage`, checks that both give the same
answer, and prints the figures.

    .venv/bin/python bench/query.py                       # 10 M events in a temp dir
    .venv/bin/python bench/query.py --events 500000       # a quick run
    .venv/bin/python bench/query.py --keep                # reuse the file a run left
    .venv/bin/python bench/query.py --postgres postgresql://postgres@127.0.0.1:5432/postgres

Rows are written straight into `usage` (not through `write_records`) to build fast; they
are valid ledger rows: the same columns, the day in UTC, the cost computed from the
catalogue's integer nano-rates (a sample is re-priced through `Pricer` to prove it).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, func, select, text

from spendledger import queries
from spendledger.pricing import Pricer
from spendledger.pricing.rates import Rates
from spendledger.records import TokenCounts, to_nanos
from spendledger.store.engine import make_engine, upgrade
from spendledger.store.ledger import get_meta, rebuild_rollups, set_meta
from spendledger.store.rows import key_hash, row_to_record
from spendledger.store.tables import rollups, usage

TODAY = date(2026, 11, 20)
DAYS = 730
FIRST_DAY = TODAY - timedelta(days=DAYS - 1)
UTC_ZONE = ZoneInfo("UTC")
SEED = 20261120
PG_DATABASE = "spendledger_bench_query"
BUILD_VERSION = "1"  # bump when the generated data changes, so --keep rebuilds

PROVIDER_MODELS: dict[str, tuple[str, ...]] = {
    "openai": (
        "gpt-4o-mini",
        "gpt-4.1-mini",
        "gpt-4o",
        "gpt-4.1",
        "gpt-4.1-nano",
        "o3",
        "o4-mini",
        "gpt-5",
        "gpt-5-mini",
        "gpt-5-nano",
        "text-embedding-3-small",
    ),
    "anthropic": (
        "claude-sonnet-4-5",
        "claude-3-5-haiku-latest",
        "claude-haiku-4-5",
        "claude-sonnet-4-20250514",
        "claude-3-7-sonnet-latest",
        "claude-opus-4-1",
    ),
    "google": ("gemini-2.5-flash", "gemini-2.0-flash", "gemini-2.5-pro", "gemini-2.5-flash-lite"),
    "mistral": ("mistral-small-latest", "mistral-large-latest", "codestral-latest", "mistral-medium-latest"),
}
UNPRICED_MODEL = "ft:gpt-4.1-mini:acme:support-tone:9xk2"  # a fine-tune with no price: stored unpriced
REASONING = {"o3", "o4-mini", "gpt-5", "gpt-5-mini", "gpt-5-nano"}
ACCOUNTS: dict[str, tuple[str, int]] = {  # account → (provider, share of traffic)
    "org-acme": ("openai", 30),
    "org-labs": ("openai", 12),
    "org-research": ("openai", 6),
    "org-support": ("openai", 8),
    "anthropic-main": ("anthropic", 18),
    "anthropic-research": ("anthropic", 5),
    "anthropic-eu": ("anthropic", 4),
    "gcp-prod": ("google", 8),
    "gcp-dev": ("google", 3),
    "mistral-eu": ("mistral", 4),
}
# Billing sync covers these accounts from this many days before TODAY.
BILLED_SINCE = {"org-acme": 300, "anthropic-main": 500, "gcp-prod": 200, "org-labs": 90}
FEATURES = (
    "summarise",
    "chat",
    "search",
    "classify",
    "extract",
    "translate",
    "autocomplete",
    "code-review",
    "triage",
    "rerank",
    "embed",
    "draft-reply",
    "sentiment",
    "qa",
    "agent",
    "report",
    "tagging",
    "moderation",
    "transcribe-notes",
    "sql-assist",
)


# --- the organisation the events come from ------------------------------------------------


@dataclass
class Project:
    name: str
    provider: str
    account: str  # '' for SDK traffic that names no account (covered by a provider's only bill)
    workspace: str
    source: str
    keys: list[str]
    combos: list[tuple[str, str, str]]  # (api key, feature, model), repeated by weight
    tags: str | None


@dataclass
class Universe:
    projects: list[Project]
    users: list[str]
    user_cum_weights: list[float]
    user_projects: list[list[int]]


def make_universe(rng: random.Random) -> Universe:
    names = [
        f"{a}-{b}"
        for a in ("support", "search", "sales", "docs", "code", "data")
        for b in ("bot", "assist", "pipeline", "agent", "tools")
    ][:30]
    accounts = list(ACCOUNTS)
    account_weights = [ACCOUNTS[a][1] for a in accounts]
    projects: list[Project] = []
    key_count = 0
    for i, name in enumerate(names):
        if i < 3:  # SDK traffic with no account configured
            provider, account = ("openai", "anthropic", "openai")[i], ""
        else:
            account = rng.choices(accounts, weights=account_weights)[0]
            provider = ACCOUNTS[account][0]
        workspace = (
            f"{account or provider}-ws{rng.randint(1, 2)}" if provider in ("openai", "anthropic") else ""
        )
        n_keys = 1 if key_count >= 48 else rng.choice((1, 1, 2, 2, 3))
        keys = [f"key-{name}-{k}" for k in range(n_keys)]
        key_count += n_keys
        features = rng.sample(FEATURES, rng.randint(2, 5))
        models = rng.sample(PROVIDER_MODELS[provider], min(len(PROVIDER_MODELS[provider]), rng.randint(2, 4)))
        combos = []
        for fi, feature in enumerate(features):
            for mi, model in enumerate(models):
                weight = max(1, 12 // ((fi + 1) * (mi + 1)))
                combos.extend([(rng.choice(keys), feature, model)] * weight)
        tags = json.dumps({"env": rng.choice(("prod", "prod", "staging"))}, separators=(",", ":"))
        source = rng.choice(("api", "api", "sdk", "otlp"))
        projects.append(
            Project(
                name, provider, account, workspace, source, keys, combos, tags if rng.random() < 0.5 else None
            )
        )
    users = [f"u_{i}" for i in range(500)]
    cum, total = [], 0.0
    for rank in range(len(users)):
        total += 1 / (rank + 1) ** 0.7
        cum.append(total)
    project_weights = [1 / (i % 10 + 1) for i in range(len(projects))]
    user_projects = []
    for _ in users:
        home = rng.choices(range(len(projects)), weights=project_weights)[0]
        extra = [rng.randrange(len(projects))] if rng.random() < 0.1 else []
        user_projects.append([home, home, home, *extra])
    return Universe(projects, users, cum, user_projects)


# --- prices as integer nano-rates ---------------------------------------------------------


@dataclass(frozen=True)
class NanoRates:
    """Nanos per token (uncached input, cached read, cache write, output, reasoning) and source."""

    rates: tuple[int, int, int, int, int]
    per_request: int
    source: str


def nano_rates(pricer: Pricer, provider: str, model: str, day: date) -> NanoRates | None:
    """The catalogue's price on `day` as integers; cost is linear below the tier thresholds."""
    rates = pricer.rates_for(provider, model, datetime(day.year, day.month, day.day, 12, tzinfo=UTC))
    if rates is None:
        return None
    if rates not in _NANO_RATES:
        _NANO_RATES[rates] = _integer_rates(rates, f"{provider}/{model} on {day}")
    return _NANO_RATES[rates]


_NANO_RATES: dict[Rates, NanoRates] = {}


def _integer_rates(rates: Rates, what: str) -> NanoRates:
    base = rates.cost(TokenCounts())
    probes = (
        TokenCounts(input=1000),
        TokenCounts(input=1000, cached_input=1000),
        TokenCounts(input=1000, cache_write_5m=1000),
        TokenCounts(output=1000),
        TokenCounts(output=1000, reasoning=1000),
    )
    per_token = []
    for probe in probes:
        nanos = (rates.cost(probe) - base) * 1_000_000  # cost of 1000 tokens → nanos per token
        if nanos != nanos.to_integral_value():
            raise SystemExit(f"{what}: {nanos} nanos per token is not whole; pick another model")
        per_token.append(int(nanos))
    return NanoRates(tuple(per_token), to_nanos(base), rates.source)  # type: ignore[arg-type]


def token_pool(rng: random.Random, model: str, size: int = 4096) -> list[tuple[int, int, int, int, int]]:
    """(input, cached, cache write, output, reasoning) drawn once per model, picked per event."""
    pool = []
    for _ in range(size):
        inp = min(100_000, int(rng.lognormvariate(7.2, 1.1)) + 20)  # below every tier threshold
        if model.startswith("text-embedding"):
            pool.append((inp, 0, 0, 0, 0))
            continue
        cached = int(inp * rng.uniform(0.3, 0.9)) if rng.random() < 0.4 else 0
        write = int((inp - cached) * 0.5) if model.startswith("claude") and rng.random() < 0.1 else 0
        out = min(16_000, int(rng.lognormvariate(5.5, 0.9)) + 1)
        reasoning = int(out * rng.uniform(0.2, 0.8)) if model in REASONING else 0
        pool.append((inp, cached, write, out, reasoning))
    return pool


# --- building the file --------------------------------------------------------------------


def day_counts(events: int) -> list[int]:
    """Events per day: growing over the two years, quieter at weekends; sums to `events`."""
    weights = []
    for d in range(DAYS):
        day = FIRST_DAY + timedelta(days=d)
        weights.append((0.5 + d / DAYS) * (0.55 if day.weekday() >= 5 else 1.15))
    total = sum(weights)
    counts = [int(events * w / total) for w in weights]
    for i in range(events - sum(counts)):
        counts[-1 - i % DAYS] += 1
    return counts


POOL = 1 << 18  # event shapes drawn in Python; each day inserts a window of them in SQL


def event_pool(rng: random.Random) -> Iterator[tuple[Any, ...]]:
    """Event shapes: who called what, with which tokens, at what time of day (no date yet)."""
    uni = make_universe(rng)
    rnd = rng.random
    pools = {m: token_pool(rng, m) for ms in PROVIDER_MODELS.values() for m in ms}
    users = rng.choices(range(len(uni.users)), cum_weights=uni.user_cum_weights, k=POOL)
    for slot, u in enumerate(users):
        homes = uni.user_projects[u]
        p = uni.projects[homes[int(rnd() * len(homes))]]
        key_id, feature, model = p.combos[int(rnd() * len(p.combos))]
        inp, cached, write, out, reasoning = pools[model][int(rnd() * 4096)]
        if model == "gpt-4.1-mini" and rnd() < 0.02:
            model = UNPRICED_MODEL
        us = int(rnd() * 86_400_000_000)
        sec = us // 1_000_000
        clock = f"{sec // 3600:02d}:{sec // 60 % 60:02d}:{sec % 60:02d}.{us % 1_000_000:06d}"
        yield (
            slot,
            clock,
            p.source,
            p.provider,
            p.account,
            p.workspace,
            p.name,
            key_id,
            model,
            uni.users[u],
            feature,
            p.tags,
            inp,
            cached,
            write,
            out,
            reasoning,
        )


def day_rates(pricer: Pricer, day: date) -> list[tuple[Any, ...]]:
    """(model, per request, nanos per token by kind, price source, status, unpriced) for `day`."""
    out: list[tuple[Any, ...]] = []
    for provider, models in PROVIDER_MODELS.items():
        for model in (*models, UNPRICED_MODEL) if provider == "openai" else models:
            nr = nano_rates(pricer, provider, model, day)
            if nr is None:
                out.append((model, 0, 0, 0, 0, 0, 0, None, "unpriced", 1))
            else:
                out.append((model, nr.per_request, *nr.rates, nr.source, "priced", 0))
    return out


# every column but the id (the generator's events serve no customer: '')
_USAGE_COLUMNS = ", ".join(f'"{c.name}"' for c in usage.columns if c.name != "id")
_EVENTS_SQL = f"""
INSERT INTO usage ({_USAGE_COLUMNS})
SELECT :day || ' ' || p.clock, 'api:evt-' || (:seq0 + p.slot - :first), NULL, :day, :day,
  key_hash('api:evt-' || (:seq0 + p.slot - :first)), p.source, 'metered',
  p.provider, p.account, p.workspace, p.project, p.api_key_id, p.model, p.user, p.feature, '', p.tags,
  1, p.inp, p.cached, p.write, 0, p.out, p.reasoning, 0, 0,
  r.per_request + r.r_in * (p.inp - p.cached - p.write) + r.r_cached * p.cached + r.r_write * p.write
    + r.r_out * (p.out - p.reasoning) + r.r_reason * p.reasoning,
  r.unpriced, 1, 'USD', r.status, r.source, NULL, 0, NULL, NULL, NULL, :written_at
FROM g_pool p JOIN g_rate r ON r.model = p.model
WHERE p.slot >= :first AND p.slot < :first + :n
"""
# A provider's billing bucket per day, workspace, project and model, for the accounts a
# billing sync covers; it differs from the metered estimate by -3 % .. +5 %.
_BILLED_SQL = f"""
INSERT INTO usage ({_USAGE_COLUMNS})
SELECT :day || ' 00:00:00.000000',
  provider || ':' || account || ':cost:' || workspace || ':' || project || ':' || model,
  :next_day || ' 00:00:00.000000', :day, :day, NULL, provider || '-billing-' || account, 'billed', provider,
  account, workspace, project, '', model, '', '', '', NULL,
  SUM(requests), SUM(input_tokens), SUM(cached_input_tokens), SUM(cache_write_5m_tokens), 0,
  SUM(output_tokens), SUM(reasoning_tokens), 0, 0,
  SUM(cost_nanos) * (970 + (length(project) * 31 + length(model) * 17 + :d * 7) % 80) / 1000,
  0, 1, 'USD', 'provider', NULL, NULL, 0, NULL, NULL, NULL, :written_at
FROM usage WHERE day = :day AND basis = 'metered' AND account IN ({{accounts}})
GROUP BY account, workspace, project, model
"""

_MANUAL_SQL = f"""
INSERT INTO usage ({_USAGE_COLUMNS})
VALUES (?, ?, ?, ?, ?, NULL, 'manual', 'manual', ?, '', '', '', '', ?, '', '', '', NULL,
  0, 0, 0, 0, 0, 0, 0, 0, 0, ?, 0, 1, 'USD', 'provider', NULL, NULL, 0, NULL, NULL, NULL, ?)
"""


def build_usage(db: sqlite3.Connection, events: int, written_at: str) -> int:
    """Fill `usage`: per day, a window of the event pool priced at that day's rates, then billing."""
    rng = random.Random(SEED)
    db.execute(
        "CREATE TEMP TABLE g_pool (slot INTEGER PRIMARY KEY, clock, source, provider, account, "
        "workspace, project, api_key_id, model, user, feature, tags, inp, cached, write, out, reasoning)"
    )
    db.executemany(f"INSERT INTO g_pool VALUES ({', '.join('?' * 17)})", event_pool(rng))
    db.execute(
        "CREATE TEMP TABLE g_rate (model TEXT PRIMARY KEY, per_request, r_in, r_cached, r_write, r_out, "
        "r_reason, source, status, unpriced)"
    )
    pricer = Pricer()
    rates: list[tuple[Any, ...]] = []
    seq = 0
    t0 = time.perf_counter()
    for d, n in enumerate(day_counts(events)):
        day = FIRST_DAY + timedelta(days=d)
        iso, next_day = day.isoformat(), (day + timedelta(days=1)).isoformat()
        today_rates = day_rates(pricer, day)
        if today_rates != rates:
            db.execute("DELETE FROM g_rate")
            db.executemany(f"INSERT INTO g_rate VALUES ({', '.join('?' * 10)})", today_rates)
            rates = today_rates
        params = {"day": iso, "next_day": next_day, "d": d, "written_at": written_at}
        first = (d * 104_729) % (POOL - n + 1) if n < POOL else 0
        done = 0
        while done < n:  # more events a day than the pool holds: several windows
            chunk = min(n - done, POOL - first)
            db.execute(_EVENTS_SQL, {**params, "seq0": seq + 1, "first": first, "n": chunk})
            seq += chunk
            done += chunk
            first = 0
        covered = [a for a, since in BILLED_SINCE.items() if (TODAY - day).days < since]
        if covered:
            db.execute(_BILLED_SQL.format(accounts=", ".join(f"'{a}'" for a in covered)), params)
        if day.day == 1:  # subscriptions: a month-long bucket, counted at its midpoint
            month_end = (day + timedelta(days=32)).replace(day=1)
            mid = (day + (month_end - day) / 2).isoformat()
            for provider, model, dollars in (
                ("openai", "chatgpt-team", 750),
                ("github", "copilot-business", 380),
            ):
                db.execute(
                    _MANUAL_SQL,
                    (
                        f"{iso} 00:00:00.000000",
                        f"manual:{provider}:{model}",
                        f"{month_end} 00:00:00.000000",
                        mid,
                        mid,  # the UTC day: the ledger counts days in UTC here
                        provider,
                        model,
                        dollars * 1_000_000_000,
                        written_at,
                    ),
                )
        if d % 30 == 29:
            db.execute("COMMIT")
            db.execute("BEGIN")
            print(
                f"\r  building: {d + 1}/{DAYS} days, {seq:,} events, {time.perf_counter() - t0:.0f} s",
                end="",
                file=sys.stderr,
                flush=True,
            )
    return seq


def build_sqlite(path: Path, events: int) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    t0 = time.perf_counter()
    db = sqlite3.connect(path, isolation_level=None)
    db.create_function("key_hash", 1, key_hash, deterministic=True)  # events' unique id hash
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA cache_size=-262144")
    written_at = datetime.now(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    db.execute("BEGIN")
    build_usage(db, events, written_at)
    db.execute("COMMIT")
    total = db.execute("SELECT count(*) FROM usage").fetchone()[0]
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    t1 = time.perf_counter()
    print(
        f"\r  usage: {total:,} rows in {t1 - t0:.0f} s ({total / (t1 - t0) / 1000:.0f} k rows/s)" + " " * 20
    )
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        set_meta(conn, "timezone", UTC_ZONE.key)  # the rows are dated in UTC: no re-dating needed
        counts = rebuild_rollups(conn, tz=UTC_ZONE)
        set_meta(conn, "bench_build", f"{BUILD_VERSION}:{events}")
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    t2 = time.perf_counter()
    print(f"  rollups rebuilt in {t2 - t1:.0f} s: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))


def get_sqlite_meta(path: Path) -> str | None:
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        row = db.execute("SELECT value FROM ledger_meta WHERE name = 'bench_build'").fetchone()
        db.close()
    except sqlite3.Error:
        return None
    return row[0] if row else None


def check_prices(conn: Connection, sample: int = 2000) -> str:
    """Re-price a sample of the generated events through `Pricer`: the stored cost must match."""
    pricer = Pricer()
    max_id = conn.execute(select(func.max(usage.c.id))).scalar_one()
    rng = random.Random(1)
    ids = sorted(rng.sample(range(1, max_id + 1), min(sample, max_id)))
    rows = conn.execute(select(usage).where(usage.c.id.in_(ids), usage.c.basis == "metered")).all()
    bad = 0
    for row in rows:
        record = row_to_record(row)
        record.cost, record.price_source = None, None
        pricer.price(record)
        cost = None if record.cost is None else to_nanos(record.cost)
        stored = None if row.pricing_status == "unpriced" else row.cost_nanos
        if (cost, str(record.pricing_status), record.price_source) != (
            stored,
            row.pricing_status,
            row.price_source,
        ):
            bad += 1
    if bad:
        raise SystemExit(f"pricing check: {bad} of {len(rows)} sampled events differ from Pricer")
    return f"pricing check: {len(rows):,} sampled events re-priced through Pricer, all equal"


# --- the queries --------------------------------------------------------------------------


def explorer_queries() -> list[tuple[str, queries.SpendQuery]]:
    def q(**kw: Any) -> queries.SpendQuery:
        return queries.build_query(today=TODAY, **kw)

    two_years = {"start": FIRST_DAY.isoformat(), "end": TODAY.isoformat()}
    return [
        ("7d total", q(period="7d")),
        ("30d by provider", q(period="30d", by=["provider"])),
        ("30d by model", q(period="30d", by=["model"])),
        ("90d by project+model", q(period="90d", by=["project,model"])),
        ("mtd by user", q(period="mtd", by=["user"])),
        ("last-month by feature", q(period="last-month", by=["feature"])),
        ("ytd by provider, monthly", q(period="ytd", by=["provider"], granularity="month")),
        ("2y total, monthly", q(**two_years, granularity="month")),
        ("2y by provider, monthly, all", q(**two_years, by=["provider"], granularity="month", basis="all")),
        ("30d openai, daily", q(period="30d", filters=["provider=openai"], granularity="day")),
        ("90d by provider, weekly", q(period="90d", by=["provider"], granularity="week")),
        ("ytd project=support-bot by model", q(period="ytd", by=["model"], filters=["project=support-bot"])),
        ("30d user=u_3, daily", q(period="30d", filters=["user=u_3"], granularity="day")),
        (
            "90d openai by key, metered",
            q(period="90d", by=["api_key_id"], filters=["provider=openai"], basis="metered"),
        ),
        ("last-month by project, billed", q(period="last-month", by=["project"], basis="billed")),
        ("7d by model, daily, metered", q(period="7d", by=["model"], granularity="day", basis="metered")),
        ("ytd by feature, weekly", q(period="ytd", by=["feature"], granularity="week")),
        ("2y by user", q(**two_years, by=["user"])),
        (
            "90d feature=chat by provider, daily",
            q(period="90d", by=["provider"], filters=["feature=chat"], granularity="day"),
        ),
        (
            "2y model=gpt-4o-mini by project, monthly",
            q(**two_years, by=["project"], filters=["model=gpt-4o-mini"], granularity="month"),
        ),
    ]


Answer = dict[tuple[Any, ...], tuple[int, ...]]


def rollup_answer(report: queries.SpendReport) -> Answer:
    out: Answer = {}
    for r in report.rows:
        key = (r.period, *r.dims.values(), r.currency)
        out[key] = (
            to_nanos(r.cost),
            r.requests,
            r.input_tokens,
            r.cached_input_tokens,
            r.cache_write_tokens,
            r.output_tokens,
            r.reasoning_tokens,
            r.unpriced_requests,
        )
    return out


def raw_statement(query: queries.SpendQuery) -> tuple[str, dict[str, Any]]:
    """The aggregate `spend` computes, written by hand against `usage` alone.

    "Best": a metered record counts unless a billed record of its account covers its UTC
    day (for a record with no account: the provider's only billed account that day). The
    covered keys are joined as sets: a correlated NOT EXISTS or a row-value NOT IN on
    `usage` takes minutes on SQLite.
    """
    params: dict[str, Any] = {"start": query.start.isoformat(), "end": query.end.isoformat()}
    select_cols, group = [], []
    if query.granularity in (queries.Granularity.DAY, queries.Granularity.WEEK):
        select_cols.append("u.day")
        group.append("u.day")
    elif query.granularity is queries.Granularity.MONTH:
        select_cols.append("substr(u.day, 1, 7)")
        group.append("substr(u.day, 1, 7)")
    else:
        select_cols.append("NULL")
    for d in query.by:
        select_cols.append(f'u."{d}"')
        group.append(f'u."{d}"')
    group.append("u.currency")
    joins = ""
    where = ["u.day >= :start", "u.day <= :end"]
    for i, (dim, values) in enumerate(query.filters.items()):
        names = []
        for j, v in enumerate(values):
            params[f"f{i}_{j}"] = "" if v in ("", "-", "none") else v
            names.append(f":f{i}_{j}")
        where.append(f'u."{dim}" IN ({", ".join(names)})')
    if query.basis == "best":
        # a bill covers its UTC day: a call of its own account, or one with no account when
        # the provider has exactly one billed account that day (the local days' UTC days
        # reach a day either side)
        params["ustart"] = (query.start - timedelta(days=1)).isoformat()
        params["uend"] = (query.end + timedelta(days=1)).isoformat()
        billed = "FROM usage WHERE basis = 'billed' AND utc_day >= :ustart AND utc_day <= :uend"
        joins = (
            f" LEFT JOIN (SELECT DISTINCT utc_day, provider, account {billed}) ca"
            " ON ca.utc_day = u.utc_day AND ca.provider = u.provider AND ca.account = u.account"
            f" LEFT JOIN (SELECT utc_day, provider, COUNT(DISTINCT account) AS n {billed}"
            " GROUP BY utc_day, provider) cp ON cp.utc_day = u.utc_day AND cp.provider = u.provider"
        )
        where.append(
            "(u.basis <> 'metered' OR (u.account <> '' AND ca.utc_day IS NULL)"
            " OR (u.account = '' AND (cp.n IS NULL OR cp.n <> 1)))"
        )
    elif query.basis != "all":
        where.append("u.basis = :basis")
        params["basis"] = query.basis
    sums = ", ".join(
        f"SUM({m})"
        for m in (
            "u.cost_nanos",
            "u.requests",
            "u.input_tokens",
            "u.cached_input_tokens",
            "u.cache_write_5m_tokens + u.cache_write_1h_tokens",
            "u.output_tokens",
            "u.reasoning_tokens",
            "u.unpriced_requests",
        )
    )
    sql = (
        f"SELECT {', '.join(select_cols)}, u.currency, {sums} FROM usage u{joins} "
        f"WHERE {' AND '.join(where)} GROUP BY {', '.join(group)}"
    )
    return sql, params


def raw_answer(conn: Connection, query: queries.SpendQuery) -> Answer:
    sql, params = raw_statement(query)
    out: dict[tuple[Any, ...], list[int]] = {}
    for row in conn.execute(text(sql), params):
        period = row[0]
        if query.granularity is queries.Granularity.WEEK:
            day = date.fromisoformat(period)
            period = (day - timedelta(days=day.weekday())).isoformat()
        key = (period, *((v or None) for v in row[1 : 1 + len(query.by)]), row[1 + len(query.by)])
        acc = out.setdefault(key, [0] * 8)
        for i, v in enumerate(row[2 + len(query.by) :]):
            acc[i] += int(v or 0)
    return {k: tuple(v) for k, v in out.items()}


def timed(fn: Callable[[], Any], runs: int) -> tuple[list[float], Any]:
    times, result = [], None
    for _ in range(runs):
        t = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t) * 1000)
    return times, result


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile: the smallest value with at least p of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p * len(ordered)) - 1)]


def run_queries(engine: Engine, runs: int, raw_runs: int, raw: bool) -> bool:
    """Time every explorer query warm through `spend`, then the raw aggregate; print a table."""
    all_rollup: list[float] = []
    raw_medians: list[float] = []
    speedups: list[float] = []
    wrong = 0
    print(
        f"{'#':>2}  {'query':<42}{'table':<15}{'rows':>5}{'rollup ms':>10}{'max':>7}"
        + (f"{'raw ms':>9}{'speed-up':>10}  same" if raw else "")
    )
    with engine.connect() as conn:
        for i, (label, query) in enumerate(explorer_queries(), 1):
            queries.spend(conn, query)  # warm-up: statement cache, pages
            times, report = timed(partial(queries.spend, conn, query), runs)
            all_rollup.extend(times)
            rollup_ms = statistics.median(times)
            line = f"{i:>2}  {label:<42}{report.table:<15}{len(report.rows):>5}"
            line += f"{rollup_ms:>10.1f}{max(times):>7.1f}"
            if raw:
                first, answer = timed(partial(raw_answer, conn, query), 1)
                raw_times = first if first[0] > 1000 else timed(partial(raw_answer, conn, query), raw_runs)[0]
                raw_ms = statistics.median(raw_times)
                same = rollup_answer(report) == answer
                wrong += not same
                raw_medians.append(raw_ms)
                speedups.append(raw_ms / rollup_ms)
                line += f"{raw_ms:>9.0f}{raw_ms / rollup_ms:>9.0f}x  {'yes' if same else 'NO'}"
            print(line, flush=True)
    p50, p95 = percentile(all_rollup, 0.5), percentile(all_rollup, 0.95)
    print(
        f"rollup: p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {max(all_rollup):.1f} ms "
        f"(nearest rank over {len(all_rollup)} warm runs, {runs} per query)"
    )
    ok_time = p95 <= 50
    if not raw:
        print(
            f"target p95 <= 50 ms: {'PASS' if ok_time else 'FAIL'} (raw not run: no speed-up or answer check)"
        )
        return ok_time
    raw_p50, raw_p95 = percentile(raw_medians, 0.5), percentile(raw_medians, 0.95)
    median_speedup = statistics.median(speedups)
    print(f"raw: p50 {raw_p50:.0f} ms, p95 {raw_p95:.0f} ms (per-query medians)")
    print(
        f"speed-up raw/rollup: median {median_speedup:.0f}x, min {min(speedups):.0f}x; "
        f"p95 raw / p95 rollup = {raw_p95 / p95:.0f}x"
    )
    ok_speed, ok_same = median_speedup >= 20, wrong == 0
    print(
        f"target p95 <= 50 ms: {'PASS' if ok_time else 'FAIL'}; median speed-up >= 20x: "
        f"{'PASS' if ok_speed else 'FAIL'}; rollup answers equal raw: {20 - wrong}/20 "
        f"{'PASS' if ok_same else 'FAIL'}"
    )
    return ok_time and ok_speed and ok_same


def describe(engine: Engine) -> str:
    with engine.connect() as conn:
        counts = {
            "usage": conn.execute(select(func.count()).select_from(usage)).scalar_one(),
            **{n: conn.execute(select(func.count()).select_from(t)).scalar_one() for n, t in rollups.items()},
        }
        bases: dict[str, int] = dict(
            conn.execute(select(usage.c.basis, func.count()).group_by(usage.c.basis)).all()
        )
    return (
        ", ".join(f"{k} {v:,}" for k, v in counts.items())
        + "; by basis: "
        + ", ".join(f"{k} {v:,}" for k, v in sorted(bases.items()))
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", nargs="?", type=Path, help="SQLite file (default: in the temp dir)")
    parser.add_argument("--events", type=int, default=10_000_000, help="metered events (default 10 M)")
    parser.add_argument("--keep", action="store_true", help="reuse the file if a run with --events built it")
    parser.add_argument("--runs", type=int, default=5, help="timed warm runs per rollup query")
    parser.add_argument("--raw-runs", type=int, default=3, help="timed runs per raw query (1 if over 1 s)")
    parser.add_argument(
        "--no-raw",
        dest="raw",
        action="store_false",
        help="time the rollup side only (no speed-up, no answer check): for quick reruns",
    )
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="also run on this PostgreSQL server, in a database "
        f"{PG_DATABASE} the benchmark creates and fills with the same rows (bench/query_postgres.py)",
    )
    parser.add_argument(
        "--no-sqlite",
        dest="sqlite",
        action="store_false",
        help="with --postgres: build and time PostgreSQL only (no SQLite file: 100 M events)",
    )
    parser.add_argument(
        "--pg-database",
        default=PG_DATABASE,
        help=f"with --postgres: the database's name (default {PG_DATABASE})",
    )
    parser.add_argument(
        "--drop", action="store_true", help="with --postgres: drop the benchmark's database at the end"
    )
    args = parser.parse_args()
    path = args.path or Path(tempfile.gettempdir()) / "spendledger-bench" / f"query-{args.events}.db"
    build = f"{BUILD_VERSION}:{args.events}"
    print(
        f"spendledger query benchmark: {args.events:,} events {FIRST_DAY}..{TODAY}, "
        f"SQLite {sqlite3.sqlite_version}"
    )
    ok = True
    if args.sqlite:
        if args.keep and get_sqlite_meta(path) == build:
            print(f"  reusing {path}")
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            build_sqlite(path, args.events)
        size = sum(Path(f"{path}{s}").stat().st_size for s in ("", "-wal") if Path(f"{path}{s}").exists())
        engine = make_engine(f"sqlite:///{path}")
        print(f"  {path} ({size / 1e9:.2f} GB): {describe(engine)}")
        with engine.connect() as conn:
            print("  " + check_prices(conn))
        print("\nSQLite")
        ok = run_queries(engine, args.runs, args.raw_runs, args.raw)
        engine.dispose()
    if args.postgres:
        import query_postgres  # noqa: PLC0415 - it imports this module's builders

        pg = query_postgres.postgres_engine(args.postgres, args.pg_database, fresh=not args.keep)
        with pg.connect() as conn:
            reuse = args.keep and _pg_meta(conn) == build
            records_in = args.keep and _pg_meta(conn, "bench_records") == build
        if reuse:
            print(f"\n  reusing PostgreSQL database {args.pg_database}")
        elif records_in:  # a run stopped after loading the records
            print(f"\n  reusing the records in PostgreSQL database {args.pg_database}")
            query_postgres.finish_build(pg, args.events)
        else:
            if args.keep:  # a database of another build: start again
                pg.dispose()
                pg = query_postgres.postgres_engine(args.postgres, args.pg_database, fresh=True)
            print(f"\nbuilding PostgreSQL database {args.pg_database}")
            query_postgres.build_postgres(pg, args.events)
        with pg.connect() as conn:
            server = conn.exec_driver_sql("SHOW server_version").scalar_one()
            print(f"  PostgreSQL {server}: {query_postgres.sizes(pg)}")
            print("  " + check_prices(conn))
        print(f"\nPostgreSQL ({args.pg_database}): {describe(pg)}")
        ok = run_queries(pg, args.runs, args.raw_runs, args.raw) and ok
        pg.dispose()
        if args.drop:
            query_postgres.drop_database(args.postgres, args.pg_database)
            print(f"  dropped {args.pg_database}")
    return 0 if ok else 1


def _pg_meta(conn: Connection, name: str = "bench_build") -> str | None:
    try:
        return get_meta(conn, name)
    except Exception:  # noqa: BLE001 - no ledger there yet
        conn.rollback()
        return None


if __name__ == "__main__":
    sys.exit(main())
