"""Azure's meter names → the model id and token kind they bill, where the name says so.

Azure OpenAI and Foundry models bill one meter per model × direction × deployment type,
named in abbreviations rather than fields: "gpt-4o-0806 Inp glbl Tokens", "gpt 4.1 nano
cached Inp glbl Tokens", "o3 0416 Outp glbl Tokens", "GPT 5 Inpt Glbl 1M Tokens",
"Phi-4-Input Tokens", "V4 Pro Inp DZone Tokens" (Retail Prices API; the same names reach
Cost Management's `Meter`). The words read here:

- direction: Inp/Inpt/Input/In → input, Outp/Outpt/Opt/Output/Out → output; with
  cached/cchd/cd an input is a cached read; Aud/Audio makes it the audio subset;
- deployment type: glbl/gl/global, dz/dzone/datazone, regnl/regional (→ a tag), batch;
- an embeddings meter names no direction: it bills input;
- unit: "1M Tokens" meters count millions of tokens, the others ("... Tokens") thousands,
  so a `UsageQuantity` of 12.5 on a 1K meter is 12,500 tokens.

What is left, lower-cased and joined by hyphens, is the model id as billed ("gpt-4.1-nano",
"o3-0416"); one central helper maps ids to canonical names, so no renaming happens here.
A meter that is not a token meter (hosting hours, provisioned units, fine-tuning
training), or whose words leave no model (a bare "5.4"), is a money line item: its record
keeps the cost and the meter, with no tokens. The mapping is best effort by design: the
money is never split or changed on it, and the raw meter always stays in the tags.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from decimal import Decimal

from spendledger.records import TokenCounts

_INPUT = {"inp", "inpt", "input", "in"}
_OUTPUT = {"outp", "outpt", "opt", "output", "out"}
_CACHED = {"cached", "cchd", "cch", "cd"}
_AUDIO = {"aud", "audio"}
_ZONES = {
    "glbl": "global", "gl": "global", "glb": "global", "global": "global",
    "dz": "data_zone", "dzone": "data_zone", "datazone": "data_zone",
    "regnl": "regional", "rgnl": "regional", "regional": "regional",
}  # fmt: skip
_NOISE = {"tokens", "token", "1k", "1m", "shortco", "longco", "pp"}
_NOT_TOKENS = {"ft", "training", "train", "hosting", "grdr", "hours", "hour", "unit", "units", "ptu"}
_SUFFIX = re.compile(r"^(?P<model>.+?)-(?P<dir>input|output)$")  # "phi-4-input"


@dataclass(frozen=True)
class MeterKind:
    """What a token meter bills: the model, the token kind, and how many tokens one unit is."""

    model: str
    kind: str  # input | cached_input | output | audio_input | audio_output
    unit: int  # tokens per unit of UsageQuantity: 1_000 or 1_000_000
    deployment: str = ""  # global | data_zone | regional | ""
    batch: bool = False

    def tokens(self, quantity: Decimal) -> TokenCounts:
        """The counts `quantity` units of this meter stand for, in the ledger's contract."""
        count = max(0, int((quantity * self.unit).to_integral_value()))
        if self.kind == "cached_input":
            return TokenCounts(input=count, cached_input=count)
        if self.kind == "audio_input":
            return TokenCounts(input=count, audio_input=count)
        if self.kind == "audio_output":
            return TokenCounts(output=count, audio_output=count)
        return TokenCounts(**{self.kind: count})


@functools.lru_cache(maxsize=4096)
def meter_kind(meter: str) -> MeterKind | None:
    """The model and token kind a meter name bills, or None for a money line item."""
    words: list[str] = []
    for word in meter.lower().split():
        split = _SUFFIX.match(word)
        words.extend((split["model"], split["dir"]) if split else (word,))
    if not words or words[-1] not in ("tokens", "token") or _NOT_TOKENS & set(words):
        return None
    seen = set(words)
    dropped = _INPUT | _OUTPUT | _CACHED | _AUDIO | _ZONES.keys() | _NOISE | {"batch"}
    model = "-".join(w for w in words if w not in dropped)
    if not re.search(r"[a-z]", model) or not re.fullmatch(r"[a-z0-9][a-z0-9._-]*", model):
        return None
    cached, audio = bool(seen & _CACHED), bool(seen & _AUDIO)
    if seen & _INPUT:
        kind = "cached_input" if cached else "audio_input" if audio else "input"
    elif seen & _OUTPUT and not cached:
        kind = "audio_output" if audio else "output"
    elif "embedding" in model and not seen & (_CACHED | _AUDIO):  # embeddings bill input only
        kind = "input"
    else:
        return None
    deployment = next((_ZONES[w] for w in words if w in _ZONES), "")
    unit = 1_000_000 if "1m" in seen else 1_000
    return MeterKind(model, kind, unit, deployment, "batch" in seen)
