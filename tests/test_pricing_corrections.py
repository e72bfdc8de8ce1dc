"""Shipped corrections: each still fixes something the pinned catalogue gets wrong.

When a test here fails after a genai-prices upgrade, the catalogue has caught up: remove
that correction from `pricing/corrections.py` (and its case here).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest

from spendledger.pricing import PriceOverride, Pricer
from spendledger.pricing.corrections import BATCH_DISCOUNT_PROVIDERS, CORRECTIONS

CATALOGUE = Pricer(corrections=False)
_NOTE = re.compile(r"^correction: .+ \((?P<source>[^()]+), (?P<date>\d{4}-\d{2}-\d{2})\)$")


def _model(correction: PriceOverride) -> str:
    """A concrete model name the correction's pattern matches."""
    return correction.model_pattern.replace("*", "")


def _samples(correction: PriceOverride) -> list[datetime]:
    """Instants across the correction's window: every hour of its first day (time-of-day
    prices differ by the hour), then a day a month for a year."""
    assert correction.effective_from is not None
    first = correction.effective_from
    end = correction.effective_to or first + timedelta(days=366)
    hours = [first + timedelta(hours=h, minutes=30) for h in range(24)]
    days = [first + timedelta(days=30 * i, hours=12) for i in range(13)]
    return [t for t in (*hours, *days) if t < end]


def _id(correction: PriceOverride) -> str:
    assert correction.effective_from is not None
    return f"{correction.provider}/{correction.model_pattern}@{correction.effective_from.date()}"


@pytest.mark.parametrize("correction", CORRECTIONS, ids=_id)
def test_correction_still_differs_from_catalogue(correction: PriceOverride) -> None:
    corrected = correction.rates().describe()
    differs = []
    for at in _samples(correction):
        catalogue = CATALOGUE.rates_for(correction.provider, _model(correction), at)
        if catalogue is None or catalogue.describe() != corrected:
            differs.append(at)
    assert differs, f"the catalogue now agrees with {_id(correction)}: remove the correction"


@pytest.mark.parametrize("correction", CORRECTIONS, ids=_id)
def test_correction_keeps_every_price_the_catalogue_has(correction: PriceOverride) -> None:
    # a correction replaces the catalogue's rates whole: a unit it leaves out (cached
    # reads, 1 h writes) would fall back to its parent's rate and overcharge
    corrected = set(correction.rates().describe())
    for at in _samples(correction):
        catalogue = CATALOGUE.rates_for(correction.provider, _model(correction), at)
        if catalogue is not None:
            assert set(catalogue.describe()) <= corrected, at


@pytest.mark.parametrize("correction", CORRECTIONS, ids=_id)
def test_correction_wins_over_catalogue_in_its_window(correction: PriceOverride) -> None:
    pricer = Pricer()
    for at in _samples(correction):
        rates = pricer.rates_for(correction.provider, _model(correction), at)
        assert rates is not None
        assert rates.source == correction.note
        assert rates.describe() == correction.rates().describe()


@pytest.mark.parametrize("correction", CORRECTIONS, ids=_id)
def test_correction_note_names_source_and_date(correction: PriceOverride) -> None:
    match = _NOTE.match(correction.note)
    assert match, f"{correction.note!r} is not 'correction: WHAT (SOURCE, YYYY-MM-DD)'"
    noted = date.fromisoformat(match["date"])
    assert date(2023, 1, 1) <= noted <= datetime.now(UTC).date()
    assert correction.id is None  # never mistaken for a user's override


@pytest.mark.parametrize("correction", CORRECTIONS, ids=_id)
def test_correction_window_on_utc_day_boundaries(correction: PriceOverride) -> None:
    # the Pricer caches rates per UTC day: a window must start and end at UTC midnight
    for bound in (correction.effective_from, correction.effective_to):
        if bound is not None:
            assert bound.tzinfo is not None
            assert bound.astimezone(UTC).time() == datetime.min.time()


def test_correction_patterns_never_shadow_a_right_catalogue_model() -> None:
    # mistral-large-2512 is priced right in the catalogue (cached reads and a batch
    # variant included): no correction may cover it
    at = datetime(2026, 1, 20, tzinfo=UTC)
    assert not any(c.matches("mistral", "mistral-large-2512", at) for c in CORRECTIONS)


@pytest.mark.parametrize("provider", sorted(BATCH_DISCOUNT_PROVIDERS))
def test_batch_rule_still_needed_for_catalogue_without_batch_price(provider: str) -> None:
    # the 50 % batch rule is needed while some current model has no batch variant
    models = {
        "openai": ("gpt-5.3", "gpt-5.3-codex", "chatgpt-4o-latest"),
        "anthropic": ("claude-opus-4-1", "claude-sonnet-4-0"),
    }
    today = datetime.now(UTC)
    lacking = []
    for model in models[provider]:
        rates = CATALOGUE.rates_for(provider, model, today, batch=True)
        assert rates is not None
        if "processing=batch" not in rates.source:
            lacking.append(model)
    assert lacking, f"every {provider} model listed has a catalogue batch price: the 50 % rule may go"
