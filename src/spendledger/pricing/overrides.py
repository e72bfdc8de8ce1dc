"""Price overrides: the user's negotiated rates, fine-tunes and self-hosted models.

An override names a provider ('' or '*' for any), a model pattern (fnmatch, case-
insensitive, after name normalisation), an effective window [from, to) in whole UTC
days, prices per unit in genai-prices' keys, and a note saying where the price came from.
A unit the override leaves out is charged at its parent's rate (cached reads at the
input rate), as genai-prices does. A self-hosted model's override may price GPU time
instead (`gpu_hour`, optionally `tokens_per_second`: gpu.py), never both tokens and GPU
time: the hour is the whole cost of the calls it covers.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from spendledger.errors import SpendledgerError
from spendledger.pricing.gpu import GPU_HOUR, GPU_KEYS, TOKENS_PER_SECOND, GpuTime
from spendledger.pricing.rates import SUPPORTED_PRICE_KEYS, Rates, build_rates, parse_price
from spendledger.records import as_utc

# Friendly names the CLI and API accept for price keys.
PRICE_KEY_ALIASES: dict[str, str] = {
    "input": "input_mtok",
    "cached_input": "cache_read_mtok",
    "cache_read": "cache_read_mtok",
    "cache_write": "cache_write_mtok",
    "cache_write_5m": "cache_write_mtok",
    "cache_write_1h": "cache_write_1h_mtok",
    "output": "output_mtok",
    "reasoning": "output_reasoning_mtok",
    "audio_input": "input_audio_mtok",
    "audio_output": "output_audio_mtok",
    "request": "requests_kcount",
    "gpu-hour": GPU_HOUR,
    "tokens-per-second": TOKENS_PER_SECOND,
}


class OverrideError(SpendledgerError, ValueError):
    pass


@dataclass(frozen=True)
class PriceOverride:
    id: int | None
    provider: str
    model_pattern: str
    prices: Mapping[str, Any]  # {price_key: "0.5" | {"base": ..., "tiers": [[start, price]]}}
    note: str
    effective_from: datetime | None = None
    effective_to: datetime | None = None  # exclusive
    currency: str = "USD"

    def matches(self, provider: str, model: str, at: datetime) -> bool:
        if self.provider not in ("", "*") and self.provider.lower() != provider:
            return False
        # naive bounds (SQLite returns them so) and times are UTC
        at = as_utc(at)
        if self.effective_from is not None and at < as_utc(self.effective_from):
            return False
        if self.effective_to is not None and at >= as_utc(self.effective_to):
            return False
        return fnmatch.fnmatchcase(model, self.model_pattern.lower())

    def rates(self) -> Rates:
        label = f"override #{self.id}: {self.note}" if self.id is not None else self.note
        rates = build_rates(
            {k: parse_price(v) for k, v in self.prices.items() if k not in GPU_KEYS},
            currency=self.currency,
            source=label,
        )
        if GPU_HOUR not in self.prices:
            return rates
        throughput = self.prices.get(TOKENS_PER_SECOND)
        gpu = GpuTime(Decimal(str(self.prices[GPU_HOUR])), Decimal(str(throughput)) if throughput else None)
        return dataclasses.replace(rates, gpu=gpu)


def parse_prices(pairs: Mapping[str, str]) -> dict[str, str]:
    """Validate {"input": "0.5", "output_mtok": "1.5"} → {"input_mtok": "0.5", ...}."""
    out: dict[str, str] = {}
    for name, raw in pairs.items():
        key = PRICE_KEY_ALIASES.get(name, name)
        if key not in SUPPORTED_PRICE_KEYS and key not in GPU_KEYS:
            known = ", ".join(sorted({*PRICE_KEY_ALIASES, *SUPPORTED_PRICE_KEYS, *GPU_KEYS}))
            raise OverrideError(f"unknown price kind {name!r}; use one of: {known}")
        try:
            value = Decimal(raw)
        except InvalidOperation as exc:
            raise OverrideError(f"price for {name!r} is not a number: {raw!r}") from exc
        if not value.is_finite() or value < 0:
            raise OverrideError(f"price for {name!r} must be zero or more, got {raw!r}")
        out[key] = f"{value:f}"
    if not out:
        raise OverrideError(
            "an override needs at least one price, e.g. input=0.5 output=1.5 (USD per 1M tokens)"
        )
    _check_gpu(out)
    return out


def _check_gpu(prices: Mapping[str, str]) -> None:
    """GPU time priced alone, its throughput above zero and never without its hourly price."""
    if TOKENS_PER_SECOND in prices and GPU_HOUR not in prices:
        raise OverrideError(
            "tokens_per_second sets how GPU time is counted: give the GPU-hour price with it, "
            "e.g. gpu_hour=2.50 tokens_per_second=1500"
        )
    if TOKENS_PER_SECOND in prices and Decimal(prices[TOKENS_PER_SECOND]) == 0:
        raise OverrideError(
            "tokens_per_second must be above zero, e.g. 1500 (the server's measured throughput)"
        )
    if GPU_HOUR in prices and any(key not in GPU_KEYS for key in prices):
        tokens = ", ".join(key for key in prices if key not in GPU_KEYS)
        raise OverrideError(
            f"an override prices either tokens or GPU time, not both ({tokens} with gpu_hour): "
            "the GPU-hour is the whole cost of the calls it covers; drop one"
        )


def day_start(d: date | None) -> datetime | None:
    return None if d is None else datetime(d.year, d.month, d.day, tzinfo=UTC)
