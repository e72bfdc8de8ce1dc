"""Demo data: a realistic, deterministic ledger for trying spendledger without API keys.

Everything comes from `random.Random(seed)` and the `end` date, never the clock, so the
same (end, days, seed) gives the same records, keys and total on every machine: tests
can assert exact figures, and a screenshot can be reproduced.

The shape is what a small company sees: three OpenAI organisations with projects, two
Anthropic workspaces, Mistral and Google; ~15 users and a handful of features; cached
input, o3 reasoning, quieter weekends, growth over the period and a few spikes where
one user's usage of one model jumps 6-10x. Each record aggregates a day of calls of one
(org, project, model, user, feature), so 180 days is ~50 k records, not millions.

Demo data must never pass for real data: records have basis "demo", which every report
labels, and every account is named `demo-…`, a name no real organisation has. Beside
them, demo_bill.py adds a bill and its metering for three more `demo-…` accounts (basis
billed and metered, sources `demo-billing` and `demo-tracker`), which differ in known
ways for the reconciliation to find. A monthly
budget on the demo's OpenAI organisations (`DEMO_BUDGET`), set so this month's spend
has just passed 80 % of it, gives /budgets and /alerts something to show. `clear_demo`
removes the records, that budget and its alerts, and nothing else.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from spendledger.demo_bill import LABS, SOURCES, bill_records
from spendledger.pricing import Pricer
from spendledger.queries import SpendQuery, spend
from spendledger.queries import has_demo as demo_in_rollups  # one indexed look-up
from spendledger.records import Basis, TokenCounts, UsageRecord, from_nanos, to_nanos
from spendledger.store import Connection, Engine
from spendledger.store.alerts import delete_alerts
from spendledger.store.budgets import BudgetRow, add_budget, list_budgets, remove_budget
from spendledger.store.ledger import any_record, delete_records, write_records

SOURCE = "demo"
DEMO_BUDGET = "demo: OpenAI organisations, monthly"
DEMO_BUDGET_USED = Decimal("0.85")  # this month's spend over the amount: past the 80 % threshold
BATCH = 5000
USERS: tuple[str, ...] = tuple(f"u_{i:02d}" for i in range(1, 16))

# progress(records written so far, records to write)
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class _Project:
    provider: str
    account: str
    workspace: str
    project: str
    api_key_id: str
    models: tuple[tuple[str, float], ...]  # (model, share of the project's calls)
    features: tuple[str, ...]
    users: int  # how many users call each (model, feature)
    scale: float  # typical calls per stream and weekday at the end of the period


_PROJECTS: tuple[_Project, ...] = (
    _Project("openai", "demo-openai-tutoring", "", "Tutor", "key_tutor_prod",
             (("gpt-4o-mini", 0.75), ("gpt-4o", 0.25)), ("chat", "summarise", "classify"), 10, 120),
    _Project("openai", "demo-openai-tutoring", "", "Quiz generator", "key_quiz",
             (("gpt-4.1-mini", 0.8), ("gpt-4o", 0.2)), ("extract", "classify"), 6, 70),
    _Project("openai", "demo-openai-tutoring", "", "Grading", "key_grading",
             (("o3", 0.3), ("gpt-4o-mini", 0.7)), ("classify", "summarise"), 5, 50),
    _Project("openai", "demo-openai-stories", "", "Story engine", "key_story",
             (("gpt-4o", 0.45), ("gpt-4.1-mini", 0.55)), ("chat", "summarise"), 8, 90),
    _Project("openai", "demo-openai-stories", "", "Moderation", "key_moderation",
             (("gpt-4o-mini", 1.0),), ("classify",), 5, 260),
    _Project("openai", "demo-openai-stories", "", "Translations", "key_translate",
             (("gpt-4.1-mini", 1.0),), ("translate",), 4, 70),
    _Project("openai", "demo-openai-research", "", "Literature review", "key_litreview",
             (("o3", 0.35), ("gpt-4o", 0.65)), ("search", "summarise"), 6, 40),
    _Project("openai", "demo-openai-research", "", "Agents", "key_agents",
             (("o3", 0.4), ("gpt-4.1-mini", 0.6)), ("codegen", "search"), 6, 40),
    _Project("openai", "demo-openai-research", "", "Evals", "key_evals",
             (("gpt-4o-mini", 0.6), ("gpt-4.1-mini", 0.4)), ("classify",), 4, 180),
    _Project("openai", "demo-openai-research", "", "Sandbox", "key_sandbox",
             (("gpt-4o", 0.5), ("o3", 0.2), ("gpt-4o-mini", 0.3)), ("chat",), 9, 15),
    _Project("anthropic", "demo-anthropic", "Default workspace", "", "key_claude_default",
             (("claude-sonnet-4-5", 0.55), ("claude-3-5-haiku", 0.45)),
             ("chat", "summarise", "extract"), 8, 50),
    _Project("anthropic", "demo-anthropic", "Claude Code", "", "key_claude_code",
             (("claude-sonnet-4-5", 1.0),), ("codegen",), 9, 45),
    _Project("mistral", "demo-mistral-eu", "", "Translations EU", "key_mistral",
             (("mistral-large-latest", 0.4), ("mistral-small-latest", 0.6)),
             ("translate", "summarise"), 4, 80),
    _Project("google", "demo-gcp-research", "", "Search assistant", "key_gemini",
             (("gemini-2.5-flash", 0.8), ("gemini-2.5-pro", 0.2)), ("search", "summarise"), 6, 100),
)  # fmt: skip

# Typical tokens per call by feature: (input, output).
_FEATURE_TOKENS: dict[str, tuple[int, int]] = {
    "summarise": (3500, 350),
    "chat": (1500, 450),
    "search": (2500, 300),
    "classify": (600, 8),
    "codegen": (7000, 900),
    "extract": (2800, 500),
    "translate": (1200, 1300),
}

# The customers (tenants) the customer-facing products serve, each user one customer's
# (`report --by customer`, the showback); the internal projects serve none. The sandbox
# and the evals run in staging (`report --by tag:env`).
_CUSTOMER_FACING = frozenset(
    {"Tutor", "Quiz generator", "Grading", "Story engine", "Translations", "Search assistant"}
)
_CUSTOMERS = ("northwind-school", "lakeside-academy", "acme-learning")
_STAGING = frozenset({"Sandbox", "Evals"})

# Share of input read from the prompt cache, by provider (Claude Code caches heavily).
_CACHED_SHARE: dict[str, float] = {"openai": 0.3, "anthropic": 0.5, "google": 0.15, "mistral": 0.0}


@dataclass(frozen=True)
class _Stream:
    """One (project, model, user, feature): a record per day it is active."""

    project: _Project
    model: str
    user: str
    feature: str
    calls: float  # calls on a weekday at the end of the period
    first_day: int  # day index the stream starts on (later streams make the growth)
    active: float  # chance of any call on a weekday


@dataclass(frozen=True)
class _Spike:
    stream: int
    first_day: int
    days: int
    factor: float

    def covers(self, day_index: int) -> bool:
        return self.first_day <= day_index < self.first_day + self.days


@dataclass(frozen=True)
class DemoSpike:
    """A jump the demo data holds on purpose: one stream's calls ×factor on days first..last."""

    provider: str
    project: str
    api_key_id: str
    model: str
    user: str
    feature: str
    first: date
    last: date
    factor: float


@dataclass
class DemoResult:
    records: int
    total_cost: Decimal  # exactly what the ledger sums (each cost rounded to nano-units)
    budget: BudgetRow | None = None  # the demo's budget (None when one of that name was there)


def demo_records(*, tz: ZoneInfo, end: date, days: int = 180, seed: int = 7) -> list[UsageRecord]:
    """The demo ledger ending on `end` (local dates in `tz`), priced from the catalogue."""
    if days < 1:
        raise ValueError("days must be 1 or more")
    rng = random.Random(seed)
    streams = _streams(rng, days)
    spikes = _spikes(rng, streams, days)
    pricer = Pricer()
    records = list(_generate(rng, streams, spikes, tz=tz, end=end, days=days))
    pricer.price_all(records)
    return records


def demo_spikes(*, end: date, days: int = 180, seed: int = 7) -> list[DemoSpike]:
    """The spikes `demo_records` with the same arguments puts in the data (what an anomaly
    detector should find: bench/anomalies.py)."""
    return _changes(end=end, days=days, seed=seed)[0]


def demo_starts(*, end: date, days: int = 180, seed: int = 7) -> list[DemoSpike]:
    """The streams that start during the period (a user taking up a model): step changes
    the demo data holds besides its spikes, each as a "spike" from its first day on."""
    return _changes(end=end, days=days, seed=seed)[1]


def _changes(*, end: date, days: int, seed: int) -> tuple[list[DemoSpike], list[DemoSpike]]:
    """(the spikes, the streams that start during the period), as `demo_records` makes them."""
    rng = random.Random(seed)
    streams = _streams(rng, days)
    first = end - timedelta(days=days - 1)

    def change(stream: _Stream, first_day: int, last_day: int, factor: float) -> DemoSpike:
        project = stream.project
        return DemoSpike(
            provider=project.provider,
            project=project.project,
            api_key_id=project.api_key_id,
            model=stream.model,
            user=stream.user,
            feature=stream.feature,
            first=first + timedelta(days=first_day),
            last=first + timedelta(days=last_day),
            factor=factor,
        )

    starts = [change(s, s.first_day, days - 1, 1.0) for s in streams if s.first_day > 0]
    spikes = [
        change(streams[sp.stream], sp.first_day, min(sp.first_day + sp.days, days) - 1, sp.factor)
        for sp in _spikes(rng, streams, days)
    ]
    return spikes, starts


def load_demo(
    engine: Engine,
    *,
    tz: ZoneInfo,
    end: date,
    days: int = 180,
    seed: int = 7,
    progress: Progress | None = None,
) -> DemoResult:
    """Write the demo ledger (its calls, then its bill and metering: demo_bill.py) in
    batches, one transaction each; returns what was written."""
    records = demo_records(tz=tz, end=end, days=days, seed=seed) + bill_records(end=end, days=days, seed=seed)
    total_nanos = 0
    written = 0
    if progress:
        progress(0, len(records))
    for i in range(0, len(records), BATCH):
        batch = records[i : i + BATCH]
        with engine.begin() as conn:
            result = write_records(conn, batch, tz=tz)
        written += result.inserted
        total_nanos += sum(to_nanos(r.cost) for r in batch if r.cost is not None and counted(r))
        if progress:
            progress(i + len(batch), len(records))
    with engine.begin() as conn:
        budget = add_demo_budget(conn, end=end)
    return DemoResult(records=written, total_cost=from_nanos(total_nanos), budget=budget)


def counted(record: UsageRecord) -> bool:
    """Whether a demo record counts in a best-available total: all but the metering of the
    accounts the demo's bill covers (every day of them)."""
    return record.basis is not Basis.METERED or record.account == LABS


def add_demo_budget(conn: Connection, *, end: date, now: datetime | None = None) -> BudgetRow | None:
    """The demo's monthly budget on its OpenAI organisations, its amount set so that the
    month's spend up to `end` is 85 % of it (whole dollars); None when it exists already."""
    if any(b.name == DEMO_BUDGET for b in list_budgets(conn)):
        return None
    scope = {"account": tuple(sorted({p.account for p in _PROJECTS if p.provider == "openai"}))}
    query = SpendQuery(start=end.replace(day=1), end=end, filters=scope)
    spent = spend(conn, query).totals.get("USD", Decimal(0))
    amount = max(Decimal(1), (spent / DEMO_BUDGET_USED).quantize(Decimal(1)))
    return add_budget(conn, name=DEMO_BUDGET, amount=amount, now=now or datetime.now(UTC), scope=scope)


def clear_demo(engine: Engine) -> int:
    """Remove the demo records (and their share of the rollups), the demo budget and its
    alerts; returns how many records."""
    with engine.begin() as conn:
        if any(b.name == DEMO_BUDGET for b in list_budgets(conn)):
            remove_budget(conn, DEMO_BUDGET)
        delete_alerts(conn, budget=DEMO_BUDGET)
        removed = delete_records(conn, basis=str(Basis.DEMO))
        return removed + sum(delete_records(conn, source=source) for source in SOURCES)


def demo_state(conn: Connection) -> str:
    """What the pages say about demo data: "" (none), "alone" (only demo records), or
    "mixed" (demo records counted alongside real ones)."""
    if not demo_in_rollups(conn):
        return ""
    return "mixed" if has_other_data(conn) else "alone"


def has_demo(conn: Connection) -> bool:
    return any_record(conn, basis=str(Basis.DEMO))


def has_other_data(conn: Connection) -> bool:
    """True when the ledger holds real (non-demo) records the demo would mix with."""
    return any_record(conn, other_than=str(Basis.DEMO), sources_other_than=SOURCES)


def _streams(rng: random.Random, days: int) -> list[_Stream]:
    streams = []
    for project in _PROJECTS:
        for feature in project.features:
            for model, share in project.models:
                for user in rng.sample(USERS, project.users):
                    late = rng.random() < 0.35  # a third of the usage arrives during the period
                    streams.append(
                        _Stream(
                            project=project,
                            model=model,
                            user=user,
                            feature=feature,
                            calls=3 * project.scale * share * rng.lognormvariate(0, 0.6),
                            first_day=rng.randrange(days) if late else 0,
                            active=min(0.97, 0.55 + 0.5 * share + rng.uniform(-0.1, 0.1)),
                        )
                    )
    return streams


def _spikes(rng: random.Random, streams: list[_Stream], days: int) -> list[_Spike]:
    """A runaway agent, a batch job and a load test: one stream each jumps 6-10x."""
    pricey = [i for i, s in enumerate(streams) if s.model in ("o3", "gpt-4o", "claude-sonnet-4-5")]
    pricey.sort(key=lambda i: -streams[i].calls * sum(_FEATURE_TOKENS[streams[i].feature]))
    picks = rng.sample(pricey[:4], 3)
    # one in the last ten days (a report shows it), two after a fortnight of baseline
    starts = [
        days - 1 - rng.randrange(min(days, 10)),
        *(rng.randrange(min(14, days - 1), days) for _ in range(2)),
    ]
    return [
        _Spike(stream=s, first_day=d, days=rng.randint(1, 3), factor=rng.uniform(6, 10))
        for s, d in zip(picks, starts, strict=True)
    ]


def _generate(
    rng: random.Random, streams: list[_Stream], spikes: list[_Spike], *, tz: ZoneInfo, end: date, days: int
) -> Iterator[UsageRecord]:
    n = 0
    first = end - timedelta(days=days - 1)
    for index in range(days):
        day = first + timedelta(days=index)
        weekend = day.weekday() >= 5
        growth = 0.55 + 0.45 * (index / max(1, days - 1)) ** 1.3
        for s_index, stream in enumerate(streams):
            spike = next((sp.factor for sp in spikes if sp.stream == s_index and sp.covers(index)), None)
            if spike is None and index < stream.first_day:
                continue
            if rng.random() > stream.active * (0.5 if weekend else 1.0) and spike is None:
                continue
            calls = stream.calls * growth * (0.75 if weekend else 1.0) * rng.lognormvariate(0, 0.2)
            calls *= spike or 1.0
            # a busy stream is recorded as a few hourly aggregates, a quiet one as a daily one
            pieces = 1 + min(3, int(calls // 250))
            for _ in range(pieces):
                n += 1
                requests = max(2, round(calls / pieces))
                yield _record(rng, stream, n, requests, _local_time(rng, day, tz))


def _local_time(rng: random.Random, day: date, tz: ZoneInfo) -> datetime:
    hour = min(23, max(0, round(rng.gauss(14, 3.5))))
    return datetime(day.year, day.month, day.day, hour, rng.randrange(60), rng.randrange(60), tzinfo=tz)


def _record(rng: random.Random, stream: _Stream, n: int, requests: int, start: datetime) -> UsageRecord:
    project = stream.project
    per_input, per_output = _FEATURE_TOKENS[stream.feature]
    reasoning_model = stream.model == "o3"
    if reasoning_model:
        per_output *= 3
    input_tokens = max(requests, math.floor(requests * per_input * rng.lognormvariate(0, 0.15)))
    output_tokens = max(requests, math.floor(requests * per_output * rng.lognormvariate(0, 0.2)))
    cached_share = _CACHED_SHARE[project.provider] * (1.4 if stream.feature == "codegen" else 1.0)
    cached = math.floor(input_tokens * min(0.9, cached_share * rng.uniform(0.6, 1.2)))
    cache_write = math.floor((input_tokens - cached) * 0.1) if project.provider == "anthropic" else 0
    reasoning = math.floor(output_tokens * rng.uniform(0.6, 0.8)) if reasoning_model else 0
    return UsageRecord(
        key=f"demo:{n}",
        source=SOURCE,
        basis=Basis.DEMO,
        start=start,
        provider=project.provider,
        model=stream.model,
        account=project.account,
        workspace=project.workspace,
        project=project.project,
        api_key_id=project.api_key_id,
        user=stream.user,
        feature=stream.feature,
        customer=_CUSTOMERS[USERS.index(stream.user) % 3] if project.project in _CUSTOMER_FACING else "",
        tags={"env": "staging" if project.project in _STAGING else "prod"},
        requests=requests,
        tokens=TokenCounts(
            input=input_tokens,
            cached_input=cached,
            cache_write_5m=cache_write,
            output=output_tokens,
            reasoning=reasoning,
        ),
    )
