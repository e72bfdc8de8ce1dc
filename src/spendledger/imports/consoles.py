"""Provider console exports, each a column mapping (`Layout`) onto the generic reader.

A console offers a usage export (tokens) and, for some, a cost export (money); one
format reads either, choosing the layout by the header. Usage rows are the provider's
counts priced from the catalogue, basis metered: where a billed figure covers the same
account and day (a cost export, or a billing sync), the billed one counts (rollups'
"covered"). Cost rows are the provider's money, basis billed. Columns a layout does not
list are left out. Where the columns come from:

- openai-usage: the usage dashboard's Export (platform.openai.com/usage, UTC times, up
  to 60 days; help.openai.com "Usage Dashboard"): `completions_usage_*.csv` with the Usage
  API's completions fields flattened (start_time_iso, end_time_iso, project_id,
  num_model_requests, user_id, api_key_id, model, batch, service_tier, input_tokens,
  output_tokens, input_cached_tokens, ...), and the cost export with the Costs API's
  (amount_value, amount_currency, line_item, project_id, organization_id). An empty
  bucket is a row of times only: skipped.
- anthropic-console: the Claude Console's Usage and Cost pages' CSV export
  (support.claude.com 9534590): usage_date_utc, model_version, api_key, workspace,
  usage_type, context_window, usage_input_tokens_no_cache, usage_input_tokens_cache_write_5m,
  usage_input_tokens_cache_write_1h, usage_input_tokens_cache_read, usage_output_tokens,
  web_search_count, inference_geo, speed; the cost export one row per token type:
  usage_date_utc, model (a display name), workspace, api_key, usage_type, context_window,
  token_type, cost_usd, list_price_usd, cost_type, inference_geo, speed. Web searches are
  not in the token counts: import the cost export for their money.
- openrouter-activity: the Activity page's export (openrouter.ai/activity), one row per
  generation: generation_id, created_at (UTC), cost_total, tokens_prompt,
  tokens_completion, tokens_reasoning, tokens_cached, model_permaslug, provider_name,
  user, api_key_name, app_name, ... The generation id is the natural key.
- mistral: Mistral publishes no column list for its console's usage CSV, so this is a
  `--map` preset, not a reader of a known file: the generic columns with provider
  mistral, currency EUR and basis billed; map the file's columns with --map COLUMN=FIELD.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import BinaryIO

from spendledger.imports.base import ImportFileError, ImportOptions, ImportRow, Reader
from spendledger.imports.csvfile import header_of, normalise
from spendledger.imports.generic import FIELDS, IGNORE, Layout, read_layout
from spendledger.records import Basis, UsageRecord
from spendledger.sources.openai import model_of_line_item


@dataclass(frozen=True)
class _Kind:
    """One export of a console: the columns that tell it apart, and its layout."""

    label: str
    marks: frozenset[str]  # normalised columns every file of this kind has
    layout: Layout


def _openai_line_item(record: UsageRecord) -> None:
    record.model = model_of_line_item(str(record.tags.get("line_item", "")))


def _anthropic_display_name(record: UsageRecord) -> None:
    """The cost export names models for people ("Claude Sonnet 4.5"): the id is claude-sonnet-4-5."""
    if " " in record.model:
        record.model = record.model.strip().lower().replace(" ", "-").replace(".", "-")


LONG_CONTEXT = 200_000  # Anthropic's long-context threshold, per request


def _anthropic_requests(record: UsageRecord) -> None:
    """The usage export counts no requests, and a price tier is chosen per request: a day of
    calls each under 200k input tokens (context_window "≤ 200k") would be priced at the
    long-context rate as one call. It is counted as the fewest calls that fit the window,
    marked `requests_estimated` in its tags."""
    window = str(record.tags.get("context_window", ""))
    if record.requests == 0 and record.tokens.input > LONG_CONTEXT and window.startswith(("≤", "<", "0-")):
        record.requests = -(-record.tokens.input // LONG_CONTEXT)
        record.tags["requests_estimated"] = True


_OPENAI_TIMES = {
    "start_time_iso": "timestamp",
    "end_time_iso": "end",
    "start_time": IGNORE,
    "end_time": IGNORE,
}
OPENAI_USAGE = _Kind(
    "OpenAI usage export",
    frozenset({"start_time_iso", "num_model_requests", "input_tokens"}),
    Layout(
        {
            **_OPENAI_TIMES,
            "project_id": "project",
            "num_model_requests": "requests",
            "user_id": "user",
            "api_key_id": "api_key_id",
            "model": "model",
            "batch": "batch",
            "service_tier": "service_tier",
            "input_tokens": "input_tokens",
            "output_tokens": "output_tokens",
            "input_cached_tokens": "cached_input_tokens",
            "input_cache_write_tokens": "cache_write_5m_tokens",
            "input_audio_tokens": "audio_input_tokens",  # the uncached audio (Usage API spec)
            "output_audio_tokens": "audio_output_tokens",
        },
        basis=Basis.METERED,
        defaults={"provider": "openai"},
        naive_utc=True,
        skip_empty=True,
        strict=False,
    ),
)
OPENAI_COSTS = _Kind(
    "OpenAI cost export",
    frozenset({"start_time_iso", "amount_value"}),
    Layout(
        {
            **_OPENAI_TIMES,
            "amount_value": "cost",
            "amount_currency": "currency",
            "project_id": "project",
            "api_key_id": "api_key_id",
            "organization_id": "account",
        },
        basis=Basis.BILLED,
        defaults={"provider": "openai"},
        tags={"line_item": "line_item"},
        naive_utc=True,
        skip_empty=True,
        strict=False,
        adjust=_openai_line_item,
    ),
)
_ANTHROPIC_COMMON = {
    "usage_date_utc": "date",
    "workspace": "workspace",
    "api_key": "api_key_id",
}
_ANTHROPIC_TAGS = {
    "usage_type": "usage_type",
    "context_window": "context_window",
    "inference_geo": "inference_geo",
    "speed": "speed",
}
ANTHROPIC_USAGE = _Kind(
    "Claude Console usage export",
    frozenset({"usage_date_utc", "usage_output_tokens"}),
    Layout(
        {
            **_ANTHROPIC_COMMON,
            "model_version": "model",
            "usage_input_tokens_no_cache": "uncached_input_tokens",
            "usage_input_tokens_cache_write_5m": "cache_write_5m_tokens",
            "usage_input_tokens_cache_write": "cache_write_5m_tokens",  # before the 1-hour split
            "usage_input_tokens_cache_write_1h": "cache_write_1h_tokens",
            "usage_input_tokens_cache_read": "cached_input_tokens",
            "usage_output_tokens": "output_tokens",
        },
        basis=Basis.METERED,
        defaults={"provider": "anthropic"},
        tags=_ANTHROPIC_TAGS,
        naive_utc=True,
        skip_empty=True,
        strict=False,
        adjust=_anthropic_requests,
    ),
)
ANTHROPIC_COSTS = _Kind(
    "Claude Console cost export",
    frozenset({"usage_date_utc", "cost_usd", "token_type"}),
    Layout(
        {**_ANTHROPIC_COMMON, "model": "model", "cost_usd": "cost"},
        basis=Basis.BILLED,
        defaults={"provider": "anthropic", "currency": "USD"},
        tags={**_ANTHROPIC_TAGS, "token_type": "token_type", "cost_type": "cost_type"},
        naive_utc=True,
        skip_empty=True,
        strict=False,
        adjust=_anthropic_display_name,
    ),
)
OPENROUTER_ACTIVITY = _Kind(
    "OpenRouter activity export",
    frozenset({"generation_id", "cost_total", "model_permaslug"}),
    Layout(
        {
            "generation_id": "id",
            "created_at": "timestamp",
            "cost_total": "cost",
            "tokens_prompt": "input_tokens",
            "tokens_completion": "output_tokens",
            "tokens_reasoning": "reasoning_tokens",
            "tokens_cached": "cached_input_tokens",
            "model_permaslug": "model",
            "user": "user",
            "api_key_name": "api_key_id",
        },
        basis=Basis.METERED,
        defaults={"provider": "openrouter", "currency": "USD"},
        tags={"provider_name": "upstream_provider", "app_name": "app"},
        naive_utc=True,
        strict=False,
    ),
)
MISTRAL = _Kind(
    "Mistral usage (a --map preset)",
    frozenset(),
    Layout(
        {name: name for name in FIELDS},
        basis=Basis.BILLED,
        defaults={"provider": "mistral", "currency": "EUR"},
    ),
)


def _console(name: str, kinds: tuple[_Kind, ...], help_text: str) -> Reader:
    def sniff(head: bytes) -> bool:
        columns = header_of(head)
        return any(kind.marks <= columns for kind in kinds)

    def read(stream: BinaryIO, options: ImportOptions) -> Iterator[ImportRow]:
        head = stream.read(4096)
        stream.seek(0)
        columns = header_of(head) | {normalise(c) for c in options.mapping}
        for kind in kinds:
            if kind.marks <= columns:
                return read_layout(stream, options, kind.layout)
        wanted = " or ".join(f"{k.label} ({', '.join(sorted(k.marks))})" for k in kinds)
        raise ImportFileError(
            f"this file is not a {name} export: expected the columns of the {wanted}", field="format"
        )

    return Reader(name=name, help=help_text, sniff=sniff, read=read)


def _preset(name: str, kind: _Kind, help_text: str) -> Reader:
    def read(stream: BinaryIO, options: ImportOptions) -> Iterator[ImportRow]:
        return read_layout(stream, options, kind.layout)

    return Reader(name=name, help=help_text, sniff=lambda head: False, read=read, documented=False)


READERS: Mapping[str, Reader] = {
    "openai-usage": _console(
        "openai-usage",
        (OPENAI_COSTS, OPENAI_USAGE),
        "OpenAI's usage dashboard export: its cost export (billed) or completions_usage_*.csv "
        "(tokens, priced)",
    ),
    "anthropic-console": _console(
        "anthropic-console",
        (ANTHROPIC_COSTS, ANTHROPIC_USAGE),
        "the Claude Console's usage export (tokens, priced) or cost export (billed)",
    ),
    "openrouter-activity": _console(
        "openrouter-activity",
        (OPENROUTER_ACTIVITY,),
        "OpenRouter's activity export, one row per generation with its cost",
    ),
    "mistral": _preset(
        "mistral",
        MISTRAL,
        "Mistral publishes no column list for its console CSV: a --map preset of the generic columns "
        "with provider mistral, currency EUR, basis billed; map yours with --map COLUMN=FIELD",
    ),
}
