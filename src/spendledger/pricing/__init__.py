"""Pricing: genai-prices as the catalogue, with shipped corrections and user overrides."""

from spendledger.pricing.overrides import OverrideError, PriceOverride, parse_prices
from spendledger.pricing.pricer import Pricer, normalise_model, normalise_provider
from spendledger.pricing.rates import Rates

__all__ = [
    "OverrideError",
    "PriceOverride",
    "Pricer",
    "Rates",
    "normalise_model",
    "normalise_provider",
    "parse_prices",
]
