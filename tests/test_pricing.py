"""Pricing records: catalogue, shipped corrections, user overrides, and the unpriced case.

Every expected figure is worked out by hand from the published price (USD per 1M tokens
unless said otherwise), checked against genai-prices 0.2.3's catalogue; the comment
shows the arithmetic. Figures are exact Decimals.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from spendledger.pricing import PriceOverride, Pricer
from spendledger.records import PricingStatus, TokenCounts, UsageRecord
from usage_records import usage_record

JAN_20 = datetime(2026, 1, 20, 12, tzinfo=UTC)


def _call(provider: str, model: str, tokens: TokenCounts, at: datetime = JAN_20, **kw: object) -> UsageRecord:
    record = usage_record(key="k", source="api", start=at, provider=provider, model=model, tokens=tokens)
    for name, value in kw.items():
        setattr(record, name, value)
    return record


def _cost(
    provider: str,
    model: str,
    tokens: TokenCounts,
    at: datetime = JAN_20,
    *,
    pricer: Pricer | None = None,
    **kw: object,
) -> Decimal | None:
    record = _call(provider, model, tokens, at, **kw)
    (pricer or Pricer()).price(record)
    return record.cost


def _override(id: int | None, prices: dict[str, object], **kw: object) -> PriceOverride:
    fields: dict[str, object] = {
        "provider": "openai",
        "model_pattern": "gpt-4o-mini",
        "note": "contract 2026",
    }
    fields.update(kw)
    return PriceOverride(id=id, prices=prices, **fields)  # type: ignore[arg-type]


# ---- catalogue ----------------------------------------------------------------------------


def test_pricer_plain_input_output() -> None:
    record = _call("openai", "gpt-4o", TokenCounts(input=1000, output=500))
    Pricer().price(record)
    # gpt-4o $2.50 in / $10 out: 1000 × 2.5 + 500 × 10 = 2500 + 5000 = 7500 per 1M = $0.0075
    assert record.cost == Decimal("0.0075")
    assert record.pricing_status is PricingStatus.PRICED
    assert record.price_source == "genai-prices 0.2.3: openai/gpt-4o"
    assert record.currency == "USD"


def test_pricer_cached_reads_are_part_of_input() -> None:
    tokens = TokenCounts(input=10_000, cached_input=4_000, output=1_000)
    # gpt-4o-mini $0.15 in / $0.075 cached / $0.60 out:
    # 6000 uncached × 0.15 = 900; 4000 cached × 0.075 = 300; 1000 × 0.6 = 600 → 1800 per 1M
    assert _cost("openai", "gpt-4o-mini", tokens) == Decimal("0.0018")


def test_pricer_anthropic_cache_writes_5m_and_1h() -> None:
    tokens = TokenCounts.from_disjoint(
        uncached_input=100, cache_read=900, cache_write_5m=50, cache_write_1h=20, output=200
    )
    # claude-sonnet-4-5 $3 in / $0.30 read / $3.75 5m write / $6 1h write / $15 out:
    # 100 × 3 = 300; 900 × 0.3 = 270; 50 × 3.75 = 187.5; 20 × 6 = 120; 200 × 15 = 3000
    # → 3877.5 per 1M
    assert _cost("anthropic", "claude-sonnet-4-5", tokens) == Decimal("0.0038775")


@pytest.mark.parametrize("reasoning", [0, 1_000, 3_000])
def test_pricer_reasoning_billed_as_output(reasoning: int) -> None:
    tokens = TokenCounts(input=2_000, output=3_000, reasoning=reasoning)
    at = datetime(2025, 7, 1, tzinfo=UTC)
    # o3 after the cut, $2 in / $8 out; reasoning is output at the output rate:
    # 2000 × 2 = 4000; 3000 × 8 = 24000 → 28000 per 1M, whatever the reasoning count
    assert _cost("openai", "o3", tokens, at) == Decimal("0.028")


def test_pricer_price_change_on_date() -> None:
    tokens = TokenCounts(input=10_000, output=5_000)
    # o3 cut from $10/$40 to $2/$8 on 2025-06-10
    # before: 10000 × 10 + 5000 × 40 = 100000 + 200000 = 300000 per 1M = $0.30
    assert _cost("openai", "o3", tokens, datetime(2025, 6, 9, 23, 59, tzinfo=UTC)) == Decimal("0.3")
    # after: 10000 × 2 + 5000 × 8 = 20000 + 40000 = 60000 per 1M = $0.06
    assert _cost("openai", "o3", tokens, datetime(2025, 6, 10, 0, 0, tzinfo=UTC)) == Decimal("0.06")
    assert _cost("openai", "o3", tokens, datetime(2025, 6, 11, tzinfo=UTC)) == Decimal("0.06")


def test_pricer_same_pricer_prices_each_record_at_its_own_date() -> None:
    # the rate cache is per UTC day: one Pricer must not reuse the 06-09 rate on 06-11
    pricer = Pricer()
    tokens = TokenCounts(input=1_000_000)
    # 1M × $10 then 1M × $2
    assert _cost("openai", "o3", tokens, datetime(2025, 6, 9, tzinfo=UTC), pricer=pricer) == Decimal("10")
    assert _cost("openai", "o3", tokens, datetime(2025, 6, 11, tzinfo=UTC), pricer=pricer) == Decimal("2")
    assert _cost("openai", "o3", tokens, datetime(2025, 6, 9, 18, tzinfo=UTC), pricer=pricer) == Decimal("10")


def test_pricer_long_context_tier_from_catalogue() -> None:
    # claude-sonnet-4-5: a request over 200k input tokens pays $6 in / $22.50 out on all of it
    over = TokenCounts(input=250_000, output=1_000)
    # 250000 × 6 = 1,500,000; 1000 × 22.5 = 22,500 → 1,522,500 per 1M
    assert _cost("anthropic", "claude-sonnet-4-5", over) == Decimal("1.5225")
    at_threshold = TokenCounts(input=200_000, output=1_000)
    # exactly 200k is not over: 200000 × 3 = 600,000; 1000 × 15 = 15,000 → 615,000 per 1M
    assert _cost("anthropic", "claude-sonnet-4-5", at_threshold) == Decimal("0.615")


def test_pricer_long_context_tier_from_shipped_correction() -> None:
    tokens = TokenCounts(input=250_000, cached_input=50_000, output=2_000)
    record = _call("anthropic", "claude-sonnet-4-20250514", tokens)
    Pricer().price(record)
    # Sonnet 4 over 200k (correction): $6 in / $0.60 read / $22.50 out:
    # 200000 × 6 = 1,200,000; 50000 × 0.6 = 30,000; 2000 × 22.5 = 45,000 → 1,275,000 per 1M
    assert record.cost == Decimal("1.275")
    assert record.price_source is not None
    assert record.price_source.startswith("correction: Sonnet 4 long-context")
    # before the correction's date, the catalogue's flat $3 / $0.30 / $15:
    # 200000 × 3 = 600,000; 50000 × 0.3 = 15,000; 2000 × 15 = 30,000 → 645,000 per 1M
    before = datetime(2025, 8, 11, tzinfo=UTC)
    assert _cost("anthropic", "claude-sonnet-4-20250514", tokens, before) == Decimal("0.645")


def test_pricer_aggregated_record_tiers_on_average_request() -> None:
    tokens = TokenCounts(input=300_000, output=2_000)
    # two requests of 150k each stay under the 200k tier: $3 / $15
    # 300000 × 3 = 900,000; 2000 × 15 = 30,000 → 930,000 per 1M
    assert _cost("anthropic", "claude-sonnet-4-5", tokens, requests=2) == Decimal("0.93")
    # one request of 300k is over it: $6 / $22.50
    # 300000 × 6 = 1,800,000; 2000 × 22.5 = 45,000 → 1,845,000 per 1M
    assert _cost("anthropic", "claude-sonnet-4-5", tokens, requests=1) == Decimal("1.845")


def test_pricer_per_request_price_counts_requests() -> None:
    tokens = TokenCounts(input=1_000, output=1_000)
    # perplexity sonar: $1 in / $1 out / $12 per 1000 requests
    # 3 requests: 3 × 12 / 1000 = 0.036; tokens 1000 × 1 + 1000 × 1 = 2000 per 1M = 0.002 → 0.038
    assert _cost("perplexity", "sonar", tokens, requests=3) == Decimal("0.038")


# ---- overrides ----------------------------------------------------------------------------


def test_pricer_override_wins_over_catalogue() -> None:
    pricer = Pricer(overrides=[_override(1, {"input_mtok": "0.1", "output_mtok": "0.4"})])
    record = _call("openai", "gpt-4o-mini", TokenCounts(input=1_000, output=1_000))
    pricer.price(record)
    # override $0.10 / $0.40 instead of the catalogue's $0.15 / $0.60:
    # 1000 × 0.1 + 1000 × 0.4 = 500 per 1M
    assert record.cost == Decimal("0.0005")
    assert record.price_source == "override #1: contract 2026"


def test_pricer_override_effective_window() -> None:
    override = _override(
        7,
        {"input_mtok": "1", "output_mtok": "1"},
        effective_from=datetime(2026, 1, 15, tzinfo=UTC),
        effective_to=datetime(2026, 2, 1, tzinfo=UTC),
    )
    pricer = Pricer(overrides=[override])
    tokens = TokenCounts(input=1_000_000, output=1_000_000)

    def cost_at(*when: int) -> Decimal | None:
        return _cost("openai", "gpt-4o-mini", tokens, datetime(*when, tzinfo=UTC), pricer=pricer)

    # before and after: catalogue $0.15 + $0.60 = $0.75 for 1M in + 1M out
    assert cost_at(2026, 1, 14, 23, 59) == Decimal("0.75")
    # inside [2026-01-15, 2026-02-01): $1 + $1 = $2
    assert cost_at(2026, 1, 15) == Decimal("2")
    assert cost_at(2026, 1, 31, 23, 59) == Decimal("2")
    # effective_to is exclusive
    assert cost_at(2026, 2, 1) == Decimal("0.75")


def test_pricer_override_window_naive_bounds_are_utc() -> None:
    # SQLite hands timestamps back naive; they are UTC
    override = _override(3, {"input_mtok": "1"}, effective_from=datetime(2026, 1, 15))
    pricer = Pricer(overrides=[override])
    tokens = TokenCounts(input=1_000_000)
    # before: catalogue 1M × $0.15; from the 15th: 1M × $1
    before = datetime(2026, 1, 14, tzinfo=UTC)
    assert _cost("openai", "gpt-4o-mini", tokens, before, pricer=pricer) == Decimal("0.15")
    inside = datetime(2026, 1, 15, tzinfo=UTC)
    assert _cost("openai", "gpt-4o-mini", tokens, inside, pricer=pricer) == Decimal("1")


def test_pricer_newest_override_wins() -> None:
    older = _override(1, {"input_mtok": "1", "output_mtok": "1"}, note="old contract")
    newer = _override(2, {"input_mtok": "2", "output_mtok": "2"}, note="new contract")
    record = _call("openai", "gpt-4o-mini", TokenCounts(input=1_000_000, output=500_000))
    Pricer(overrides=[newer, older]).price(record)
    # newest (id 2): 1M × $2 + 0.5M × $2 = $3, whatever order they are given in
    assert record.cost == Decimal("3")
    assert record.price_source == "override #2: new contract"
    record = _call("openai", "gpt-4o-mini", TokenCounts(input=1_000_000, output=500_000))
    Pricer(overrides=[older, newer]).price(record)
    assert record.cost == Decimal("3")


def test_pricer_override_without_cached_price_charges_cached_at_input_rate() -> None:
    pricer = Pricer(overrides=[_override(1, {"input_mtok": "1", "output_mtok": "2"})])
    tokens = TokenCounts(input=1_000, cached_input=400, output=500)
    # no cached price: all 1000 input × $1 = 1000 (not 600 × 1 + 400 × 0.075); 500 × 2 = 1000
    # → 2000 per 1M
    assert _cost("openai", "gpt-4o-mini", tokens, pricer=pricer) == Decimal("0.002")


def test_pricer_override_tiered_and_pattern() -> None:
    # a self-hosted family priced by pattern with a >100k tier on input
    override = PriceOverride(
        id=4,
        provider="*",
        model_pattern="acme-llm-*",
        prices={"input_mtok": {"base": "1", "tiers": [[100_000, "2"]]}, "output_mtok": "3"},
        note="internal chargeback",
    )
    pricer = Pricer(overrides=[override])
    # 50000 × 1 + 1000 × 3 = 53,000 per 1M; 150000 × 2 + 1000 × 3 = 303,000 per 1M
    small, large = TokenCounts(input=50_000, output=1_000), TokenCounts(input=150_000, output=1_000)
    assert _cost("self", "ACME-LLM-7B", small, pricer=pricer) == Decimal("0.053")
    assert _cost("self", "acme-llm-70b", large, pricer=pricer) == Decimal("0.303")


def test_pricer_override_on_alias_provider_does_not_leak_to_canonical() -> None:
    # "vertex" and "google" share the catalogue, not the user's Vertex contract
    override = PriceOverride(
        id=1,
        provider="vertex",
        model_pattern="gemini-2.5-flash",
        prices={"input_mtok": "0.1"},
        note="vertex deal",
    )
    tokens = TokenCounts(input=1_000_000)
    for order in (("vertex", "google"), ("google", "vertex")):
        pricer = Pricer(overrides=[override])
        costs = {provider: _cost(provider, "gemini-2.5-flash", tokens, pricer=pricer) for provider in order}
        # vertex: 1M × $0.10 (override); google: 1M × $0.30 (catalogue)
        assert costs == {"vertex": Decimal("0.1"), "google": Decimal("0.3")}


# ---- unpriced and provider-reported ------------------------------------------------------


def test_pricer_unknown_model_is_unpriced_never_zero() -> None:
    record = _call("openai", "gpt-9-ultra", TokenCounts(input=1_000, output=1_000))
    Pricer().price(record)
    assert record.cost is None
    assert record.pricing_status is PricingStatus.UNPRICED
    assert record.price_source is None
    unknown_provider = _call("acme", "gpt-4o-mini", TokenCounts(input=1_000))
    Pricer().price(unknown_provider)
    assert unknown_provider.cost is None
    assert unknown_provider.pricing_status is PricingStatus.UNPRICED


def test_pricer_unpriced_record_priced_once_override_arrives() -> None:
    record = _call("openai", "gpt-9-ultra", TokenCounts(input=1_000, output=1_000))
    Pricer().price(record)
    assert record.cost is None
    override = _override(5, {"input_mtok": "5", "output_mtok": "20"}, model_pattern="gpt-9-*")
    Pricer(overrides=[override]).price(record)
    # 1000 × 5 + 1000 × 20 = 25000 per 1M
    assert record.cost == Decimal("0.025")
    assert record.pricing_status is PricingStatus.PRICED


def test_pricer_keeps_provider_reported_cost() -> None:
    record = _call("openai", "gpt-4o-mini", TokenCounts(input=1_000_000), cost=Decimal("1.23"))
    Pricer(overrides=[_override(1, {"input_mtok": "9"})]).price(record)
    # the provider's $1.23 stands (the catalogue would say $0.15, the override $9)
    assert record.cost == Decimal("1.23")
    assert record.pricing_status is PricingStatus.PROVIDER
    # and pricing again never touches it
    Pricer().price(record)
    assert record.cost == Decimal("1.23")
    assert record.pricing_status is PricingStatus.PROVIDER


def test_pricer_reprices_a_priced_record() -> None:
    record = _call("openai", "gpt-4o-mini", TokenCounts(input=1_000_000))
    Pricer().price(record)
    assert record.cost == Decimal("0.15")  # 1M × $0.15
    Pricer(overrides=[_override(1, {"input_mtok": "0.1"})]).price(record)
    assert record.cost == Decimal("0.1")  # 1M × $0.10
    assert record.pricing_status is PricingStatus.PRICED


# ---- batch and service tiers ------------------------------------------------------------


def test_pricer_batch_uses_catalogue_batch_variant() -> None:
    tokens = TokenCounts(input=10_000, cached_input=2_000, output=1_000)
    record = _call("openai", "gpt-4o-mini", tokens, datetime(2026, 10, 14, tzinfo=UTC), batch=True)
    Pricer().price(record)
    # catalogue batch variant from 2026-10-14: $0.075 in / $0.30 out; it names no cached
    # price, so cached reads keep the standard $0.075:
    # 8000 × 0.075 = 600; 2000 × 0.075 = 150; 1000 × 0.3 = 300 → 1050 per 1M
    assert record.cost == Decimal("0.00105")
    assert record.price_source == "genai-prices 0.2.3: openai/gpt-4o-mini (processing=batch)"


def test_pricer_batch_half_price_where_catalogue_has_none() -> None:
    tokens = TokenCounts(input=10_000, cached_input=2_000, output=1_000)
    record = _call("openai", "gpt-4o-mini", tokens, batch=True)
    Pricer().price(record)
    # no batch variant on 2026-01-20: standard $0.15 / $0.075 / $0.60 at 50 %:
    # (8000 × 0.15 + 2000 × 0.075 + 1000 × 0.6) × 0.5 = (1200 + 150 + 600) × 0.5 = 975 per 1M
    assert record.cost == Decimal("0.000975")
    assert record.price_source is not None
    assert record.price_source.endswith("batch at 50% (OpenAI and Anthropic Batch API pricing)")


def test_pricer_batch_half_price_anthropic() -> None:
    tokens = TokenCounts(input=1_000, output=1_000)
    # claude-sonnet-4-5 $3 / $15 at 50 %: (3000 + 15000) × 0.5 = 9000 per 1M
    assert _cost("anthropic", "claude-sonnet-4-5", tokens, batch=True) == Decimal("0.009")
    # without the batch flag: 18000 per 1M
    assert _cost("anthropic", "claude-sonnet-4-5", tokens) == Decimal("0.018")


def test_pricer_batch_without_provider_follows_catalogue_provider() -> None:
    tokens = TokenCounts(input=1_000_000)
    # no provider given: the catalogue resolves gpt-4o-mini to OpenAI, whose batch is 50 %:
    # 1M × $0.15 × 0.5 = $0.075
    assert _cost("", "gpt-4o-mini", tokens, batch=True) == Decimal("0.075")


def test_pricer_batch_no_discount_for_other_providers() -> None:
    tokens = TokenCounts(input=1_000_000, output=1_000_000)
    # mistral-small-latest has no batch rule here: 1M × $0.10 + 1M × $0.30 = $0.40 either way
    assert _cost("mistral", "mistral-small-latest", tokens, batch=True) == Decimal("0.4")


def test_pricer_service_tier_priority_and_flex() -> None:
    tokens = TokenCounts(input=10_000, output=1_000)
    at = datetime(2026, 10, 20, tzinfo=UTC)
    # gpt-5-mini from 2026-10-12 in the catalogue:
    # default $0.25 / $2: 10000 × 0.25 + 1000 × 2 = 2500 + 2000 = 4500 per 1M
    assert _cost("openai", "gpt-5-mini", tokens, at) == Decimal("0.0045")
    # priority $0.45 / $3.60: 4500 + 3600 = 8100 per 1M
    assert _cost("openai", "gpt-5-mini", tokens, at, service_tier="priority") == Decimal("0.0081")
    # flex $0.125 / $1: 1250 + 1000 = 2250 per 1M
    assert _cost("openai", "gpt-5-mini", tokens, at, service_tier="flex") == Decimal("0.00225")
    # "default" is the standard price
    assert _cost("openai", "gpt-5-mini", tokens, at, service_tier="default") == Decimal("0.0045")


# ---- shipped corrections -----------------------------------------------------------------


def test_pricer_correction_mistral_large_latest() -> None:
    tokens = TokenCounts(input=10_000, cached_input=4_000, output=2_000)
    # catalogue until 2025-12-01: Large 2 at $2 / $6, no cached price (cached at input rate):
    # 10000 × 2 + 2000 × 6 = 20000 + 12000 = 32000 per 1M
    before = datetime(2025, 12, 1, 23, tzinfo=UTC)
    assert _cost("mistral", "mistral-large-latest", tokens, before) == Decimal("0.032")
    # corrected from 2025-12-02: Large 3 at $0.5 / $0.05 cached / $1.5:
    # 6000 × 0.5 + 4000 × 0.05 + 2000 × 1.5 = 3000 + 200 + 3000 = 6200 per 1M
    record = _call("mistral", "mistral-large-latest", tokens, datetime(2025, 12, 2, tzinfo=UTC))
    Pricer().price(record)
    assert record.cost == Decimal("0.0062")
    assert record.price_source == (
        "correction: Mistral Large 3 at $0.5/$1.5 (Mistral pricing page, 2025-12-02)"
    )
    # the dated id is right in the catalogue (same figure) and keeps its catalogue source
    record = _call("mistral", "mistral-large-2512", tokens, datetime(2026, 1, 20, tzinfo=UTC))
    Pricer().price(record)
    assert record.cost == Decimal("0.0062")
    assert record.price_source == "genai-prices 0.2.3: mistral/mistral-large-2512"


def test_pricer_correction_deepseek_single_price_then_v32() -> None:
    tokens = TokenCounts(input=10_000, cached_input=4_000, output=1_000)

    def deepseek(model: str, at: datetime) -> Decimal | None:
        return _cost("deepseek", model, tokens, at)

    # catalogue, 2025-09-04 17:00 UTC, inside its off-peak window (16:30-00:30): half of
    # $0.27 / $0.07 / $1.10: 6000 × 0.135 + 4000 × 0.035 + 1000 × 0.55 = 810 + 140 + 550 = 1500
    assert deepseek("deepseek-chat", datetime(2025, 9, 4, 17, tzinfo=UTC)) == Decimal("0.0015")
    # corrected 2025-09-05..28: the full price all day, off-peak hours included:
    # 6000 × 0.27 + 4000 × 0.07 + 1000 × 1.1 = 1620 + 280 + 1100 = 3000 per 1M
    assert deepseek("deepseek-chat", datetime(2025, 9, 10, 17, tzinfo=UTC)) == Decimal("0.003")
    assert deepseek("deepseek-chat", datetime(2025, 9, 28, 12, tzinfo=UTC)) == Decimal("0.003")
    # reasoner $0.55 / $0.14 / $2.19: 3300 + 560 + 2190 = 6050 per 1M
    assert deepseek("deepseek-reasoner", datetime(2025, 9, 10, 17, tzinfo=UTC)) == Decimal("0.00605")
    # V3.2 from 2025-09-29, both models $0.28 / $0.028 / $0.42:
    # 6000 × 0.28 + 4000 × 0.028 + 1000 × 0.42 = 1680 + 112 + 420 = 2212 per 1M
    assert deepseek("deepseek-chat", datetime(2025, 9, 29, tzinfo=UTC)) == Decimal("0.002212")
    assert deepseek("deepseek-reasoner", datetime(2026, 1, 20, 17, tzinfo=UTC)) == Decimal("0.002212")


def test_pricer_corrections_off_uses_catalogue() -> None:
    tokens = TokenCounts(input=10_000, output=2_000)
    at = datetime(2025, 12, 2, tzinfo=UTC)
    # catalogue's $2 / $6 for mistral-large: 20000 + 12000 = 32000 per 1M
    assert _cost("mistral", "mistral-large-latest", tokens, at, pricer=Pricer(corrections=False)) == Decimal(
        "0.032"
    )


# ---- names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "model"),
    [
        ("openai", "gpt-4o-mini"),
        ("openai", "openai/gpt-4o-mini"),
        ("OpenAI", "GPT-4o-mini"),
        ("openai", "  gpt-4o-mini "),
        ("azure", "azure/gpt-4o-mini"),
    ],
)
def test_pricer_normalises_openai_model_names(provider: str, model: str) -> None:
    # gpt-4o-mini $0.15 / $0.60: 1M × 0.15 + 1M × 0.6 = $0.75
    assert _cost(provider, model, TokenCounts(input=1_000_000, output=1_000_000)) == Decimal("0.75")


@pytest.mark.parametrize(
    ("provider", "model"),
    [
        ("google", "gemini-2.5-flash"),
        ("gcp.gemini", "models/gemini-2.5-flash"),
        ("gcp.vertex_ai", "gemini-2.5-flash"),
        ("gemini", "Models/Gemini-2.5-Flash"),
    ],
)
def test_pricer_normalises_google_aliases(provider: str, model: str) -> None:
    # gemini-2.5-flash $0.30 / $2.50: 1M × 0.3 + 1M × 2.5 = $2.80
    assert _cost(provider, model, TokenCounts(input=1_000_000, output=1_000_000)) == Decimal("2.8")


def test_pricer_normalises_bedrock_and_mistral_aliases() -> None:
    tokens = TokenCounts(input=1_000_000, output=1_000_000)
    # Bedrock amazon.nova-pro-v1:0 $0.80 / $3.20 → $4.00
    assert _cost("aws.bedrock", "amazon.nova-pro-v1:0", tokens) == Decimal("4")
    assert _cost("bedrock", "amazon.nova-pro-v1:0", tokens) == Decimal("4")
    # OpenTelemetry's mistral_ai → mistral, mistral-small-latest $0.10 / $0.30 → $0.40
    assert _cost("mistral_ai", "mistral-small-latest", tokens) == Decimal("0.4")
    assert _cost("mistral_ai", "mistral/mistral-small-latest", tokens) == Decimal("0.4")


def test_pricer_naive_timestamp_is_utc() -> None:
    tokens = TokenCounts(input=1_000_000)
    # o3 on 2025-06-09 23:00 (naive = UTC) is still $10; a zone-aware time past midnight UTC is $2
    assert _cost("openai", "o3", tokens, datetime(2025, 6, 9, 23)) == Decimal("10")
    assert _cost("openai", "o3", tokens, datetime(2025, 6, 10, 0, 30, tzinfo=UTC)) == Decimal("2")


@pytest.mark.parametrize(
    ("provider", "model", "expected"),
    [
        # OpenRouter and Groq list models by routed name: the prefix is part of the name
        # openrouter google/gemini-2.5-flash $0.30 / $2.50 → $2.80
        ("openrouter", "google/gemini-2.5-flash", Decimal("2.8")),
        # openrouter openai/gpt-4o-mini $0.15 / $0.60 → $0.75
        ("openrouter", "openai/gpt-4o-mini", Decimal("0.75")),
        # groq openai/gpt-oss-120b $0.15 / $0.60 → $0.75
        ("groq", "openai/gpt-oss-120b", Decimal("0.75")),
    ],
)
def test_pricer_keeps_routed_model_names_the_catalogue_lists(
    provider: str, model: str, expected: Decimal
) -> None:
    record = _call(provider, model, TokenCounts(input=1_000_000, output=1_000_000))
    Pricer().price(record)
    assert record.cost == expected
    assert record.price_source == f"genai-prices 0.2.3: {provider}/{model}"
