"""The Anthropic Admin API's JSON, as pydantic models (provider-apis.md §2).

Only `sources/anthropic.py` imports this: it validates each response into these models
and translates them into records, so raw dicts never leave the connector. Unknown fields
are ignored and optional ones may be missing (the API grows new dimensions often);
counts must be whole and non-negative, so a corrupt page fails validation, naming the
field, instead of reaching the ledger.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Generic, Self, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, NonNegativeInt, model_validator

R = TypeVar("R", bound=BaseModel)


class Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Dimensions(Payload):
    """The grouping fields both reports share; null unless grouped by (or the default workspace)."""

    workspace_id: str | None = None
    model: str | None = None
    service_tier: str | None = None
    context_window: str | None = None
    inference_geo: str | None = None


class CostResult(Dimensions):
    amount: Decimal  # the lowest currency unit (cents), sent as a decimal string
    currency: str = "USD"
    description: str | None = None
    cost_type: str | None = None
    token_type: str | None = None


class CacheCreation(Payload):
    ephemeral_5m_input_tokens: NonNegativeInt = 0
    ephemeral_1h_input_tokens: NonNegativeInt = 0


class ServerToolUse(Payload):
    web_search_requests: NonNegativeInt = 0
    web_fetch_requests: NonNegativeInt | None = None


class UsageResult(Dimensions):
    """Disjoint counts: `uncached_input_tokens` excludes cache reads and cache writes."""

    uncached_input_tokens: NonNegativeInt
    cache_read_input_tokens: NonNegativeInt = 0
    cache_creation: CacheCreation = Field(default_factory=CacheCreation)
    output_tokens: NonNegativeInt
    server_tool_use: ServerToolUse = Field(default_factory=ServerToolUse)
    api_key_id: str | None = None


class Bucket(Payload, Generic[R]):
    starting_at: AwareDatetime
    ending_at: AwareDatetime
    results: list[R]


class Report(Payload, Generic[R]):
    """The envelope of cost_report and usage_report/messages; `limit` counts buckets."""

    data: list[Bucket[R]]
    has_more: bool = False
    next_page: str | None = None


class Actor(Payload):
    type: str
    email_address: str | None = None
    api_key_name: str | None = None

    @model_validator(mode="after")
    def _named(self) -> Self:
        if not self.name:
            raise ValueError(f"a {self.type} needs an email_address (user) or api_key_name (API key)")
        return self

    @property
    def name(self) -> str | None:
        return self.email_address if self.type == "user_actor" else self.api_key_name


class CodeTokens(Payload):
    input: NonNegativeInt = 0
    output: NonNegativeInt = 0
    cache_read: NonNegativeInt = 0
    cache_creation: NonNegativeInt = 0


class Money(Payload):
    amount: Decimal  # cents
    currency: str = "USD"


class ModelUsage(Payload):
    model: str
    tokens: CodeTokens = Field(default_factory=CodeTokens)
    estimated_cost: Money | None = None


class Lines(Payload):
    added: NonNegativeInt = 0
    removed: NonNegativeInt = 0


class CoreMetrics(Payload):
    num_sessions: NonNegativeInt = 0
    lines_of_code: Lines = Field(default_factory=Lines)
    commits_by_claude_code: NonNegativeInt = 0
    pull_requests_by_claude_code: NonNegativeInt = 0


class CodeRecord(Payload):
    """One actor's Claude Code day (one terminal type)."""

    actor: Actor
    customer_type: str | None = None  # api | subscription
    subscription_type: str | None = None
    terminal_type: str | None = None
    core_metrics: CoreMetrics = Field(default_factory=CoreMetrics)
    tool_actions: dict[str, dict[str, int]] = Field(default_factory=dict)
    model_breakdown: list[ModelUsage] = Field(default_factory=list)


class CodeReport(Payload):
    data: list[CodeRecord]
    has_more: bool = False
    next_page: str | None = None


class Named(Payload):
    """A workspace or an API key: all the connector needs is the id's display name."""

    id: str
    name: str
    archived_at: str | None = None


class Listing(Payload):
    """Anthropic's id-cursor page: the next page is `after_id=<last_id>` while `has_more`."""

    data: list[Named]
    has_more: bool = False
    last_id: str | None = None
