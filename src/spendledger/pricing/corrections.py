"""Shipped corrections for known errors in the genai-prices catalogue.

Each is data with a source and a date: consulted after the user's overrides and before
the catalogue. Remove one once the pinned catalogue version carries the fix (the test
tests/test_pricing_corrections.py says which still differ from the catalogue).
"""

from __future__ import annotations

from datetime import UTC, datetime

from spendledger.pricing.overrides import PriceOverride


def _utc(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, tzinfo=UTC)


_SONNET_4_LONG_CONTEXT = {
    # Anthropic pricing page, "Long context pricing" (1M context beta, Sonnet 4):
    # a request over 200k input tokens pays $6 / $22.50 and the cache rates scale alike.
    "input_mtok": {"base": "3", "tiers": [[200000, "6"]]},
    "output_mtok": {"base": "15", "tiers": [[200000, "22.5"]]},
    "cache_read_mtok": {"base": "0.3", "tiers": [[200000, "0.6"]]},
    "cache_write_mtok": {"base": "3.75", "tiers": [[200000, "7.5"]]},
    "cache_write_1h_mtok": {"base": "6", "tiers": [[200000, "12"]]},
}

CORRECTIONS: tuple[PriceOverride, ...] = (
    # Mistral Large 3 (mistral-large-2512, the model behind -latest since then) costs
    # $0.5 / $1.5 with cached reads at $0.05; the catalogue still prices the alias at
    # Large 2's $2 / $6. (mistral-large-2512 itself is right in the catalogue, batch
    # variant included: no correction for it.)
    *(
        PriceOverride(
            id=None,
            provider="mistral",
            model_pattern=pattern,
            effective_from=_utc(2025, 12, 2),
            prices={"input_mtok": "0.5", "cache_read_mtok": "0.05", "output_mtok": "1.5"},
            note="correction: Mistral Large 3 at $0.5/$1.5 (Mistral pricing page, 2025-12-02)",
        )
        for pattern in ("mistral-large-latest", "mistral-large-3*")
    ),
    # DeepSeek ended its off-peak discount on 2025-09-05: one price all day ...
    PriceOverride(
        id=None,
        provider="deepseek",
        model_pattern="deepseek-chat",
        effective_from=_utc(2025, 9, 5),
        effective_to=_utc(2025, 9, 29),
        prices={"input_mtok": "0.27", "cache_read_mtok": "0.07", "output_mtok": "1.1"},
        note="correction: DeepSeek off-peak discount ended (DeepSeek pricing page, 2025-09-05)",
    ),
    PriceOverride(
        id=None,
        provider="deepseek",
        model_pattern="deepseek-reasoner",
        effective_from=_utc(2025, 9, 5),
        effective_to=_utc(2025, 9, 29),
        prices={"input_mtok": "0.55", "cache_read_mtok": "0.14", "output_mtok": "2.19"},
        note="correction: DeepSeek off-peak discount ended (DeepSeek pricing page, 2025-09-05)",
    ),
    # ... and V3.2 cut both models to $0.28 / $0.028 cached / $0.42 on 2025-09-29.
    *(
        PriceOverride(
            id=None,
            provider="deepseek",
            model_pattern=pattern,
            effective_from=_utc(2025, 9, 29),
            prices={"input_mtok": "0.28", "cache_read_mtok": "0.028", "output_mtok": "0.42"},
            note="correction: DeepSeek V3.2 price cut (DeepSeek pricing page, 2025-09-29)",
        )
        for pattern in ("deepseek-chat", "deepseek-reasoner")
    ),
    # Claude Sonnet 4 over 200k input tokens: the catalogue has no long-context tier.
    *(
        PriceOverride(
            id=None,
            provider="anthropic",
            model_pattern=pattern,
            effective_from=_utc(2025, 8, 12),
            prices=_SONNET_4_LONG_CONTEXT,
            note="correction: Sonnet 4 long-context (>200k) rates (Anthropic pricing page, 2025-08-12)",
        )
        for pattern in ("claude-sonnet-4", "claude-sonnet-4-0", "claude-sonnet-4-20250514")
    ),
)

# Providers whose Batch API bills half the standard rate. Where the catalogue has no
# batch variant for a model, the ledger applies this discount itself.
BATCH_DISCOUNT_PROVIDERS: frozenset[str] = frozenset({"openai", "anthropic"})
BATCH_NOTE = "batch at 50% (OpenAI and Anthropic Batch API pricing)"
