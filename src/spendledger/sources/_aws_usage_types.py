"""Bedrock's Cost Explorer usage types → model, region, token kind and token scale.

Read by `sources/aws.py` and `imports/focus_skus.py`. Two families bill Bedrock inference (Bedrock's
"Understanding your Cost and Usage Report data" page, and the AWS price lists):

- the "Amazon Bedrock" service, one usage type per region × model × token kind:
  `USE1-Claude3.5Sonnet-input-tokens`, `USW2-TitanEmbeddingsG1-Text-input-tokens`,
  `USE1-NovaPro-cache-read-input-token-count`, `USE1-NovaPro-cache-write-input-token-count`,
  `USW2-mistral.mistral-large-3-675b-instruct-mantle-output-tokens-standard`, with an
  optional tier or routing suffix (`-flex`, `-priority`, `-batch`, `-cross-region-global`…);
  its price list meters tokens per "1K tokens".
- the third-party models' own Marketplace services, "Claude Sonnet 4.5 (Amazon Bedrock
  Edition)": the model is the service, the usage type names region and kind only:
  `USE1-MP:USE1_InputTokenCount-Units`, `USE1-MP:USE1_CacheWrite1hInputTokenCount_Global-Units`,
  or the newer `USE1_input_tokens_standard-Units`; current listings meter "Million Input
  Tokens" per unit (older ones per 1K: the unit a response names wins, see `token_scale`).

Anything else (guardrails, provisioned throughput, images) is no token kind: the record
keeps its money with the usage type in its tags. The model is the billed name as AWS
writes it (`Claude3.5Sonnet`, `Claude Sonnet 4.5`); mapping it to one canonical model
name is the central model-name helper's job, not this module's.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

TokenKind = Literal["input", "output", "cache_read", "cache_write", "cache_write_1h"]

EDITION = " (Amazon Bedrock Edition)"
BEDROCK = "Amazon Bedrock"

# the region codes of usage-type prefixes (AWS's own abbreviations; unknown ones stay raw)
REGIONS = {
    "USE1": "us-east-1", "USE2": "us-east-2", "USW1": "us-west-1", "USW2": "us-west-2",
    "UGW1": "us-gov-west-1", "UGE1": "us-gov-east-1", "CAN1": "ca-central-1", "SAE1": "sa-east-1",
    "EU": "eu-west-1", "EUW1": "eu-west-1", "EUW2": "eu-west-2", "EUW3": "eu-west-3",
    "EUC1": "eu-central-1", "EUC2": "eu-central-2", "EUN1": "eu-north-1", "EUS1": "eu-south-1",
    "EUS2": "eu-south-2", "APN1": "ap-northeast-1", "APN2": "ap-northeast-2", "APN3": "ap-northeast-3",
    "APS1": "ap-southeast-1", "APS2": "ap-southeast-2", "APS3": "ap-south-1", "APS4": "ap-southeast-3",
    "APS5": "ap-south-2", "APS6": "ap-southeast-4", "APE1": "ap-east-1", "MES1": "me-south-1",
    "MEC1": "me-central-1", "AFS1": "af-south-1", "ILC1": "il-central-1",
}  # fmt: skip

_REGION = r"(?P<region>[A-Z]{2,4}[0-9]{0,2})"
_NATIVE_KINDS: dict[str, TokenKind] = {
    "input-tokens": "input",
    "input-token-count": "input",
    "output-tokens": "output",
    "output-token-count": "output",
    "cache-read-input-token-count": "cache_read",
    "cache-write-input-token-count": "cache_write",
    "cache-write-1h-input-token-count": "cache_write_1h",
}
_NATIVE = re.compile(
    rf"{_REGION}-(?P<model>.+?)-(?P<mantle>mantle-)?"
    rf"(?P<kind>{'|'.join(sorted(map(re.escape, _NATIVE_KINDS), key=len, reverse=True))})"
    r"(?P<variant>(?:-[A-Za-z0-9.-]+)?)"
)
_MARKET_KINDS: dict[str, TokenKind] = {
    "inputtokencount": "input",
    "input_tokens": "input",
    "outputtokencount": "output",
    "output_tokens": "output",
    "cachereadinputtokencount": "cache_read",
    "cache_read_input_tokens": "cache_read",
    "cachewriteinputtokencount": "cache_write",
    "cache_write_input_tokens": "cache_write",
    "cachewrite1hinputtokencount": "cache_write_1h",
    "cache_write_1h_input_tokens": "cache_write_1h",
}
_MARKET = re.compile(
    rf"{_REGION}(?:-MP:[A-Z]{{2,4}}[0-9]{{0,2}})?_"
    rf"(?P<kind>{'|'.join(sorted(map(re.escape, _MARKET_KINDS), key=len, reverse=True))})"
    r"(?P<variant>(?:_[A-Za-z0-9_]+)?)-Units",
    re.IGNORECASE,
)
# what a response's UsageQuantity unit says of its scale, by the words it contains
_SCALE_WORDS = (("1m", 10**6), ("million", 10**6), ("mtok", 10**6), ("1k", 1000), ("thousand", 1000))


@dataclass(frozen=True, slots=True)
class UsageType:
    """What one usage type of a Bedrock service bills."""

    model: str  # as billed: "Claude3.5Sonnet", "Claude Sonnet 4.5"; "" when none is named
    region: str  # "us-east-1", the raw prefix when unknown, "" when none
    kind: TokenKind | None  # None: not tokens (money line item only)
    default_scale: int  # tokens per unit of UsageQuantity when the unit names no scale
    variant: str = ""  # the tier/routing suffix, lower case: "flex", "cross-region-global", "global_batch"
    marketplace: bool = False

    @property
    def service_tier(self) -> str | None:
        parts = set(re.split(r"[-_]", self.variant))
        return next((tier for tier in ("flex", "priority", "reserved") if tier in parts), None)

    @property
    def batch(self) -> bool:
        return "batch" in re.split(r"[-_]", self.variant)


def is_bedrock_service(service: str) -> bool:
    """A Cost Explorer SERVICE value that bills Bedrock: Bedrock itself or a model's own edition."""
    return service == BEDROCK or service.startswith(BEDROCK + " ") or service.endswith(EDITION)


@functools.lru_cache(maxsize=8192)
def parse_usage_type(usage_type: str, service: str) -> UsageType:
    """The model, region and token kind `usage_type` bills under `service`; never raises."""
    edition = service.endswith(EDITION)
    if edition:
        model = service.removesuffix(EDITION).strip()
        match = _MARKET.fullmatch(usage_type)
        if match is None:
            return UsageType(model, _region(usage_type.split("-", 1)[0]), None, 10**6, marketplace=True)
        kind = _MARKET_KINDS[match["kind"].lower()]
        variant = match["variant"].lstrip("_").lower()
        return UsageType(model, _region(match["region"]), kind, 10**6, variant, True)
    match = _NATIVE.fullmatch(usage_type)
    if match is None:
        return UsageType("", _region(usage_type.split("-", 1)[0]) if "-" in usage_type else "", None, 1000)
    variant = ("mantle-" if match["mantle"] else "") + match["variant"].lstrip("-").lower()
    kind = _NATIVE_KINDS[match["kind"]]
    return UsageType(match["model"], _region(match["region"]), kind, 1000, variant.rstrip("-"))


@functools.lru_cache(maxsize=256)
def token_scale(unit: str, default: int) -> int:
    """Tokens per unit of a UsageQuantity whose unit is `unit` ("1K tokens", "Units", "N/A")."""
    words = unit.lower().replace(" ", "")
    for word, scale in _SCALE_WORDS:
        if word in words:
            return scale
    if words in ("tokens", "token", "count"):
        return 1
    return default


def whole_tokens(quantity: Decimal, scale: int) -> int:
    """A UsageQuantity as whole tokens (half to even); 0 for a negative quantity (a refund)."""
    tokens = (quantity * scale).to_integral_value()
    return int(tokens) if tokens > 0 else 0


def _region(prefix: str) -> str:
    return REGIONS.get(prefix, prefix if re.fullmatch(r"[A-Z]{2,4}[0-9]{0,2}", prefix) else "")
