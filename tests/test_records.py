"""The token contract and the money helpers of `records.py`.

Token counts follow OpenAI's and genai-prices' subset semantics: cached reads and cache
writes are part of input, reasoning is part of output, audio is part of its direction,
and the subsets of one direction do not overlap (pricing charges each at its own rate).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spendledger.records import (
    Basis,
    TokenCounts,
    TokenError,
    UsageRecord,
    as_utc,
    cents,
    format_money,
    from_nanos,
    instant_of,
    to_nanos,
)

# ---- the token contract ---------------------------------------------------------------


@pytest.mark.parametrize(
    "tokens",
    [
        TokenCounts(),
        TokenCounts(input=1000, output=100),
        # every subset at its limit: the whole is exactly the sum of its parts
        TokenCounts(input=1000, cached_input=400, cache_write_5m=300, cache_write_1h=200, audio_input=100),
        TokenCounts(input=500, cached_input=500),
        TokenCounts(output=100, reasoning=100),
        TokenCounts(output=100, reasoning=60, audio_output=40),
        TokenCounts(input=10, audio_input=10, output=10, audio_output=10),
    ],
)
def test_tokens_validate_accepts_subsets_within_their_whole(tokens: TokenCounts) -> None:
    tokens.validate()


@pytest.mark.parametrize(
    ("tokens", "field"),
    [
        (TokenCounts(input=100, cached_input=101), "cached_input_tokens"),
        (TokenCounts(input=100, cache_write_5m=101), "cache_write_5m_tokens"),
        (TokenCounts(input=100, cache_write_1h=101), "cache_write_1h_tokens"),
        # reads and writes each fit, together they do not: the write that tips it over is named
        (TokenCounts(input=100, cached_input=60, cache_write_5m=50), "cache_write_5m_tokens"),
        (
            TokenCounts(input=100, cached_input=60, cache_write_5m=30, cache_write_1h=20),
            "cache_write_1h_tokens",
        ),
        (TokenCounts(input=100, audio_input=101), "audio_input_tokens"),
        # audio is uncached audio: cached reads + audio may not overlap
        (TokenCounts(input=100, cached_input=80, audio_input=50), "audio_input_tokens"),
        (TokenCounts(output=100, reasoning=101), "reasoning_tokens"),
        (TokenCounts(output=100, audio_output=101), "audio_output_tokens"),
        (TokenCounts(output=100, reasoning=60, audio_output=50), "audio_output_tokens"),
    ],
)
def test_tokens_validate_rejects_subset_over_whole_naming_field(tokens: TokenCounts, field: str) -> None:
    with pytest.raises(TokenError) as raised:
        tokens.validate()
    assert raised.value.field == field
    assert field in str(raised.value)


def test_tokens_validate_cache_overflow_says_input_counts_cached() -> None:
    # the usual cause is Anthropic's disjoint input_tokens sent as-is: the message says so
    with pytest.raises(TokenError, match=r"\(1000\) exceed input_tokens \(100\).*cached ones included"):
        TokenCounts(input=100, cached_input=900, cache_write_5m=100).validate()


@pytest.mark.parametrize(
    "name",
    [
        "input",
        "cached_input",
        "cache_write_5m",
        "cache_write_1h",
        "output",
        "reasoning",
        "audio_input",
        "audio_output",
    ],
)
def test_tokens_validate_rejects_negative_naming_field(name: str) -> None:
    with pytest.raises(TokenError, match="must be zero or more") as raised:
        TokenCounts(**{name: -1}).validate()
    assert raised.value.field == f"{name}_tokens"


def test_tokens_from_disjoint_converts_anthropic_counts() -> None:
    # Anthropic: input_tokens 100 excludes cache_read 900 and cache_creation 50 (5m) + 20 (1h)
    tokens = TokenCounts.from_disjoint(
        uncached_input=100, cache_read=900, cache_write_5m=50, cache_write_1h=20, output=300
    )
    assert tokens == TokenCounts(
        input=1070, cached_input=900, cache_write_5m=50, cache_write_1h=20, output=300
    )
    tokens.validate()


def test_tokens_add_sums_every_kind() -> None:
    a = TokenCounts(1, 2, 3, 4, 5, 6, 7, 8)
    b = TokenCounts(10, 20, 30, 40, 50, 60, 70, 80)
    assert a + b == TokenCounts(11, 22, 33, 44, 55, 66, 77, 88)


# ---- time -------------------------------------------------------------------------------


def test_record_instant_is_event_time_or_bucket_midpoint() -> None:
    start = datetime(2026, 11, 20, tzinfo=UTC)
    event = UsageRecord(key="e", source="api", basis=Basis.METERED, start=start, provider="openai")
    bucket = UsageRecord(
        key="b", source="s", basis=Basis.BILLED, start=start, end=start + timedelta(days=1), provider="openai"
    )
    assert event.instant == start
    assert bucket.instant == datetime(2026, 11, 20, 12, tzinfo=UTC)
    assert not event.revisable
    assert bucket.revisable


def test_as_utc_reads_naive_as_utc_and_converts_aware() -> None:
    assert as_utc(datetime(2026, 1, 1, 9)) == datetime(2026, 1, 1, 9, tzinfo=UTC)
    tokyo = timezone(timedelta(hours=9))
    converted = as_utc(datetime(2026, 1, 1, 9, tzinfo=tokyo))
    assert converted == datetime(2026, 1, 1, 0, tzinfo=UTC)
    assert converted.tzinfo is UTC
    assert instant_of(datetime(2026, 1, 1), datetime(2026, 1, 1, 2)) == datetime(2026, 1, 1, 1, tzinfo=UTC)


# ---- money ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "nanos"),
    [
        (Decimal("0"), 0),
        (Decimal("1"), 1_000_000_000),
        (Decimal("12.5"), 12_500_000_000),
        (Decimal("0.000000001"), 1),
        (Decimal("0.00021"), 210_000),
        (Decimal("-3.75"), -3_750_000_000),
        # below a nano-unit: half to even
        (Decimal("0.0000000005"), 0),
        (Decimal("0.0000000015"), 2),
        (Decimal("0.0000000025"), 2),
        (Decimal("0.00000000250001"), 3),
        (Decimal("0.0000000034999"), 3),
        (Decimal("-0.0000000015"), -2),
    ],
)
def test_money_to_nanos_rounds_half_even(amount: Decimal, nanos: int) -> None:
    assert to_nanos(amount) == nanos


@given(st.integers(min_value=-(10**18), max_value=10**18))
def test_money_nanos_round_trip_exact(nanos: int) -> None:
    assert to_nanos(from_nanos(nanos)) == nanos


@given(st.decimals(min_value=-(10**9), max_value=10**9, places=9, allow_nan=False, allow_infinity=False))
def test_money_decimal_round_trip_exact_to_nine_places(amount: Decimal) -> None:
    assert from_nanos(to_nanos(amount)) == amount


def test_money_from_nanos_is_exact_decimal() -> None:
    assert from_nanos(1) == Decimal("0.000000001")
    assert from_nanos(210_000) == Decimal("0.00021")
    assert from_nanos(13_750_000_000) == Decimal("13.75")
    assert sum((from_nanos(1) for _ in range(1_000)), Decimal(0)) == Decimal("0.000001")


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (Decimal("0"), "0.00"),
        (Decimal("0E-9"), "0.00"),
        (Decimal("12"), "12.00"),
        (Decimal("1E+2"), "100.00"),
        (Decimal("1.5"), "1.50"),
        (Decimal("13.750000000"), "13.75"),
        (Decimal("0.00021"), "0.00021"),
        (Decimal("0.000000001"), "0.000000001"),
        (Decimal("-2.5"), "-2.50"),
    ],
)
def test_money_format_exact_keeps_at_least_two_places(amount: Decimal, text: str) -> None:
    assert format_money(amount) == text


@pytest.mark.parametrize(
    ("amount", "places", "text"),
    [
        (Decimal("0.125"), 2, "0.12"),
        (Decimal("0.135"), 2, "0.14"),
        (Decimal("0.00021"), 4, "0.0002"),
        (Decimal("1234.5"), 0, "1234"),
        (Decimal("1235.5"), 0, "1236"),
        (Decimal("7"), 3, "7.000"),
    ],
)
def test_money_format_places_rounds_half_even(amount: Decimal, places: int, text: str) -> None:
    assert format_money(amount, places=places) == text


@pytest.mark.parametrize(
    ("amount", "rounded"),
    [
        (Decimal("0.005"), Decimal("0.00")),
        (Decimal("0.015"), Decimal("0.02")),
        (Decimal("0.125"), Decimal("0.12")),
        (Decimal("0.1251"), Decimal("0.13")),
        (Decimal("13.749999999"), Decimal("13.75")),
        (Decimal("-0.015"), Decimal("-0.02")),
    ],
)
def test_money_cents_rounds_half_even(amount: Decimal, rounded: Decimal) -> None:
    result = cents(amount)
    assert result == rounded
    assert result.as_tuple().exponent == -2
