"""A fake provider's own totals keyed as the ledger keys them: by the ledger's model name.

Fakes know their totals by the provider's model ids (`claude-opus-4-1-20250805`); the
ledger stores the model under its name for it (`claude-opus-4-1`, model_names.py), so a
report by model is compared with the fake's totals summed under those names, and the
provider's id a renamed record keeps in its tags (`provider_model`) is read back here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from typing import TypeVar

from sqlalchemy import Engine, select

from spendledger.model_names import PROVIDER_MODEL_TAG, canonical_model
from spendledger.store.tables import usage

Key = TypeVar("Key", bound=tuple[str, ...])


def by_ledger_model(totals: dict[Key, Decimal]) -> dict[Key, Decimal]:
    """`totals` keyed by (..., provider's model id) → keyed by (..., ledger's model name)."""
    out: dict[Key, Decimal] = defaultdict(Decimal)
    for key, amount in totals.items():
        out[(*key[:-1], canonical_model(key[-1]))] += amount  # type: ignore[index]
    return dict(out)


def renamed(models: Iterable[str]) -> set[tuple[str, str]]:
    """(ledger's name, provider's id) of each of the provider's `models` the ledger renames."""
    return {(canonical_model(m), m) for m in models if canonical_model(m) != m}


def kept_provider_models(engine: Engine) -> set[tuple[str, str]]:
    """(stored model, tags' provider_model) of every stored record whose tags keep the provider's id."""
    with engine.connect() as conn:
        rows = conn.execute(select(usage.c.model, usage.c.tags)).all()
    return {(r.model, r.tags[PROVIDER_MODEL_TAG]) for r in rows if r.tags and PROVIDER_MODEL_TAG in r.tags}
