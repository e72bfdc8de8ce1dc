"""Resolved rates for one (provider, model, price period) and the arithmetic that uses them.

genai-prices' `calc_price` runs ~5-9 k calls/s; the ledger prices each call with rates
resolved once per (provider, model, period) and cached, doing the arithmetic here in
`Decimal`. The arithmetic mirrors genai-prices exactly (a test cross-checks the two):
each priced unit is charged for its count minus the counts of the more specific priced
units it contains (cached reads are part of input, 1 h cache writes part of cache
writes, ...), and a tiered price applies its highest tier crossed to all of the unit.

A row needs the cost in nano-units only: `cost_nanos` gives `to_nanos` of the Decimal
cost from integer pico-units where that is exact (tests/test_ingest_rows.py proves it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from typing import Any

from genai_prices.types import ModelPrice, TieredPrices
from genai_prices.units import _get_registry

from spendledger.pricing.gpu import GpuTime
from spendledger.records import TokenCounts, to_nanos

Price = Decimal | tuple[tuple[int, Decimal], ...]  # flat, or ((0, base), (start, price), ...)
# A price per single unit in pico-units (1e-12) of the currency, where that is a whole
# number (it is for every catalogue price): integer sums are exact and ~2x cheaper.
PicoPrice = int | tuple[tuple[int, int], ...]
_PICO = 10**12
_EXACT = 10**28  # the default decimal context's precision: Decimal sums below it are exact

# The price keys the ledger's token contract can fill, with the usage key they price.
# Other keys (images, searches, durations...) find a zero count: the ledger does not
# record those quantities yet.
SUPPORTED_PRICE_KEYS: tuple[str, ...] = (
    "input_mtok",
    "cache_read_mtok",
    "cache_write_mtok",
    "cache_write_5m_mtok",
    "cache_write_1h_mtok",
    "output_mtok",
    "output_reasoning_mtok",
    "input_audio_mtok",
    "output_audio_mtok",
    "requests_kcount",
)


@dataclass(frozen=True, slots=True)
class PricedUnit:
    usage_key: str
    price_key: str
    price: Price
    per: int
    contains: tuple[int, ...]  # indices (into Rates.units) of the priced units inside this one
    pico: PicoPrice | None = None  # the same price per unit in pico-units, when exact


@dataclass(frozen=True, slots=True)
class Rates:
    """What one model costs in one period; `units` are ordered most specific first."""

    units: tuple[PricedUnit, ...]
    currency: str
    source: str  # where the price came from, stored with every record it priced
    multiplier: Decimal = Decimal(1)  # e.g. 0.5 for a batch discount the catalogue lacks
    exact_pico: bool = False  # every unit has a pico price: cost() sums integers
    gpu: GpuTime | None = None  # a self-hosted server's price of GPU time (gpu.py)
    # (numerator, denominator × 1000, the multiplier's digits) for `cost_nanos`'s integer
    # path: nanos = picos × numerator / denominator; None where that path does not apply
    _ratio: tuple[int, int, int] | None = field(init=False, default=None, repr=False, compare=False)
    # each unit's (count, the units inside it, pico price), looked up once: `_picos` runs per call
    _plan: tuple[tuple[Callable[[TokenCounts, int], int], tuple[int, ...], Any], ...] = field(
        init=False, default=(), repr=False, compare=False
    )

    def __post_init__(self) -> None:
        plan = tuple((_COUNTS.get(u.usage_key, _none), u.contains, u.pico) for u in self.units)
        object.__setattr__(self, "_plan", plan)
        if self.exact_pico and self.gpu is None and self.multiplier.is_finite():
            numerator, denominator = self.multiplier.as_integer_ratio()
            digits = int("".join(map(str, self.multiplier.as_tuple().digits)))
            object.__setattr__(self, "_ratio", (numerator, denominator * 1000, max(digits, 1)))

    def cost_of(self, tokens: TokenCounts, requests: int, latency_ms: int | None) -> Decimal | None:
        """The cost of a call: its tokens' plus its GPU time's; None when a GPU time is priced
        but the call's cannot be told (gpu.py)."""
        total = self.cost(tokens, requests)
        if self.gpu is None:
            return total
        gpu = self.gpu.cost(tokens, latency_ms)
        return None if gpu is None else total + gpu

    def cost(self, tokens: TokenCounts, requests: int = 1) -> Decimal:
        """The cost of `tokens` over `requests` calls.

        A tier threshold is per request, so an aggregated record (requests > 1) is tiered
        on its average input per request.
        """
        if self.exact_pico:
            total = Decimal(self._picos(tokens, requests)).scaleb(-12)
        else:
            per_request_input = tokens.input // requests if requests > 1 else tokens.input
            total = Decimal(0)
            for unit, leaf in zip(self.units, self._leaves(tokens, requests), strict=True):
                if leaf:
                    total += _unit_price(unit.price, per_request_input) * leaf / unit.per
        return total * self.multiplier if self.multiplier != 1 else total

    def cost_nanos(self, tokens: TokenCounts, requests: int, latency_ms: int | None) -> int | None:
        """`to_nanos(cost_of(...))` (None when that is None), in integers where the rates
        allow it: the same value, rounded half to even as `to_nanos` rounds, ~5x faster.

        Integers give the Decimal result exactly while the Decimal arithmetic is exact:
        pico prices, no GPU time, and fewer than 28 digits in the product (the default
        context's precision); anything else takes the Decimal path.
        """
        ratio = self._ratio
        if ratio is not None:
            numerator, denominator, coefficient = ratio
            picos = self._picos(tokens, requests)
            if -_EXACT < picos * coefficient < _EXACT:
                quotient, remainder = divmod(picos * numerator, denominator)
                if 2 * remainder > denominator or (2 * remainder == denominator and quotient & 1):
                    quotient += 1
                return quotient
        cost = self.cost_of(tokens, requests, latency_ms)
        return None if cost is None else to_nanos(cost)

    def _picos(self, tokens: TokenCounts, requests: int) -> int:
        """The cost in pico-units before the multiplier (`exact_pico` rates only)."""
        per_request_input = tokens.input // requests if requests > 1 else tokens.input
        leaves: list[int] = []
        picos = 0
        for count, contains, price in self._plan:
            leaf = count(tokens, requests)
            for i in contains:
                leaf -= leaves[i]
            leaves.append(leaf)
            if leaf:
                if type(price) is not int:
                    price = _unit_price(price, per_request_input)
                picos += price * leaf
        return picos

    def _leaves(self, tokens: TokenCounts, requests: int) -> list[int]:
        """Each unit's own count: its count less the counts of the units inside it."""
        leaves: list[int] = []
        for unit in self.units:
            count = _COUNTS.get(unit.usage_key)
            leaf = count(tokens, requests) if count is not None else 0
            for i in unit.contains:
                leaf -= leaves[i]
            leaves.append(leaf)
        return leaves

    def describe(self) -> dict[str, str]:
        """Price per unit as decimal strings, e.g. {"input_mtok": "0.15"} (tiers spelled out)."""
        out: dict[str, str] = {}
        for unit in sorted(self.units, key=lambda u: SUPPORTED_PRICE_KEYS.index(u.price_key)):
            if isinstance(unit.price, Decimal):
                out[unit.price_key] = f"{unit.price * self.multiplier:f}"
            else:
                out[unit.price_key] = ", ".join(
                    f"{p * self.multiplier:f}" + (f" above {start:,}" if start else "")
                    for start, p in unit.price
                )
        if self.gpu is not None:
            out.update(self.gpu.describe())
        return out


def usage_counts(tokens: TokenCounts, requests: int) -> dict[str, int]:
    """The ledger's token contract spelled in genai-prices' usage keys."""
    return {
        "input_tokens": tokens.input,
        "cache_read_tokens": tokens.cached_input,
        "cache_write_tokens": tokens.cache_write_5m + tokens.cache_write_1h,
        "cache_write_5m_tokens": tokens.cache_write_5m,
        "cache_write_1h_tokens": tokens.cache_write_1h,
        "output_tokens": tokens.output,
        "output_reasoning_tokens": tokens.reasoning,
        "input_audio_tokens": tokens.audio_input,
        "output_audio_tokens": tokens.audio_output,
        "requests": requests,
    }


# usage_counts, one usage key at a time: pricing reads only the keys a model prices.
_COUNTS: dict[str, Callable[[TokenCounts, int], int]] = {
    "input_tokens": lambda t, _r: t.input,
    "cache_read_tokens": lambda t, _r: t.cached_input,
    "cache_write_tokens": lambda t, _r: t.cache_write_5m + t.cache_write_1h,
    "cache_write_5m_tokens": lambda t, _r: t.cache_write_5m,
    "cache_write_1h_tokens": lambda t, _r: t.cache_write_1h,
    "output_tokens": lambda t, _r: t.output,
    "output_reasoning_tokens": lambda t, _r: t.reasoning,
    "input_audio_tokens": lambda t, _r: t.audio_input,
    "output_audio_tokens": lambda t, _r: t.audio_output,
    "requests": lambda _t, r: r,
}


def _none(_tokens: TokenCounts, _requests: int) -> int:
    """The count of a usage key the ledger does not record."""
    return 0


def _unit_price(price: Any, per_request_input: int) -> Any:
    """The flat price, or the tier price that applies (Decimal or pico-unit prices alike)."""
    if not isinstance(price, tuple):
        return price
    applicable = price[0][1]
    for start, tier_price in price[1:]:
        if per_request_input > start:  # genai-prices: crossing a tier re-prices all tokens
            applicable = tier_price
    return applicable


@cache
def _unit_dims(price_key: str) -> tuple[str, int, frozenset[tuple[str, str]]]:
    unit = _get_registry().unit_for_price_key(price_key)
    return unit.usage_key, unit.per, frozenset(unit.dimensions.items())


def build_rates(
    prices: Mapping[str, Price], *, currency: str, source: str, multiplier: Decimal = Decimal(1)
) -> Rates:
    """Rates from {price_key: price}; keys are genai-prices' (input_mtok, cache_read_mtok, ...)."""
    entries = []
    for price_key, price in prices.items():
        if price_key not in SUPPORTED_PRICE_KEYS:
            continue
        usage_key, per, dims = _unit_dims(price_key)
        entries.append((usage_key, price_key, price, per, dims))
    # most specific first, as genai-prices' decompose does
    entries.sort(key=lambda e: (-len(e[4]), e[0]))
    units: list[PricedUnit] = []
    for i, (usage_key, price_key, price, per, dims) in enumerate(entries):
        contains = tuple(j for j in range(i) if dims < entries[j][4])
        units.append(PricedUnit(usage_key, price_key, price, per, contains, _pico_price(price, per)))
    return Rates(
        units=tuple(units),
        currency=currency,
        source=source,
        multiplier=multiplier,
        exact_pico=all(u.pico is not None for u in units),
    )


def _pico_price(price: Price, per: int) -> PicoPrice | None:
    """`price` per `per` units as whole pico-units per unit, or None when not whole."""

    def whole(value: Decimal) -> int | None:
        scaled = value * _PICO / per
        return int(scaled) if scaled == scaled.to_integral_value() else None

    if isinstance(price, Decimal):
        return whole(price)
    tiers = [(start, whole(p)) for start, p in price]
    if any(p is None for _, p in tiers):
        return None
    return tuple((start, p) for start, p in tiers if p is not None)


def prices_from_model_price(model_price: ModelPrice) -> dict[str, Price]:
    """genai-prices' ModelPrice → {price_key: Price} for the keys the ledger can fill."""
    out: dict[str, Price] = {}
    for key in SUPPORTED_PRICE_KEYS:
        value = getattr(model_price, key, None)
        if value is None:
            continue
        if isinstance(value, TieredPrices):
            out[key] = ((0, value.base), *((t.start, t.price) for t in value.tiers))
        else:
            out[key] = value
    return out


def parse_price(value: object) -> Price:
    """A price from JSON: "0.5", or {"base": "3", "tiers": [[200000, "6"]]}."""
    if isinstance(value, dict):
        tiers = tuple((int(start), Decimal(str(p))) for start, p in value.get("tiers", []))
        return ((0, Decimal(str(value["base"]))), *sorted(tiers))
    return Decimal(str(value))


def price_to_json(price: Price) -> object:
    if isinstance(price, Decimal):
        return f"{price:f}"
    return {"base": f"{price[0][1]:f}", "tiers": [[start, f"{p:f}"] for start, p in price[1:]]}
