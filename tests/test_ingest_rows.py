"""The events API's fast way to rows agrees with the records' way, to the nano.

A batch's events become `usage` rows without a `UsageRecord` (`ingest.records.EventRows`),
priced in integer nanos (`Rates.cost_nanos`). Both must give exactly what the records'
way gives: `to_nanos` of the Decimal cost, and `record_to_row` of the priced
`event_to_record`, for every event, rejections included.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from spendledger.ingest.event import Event
from spendledger.ingest.records import EventError, EventRows, event_to_record
from spendledger.pricing import PriceOverride, Pricer
from spendledger.pricing.rates import build_rates
from spendledger.records import TokenCounts, to_nanos
from spendledger.store.rows import DayOf, record_to_row
from test_pricing_rates import MODELS, contract_tokens

_OVERRIDES = [
    PriceOverride(
        id=1,
        provider="openai",
        model_pattern="gpt-4o-mini",
        prices={"input_mtok": "0.1234567", "output_mtok": "0.3"},
        currency="USD",
        note="negotiated",
    ),
    PriceOverride(
        id=2,
        provider="ollama",
        model_pattern="llama3",
        prices={"gpu_hour": "2.5"},
        currency="EUR",
        note="a GPU",
    ),
]
_PRICER = Pricer(_OVERRIDES)
_NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


@settings(max_examples=400, deadline=None)
@given(
    tokens=contract_tokens(),
    model=st.sampled_from(MODELS),
    at=st.datetimes(
        min_value=datetime(2024, 1, 1), max_value=datetime(2026, 12, 31, 23, 59), timezones=st.just(UTC)
    ),
    requests=st.integers(min_value=0, max_value=5),
    batch=st.booleans(),
)
def test_rates_cost_nanos_equals_nanos_of_decimal_cost(
    tokens: TokenCounts, model: tuple[str, str], at: datetime, requests: int, batch: bool
) -> None:
    rates = _PRICER.rates_for(*model, at, batch=batch)
    assert rates is not None
    assert rates.cost_nanos(tokens, requests, None) == to_nanos(rates.cost(tokens, requests))


_price = st.decimals(min_value=0, max_value=1000, places=7, allow_nan=False, allow_infinity=False)


@settings(max_examples=600, deadline=None)
@given(
    input_price=_price,
    output_price=_price,
    tier=st.one_of(st.none(), st.tuples(st.integers(0, 300_000), _price)),
    multiplier=st.decimals(min_value=0, max_value=3, places=5, allow_nan=False, allow_infinity=False),
    inp=st.integers(min_value=0, max_value=10**13),
    out=st.integers(min_value=0, max_value=10**13),
    requests=st.integers(min_value=0, max_value=3),
)
@example(Decimal("0.0015"), Decimal(0), None, Decimal(1), 1, 0, 1)  # 1.5 nanos: half, to even (2)
@example(Decimal("0.0025"), Decimal(0), None, Decimal(1), 1, 0, 1)  # 2.5 nanos: half, to even (2)
@example(Decimal("0.003"), Decimal(0), None, Decimal("0.5"), 1, 0, 1)  # 1.5 nanos after the discount
@example(Decimal("999.9999999"), Decimal(1), None, Decimal("2.99999"), 10**13, 10**13, 1)  # past 28 digits
def test_rates_cost_nanos_rounds_as_to_nanos(
    input_price: Decimal,
    output_price: Decimal,
    tier: tuple[int, Decimal] | None,
    multiplier: Decimal,
    inp: int,
    out: int,
    requests: int,
) -> None:
    # any prices (whole pico-units or not), discounts and counts up to the bounds the API takes
    prices: dict[str, Any] = {"input_mtok": input_price, "output_mtok": output_price}
    if tier is not None:
        prices["input_mtok"] = ((0, input_price), tier)
    rates = build_rates(prices, currency="USD", source="test", multiplier=multiplier)
    tokens = TokenCounts(input=inp, output=out)
    assert rates.cost_nanos(tokens, requests, None) == to_nanos(rates.cost(tokens, requests))


# --- EventRows against the records' way ------------------------------------------------------

_names = st.sampled_from(["", "a", "support-bot", "Team A"])
_zones = st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=45)), timezone(timedelta(hours=-8))])


@st.composite
def events(draw: st.DrawFn) -> Event:
    """Events as the API takes them (or nearly: some break a rule and are rejected)."""
    provider, model = draw(
        st.one_of(
            st.sampled_from(MODELS),
            st.tuples(
                st.sampled_from(["openai", "OpenAI", "azure", "bedrock", "ollama", "lm_studio", "acme"]),
                st.sampled_from(
                    [
                        "gpt-4o-mini",
                        "gpt-4o-2024-08-06",
                        "openai/gpt-4o",
                        "models/gemini-2.5-flash",
                        "llama3",
                        "ft:gpt-4.1-mini:acme:x",
                        "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
                    ]
                ),
            ),
        )
    )
    tokens = draw(contract_tokens())
    if draw(st.integers(0, 20)) == 0:  # break the token contract now and then
        tokens.cached_input = tokens.input + 1
    tags = draw(
        st.one_of(
            st.none(),
            st.just({}),
            st.dictionaries(st.sampled_from(["env", "team"]), st.sampled_from(["prod", "x"]), max_size=2),
            st.just({"provider_model": "gpt-4o-2024-08-06"}),
            st.just({"provider_model": "someone's label"}),
            st.just({"deep": {"a": {"b": {"c": {"d": 1}}}}}),
        )
    )
    return Event(
        id=draw(st.sampled_from(["e1", "e2", "evt-ü"])),
        timestamp=draw(
            st.datetimes(
                min_value=datetime(1999, 12, 31), max_value=datetime(2100, 1, 1, 3), timezones=_zones
            )
        ),
        provider=provider,
        model=model,
        account=draw(st.sampled_from([None, "", "org-1"])),
        project=draw(_names),
        user=draw(_names),
        feature=draw(st.sampled_from([None, "chat"])),
        customer=draw(st.sampled_from([None, "acme"])),
        tags=tags,
        requests=draw(st.sampled_from([1, 1, 3, 0, -1])),
        input_tokens=tokens.input,
        cached_input_tokens=tokens.cached_input,
        cache_write_5m_tokens=tokens.cache_write_5m,
        cache_write_1h_tokens=tokens.cache_write_1h,
        output_tokens=tokens.output,
        reasoning_tokens=tokens.reasoning,
        audio_input_tokens=tokens.audio_input,
        audio_output_tokens=tokens.audio_output,
        service_tier=draw(st.sampled_from([None, "flex", "priority"])),
        batch=draw(st.booleans()),
        cost=draw(st.sampled_from([None, None, Decimal(0), Decimal("0.0123456789"), Decimal("5")])),
        currency=draw(st.sampled_from(["USD", "usd", "EUR", "XYZ"])),
        latency_ms=draw(st.sampled_from([None, 0, 1500])),
        status=draw(st.sampled_from([None, "ok"])),
        request_id=draw(st.sampled_from([None, "req_1"])),
    )


def _by_record(event: Event, tz: ZoneInfo) -> dict[str, Any] | tuple[str, str]:
    try:
        record = event_to_record(event)
    except EventError as exc:
        return exc.field, str(exc)
    if record.cost is None:
        _PRICER.price(record)
    return record_to_row(record, day_of=DayOf(tz), written_at=_NOW)


def _fast(event: Event, tz: ZoneInfo) -> dict[str, Any] | tuple[str, str]:
    try:
        return EventRows(pricer=_PRICER, tz=tz, written_at=_NOW)(event)
    except EventError as exc:
        return exc.field, str(exc)


@pytest.mark.parametrize("zone", ["UTC", "Asia/Kathmandu", "America/Los_Angeles"])
@settings(max_examples=400, deadline=None)
@given(event=events())
def test_ingest_event_rows_equal_rows_of_priced_records(zone: str, event: Event) -> None:
    tz = ZoneInfo(zone)
    assert _fast(event, tz) == _by_record(event, tz)


@pytest.mark.parametrize(
    "at",
    [
        datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5))),  # no UTC time: before year 1
        datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-5))),  # after year 9999
        datetime(2099, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2100, 1, 1, 1, tzinfo=timezone(timedelta(hours=2))),  # 23:00 UTC the day before
        datetime(2000, 1, 1, tzinfo=timezone(timedelta(minutes=1))),  # a minute before 2000 in UTC
    ],
)
def test_ingest_event_rows_check_times_at_the_edges_as_records_do(at: datetime) -> None:
    event = Event(id="e1", timestamp=at, provider="openai", model="gpt-4o-mini", input_tokens=10)
    assert _fast(event, ZoneInfo("UTC")) == _by_record(event, ZoneInfo("UTC"))
