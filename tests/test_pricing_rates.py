"""The ledger's own Decimal arithmetic (`Rates.cost`) agrees exactly with genai-prices.

`Pricer` resolves rates once per (provider, model, price period) and prices calls in
`Decimal` itself; genai-prices' `calc_price` is the reference. The two must give the same
figure, to the last digit, for every usage the token contract allows.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import genai_prices
import pytest
from genai_prices import Usage
from hypothesis import given, settings
from hypothesis import strategies as st

from spendledger.pricing import Pricer
from spendledger.pricing.rates import usage_counts
from spendledger.records import TokenCounts

# Catalogue models across providers, chosen to exercise every kind of price the ledger
# fills: cache reads, 5 m and 1 h cache writes, >200k tiers, audio in and out, a
# reasoning price, a per-request price, dated price changes and time-of-day windows.
MODELS: tuple[tuple[str, str], ...] = (
    ("openai", "gpt-4o-mini"),
    ("openai", "gpt-4o"),
    ("openai", "o3"),  # price cut on 2025-06-10
    ("openai", "gpt-4.1"),
    ("openai", "gpt-5"),
    ("openai", "gpt-realtime"),  # audio in and out, cached audio price
    ("openai", "gpt-audio"),
    ("anthropic", "claude-sonnet-4-5"),  # >200k tier on every unit
    ("anthropic", "claude-3-5-haiku-latest"),
    ("anthropic", "claude-opus-4-1"),
    ("anthropic", "claude-sonnet-4-0"),
    ("google", "gemini-2.5-flash"),  # audio input
    ("google", "gemini-2.5-pro"),  # >200k tier
    ("google", "gemini-2.0-flash"),
    ("mistral", "mistral-large-latest"),
    ("mistral", "mistral-small-latest"),
    ("mistral", "codestral-latest"),
    ("deepseek", "deepseek-chat"),  # off-peak time-of-day window until 2025-09-05
    ("deepseek", "deepseek-reasoner"),
    ("x-ai", "grok-3"),
    ("x-ai", "grok-4"),
    ("groq", "llama-3.3-70b-versatile"),
    ("aws", "amazon.nova-pro-v1:0"),
    ("aws", "amazon.nova-sonic-v1:0"),  # audio in and out
    ("perplexity", "sonar"),  # per-request price
    ("perplexity", "sonar-deep-research"),  # reasoning price
    ("cohere", "command-r-plus"),
    ("azure", "gpt-4o"),
    ("openrouter", "google/gemini-2.5-flash"),  # routed name, cache writes
    ("groq", "openai/gpt-oss-120b"),
)

_count = st.integers(min_value=0, max_value=400_000)


@st.composite
def contract_tokens(draw: st.DrawFn) -> TokenCounts:
    """TokenCounts that satisfy the contract: each subset drawn within what is left of its whole."""
    cached = draw(_count)
    write_5m = draw(_count)
    write_1h = draw(_count)
    audio_in = draw(_count)
    uncached_text = draw(_count)
    reasoning = draw(_count)
    audio_out = draw(_count)
    text_out = draw(_count)
    tokens = TokenCounts(
        input=cached + write_5m + write_1h + audio_in + uncached_text,
        cached_input=cached,
        cache_write_5m=write_5m,
        cache_write_1h=write_1h,
        audio_input=audio_in,
        output=reasoning + audio_out + text_out,
        reasoning=reasoning,
        audio_output=audio_out,
    )
    tokens.validate()
    return tokens


def genai_usage(tokens: TokenCounts) -> Usage:
    """The same usage in genai-prices' keys.

    genai-prices reads `cache_write_tokens` as every cache write and `cache_write_1h_tokens`
    as the 1 h part of it; audio in the ledger is uncached audio, so cached audio is an
    explicit 0 (genai-prices refuses to guess it when cache reads and audio are both
    reported). genai-prices charges a per-request price once per call, as the ledger
    does for an event (requests=1), so `requests` is not a usage key there.
    """
    return Usage(
        input_tokens=tokens.input,
        cache_read_tokens=tokens.cached_input,
        cache_write_tokens=tokens.cache_write_5m + tokens.cache_write_1h,
        cache_write_1h_tokens=tokens.cache_write_1h,
        cache_audio_read_tokens=0,
        output_tokens=tokens.output,
        output_reasoning_tokens=tokens.reasoning,
        input_audio_tokens=tokens.audio_input,
        output_audio_tokens=tokens.audio_output,
    )


_PRICER = Pricer(corrections=False)


@settings(max_examples=600, deadline=None)
@given(
    tokens=contract_tokens(),
    model=st.sampled_from(MODELS),
    at=st.datetimes(
        min_value=datetime(2024, 1, 1), max_value=datetime(2026, 12, 31, 23, 59), timezones=st.just(UTC)
    ),
)
def test_rates_cost_equals_genai_prices(tokens: TokenCounts, model: tuple[str, str], at: datetime) -> None:
    provider, name = model
    rates = _PRICER.rates_for(provider, name, at)
    assert rates is not None
    expected = genai_prices.calc_price(
        genai_usage(tokens), name, provider_id=provider, genai_request_timestamp=at
    ).total_price
    assert rates.cost(tokens) == expected


@pytest.mark.parametrize(("provider", "model"), MODELS)
def test_rates_cost_equals_genai_prices_at_tier_edges(provider: str, model: str) -> None:
    # a >200k tier applies when input exceeds the threshold, not when it reaches it
    at = datetime(2026, 1, 20, 18, tzinfo=UTC)
    rates = _PRICER.rates_for(provider, model, at)
    assert rates is not None
    for total in (199_999, 200_000, 200_001, 1_000_000):
        tokens = TokenCounts(
            input=total, cached_input=total // 4, cache_write_1h=total // 8, output=total // 10
        )
        expected = genai_prices.calc_price(
            genai_usage(tokens), model, provider_id=provider, genai_request_timestamp=at
        ).total_price
        assert rates.cost(tokens) == expected, total


def test_rates_usage_counts_spell_contract_in_genai_keys() -> None:
    tokens = TokenCounts.from_disjoint(
        uncached_input=100, cache_read=900, cache_write_5m=50, cache_write_1h=20
    )
    assert usage_counts(tokens, 3) == {
        "input_tokens": 1070,
        "cache_read_tokens": 900,
        "cache_write_tokens": 70,
        "cache_write_5m_tokens": 50,
        "cache_write_1h_tokens": 20,
        "output_tokens": 0,
        "output_reasoning_tokens": 0,
        "input_audio_tokens": 0,
        "output_audio_tokens": 0,
        "requests": 3,
    }


def test_rates_cost_is_decimal_and_never_negative_for_contract_usage() -> None:
    # gpt-realtime prices cached reads and audio input apart: the contract's disjoint
    # subsets (cached + writes + audio ≤ input) keep every priced part non-negative
    rates = _PRICER.rates_for("openai", "gpt-realtime", datetime(2026, 1, 20, tzinfo=UTC))
    assert rates is not None
    tokens = TokenCounts(input=100, cached_input=60, audio_input=40, output=10, audio_output=10)
    # 60 × $0.40 + 40 × $32 + 0 text × $4 + 10 audio out × $64 = 24 + 1280 + 640 = 1944 per 1M
    assert rates.cost(tokens) == Decimal("0.001944")
