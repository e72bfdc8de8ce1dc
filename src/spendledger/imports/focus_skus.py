"""What a FOCUS row bills, in model and tokens, read from the clouds' own SKU names.

FOCUS names a charge's SKU but not the model or the kind of token; each cloud writes
them in its own words, which the billing connectors already read (sources/):

- AWS: the usage type (`x_UsageType`, an AWS column of its FOCUS export) under the
  ServiceName, "USE1-Claude3.5Sonnet-input-tokens" (`_aws_usage_types.py`);
- Azure: the meter name (`SkuMeter` from FOCUS 1.1, `x_SkuMeterName` in 1.0 exports),
  "gpt-4o-0806 Inp glbl Tokens" (`_azure_meters.py`);
- Google: the SKU description (`ChargeDescription` or `x_SkuDescription`), "Gemini 2.5
  Flash GA Text Input - Predictions" (`_gcp_skus.py`);
- any other issuer (LiteLLM's FOCUS callback): a `SkuId` of `[provider:]model:kind`
  (standards.md: "SkuId `<model>:<token kind>`");
- spendledger's own FOCUS export: its custom columns (exports/focus_columns.py), the
  ledger's model (`x_Model`), requests and every token kind, read exactly (`own_figures`).

Tokens come from `ConsumedQuantity` in `ConsumedUnit`: a unit that names a scale
("1K Tokens", "1000 Tokens", "1M tokens", "Million Tokens") multiplies, a bare
"Tokens"/"count" counts one each, and a unit that names no tokens at all falls back to
the scale the cloud's own SKU name gives (Azure's "1M" meters, Bedrock's per-1K usage
types). The mapping is best effort by design: money is never split or changed on it, a
row it cannot read is a money line item with no model and no tokens.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from spendledger.errors import SpendledgerError
from spendledger.exports.focus_columns import TOKEN_COLUMN_OF
from spendledger.records import TokenCounts, TokenError
from spendledger.sources._aws_usage_types import is_bedrock_service, parse_usage_type
from spendledger.sources._azure_meters import meter_kind
from spendledger.sources._gcp_skus import model_of_sku, token_kind_of_sku

MAX_TOKENS = 10**15  # more tokens than any bill counts: the quantity is wrong, not the bill
# a spendledger export's own columns (lower-case, as the reader keys them)
OWN_MODEL, OWN_REQUESTS = "x_model", "x_requests"
OWN_TOKENS = {kind: column.lower() for kind, column in TOKEN_COLUMN_OF.items()}
OWN_COLUMNS = (OWN_MODEL, OWN_REQUESTS, *OWN_TOKENS.values())

# the ledger's token kinds by the names files give them (the connectors' and the export's)
_KINDS: dict[str, str] = {
    "input": "input",
    "output": "output",
    "cached_input": "cached_input",
    "cache_read": "cached_input",
    "cache_write": "cache_write_5m",
    "cache_write_5m": "cache_write_5m",
    "cache_write_1h": "cache_write_1h",
    "reasoning": "reasoning",
    "audio_input": "audio_input",
    "audio_output": "audio_output",
}
_WHOLE = {  # a subset's count is part of its direction's whole (records.TokenCounts)
    "cached_input": "input",
    "cache_write_5m": "input",
    "cache_write_1h": "input",
    "audio_input": "input",
    "reasoning": "output",
    "audio_output": "output",
}
_SCALED_UNIT = re.compile(r"^\s*(\d[\d,]*)\s*([km])?\b", re.IGNORECASE)
_BARE_SCALE = re.compile(r"\d[\d,]*\s*[km]?")
_SCALE_WORDS = {"k": 1000, "m": 10**6}
_PROVIDER_PREFIX = re.compile(r"[a-z][a-z-]*")  # "openai" in "openai:gpt-4o:input", not "anthropic.claude-v2"


@dataclass(frozen=True, slots=True)
class Billed:
    """The model and token kind one SKU bills; `scale` is tokens per unit when the unit names none."""

    model: str
    kind: str | None  # a key of TokenCounts, or None: money only
    scale: int = 1
    service_tier: str | None = None
    batch: bool = False


def billed(provider: str, columns: dict[str, str]) -> Billed:
    """What the row whose SKU columns are `columns` (lower-case FOCUS names) bills."""
    found: Billed | None = None
    if provider == "aws" and columns.get("x_usagetype"):
        found = _aws(columns["x_usagetype"], columns.get("servicename", ""))
    elif provider == "azure":
        found = _azure(columns.get("skumeter") or columns.get("x_skumetername") or "")
    elif provider == "google":
        found = _google(columns.get("x_skudescription") or columns.get("chargedescription") or "")
    if found is None or not found.model:
        found = _generic(columns.get("skuid", ""), columns.get("skumeter", "")) or found
    return found or Billed("", None)


def token_counts(found: Billed, quantity: Decimal | None, unit: str) -> TokenCounts:
    """The row's tokens by the ledger's contract; none when the SKU or the unit counts none.

    Raises ValueError (the reason) for a quantity too large to be tokens.
    """
    if found.kind is None or quantity is None or quantity <= 0:
        return TokenCounts()
    scale = unit_scale(unit)
    if scale is None:
        scale = found.scale
    count = int((quantity * scale).to_integral_value())
    if count >= MAX_TOKENS:
        raise ValueError(f"{quantity:f} {unit} is {count:,} tokens, more than any bill counts")
    counts = {found.kind: count}
    if found.kind in _WHOLE:
        counts[_WHOLE[found.kind]] = count
    return TokenCounts(**counts)


def unit_scale(unit: str) -> int | None:
    """Tokens per unit of `unit` when it names tokens ("1K Tokens" → 1000), else None."""
    words = unit.strip().lower()
    if words in ("count", "counts"):
        return 1
    bare = _BARE_SCALE.fullmatch(words)  # Azure's "1K", "1M"
    if "token" not in words and "mtok" not in words and not bare:
        return None
    if "million" in words or "mtok" in words:
        return 10**6
    if "thousand" in words:
        return 1000
    if scaled := _SCALED_UNIT.match(words):
        number = int(scaled[1].replace(",", "") or 1)
        return max(1, number) * _SCALE_WORDS.get((scaled[2] or "").lower(), 1)
    return 1


def _aws(usage_type: str, service: str) -> Billed | None:
    if not is_bedrock_service(service):
        return None
    parsed = parse_usage_type(usage_type, service)
    kind = {"cache_read": "cached_input", "cache_write": "cache_write_5m"}.get(parsed.kind or "", parsed.kind)
    return Billed(parsed.model, kind, parsed.default_scale, parsed.service_tier, parsed.batch)


def _azure(meter: str) -> Billed | None:
    found = meter_kind(meter) if meter else None
    if found is None:
        return None
    return Billed(found.model, found.kind, found.unit, batch=found.batch)


def _google(sku: str) -> Billed | None:
    model = model_of_sku(sku) if sku else ""
    return Billed(model, token_kind_of_sku(sku)) if model else None


def _generic(sku_id: str, meter: str) -> Billed | None:
    """`[provider:]model:kind` in SkuId, or a SkuId naming the model and SkuMeter the kind."""
    head, _, tail = sku_id.strip().rpartition(":")
    if tail.lower() in _KINDS and head:
        prefix, _, model = head.partition(":")
        if not (model and _PROVIDER_PREFIX.fullmatch(prefix)):
            model = head
        return Billed(model, _KINDS[tail.lower()])
    if meter.strip().lower() in _KINDS and sku_id.strip() and ":" not in sku_id:
        return Billed(sku_id.strip(), _KINDS[meter.strip().lower()])
    return None


def own_figures(columns: Mapping[str, str]) -> tuple[TokenCounts, int]:
    """The tokens and requests of a row of spendledger's own export, exactly.

    Raises SpendledgerError naming the column (`field`) and what to write instead.
    """
    tokens = TokenCounts(**{kind: _count(columns, column) for kind, column in OWN_TOKENS.items()})
    try:
        tokens.validate()
    except TokenError as exc:
        column = OWN_TOKENS.get((exc.field or "").removesuffix("_tokens"), OWN_TOKENS["input"])
        raise SpendledgerError(str(exc), field=column) from None
    return tokens, _count(columns, OWN_REQUESTS)


def _count(columns: Mapping[str, str], column: str) -> int:
    text = columns.get(column, "")
    try:
        value = int(text) if text else 0
    except ValueError:
        value = -1
    if not 0 <= value < MAX_TOKENS:
        shown = text if len(text) <= 20 else text[:17] + "..."
        raise SpendledgerError(
            f"{shown!r} is not a count: write a whole number from 0, such as 1200", field=column
        )
    return value
