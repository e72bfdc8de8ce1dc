"""A Cloud Billing SKU description → the model it bills and the kind of token it counts.

Google names its AI SKUs in prose, two grammars (the export's `sku.description`):
- Vertex AI: "Gemini 2.5 Flash GA Text Input - Predictions", " Gemini 2.5 Flash GA Input
  Text Caching" (a leading space, verbatim), "Gemini 2.5 Pro Input Text Tokens",
  "Gemini 2.5 Flash GA Thinking Text Output - Predictions";
- Gemini API: "Generate content input token count gemini 2.5 flash short input text",
  "Generate content cached input token count gemini 3 flash text", and underscored
  variants ("Generate_content_cached_input_token_count_gemini_3_pro_short_image").

Only the model id is extracted (family, version and variant words, lower case, joined by
hyphens: "gemini-2.5-flash-lite"); mapping ids to one canonical name happens centrally,
not here. A SKU that names no model ("Grounding with Google Search") gives "", and a SKU
whose kind is not a token count (cache storage, per-request or per-image charges) gives
no token kind: its money and quantity stay a line item.
"""

from __future__ import annotations

import functools
import re
from typing import Literal

TokenKind = Literal["input", "cached_input", "audio_input", "output", "reasoning", "audio_output"]

# Model families Google bills AI usage under (Gemini, Gemma, Imagen, Veo and the partner
# models of Vertex's Model Garden).
_FAMILIES = frozenset(
    {"gemini", "gemma", "imagen", "veo", "claude", "llama", "mistral", "codestral", "jamba"}
)
# Words that belong to a model's name after its family (variant, size, stage).
_VARIANTS = frozenset(
    {
        "pro",
        "flash",
        "lite",
        "ultra",
        "nano",
        "image",
        "preview",
        "exp",
        "experimental",
        "live",
        "tts",
        "embedding",
        "sonnet",
        "opus",
        "haiku",
        "instruct",
        "fast",
        "large",
        "small",
        "medium",
    }
)
_VERSION = re.compile(r"\d+(\.\d+)*[a-z]?|v\d+(\.\d+)*|\d+b")
_PARENTHESES = re.compile(r"\([^)]*\)")
_WORD = re.compile(r"[a-z0-9.]+")


def _words(sku: str) -> list[str]:
    """Lower-case words, underscores as spaces, parenthesised remarks ("(Thinking On)") dropped."""
    text = _PARENTHESES.sub(" ", sku.replace("_", " ").lower())
    return [w.strip(".") for w in _WORD.findall(text) if w.strip(".")]


@functools.lru_cache(maxsize=4096)
def model_of_sku(sku: str) -> str:
    """The model id a SKU bills ("gemini-2.5-flash"), "" when it names none."""
    words = _words(sku)
    for i, word in enumerate(words):
        if word not in _FAMILIES:
            continue
        name = [word]
        for nxt in words[i + 1 :]:
            if _VERSION.fullmatch(nxt) or nxt in _VARIANTS:
                name.append(nxt)
            else:
                break
        if len(name) > 1:
            return "-".join(name)
    return ""


@functools.lru_cache(maxsize=4096)
def token_kind_of_sku(sku: str) -> TokenKind | None:
    """The token count a SKU's usage amount is, by the ledger's contract; None: not tokens.

    Cache reads are input (the ledger counts them inside `input`), thinking output is
    reasoning (inside `output`), audio is its direction's audio. Cache *storage* is billed
    per token-hour: money, not tokens.
    """
    words = set(_words(sku))
    if "storage" in words or not model_of_sku(sku):
        return None
    if words & {"cached", "caching", "cache"}:
        return "cached_input"
    if "output" in words:
        if "thinking" in words:
            return "reasoning"
        return "audio_output" if "audio" in words else "output"
    if "input" in words:
        return "audio_input" if "audio" in words else "input"
    return None
