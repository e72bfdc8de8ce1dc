"""A fake provider's own totals keyed as the ledger keys them: by the ledger's model name.

Fakes know their totals by the provider's model ids (`claude-opus-4-1-20250805`); the
ledger stores the model under its name for it (`claude-opus-4-1`, model_names.py), so a
report by model is compared with the fake's totals summed under those names.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import TypeVar

from spendledger.model_names import canonical_model

Key = TypeVar("Key", bound=tuple[str, ...])


def by_ledger_model(totals: dict[Key, Decimal]) -> dict[Key, Decimal]:
    """`totals` keyed by (..., provider's model id) → keyed by (..., ledger's model name)."""
    out: dict[Key, Decimal] = defaultdict(Decimal)
    for key, amount in totals.items():
        out[(*key[:-1], canonical_model(key[-1]))] += amount  # type: ignore[index]
    return dict(out)
