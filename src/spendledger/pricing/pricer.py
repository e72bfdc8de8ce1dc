"""Records without a cost → priced records.

Lookup order (DESIGN.md): the user's overrides → shipped corrections → genai-prices at
the record's own timestamp → unpriced. An unknown model is never priced $0: the record
keeps no cost and the status `unpriced`, and `prices reprice` prices it later.

A record is priced by the id its provider billed the model as (`model_names.provider_model`:
a Bedrock regional profile costs more than the global one, a distinction the ledger's
model name drops); overrides match that id or the ledger's name, and the catalogue is
asked for the id, its normalised form, then the ledger's name (Azure's gpt-4o-0806 is
found as gpt-4o-2024-08-06), so a price is never lost to a spelling.

A self-hosted model's call (local_servers.LOCAL_PROVIDERS: Ollama, LM Studio, vLLM,
llama.cpp...) is never looked up in the catalogue, whose prices are other providers'
for the same weights: an override covering it prices it (per 1M tokens, or per GPU-hour:
gpu.py), else it costs $0. Either way its status is `self_hosted`, never `unpriced`.

Resolved rates are cached per (provider, model, UTC day, service tier, batch, and the
time-of-day window where a catalogue price has one): every price change in the
catalogue, the corrections and the overrides falls on a UTC day boundary or such a
window, so a cache hit is always the price the record's timestamp would get.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import genai_prices
from genai_prices.data_snapshot import get_snapshot
from genai_prices.types import ConditionalPrice, ModelInfo, PriceVariant, Provider, TimeOfDateConstraint

from spendledger.local_servers import LOCAL_PROVIDERS
from spendledger.model_names import PROVIDER_NAMES, canonical_model, canonical_provider, provider_model
from spendledger.pricing.corrections import BATCH_DISCOUNT_PROVIDERS, BATCH_NOTE, CORRECTIONS
from spendledger.pricing.overrides import PriceOverride
from spendledger.pricing.rates import Rates, build_rates, prices_from_model_price
from spendledger.records import PricingStatus, UsageRecord

CATALOGUE = f"genai-prices {genai_prices.__version__}"

# Our provider names (and OpenTelemetry's) → genai-prices provider ids.
PROVIDER_ALIASES: dict[str, str] = {
    "gemini": "google",
    "vertex": "google",
    "gcp.gemini": "google",
    "gcp.vertex_ai": "google",
    "bedrock": "aws",
    "aws.bedrock": "aws",
    "azure.ai.openai": "azure",
    "az.ai.openai": "azure",
    "mistral_ai": "mistral",
    "x_ai": "x-ai",
    "xai": "x-ai",
    # a self-hosted server's spellings ("lm_studio", "llama.cpp"): overrides name the ledger's
    **{name: ours for name, ours in PROVIDER_NAMES.items() if ours in LOCAL_PROVIDERS},
}
SELF_HOSTED_SOURCE = "self-hosted, no price set: $0"  # the source of a local call no override covers
# the statuses of a cost the ledger computed (and re-prices), as opposed to a provider's
_OWN_PRICES = frozenset({PricingStatus.PRICED, PricingStatus.SELF_HOSTED})

_PER_CALL: Any = object()  # Pricer.rates_on: not remembered (yet), look the rates up

_PREFIXES = ("openai/", "azure/", "models/", "anthropic/", "google/", "mistral/", "mistralai/", "deepseek/")


def normalise_model(model: str) -> str:
    """Lower-case and strip routing prefixes genai-prices rejects (`openai/`, `models/`...)."""
    name = model.strip().lower()
    changed = True
    while changed:
        changed = False
        for prefix in _PREFIXES:
            if name.startswith(prefix):
                name = name[len(prefix) :]
                changed = True
    return name


def normalise_provider(provider: str) -> str:
    name = provider.strip().lower()
    return PROVIDER_ALIASES.get(name, name)


@dataclass(frozen=True, slots=True)
class _CatalogueModel:
    provider: Provider
    model: ModelInfo
    time_windows: tuple[TimeOfDateConstraint, ...]
    batch_variants: tuple[PriceVariant, ...]

    def has_batch_price(self, at: datetime) -> bool:
        return any(v.constraint is None or v.constraint.active(at) for v in self.batch_variants)


class Pricer:
    """Prices records; build a new one when overrides change (it snapshots them)."""

    def __init__(self, overrides: Sequence[PriceOverride] = (), *, corrections: bool = True) -> None:
        # newest override first: it wins over older ones covering the same call
        self._overrides = sorted(overrides, key=lambda o: o.id or 0, reverse=True)
        self._corrections = CORRECTIONS if corrections else ()
        self._models: dict[tuple[str, str], _CatalogueModel | None] = {}
        self._rates: dict[tuple[Any, ...], Rates | None] = {}
        self._names: dict[tuple[str, str], tuple[str, str, str, str, str, _CatalogueModel | None]] = {}
        self._daily: dict[tuple[str, str, str, str | None, bool], Rates | None] = {}

    def price(self, record: UsageRecord) -> None:
        """Fill cost, status and price source of `record` (in place); provider costs stay."""
        if record.cost is not None and record.pricing_status not in _OWN_PRICES:
            record.pricing_status = PricingStatus.PROVIDER
            return
        rates = self.rates_for(
            record.provider,
            provider_model(record),
            record.start,
            service_tier=record.service_tier,
            batch=record.batch,
        )
        cost = None if rates is None else rates.cost_of(record.tokens, record.requests, record.latency_ms)
        if rates is None or cost is None:
            record.cost = None
            record.pricing_status = PricingStatus.UNPRICED
            record.price_source = None
            return
        record.cost = cost
        record.currency = rates.currency
        record.pricing_status = self.status_of(record.provider)
        record.price_source = rates.source

    @staticmethod
    def status_of(provider: str) -> PricingStatus:
        """The status of a cost the ledger computed for a call to `provider`: a self-hosted
        server's call is `self_hosted`, any other `priced`."""
        local = canonical_provider(provider) in LOCAL_PROVIDERS
        return PricingStatus.SELF_HOSTED if local else PricingStatus.PRICED

    def price_all(self, records: Iterable[UsageRecord]) -> None:
        for record in records:
            self.price(record)

    def rates_on(
        self,
        provider: str,
        model: str,
        at: datetime,
        utc_day: str,
        *,
        service_tier: str | None = None,
        batch: bool = False,
    ) -> Rates | None:
        """`rates_for`, remembered per `utc_day` (`at`'s UTC date, ISO): a batch's calls
        to one model mostly share a handful of days, and `rates_for` builds its key per call.
        A model whose catalogue price changes within a day (a time-of-day window) is
        looked up per call."""
        key = (provider, model, utc_day, service_tier, batch)
        rates = self._daily.get(key, _PER_CALL)
        if rates is not _PER_CALL:
            return rates  # type: ignore[no-any-return]
        rates = self.rates_for(provider, model, at, service_tier=service_tier, batch=batch)
        catalogue = self._names[(provider, model)][5]
        if catalogue is None or not catalogue.time_windows:
            self._daily[key] = rates
        return rates

    def rates_for(
        self,
        provider: str,
        model: str,
        at: datetime,
        *,
        service_tier: str | None = None,
        batch: bool = False,
    ) -> Rates | None:
        """The rates a call to `model` at `at` pays, or None when no price is known."""
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        names = self._names.get((provider, model))
        if names is None:
            # keyed on the provider as given: an override may name an alias ("vertex") that
            # shares its catalogue provider ("google") but not its price
            provider_raw = provider.strip().lower()
            provider_n = normalise_provider(provider_raw)
            model_l = model.strip().lower()
            model_n = normalise_model(model_l)
            model_c = canonical_model(model_l)
            local = provider_n in LOCAL_PROVIDERS  # never the catalogue's: see the module
            catalogue = None if local else self._catalogue_model(provider_n, model_l, model_n, model_c)
            names = (provider_raw, provider_n, model_l, model_n, model_c, catalogue)
            self._names[(provider, model)] = names
        provider_raw, provider_n, model_l, model_n, model_c, catalogue = names
        windows = (
            tuple(w.active(at) for w in catalogue.time_windows)
            if catalogue and catalogue.time_windows
            else ()
        )
        key = (provider_raw, model_l, at.astimezone(UTC).date(), service_tier, batch, windows)
        try:
            return self._rates[key]
        except KeyError:
            rates = self._resolve(
                provider_raw, provider_n, (model_n, model_c), at, catalogue, service_tier, batch
            )
            self._rates[key] = rates
            return rates

    def _resolve(
        self,
        provider_raw: str,
        provider: str,
        models: tuple[str, str],
        at: datetime,
        catalogue: _CatalogueModel | None,
        service_tier: str | None,
        batch: bool,
    ) -> Rates | None:
        providers = (provider,) if provider_raw == provider else (provider, provider_raw)
        names = models if models[0] != models[1] else models[:1]
        for override in (*self._overrides, *self._corrections):
            if any(override.matches(p, m, at) for p in providers for m in names):
                return self._with_batch(override.rates(), provider, batch, has_batch_variant=False)
        if provider in LOCAL_PROVIDERS:
            return Rates(units=(), currency="USD", source=SELF_HOSTED_SOURCE, exact_pico=True)
        if catalogue is None:
            return None
        context: dict[str, str] = {}
        if service_tier:
            context["service_tier"] = service_tier
        batch_price = batch and catalogue.has_batch_price(at)
        if batch_price:
            context["processing"] = "batch"
        model_price = catalogue.model.get_prices(at, context or None)
        source = f"{CATALOGUE}: {catalogue.provider.id}/{catalogue.model.id}"
        if context:
            source += " (" + ", ".join(f"{k}={v}" for k, v in sorted(context.items())) + ")"
        rates = build_rates(prices_from_model_price(model_price), currency="USD", source=source)
        if not rates.units:
            return None
        # a record without a provider is priced as the catalogue's guess, batch rule included
        batch_provider = provider or catalogue.provider.id
        return self._with_batch(rates, batch_provider, batch, has_batch_variant=batch_price)

    @staticmethod
    def _with_batch(rates: Rates, provider: str, batch: bool, *, has_batch_variant: bool) -> Rates:
        if not batch or has_batch_variant or provider not in BATCH_DISCOUNT_PROVIDERS:
            return rates
        return Rates(
            units=rates.units,
            currency=rates.currency,
            source=f"{rates.source}; {BATCH_NOTE}",
            multiplier=rates.multiplier * Decimal("0.5"),
            exact_pico=rates.exact_pico,
        )

    def _catalogue_model(
        self, provider: str, model: str, normalised: str, canonical: str
    ) -> _CatalogueModel | None:
        """The catalogue's entry for `model` as given, else for its normalised name, else
        for the ledger's name of it.

        As given first: OpenRouter and Groq list models by their routed names
        ("google/gemini-2.5-flash"); the providers that reject a prefix find none.
        """
        key = (provider, model)
        if key in self._models:
            return self._models[key]
        found: _CatalogueModel | None = None
        snapshot = get_snapshot()
        for name in dict.fromkeys((model, normalised, canonical)):
            try:
                prov, info = snapshot.find_provider_model(name, None, provider or None, None)
            except LookupError:
                continue
            conditional = info.prices if isinstance(info.prices, list) else []
            windows = tuple(
                c.constraint
                for c in conditional
                if isinstance(c, ConditionalPrice) and isinstance(c.constraint, TimeOfDateConstraint)
            )
            batch_variants = tuple(
                v for v in info.price_variants or () if v.when.get("processing") == "batch"
            )
            found = _CatalogueModel(prov, info, windows, batch_variants)
            break
        self._models[key] = found
        return found


def price_day(d: date) -> datetime:
    """Noon UTC of `d`: the instant `prices show --at DATE` looks prices up at."""
    return datetime(d.year, d.month, d.day, 12, tzinfo=UTC)
