"""The seeded organisation behind the fake OpenAI Admin API, and its own truth.

Why a seed: tests and the benchmark need an organisation that is realistic, the same on
every run, and free until asked for. Each day is drawn from `random.Random(f"{seed}:{day}")`
when a page needs it and nothing is kept, so a 365-day × 40-project × 15-model year never
sits in memory. Costs are derived from the day's usage (tokens × a per-model rate, batch
at half price), so the costs and usage endpoints agree, and amounts carry sub-cent
decimals as real ones do. `expected_costs()` and `expected_tokens()` are what a connector
must read back, in the ledger's terms.

Volume: about days × projects × models × density completions results (a quarter of the
models also run batch) and ~3 cost line items per model used; 365 × 40 × 15 at the
default density 0.3 is ~80k completions results and ~260k cost results.
"""

from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

# name, $ per 1M tokens: input, cached input (None: no caching), output, audio in, audio out
MODELS: tuple[tuple[str, str, str | None, str, str | None, str | None], ...] = (
    ("gpt-4o-2024-08-06", "2.50", "1.25", "10.00", None, None),
    ("gpt-4o-mini-2024-07-18", "0.15", "0.075", "0.60", None, None),
    ("gpt-4.1-2025-04-14", "2.00", "0.50", "8.00", None, None),
    ("o3-2025-04-16", "2.00", "0.50", "8.00", None, None),
    ("gpt-4o-audio-preview-2024-12-17", "2.50", None, "10.00", "40.00", "80.00"),
    ("gpt-4.1-mini-2025-04-14", "0.40", "0.10", "1.60", None, None),
    ("o4-mini-2025-04-16", "1.10", "0.275", "4.40", None, None),
    ("gpt-realtime-2025-08-28", "4.00", "0.40", "16.00", "32.00", "64.00"),
    ("gpt-5-2025-08-07", "1.25", "0.125", "10.00", None, None),
    ("gpt-5-mini-2025-08-07", "0.25", "0.025", "2.00", None, None),
    ("gpt-4.1-nano-2025-04-14", "0.10", "0.025", "0.40", None, None),
    ("o3-mini-2025-01-31", "1.10", "0.55", "4.40", None, None),
    ("gpt-5-nano-2025-08-07", "0.05", "0.005", "0.40", None, None),
    ("gpt-4-turbo-2024-04-09", "10.00", None, "30.00", None, None),
    ("gpt-3.5-turbo-0125", "0.50", None, "1.50", None, None),
)
_RATES = [tuple(Decimal(r) / 1_000_000 if r else None for r in spec[1:]) for spec in MODELS]  # $ per token
_KINDS = ("input", "cached input", "output", "audio input", "audio output")
_LINES = [tuple(f"{spec[0]}, {kind}" for kind in _KINDS) for spec in MODELS]  # costs line items
# usage endpoint (after "usage/") → the metric costs are priced on, its daily max, model (None:
# the endpoint has none, nor num_model_requests), costs line item ("": free), $ per unit, quantity_unit
EXTRAS: dict[str, tuple[str, int, str | None, str, str, str | None]] = {
    "embeddings": (
        "input_tokens",
        900_000,
        "text-embedding-3-small",
        "{model}, input",
        "0.00000002",
        "tokens",
    ),
    "moderations": ("input_tokens", 90_000, "omni-moderation-2024-09-26", "", "0", None),
    "images": ("images", 60, "gpt-image-1", "{model}, image generation", "0.042", "images"),
    "audio_speeches": ("characters", 200_000, "tts-1", "{model}, characters", "0.000015", "characters"),
    "audio_transcriptions": (
        "seconds",
        20_000,
        "whisper-1",
        "{model}, seconds",
        "0.0001",
        "duration_seconds",
    ),
    "vector_stores": ("usage_bytes", 5 * 10**9, None, "vector store storage", "0.000000000004", None),
    "code_interpreter_sessions": ("num_sessions", 40, None, "code interpreter sessions", "0.03", None),
    "web_search_calls": ("num_requests", 300, "gpt-4o-2024-08-06", "web search tool calls", "0.01", None),
    "file_search_calls": ("num_requests", 500, None, "file search tool calls", "0.0025", None),
}
NO_KEYS = ("vector_stores", "code_interpreter_sessions")  # grouped by project only: no API key
COMPLETION_METRICS = (  # noqa: SIM905 (three lines, not seventeen)
    "input_tokens output_tokens input_cached_tokens input_cache_write_tokens input_uncached_tokens "
    "input_text_tokens output_text_tokens input_cached_text_tokens input_audio_tokens "
    "input_cached_audio_tokens output_audio_tokens input_image_tokens input_cached_image_tokens "
    "output_image_tokens num_model_requests"
).split()
# The ledger's token fields, from the API's: input counts cached reads and writes; audio is uncached
_LEDGER_TOKENS = {
    "input": "input_tokens",
    "cached_input": "input_cached_tokens",
    "cache_write_5m": "input_cache_write_tokens",
    "audio_input": "input_audio_tokens",
    "output": "output_tokens",
    "audio_output": "output_audio_tokens",
}
_PROJECT_NAMES = (
    "Support bot|Search|Checkout assistant|Data pipeline|Docs Q&A|Mobile app|Growth|Internal tools"
)

Use = tuple[int, int, bool, tuple[int, ...]]  # (project, model, batch, raw counts; see `uses`)


@dataclass(frozen=True)
class FakeProject:
    id: str
    name: str
    archived: bool
    keys: tuple[tuple[str, str], ...]  # (api key id, name)

    def key(self, index: int) -> str | None:
        return self.keys[index % len(self.keys)][0] if self.keys else None


def completion_values(counts: tuple[int, ...]) -> tuple[int, ...]:
    """A completions result's `COMPLETION_METRICS` from a use's raw counts."""
    text, cached, write, audio, a_cached, out, out_audio, req = counts
    whole, output = text + cached + write + audio + a_cached, out + out_audio
    return (
        whole,
        output,
        cached + a_cached,
        write,
        text + audio,
        text,
        out,
        cached,
        audio,
        a_cached,
        out_audio,
        0,
        0,
        0,
        req,
    )


class SeededOrganisation:
    """Projects (the last `archived` of them archived), API keys, and a seeded daily history."""

    def __init__(
        self,
        *,
        start: date = date(2025, 3, 1),
        days: int = 7,
        projects: int = 3,
        archived: int = 1,
        models: int = 4,
        keys_per_project: int = 2,
        density: float = 0.3,
        seed: int = 1,
        empty_days: tuple[int, ...] = (),
    ) -> None:
        self.start, self.days, self.seed, self.density = start, days, seed, density
        self.n_models, self.empty_days = min(models, len(MODELS)), empty_days
        names = _PROJECT_NAMES.split("|")
        self.projects = [
            FakeProject(
                id="proj_" + hashlib.sha256(f"{seed}:{p}".encode()).hexdigest()[:20],
                name=names[p % len(names)] + (f" {p // len(names) + 1}" if p >= len(names) else ""),
                archived=p >= projects - archived,  # archived now, with a history
                keys=tuple(
                    (f"key_{p:03d}{k:02d}{seed:011d}", f"key {k + 1} of {p + 1}")
                    for k in range(keys_per_project)
                ),
            )
            for p in range(projects)
        ]
        self._revisions: dict[tuple[int, int | None], Decimal] = {}

    def revise(self, day: date | str, *, factor: Decimal | str | int = 2, project: str | None = None) -> None:
        """Multiply one day's counts, and so its costs, by `factor`: one project (name or id) or all."""
        offset = ((date.fromisoformat(day) if isinstance(day, str) else day) - self.start).days
        index = next((i for i, p in enumerate(self.projects) if project in (p.id, p.name)), None)
        if project is not None and index is None:
            raise ValueError(f"no project {project!r}")
        self._revisions[(offset, index)] = Decimal(factor)

    def expected_costs(self) -> dict[tuple[str, str, str], Decimal]:
        """{(day ISO, project name, model or "" for tools and storage): dollars}, exact."""
        out: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
        for offset in range(self.days):
            day = (self.start + timedelta(offset)).isoformat()
            for p, _line, _key, model, amount, _qty in self.cost_rows(offset):
                out[(day, self.projects[p].name, model)] += amount
        return dict(out)

    def expected_tokens(self) -> dict[tuple[str, str, str], dict[str, int]]:
        """{(day ISO, project name, model): TokenCounts fields}, in the ledger's semantics."""
        out: dict[tuple[str, str, str], dict[str, int]] = {}
        for offset in range(self.days):
            day = (self.start + timedelta(offset)).isoformat()
            for p, m, _batch, counts in self.uses(offset):
                api = dict(zip(COMPLETION_METRICS, completion_values(counts), strict=True))
                total = out.setdefault((day, self.projects[p].name, MODELS[m][0]), defaultdict(int))
                for field, api_field in _LEDGER_TOKENS.items():
                    total[field] += api[api_field]
            for name in ("embeddings", "moderations"):
                for p, metrics in self.extras(offset, name):
                    key = (day, self.projects[p].name, str(EXTRAS[name][2]))
                    out.setdefault(key, defaultdict(int))["input"] += metrics["input_tokens"]
        return {k: dict(v) for k, v in out.items()}

    def _factor(self, offset: int, p: int) -> Decimal | None:
        return self._revisions.get((offset, p)) or self._revisions.get((offset, None))

    def _live(self, offset: int) -> bool:
        return 0 <= offset < self.days and offset not in self.empty_days

    def uses(self, offset: int) -> list[Use]:
        """One day of completions: (project, model, batch, (uncached text, cached text, cache
        writes, uncached audio, cached audio, text out, audio out, requests))."""
        rows: list[Use] = []
        rnd = random.Random(f"{self.seed}:{offset}").random
        for p in range(len(self.projects) if self._live(offset) else 0):
            factor = self._factor(offset, p)
            for m in range(self.n_models):
                if rnd() >= self.density:
                    continue
                caches, speaks = MODELS[m][2] is not None, MODELS[m][4] is not None
                for batch in (False, True) if m % 4 == 1 else (False,):
                    req = 1 + int(rnd() * 400)
                    text, out = req * (100 + int(rnd() * 2900)), req * (20 + int(rnd() * 800))
                    cached = int(text * rnd() * 0.6) if caches else 0
                    write = text // 20 if caches and m % 3 == 0 else 0
                    audio = req * (50 + int(rnd() * 450)) if speaks else 0
                    a_cached, out_audio = audio // 5 if caches else 0, out // 3 if speaks else 0
                    counts = (text, cached, write, audio, a_cached, out, out_audio, req)
                    rows.append((p, m, batch, tuple(int(c * factor) for c in counts) if factor else counts))
        return rows

    def extras(self, offset: int, name: str) -> list[tuple[int, dict[str, int]]]:
        """One day of another usage endpoint: (project, metrics), for about half the projects."""
        metric, top, model, *_ = EXTRAS[name]
        rows = []
        rnd = random.Random(f"{self.seed}:{offset}:{name}").random
        for p in range(len(self.projects) if self._live(offset) else 0):
            if rnd() < 0.5:
                metrics = {metric: 1 + int(rnd() * top)}
                if model is not None:
                    metrics["num_model_requests"] = 1 + int(rnd() * 300)
                factor = self._factor(offset, p)
                rows.append((p, {k: int(v * factor) for k, v in metrics.items()} if factor else metrics))
        return rows

    def cost_rows(self, offset: int) -> list[tuple[int, str, str | None, str, Decimal, int]]:
        """One day of costs: (project, line item, api key id, model or "", dollars, quantity)."""
        items: dict[tuple[int, str], list[Any]] = {}
        for p, m, batch, (text, cached, write, audio, a_cached, out, out_audio, _) in self.uses(offset):
            quantities = (text + write, cached + a_cached, out, audio, out_audio)  # in _KINDS' order
            for line, qty, rate in zip(_LINES[m], quantities, _RATES[m], strict=True):
                if qty and rate:
                    amount = qty * rate / 2 if batch else qty * rate  # batch: half price
                    item = items.get((p, line))
                    if item is None:
                        items[(p, line)] = [self.projects[p].key(m), MODELS[m][0], amount, qty]
                    else:
                        item[2] += amount
                        item[3] += qty
        for name, (metric, _top, model, line, price, _unit) in EXTRAS.items():
            for p, metrics in self.extras(offset, name) if line else ():
                key = None if name in NO_KEYS else self.projects[p].key(0)
                item_model = (model or "") if "{model}" in line else ""  # tool calls name no model
                items[(p, line.format(model=model))] = [
                    key,
                    item_model,
                    metrics[metric] * Decimal(price),
                    metrics[metric],
                ]
        return [(p, line, key, model, amount, qty) for (p, line), (key, model, amount, qty) in items.items()]
