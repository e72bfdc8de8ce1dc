"""Prices as people read them: kind labels, "$0.15 per 1M" lines, a bare model's provider.

Shared by `spendledger prices show` and the /prices page, so both say the same thing.
"""

from __future__ import annotations

import fnmatch
from decimal import Decimal

from spendledger.pricing.gpu import GPU_HOUR, TOKENS_PER_SECOND
from spendledger.pricing.overrides import PriceOverride
from spendledger.pricing.pricer import SELF_HOSTED_SOURCE, normalise_model
from spendledger.pricing.rates import Rates
from spendledger.records import format_money

# genai-prices' price keys, as people say them.
KIND_LABELS: dict[str, str] = {
    "input_mtok": "input",
    "cache_read_mtok": "cached input",
    "cache_write_mtok": "cache write",
    "cache_write_5m_mtok": "cache write (5 min)",
    "cache_write_1h_mtok": "cache write (1 h)",
    "output_mtok": "output",
    "output_reasoning_mtok": "reasoning output",
    "input_audio_mtok": "audio input",
    "output_audio_mtok": "audio output",
    "requests_kcount": "requests",
    GPU_HOUR: "GPU time",
    TOKENS_PER_SECOND: "throughput",
}


def guess_provider(model: str, overrides: list[PriceOverride]) -> str | None:
    """The provider a bare model name belongs to: the newest override naming one, else the catalogue's."""
    name = normalise_model(model)
    for override in reversed(overrides):
        if override.provider not in ("", "*") and fnmatch.fnmatchcase(name, override.model_pattern):
            return override.provider
    from genai_prices.data_snapshot import get_snapshot

    try:
        found, _ = get_snapshot().find_provider_model(name, None, None, None)
    except LookupError:
        return None
    return str(found.id)


def price_lines(rates: Rates) -> list[tuple[str, str]]:
    """(kind, "$0.15") pairs; a tiered price reads "$3.00, $6.00 above 200,000 input tokens"."""
    lines = []
    symbol = "$" if rates.currency == "USD" else f"{rates.currency} "
    for unit in sorted(rates.units, key=lambda u: list(KIND_LABELS).index(u.price_key)):
        tiers = ((0, unit.price),) if isinstance(unit.price, Decimal) else unit.price
        text = ", ".join(
            f"{symbol}{format_money(price * rates.multiplier)}"
            + (f" above {start:,} input tokens" if start else "")
            for start, price in tiers
        )
        if unit.price_key == "requests_kcount":
            text += " per 1k requests"
        lines.append((KIND_LABELS[unit.price_key], text))
    if rates.gpu is not None:
        lines.append((KIND_LABELS[GPU_HOUR], f"{symbol}{format_money(rates.gpu.per_hour)} per GPU-hour"))
        throughput = rates.gpu.tokens_per_second
        lines.append(
            (KIND_LABELS[TOKENS_PER_SECOND], f"{throughput:,f} tokens/s")
            if throughput
            else ("GPU time of a call", "its latency")
        )
    elif not lines and rates.source == SELF_HOSTED_SOURCE:
        lines.append(("every token", f"{symbol}0 (self-hosted)"))
    return lines


def source_kind(source: str) -> str:
    """catalogue, correction or "override #N" for a price source."""
    if source.startswith("override #"):
        return source.split(":", 1)[0]
    if source.startswith("correction"):
        return "correction"
    if source == SELF_HOSTED_SOURCE:
        return "self-hosted"
    return "catalogue"
