"""One model, whatever the cloud: the provider's model id → the ledger's model name,
and one name per provider (route) whatever spelling brought it in.

Provider names: the ledger names a route the way its billing source type does where one
exists (`aws` for Bedrock, `azure`, `google` for Vertex and the Gemini API), so a
metered call and the bill that covers it carry the same provider. OpenTelemetry's
`gen_ai.provider.name` values (`aws.bedrock`, `gcp.vertex_ai`, `az.ai.openai`...) and
the common spellings (`bedrock`, `vertex`, `gemini`, `mistralai`...) map to them in
`PROVIDER_NAMES`; any other name is only lower-cased and trimmed.

The same model bought through Anthropic, Bedrock, Vertex and OpenRouter is billed as
`claude-sonnet-4-5-20250929`, `us.anthropic.claude-sonnet-4-5-20250929-v1:0`,
`claude-sonnet-4-5@20250929` and `anthropic/claude-sonnet-4.5`; the model dimension
names it once, `claude-sonnet-4-5`, so one model's cost compares across the routes it was
bought through (group by model and provider). `canonicalise` applies the mapping to a
record on its way into the ledger (sync.py for billed pages, ingest.records for every
metered event: the events API, the tracker's database mode and OTLP) and keeps the
provider's own id in the record's tags under `PROVIDER_MODEL_TAG`, only when it differs.

The rules, each a spelling of the same model, never a guess at a different one:
- case and spacing: ids are lower-case and hyphenated ("Gemini 2.5 Pro" → gemini-2.5-pro),
  a display name's closing note goes ("Claude Sonnet 4.5 (Amazon Bedrock Edition)"), so
  does GitHub Copilot's opening "Auto: " (the model its auto selection chose, billed at a
  discount the provider's id keeps: "Auto: Claude Haiku 4.5" → claude-haiku-4-5), and
  AWS's CamelCase usage-type names of Claude, Nova and Titan are split (Claude3.5Sonnet →
  claude-3-5-sonnet, NovaPro → nova-pro, as amazon.nova-pro-v1:0 becomes; Nova's whole
  version loses its ".0": Nova2.0Lite → nova-2-lite, as amazon.nova-2-lite-v1:0); OpenAI
  fine-tunes (`ft:…`) are left exactly as given: they live in one organisation, so there
  is nothing to merge, and their ids are case-sensitive;
- routes: a path keeps its last part (`openai/gpt-4o`, `models/gemini-2.5-pro`,
  `publishers/google/models/gemini-2.5-pro`, a Bedrock ARN), OpenRouter's variants go
  (`:free`, `:thinking`...), Vertex's `@version` goes, and Bedrock's region prefix
  (`us.`, `eu.`, `global.`...), vendor prefix (`anthropic.`) and API revision (`-v1:0`,
  `:0`) go; a Bedrock `-v2:0` or `-v0:2` is a model version and stays;
- Claude: the date goes (claude-sonnet-4-5-20250929 → claude-sonnet-4-5), and with it
  Bedrock's and Vertex's version marks (`-v2`), `-latest`, and Claude 4's `-0`; dots are
  hyphens (OpenRouter's claude-sonnet-4.5) and the tier comes where Anthropic puts it
  (claude-3-7-sonnet, claude-sonnet-4). Anthropic names each snapshot's model and
  prices all snapshots of one name alike, and OpenRouter lists Claude without dates: a
  date would only keep one model apart from itself;
- OpenAI: the date stays. A dated snapshot is a model of its own, with its own price
  (gpt-4o-2024-05-13 costs $5/$15 per million tokens, gpt-4o-2024-08-06 $2.50/$10), and
  the undated alias moves from one snapshot to the next. Azure's spellings become
  OpenAI's: gpt-35-turbo → gpt-3.5-turbo, and the month-day versions of its meters and
  deployments (gpt-4o-0806) the full date where OpenAI writes one (gpt-4o-2024-08-06),
  for the snapshots listed in `_OPENAI_SNAPSHOTS` (an unknown month-day stays as given);
- Gemini: a stable version suffix goes (gemini-2.0-flash-001 → gemini-2.0-flash: the
  bare name is Google's alias of its latest stable version, at one price); previews keep
  their dates (gemini-2.5-pro-preview-05-06 is not gemini-2.5-pro).

Invariants (tests/test_model_names.py, with hypothesis): `canonical_model` never raises,
is idempotent, never returns an empty name for a non-empty one, and is never longer
than its input or `MAX_GROWN` characters, whichever is more (Azure's gpt-4o-0806 and
AWS's CamelCase grow a little; a name that would grow past that is left as given), so a
name that fits a column still fits it. Prices do not
move: pricing reads the provider's id from the tag (a Bedrock regional profile costs
more than its global one, a distinction the name drops), see pricing/pricer.py.

This module imports nothing of ours but `records`.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from spendledger.records import UsageRecord, tags_problem

# The record tag that keeps the provider's own model id when the ledger's name differs.
PROVIDER_MODEL_TAG = "provider_model"

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_SPACES = re.compile(r"\s+")
_NOTE = re.compile(r"\s*\([^()]*\)$")  # "Claude Opus 4.5 (Preview)"
_AUTO_LABEL = re.compile(r"^Auto:\s+")  # GitHub Copilot's "Auto: Claude Haiku 4.5"
_CAMEL_FAMILY = re.compile(r"^(?:Claude|Nova|Titan)[A-Z0-9]")  # AWS's usage types: Claude3.5Sonnet
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z0-9])|(?<=[0-9])(?=[A-Z])")
_OPENROUTER_VARIANT = re.compile(r":(?:free|nitro|floor|online|thinking|extended|beta|exacto)$")
# Bedrock: an inference profile's geography, then the model's vendor
_BEDROCK = re.compile(
    r"^(?:(?:us|us-gov|eu|apac|ap|jp|au|ca|global)\.)?"
    r"(anthropic|amazon|meta|mistral|cohere|ai21|deepseek|openai|qwen|writer|google|nvidia"
    r"|moonshotai|minimax|zai|twelvelabs|stability|luma)\.(.+)$"
)
_BEDROCK_REVISION = re.compile(r"(?:-v?1)?:0$")  # -v1:0, -1:0 (gpt-oss), :0 (titan-embed-text-v2:0)
_CLAUDE_TIERS = "opus|sonnet|haiku"
_CLAUDE_DATE = re.compile(r"-\d{8}(?:-v\d+)?(?::\d+k?)*$")  # a date, Bedrock's -v1:0 and :200k after it
_CLAUDE_VERSION_MARK = re.compile(rf"({_CLAUDE_TIERS})-v\d+$")  # Vertex's claude-3-5-sonnet-v2
_CLAUDE_TIER_FIRST = re.compile(rf"^claude-({_CLAUDE_TIERS})-([123])(-\d)?(?=-|$)")  # claude-sonnet-3-7
_CLAUDE_VERSION_FIRST = re.compile(
    rf"^claude-([4-9]|\d\d+)(-\d+)?-({_CLAUDE_TIERS})(?=-|$)"
)  # claude-4-sonnet
_CLAUDE_ZERO = re.compile(rf"^(claude-(?:{_CLAUDE_TIERS})-\d+)-0$")  # claude-sonnet-4-0
_NOVA_WHOLE_VERSION = re.compile(r"^(nova-\d+)\.0(?=-|$)")  # AWS's Nova2.0Lite, Bedrock's nova-2-lite
_DIGIT_DOT = re.compile(r"(?<=\d)\.(?=\d)")
_GEMINI_STABLE = re.compile(r"^(gemini-\d.*?)-\d{3}$")
_MONTH_DAY = re.compile(r"^(.+)-(\d{2})(\d{2})$")

# OpenAI's snapshots whose ids carry a full date, by family: Azure writes them as month
# and day (gpt-4o-0806). From OpenAI's model pages and Azure OpenAI's model versions.
_OPENAI_SNAPSHOTS: dict[str, tuple[str, ...]] = {
    "gpt-4-turbo": ("2024-04-09",),
    "gpt-4o": ("2024-05-13", "2024-08-06", "2024-11-20"),
    "gpt-4o-mini": ("2024-07-18",),
    "gpt-4o-audio-preview": ("2024-10-01", "2024-12-17", "2025-06-03"),
    "gpt-4o-realtime-preview": ("2024-10-01", "2024-12-17", "2025-06-03"),
    "gpt-4o-mini-audio-preview": ("2024-12-17",),
    "gpt-4o-mini-realtime-preview": ("2024-12-17",),
    "gpt-4o-search-preview": ("2025-03-11",),
    "gpt-4o-mini-search-preview": ("2025-03-11",),
    "gpt-4o-transcribe": ("2025-03-20",),
    "gpt-4o-mini-transcribe": ("2025-03-20",),
    "gpt-4o-mini-tts": ("2025-03-20",),
    "gpt-4.5-preview": ("2025-02-27",),
    "gpt-4.1": ("2025-04-14",),
    "gpt-4.1-mini": ("2025-04-14",),
    "gpt-4.1-nano": ("2025-04-14",),
    "gpt-5": ("2025-08-07",),
    "gpt-5-mini": ("2025-08-07",),
    "gpt-5-nano": ("2025-08-07",),
    "gpt-5-chat": ("2025-08-07",),
    "gpt-5.1": ("2025-11-13",),
    "gpt-image-1": ("2025-04-15",),
    "gpt-realtime": ("2025-08-28",),
    "gpt-audio": ("2025-08-28",),
    "o1": ("2024-12-17",),
    "o1-mini": ("2024-09-12",),
    "o1-preview": ("2024-09-12",),
    "o3-mini": ("2025-01-31",),
    "o3": ("2025-04-16",),
    "o4-mini": ("2025-04-16",),
    "o3-pro": ("2025-06-10",),
    "o3-deep-research": ("2025-06-26",),
    "o4-mini-deep-research": ("2025-06-26",),
    "computer-use-preview": ("2025-03-11",),
}
_FULL_DATES: dict[tuple[str, str], str] = {
    (family, date[5:7] + date[8:10]): date for family, dates in _OPENAI_SNAPSHOTS.items() for date in dates
}
MAX_GROWN = 64  # the longest a name may grow to (see the invariants)
_MAX_STEPS = 8  # each step shortens or settles the name; two or three steps is the most seen


# spellings of a provider → the ledger's name of it (every key lower-case)
PROVIDER_NAMES: dict[str, str] = {
    "bedrock": "aws",
    "aws.bedrock": "aws",
    "aws-bedrock": "aws",
    "amazon-bedrock": "aws",
    "amazon_bedrock": "aws",
    "gcp": "google",
    "gcp.gemini": "google",
    "gcp.vertex_ai": "google",
    "gcp.gen_ai": "google",
    "gemini": "google",
    "vertex": "google",
    "vertex_ai": "google",
    "vertexai": "google",
    "google-vertex": "google",
    "google_genai": "google",
    "az.ai.openai": "azure",
    "azure.ai.openai": "azure",
    "azure.ai.inference": "azure",
    "azure_openai": "azure",
    "azure-openai": "azure",
    "mistral_ai": "mistral",
    "mistralai": "mistral",
    "x_ai": "xai",
    "x-ai": "xai",
    "github": "github-copilot",
    "copilot": "github-copilot",
    # self-hosted servers (local_servers.LOCAL_PROVIDERS); OpenLIT names vLLM "vLLM"
    "lm_studio": "lmstudio",
    "lm-studio": "lmstudio",
    "lm studio": "lmstudio",
    "llama.cpp": "llamacpp",
    "llama-cpp": "llamacpp",
    "llama_cpp": "llamacpp",
    "local": "self-hosted",
    "self_hosted": "self-hosted",
    "selfhosted": "self-hosted",
}


def canonical_provider(provider: str) -> str:
    """The ledger's name of a provider (see PROVIDER_NAMES); others lower-cased and trimmed."""
    name = provider.strip().lower()
    return PROVIDER_NAMES.get(name, name)


@lru_cache(maxsize=8192)
def canonical_model(model: str) -> str:
    """The ledger's name of the model a provider bills as `model` (see the module's rules)."""
    if model.startswith("ft:") or not model.strip():
        return model
    name = model
    for _ in range(_MAX_STEPS):  # to a fixed point, so that the result maps to itself
        step = _step(name)
        if step == name:
            break
        name = step
    if not name or len(name) > max(len(model), MAX_GROWN):
        return model
    return name


def canonicalise(record: UsageRecord) -> None:
    """Give `record` the ledger's provider and model names, keeping the provider's model id
    in its tags.

    A record whose tags cannot take the provider's id (no room left under the tags' size
    rule, or the tag already naming another id) keeps the provider's id as its model:
    the id is never lost, only left apart.
    """
    record.provider = canonical_provider(record.provider)
    if renamed := ledger_name(record.model, record.tags):
        record.model, record.tags = renamed


def ledger_name(model: str, tags: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """(the ledger's name, the tags keeping `model`) for a record of `model` with `tags`,
    or None when it keeps its model (already the ledger's name, or no room in its tags)."""
    name = canonical_model(model)
    if name == model:
        return None
    kept = tags.get(PROVIDER_MODEL_TAG)
    if kept is not None and kept != model:
        return None
    renamed = {**tags, PROVIDER_MODEL_TAG: model}
    if tags_problem(renamed) is not None:
        return None
    return name, renamed


def provider_model(record: UsageRecord) -> str:
    """The id the provider billed `record`'s model as: the tag `canonicalise` set, else its model.

    A tag that does not map to the record's model (sent by a caller as its own label) is
    not the provider's id and is ignored.
    """
    kept = record.tags.get(PROVIDER_MODEL_TAG) if record.tags else None
    if isinstance(kept, str) and kept != record.model and canonical_model(kept) == record.model:
        return kept
    return record.model


def _step(name: str) -> str:
    name = _AUTO_LABEL.sub("", _NOTE.sub("", name.strip()))
    if _CAMEL_FAMILY.match(name):
        name = _CAMEL.sub("-", name)
    name = _SPACES.sub("-", name).translate(_ASCII_LOWER)
    if "/" in name:
        name = name.rstrip("/").rpartition("/")[2]
    name = _OPENROUTER_VARIANT.sub("", name)
    if bedrock := _BEDROCK.match(name):
        vendor, rest = bedrock.groups()
        if vendor == "anthropic":
            name = rest
        elif vendor == "deepseek":  # deepseek.r1-v1:0 is DeepSeek-R1
            name = "deepseek-" + _BEDROCK_REVISION.sub("", rest)
        else:
            name = _BEDROCK_REVISION.sub("", rest)
    name = _NOVA_WHOLE_VERSION.sub(r"\1", name)
    if name.startswith("claude"):
        return _claude(name)
    name = name.partition("@")[0] or name  # Vertex's publisher model version (mistral-large-2411@001)
    if name.startswith("gemini-"):
        return _GEMINI_STABLE.sub(r"\1", name)
    return _openai(name)


def _claude(name: str) -> str:
    name = _DIGIT_DOT.sub("-", name.replace("@", "-"))
    name = _CLAUDE_DATE.sub("", name)
    name = name.removesuffix("-latest")
    name = _CLAUDE_VERSION_MARK.sub(r"\1", name)
    name = _CLAUDE_TIER_FIRST.sub(lambda m: f"claude-{m[2]}{m[3] or ''}-{m[1]}", name)
    name = _CLAUDE_VERSION_FIRST.sub(lambda m: f"claude-{m[3]}-{m[1]}{m[2] or ''}", name)
    return _CLAUDE_ZERO.sub(r"\1", name)


def _openai(name: str) -> str:
    if name == "gpt-35" or name.startswith("gpt-35-"):  # Azure's spelling of gpt-3.5
        name = "gpt-3.5" + name[6:]
    if (found := _MONTH_DAY.match(name)) and (date := _FULL_DATES.get((found[1], found[2] + found[3]))):
        return f"{found[1]}-{date}"
    return name
