"""The user's price overrides, stored in `price_overrides` and read back for the Pricer.

An override is validated before it is stored (known price kinds, non-negative numbers,
a note saying where the price came from, a window that ends after it starts), so what
`load_overrides` returns can always build a `Pricer`. Names are normalised the way the
Pricer normalises a record's (provider aliases, lower-case model, routing prefixes
stripped), otherwise a pattern typed as "GPT-4o" or "openai/gpt-4o" would never match.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from spendledger.pricing.overrides import OverrideError, PriceOverride, day_start, parse_prices
from spendledger.pricing.pricer import normalise_model, normalise_provider
from spendledger.records import as_utc
from spendledger.store.tables import price_overrides


def add_override(
    conn: Connection,
    *,
    provider: str,
    model_pattern: str,
    prices: Mapping[str, str],
    note: str,
    effective_from: date | None = None,
    effective_to: date | None = None,
    currency: str = "USD",
    now: datetime | None = None,
) -> int:
    """Validate and store an override; returns its id. Raises OverrideError on bad input."""
    values = _validated(
        provider=provider,
        model_pattern=model_pattern,
        prices=prices,
        note=note,
        effective_from=effective_from,
        effective_to=effective_to,
        currency=currency,
    )
    result = conn.execute(insert(price_overrides).values(**values, created_at=now or datetime.now(UTC)))
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def update_override(
    conn: Connection,
    override_id: int,
    *,
    provider: str,
    model_pattern: str,
    prices: Mapping[str, str],
    note: str,
    effective_from: date | None = None,
    effective_to: date | None = None,
    currency: str = "USD",
) -> bool:
    """Replace override `override_id`, validated as `add_override`; False when there is none."""
    values = _validated(
        provider=provider,
        model_pattern=model_pattern,
        prices=prices,
        note=note,
        effective_from=effective_from,
        effective_to=effective_to,
        currency=currency,
    )
    result = conn.execute(update(price_overrides).where(price_overrides.c.id == override_id).values(**values))
    return bool(result.rowcount)


def _validated(
    *,
    provider: str,
    model_pattern: str,
    prices: Mapping[str, str],
    note: str,
    effective_from: date | None,
    effective_to: date | None,
    currency: str,
) -> dict[str, Any]:
    """The row's columns for an override; raises OverrideError saying what to fix."""
    note = note.strip()
    if not note:
        raise OverrideError(
            "an override needs a note saying where the price came from (contract, invoice, URL)"
        )
    pattern = normalise_model(model_pattern)
    if not pattern:
        raise OverrideError("an override needs a model name or pattern, e.g. gpt-4o or ft:gpt-4o-mini:*")
    if effective_from and effective_to and effective_to <= effective_from:
        raise OverrideError(f"the window ends ({effective_to}) on or before it starts ({effective_from})")
    currency = currency.strip().upper()
    if len(currency) != 3 or not currency.isalpha():
        raise OverrideError(f"currency must be a 3-letter code such as USD, got {currency!r}")
    provider = provider.strip()
    return {
        "provider": provider if provider in ("", "*") else normalise_provider(provider),
        "model_pattern": pattern,
        "effective_from": day_start(effective_from),
        "effective_to": day_start(effective_to),
        "prices": parse_prices(prices),
        "currency": currency,
        "note": note,
    }


def list_overrides(conn: Connection, *, override_id: int | None = None) -> list[PriceOverride]:
    """Every override (or the one with `override_id`), oldest first."""
    stmt = select(price_overrides).order_by(price_overrides.c.id)
    if override_id is not None:
        stmt = stmt.where(price_overrides.c.id == override_id)
    rows = conn.execute(stmt)
    return [
        PriceOverride(
            id=row.id,
            provider=row.provider,
            model_pattern=row.model_pattern,
            prices=dict(row.prices),
            note=row.note,
            effective_from=as_utc(row.effective_from) if row.effective_from is not None else None,
            effective_to=as_utc(row.effective_to) if row.effective_to is not None else None,
            currency=row.currency,
        )
        for row in rows
    ]


def load_overrides(conn: Connection) -> list[PriceOverride]:
    """The overrides to build a `Pricer` with (`Pricer(load_overrides(conn))`)."""
    return list_overrides(conn)


def get_override(conn: Connection, override_id: int) -> PriceOverride | None:
    """Override `override_id`, or None when there is none."""
    return next((o for o in list_overrides(conn, override_id=override_id)), None)


def remove_override(conn: Connection, override_id: int) -> bool:
    """Delete override `override_id`; False when there is none with that id."""
    result = conn.execute(delete(price_overrides).where(price_overrides.c.id == override_id))
    return bool(result.rowcount)
