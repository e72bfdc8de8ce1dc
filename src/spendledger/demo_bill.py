"""The demo's bill and its metering: three accounts seen from both sides, differing in known ways.

The demo's main records (demo.py, basis "demo") are calls with no bill beside them. These
are what a team with a billing sync and the tracker sees: the bill of two accounts
(basis billed, source `demo-billing`: OpenAI's costs by line item and usage by model,
Anthropic's cost report and usage report) and the metered calls of three (basis metered,
source `demo-tracker`, priced from the catalogue). The two sides differ on purpose, each
difference one the reconciliation must find in its category (tests/test_reconcile_demo.py
names them, with their amounts):

- missed: on `missed_day` (the 14th of the month before `end`'s), the tracker of
  demo-openai-platform was down: the bill has that day's calls, the metering has none;
- outside: demo-openai-labs is metered, but no billing source syncs it;
- priced: demo-anthropic-platform pays a negotiated 10 % less for claude-sonnet-4-5 than
  the catalogue says (and no price override says so);
- non_token: web search, file search, vector store storage and code interpreter lines on
  the OpenAI bill every day, a fine-tuning run on `fine_tuning_day` (the 21st of that
  month), and Anthropic's code execution;
- rounding: the bill rounds every line to the cent; the metering prices each call exactly.

The bill covers every day of its accounts, so their metered records never count in a
total (best available): the totals hold the demo's calls, these bills and the labs
account's metering. Everything comes from `random.Random(seed)` and `end`, like demo.py,
from a generator of its own, so the demo's main records are the same with or without it.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from spendledger.pricing import Pricer
from spendledger.records import Basis, PricingStatus, TokenCounts, UsageRecord, cents

BILLING_SOURCE = "demo-billing"
TRACKER_SOURCE = "demo-tracker"
SOURCES: tuple[str, ...] = (BILLING_SOURCE, TRACKER_SOURCE)
PLATFORM = "demo-openai-platform"  # billed and metered
ANTHROPIC_PLATFORM = "demo-anthropic-platform"  # billed and metered, a negotiated rate
LABS = "demo-openai-labs"  # metered only: no billing source syncs it
DISCOUNTED = ("anthropic", "claude-sonnet-4-5")
DISCOUNT = Decimal("0.9")  # what the bill charges of the catalogue price
FINE_TUNING_LINE = "fine-tuning training, gpt-4.1-mini-2025-04-14"
FINE_TUNING_COST = Decimal("25.00")
_SEED_SALT = 0x5EED  # the bill's generator is apart from demo.py's


@dataclass(frozen=True)
class _Stream:
    provider: str
    account: str
    workspace: str
    project: str
    project_id: str
    model: str
    calls: int  # on a weekday
    tokens: tuple[int, int]  # input, output per call
    cached: float  # share of input read from the cache


_STREAMS: tuple[_Stream, ...] = (
    _Stream("openai", PLATFORM, "", "Support bot", "proj_support", "gpt-4o-mini", 1500, (1800, 300), 0.4),
    _Stream("openai", PLATFORM, "", "Support bot", "proj_support", "gpt-4.1-mini", 600, (2500, 400), 0.2),
    _Stream("openai", PLATFORM, "", "Assistants", "proj_assistants", "gpt-4o", 200, (4000, 600), 0.3),
    _Stream("anthropic", ANTHROPIC_PLATFORM, "Platform", "", "", "claude-sonnet-4-5", 80, (5000, 700), 0.5),
    _Stream("anthropic", ANTHROPIC_PLATFORM, "Platform", "", "", "claude-3-5-haiku", 200, (1500, 200), 0.3),
    _Stream("openai", LABS, "", "Labs", "", "gpt-4.1-mini", 300, (2000, 300), 0.0),
)


def missed_day(end: date) -> date:
    """The day the platform's tracker was down: the 14th of the month before `end`'s."""
    return (end.replace(day=1) - timedelta(days=1)).replace(day=14)


def fine_tuning_day(end: date) -> date:
    """The day of the fine-tuning run on the bill: the 21st of the month before `end`'s."""
    return (end.replace(day=1) - timedelta(days=1)).replace(day=21)


def bill_records(*, end: date, days: int = 180, seed: int = 7) -> list[UsageRecord]:
    """The bill first, then the metering, of the UTC days `end - days + 1` to `end`."""
    if days < 1:
        raise ValueError("days must be 1 or more")
    rng = random.Random(seed ^ _SEED_SALT)
    pricer = Pricer()
    billed: list[UsageRecord] = []
    metered: list[UsageRecord] = []
    first = end - timedelta(days=days - 1)
    for index in range(days):
        day = first + timedelta(days=index)
        weekend = 0.6 if day.weekday() >= 5 else 1.0
        for stream in _STREAMS:
            calls = max(4, round(stream.calls * weekend * rng.lognormvariate(0, 0.25)))
            pieces = [_tokens(rng, stream, part) for part in (calls // 2, calls - calls // 2)]
            if not (stream.account == PLATFORM and day == missed_day(end)):
                metered.extend(_calls(stream, day, pieces, len(metered)))
            if stream.account != LABS:
                total = pieces[0][1] + pieces[1][1]
                billed.extend(_billed_tokens(pricer, stream, day, calls, total))
        billed.extend(_billed_tools(rng, day, fine_tuning=day == fine_tuning_day(end)))
    pricer.price_all(metered)
    return billed + metered


def _tokens(rng: random.Random, stream: _Stream, calls: int) -> tuple[int, TokenCounts]:
    per_input, per_output = stream.tokens
    input_tokens = math.floor(calls * per_input * rng.lognormvariate(0, 0.1))
    cached = math.floor(input_tokens * stream.cached)
    output = math.floor(calls * per_output * rng.lognormvariate(0, 0.1))
    return calls, TokenCounts(input=input_tokens, cached_input=cached, output=output)


def _calls(
    stream: _Stream, day: date, pieces: list[tuple[int, TokenCounts]], n: int
) -> Iterator[UsageRecord]:
    """The tracker's records of a day: two aggregates, at 10:00 and 10:30 UTC (the same
    local day in every zone from UTC-10 to UTC+13)."""
    for i, (calls, tokens) in enumerate(pieces):
        yield UsageRecord(
            key=f"{TRACKER_SOURCE}:{n + i + 1}",
            source=TRACKER_SOURCE,
            basis=Basis.METERED,
            start=datetime.combine(day, time(10, 30 * i), UTC),
            provider=stream.provider,
            model=stream.model,
            account=stream.account,
            workspace=stream.workspace,
            project=stream.project,
            user="u_01",
            feature="chat",
            requests=calls,
            tokens=tokens,
        )


def _bucket(day: date, **fields: object) -> UsageRecord:
    start = datetime.combine(day, time(), UTC)
    defaults: dict[str, object] = {
        "source": BILLING_SOURCE,
        "basis": Basis.BILLED,
        "start": start,
        "end": start + timedelta(days=1),
        "requests": 0,
        "pricing_status": PricingStatus.PROVIDER,
        "cost": Decimal(0),
    }
    return UsageRecord(**(defaults | fields))  # type: ignore[arg-type]


def _billed_tokens(
    pricer: Pricer, stream: _Stream, day: date, calls: int, tokens: TokenCounts
) -> list[UsageRecord]:
    """A day of one model on the bill: its tokens (no money) and its money by line (no tokens),
    each line rounded to the cent, at the negotiated rate where there is one."""
    rates = pricer.rates_for(stream.provider, stream.model, datetime.combine(day, time(12), UTC))
    assert rates is not None, stream.model  # every demo model is in the catalogue
    factor = DISCOUNT if (stream.provider, stream.model) == DISCOUNTED else Decimal(1)
    lines = {
        "input": rates.cost(TokenCounts(input=tokens.input, cached_input=tokens.cached_input), calls),
        "output": rates.cost(TokenCounts(output=tokens.output), calls),
    }
    where = {
        "account": stream.account,
        "workspace": stream.workspace,
        "project": stream.project,
        "model": stream.model,
    }
    if stream.provider == "openai":
        ids = {"project_id": stream.project_id}
        usage = _bucket(
            day, key=f"usage/completions|{stream.project_id}|{stream.model}||false|default",
            provider="openai", tags=ids, requests=calls, tokens=tokens, **where,
        )  # fmt: skip
        money = [
            _bucket(
                day,
                key=f"costs|{stream.project_id}|{stream.model}, {kind}|",
                provider="openai",
                tags={**ids, "line_item": f"{stream.model}, {kind}"},
                cost=cents(amount * factor),
                **where,
            )  # fmt: skip
            for kind, amount in lines.items()
        ]
        return [usage, *money]
    window = {"workspace_id": "wrkspc_platform", "context_window": "0-200k"}
    usage = _bucket(
        day, key=f"usage/messages|{stream.model}|wrkspc_platform|none|standard|0-200k", provider="anthropic",
        tags=window, tokens=tokens, **where,
    )  # fmt: skip
    money = [
        _bucket(
            day,
            key=f"cost_report|wrkspc_platform|{stream.model} {kind}|tokens|{stream.model}",
            provider="anthropic",
            tags={
                "workspace_id": "wrkspc_platform",
                "cost_type": "tokens",
                "description": f"{stream.model} {kind}",
            },
            cost=cents(amount * factor),
            **where,
        )  # fmt: skip
        for kind, amount in lines.items()
    ]
    return [usage, *money]


def _billed_tools(rng: random.Random, day: date, *, fine_tuning: bool) -> list[UsageRecord]:
    """The day's non-token lines: OpenAI's tools and storage (and a fine-tuning run), and
    Anthropic's code execution."""
    weekend = 0.6 if day.weekday() >= 5 else 1.0
    openai_lines = {
        "web search tool calls": Decimal("0.01") * round(60 * weekend * rng.lognormvariate(0, 0.3)),
        "file search tool calls": Decimal("0.0025") * round(120 * weekend * rng.lognormvariate(0, 0.3)),
        "vector store storage": Decimal("0.25"),
        "Code Interpreter sessions": Decimal("0.03") * round(8 * weekend * rng.lognormvariate(0, 0.3)),
    }
    if fine_tuning:
        openai_lines[FINE_TUNING_LINE] = FINE_TUNING_COST
    where = {"account": PLATFORM, "project": "Assistants"}
    lines = [
        _bucket(
            day,
            key=f"costs|proj_assistants|{item}|",
            provider="openai",
            tags={"project_id": "proj_assistants", "line_item": item},
            cost=cents(amount),
            **where,
        )  # fmt: skip
        for item, amount in openai_lines.items()
        if amount
    ]
    hours = Decimal(round(6 * weekend * rng.lognormvariate(0, 0.3)))
    lines.append(
        _bucket(
            day,
            key="cost_report|wrkspc_platform|Code execution|code_execution|",
            provider="anthropic",
            account=ANTHROPIC_PLATFORM,
            workspace="Platform",
            tags={
                "workspace_id": "wrkspc_platform",
                "cost_type": "code_execution",
                "description": "Code execution",
            },
            cost=(hours * Decimal("0.05")).quantize(Decimal("0.01"), ROUND_HALF_EVEN),
        )  # fmt: skip
    )
    return lines
