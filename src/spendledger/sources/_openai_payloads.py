"""The OpenAI Admin API's JSON, as pydantic models (provider-apis.md §1).

Only `sources/openai.py` imports this: it validates each response into these models and
translates them into records, so raw dicts never leave the connector. Unknown fields are
ignored and optional ones may be missing (the API grows new fields often); counts must
be whole and non-negative, so a corrupt page fails validation, naming the field, instead
of reaching the ledger. Token subsets follow the ledger contract (records.py): OpenAI's
`input_tokens` already includes cached reads and cache writes, `output_tokens` includes
reasoning (the usage API has no reasoning split), and `input_audio_tokens` is the
*uncached* audio (spec, UsageCompletionsResult). Subsets are clamped to what is left of
their whole, so `TokenCounts.validate()` holds even on older responses whose audio count
included cached audio.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from spendledger.records import TokenCounts

Count = Annotated[int, Field(ge=0)]


class Payload(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Amount(Payload):
    value: Decimal  # a JSON number in dollars (decoded as Decimal); a string is accepted too
    currency: str = "usd"


class CostResult(Payload):
    amount: Amount  # optional in the spec, but a cost without an amount cannot be recorded
    line_item: str | None = None
    project_id: str | None = None
    api_key_id: str | None = None
    quantity: int | float | None = None  # kept in tags (JSON): a quantity is not money
    quantity_unit: str | None = None


class UsageResult(Payload):
    """The dimensions every usage result may carry; subclasses declare their counts."""

    project_id: str | None = None
    api_key_id: str | None = None
    model: str | None = None

    def tokens(self) -> TokenCounts:
        return TokenCounts()


class Completions(UsageResult):
    input_tokens: Count
    output_tokens: Count
    num_model_requests: Count
    input_cached_tokens: Count | None = None
    input_cache_write_tokens: Count | None = None
    input_audio_tokens: Count | None = None
    output_audio_tokens: Count | None = None
    batch: bool | None = None
    service_tier: str | None = None

    def tokens(self) -> TokenCounts:
        whole = self.input_tokens
        cached = min(self.input_cached_tokens or 0, whole)
        write = min(self.input_cache_write_tokens or 0, whole - cached)
        return TokenCounts(
            input=whole,
            cached_input=cached,
            cache_write_5m=write,
            audio_input=min(self.input_audio_tokens or 0, whole - cached - write),
            output=self.output_tokens,
            audio_output=min(self.output_audio_tokens or 0, self.output_tokens),
        )


class InputTokens(UsageResult):  # embeddings, moderations
    input_tokens: Count
    num_model_requests: Count

    def tokens(self) -> TokenCounts:
        return TokenCounts(input=self.input_tokens)


class Images(UsageResult):
    images: Count
    num_model_requests: Count
    size: str | None = None
    source: str | None = None


class Speeches(UsageResult):
    characters: Count
    num_model_requests: Count


class Transcriptions(UsageResult):
    seconds: Count
    num_model_requests: Count


class VectorStores(UsageResult):
    usage_bytes: Count


class CodeInterpreter(UsageResult):
    num_sessions: Count


class WebSearches(UsageResult):
    num_model_requests: Count
    num_requests: Count  # the search calls themselves, billed per call
    context_level: str | None = None


class FileSearches(UsageResult):
    num_requests: Count
    vector_store_id: str | None = None


R = TypeVar("R", bound=Payload)


class Bucket(Payload, Generic[R]):
    start_time: int
    end_time: int
    results: list[R]


class Envelope(Payload):
    """A page; its buckets are validated one by one, so a large page never lives twice."""

    data: list[Any]
    has_more: bool
    next_page: str | None = None


class Project(Payload):
    id: str
    name: str | None = None
    status: str | None = None
    archived_at: int | None = None


class ApiKey(Payload):
    id: str
    name: str | None = None


class Listing(Payload, Generic[R]):
    data: list[R]
    has_more: bool = False
    last_id: str | None = None
