"""OpenRouter's management API JSON, as pydantic models (provider-apis-2026.md §1.5).

Only `sources/openrouter.py` imports this. `GET /activity?date=` answers
`{"data": [ActivityItem, ...]}`: one item per date × model × endpoint (× workspace with
`group_by=workspace`), money in USD as JSON numbers (decoded as Decimal by `_http`);
`GET /credits` answers `{"data": {"total_credits", "total_usage"}}`.

Invariants: unknown fields are ignored; counts are whole, non-negative and bounded, money
is finite and bounded, ids and names are bounded strings, so whatever validates can be
stored (BigInteger nano-units, the key's 400 characters, small tags). `completion_tokens`
includes `reasoning_tokens` (OpenRouter counts like OpenAI), so reasoning is clamped to the
completion it is part of and `TokenCounts.validate()` holds.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from spendledger.records import TokenCounts

Count = Annotated[int, Field(ge=0, le=10**15)]
# a day's spend on one endpoint, or an account's running total: far below 1e9 USD, whose
# nano-units still fit the ledger's 64-bit integers
Money = Annotated[Decimal, Field(ge=-(10**9), le=10**9, allow_inf_nan=False)]
Id = Annotated[str, Field(min_length=1, max_length=64)]
Name = Annotated[str, Field(max_length=200)]

# "2025-08-24", also as a midnight timestamp ("2025-08-24 00:00:00", "2025-08-24T00:00:00Z")
_DAY = re.compile(r"(\d{4}-\d{2}-\d{2})(?:[ T]00:00(?::00(?:\.0+)?)?(?:Z|[+-]00:?00)?)?")


def _day(value: object) -> object:
    """The day of a `date` field written as a midnight timestamp; the rest is pydantic's to judge."""
    if isinstance(value, str) and (match := _DAY.fullmatch(value)):
        return match.group(1)
    return value


Day = Annotated[date, BeforeValidator(_day)]


class Payload(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ActivityItem(Payload):
    date: Day
    model: Annotated[str, Field(min_length=1, max_length=200)]  # the slug: "anthropic/claude-sonnet-4.5"
    endpoint_id: Id
    usage: Money  # USD of OpenRouter credits spent (BYOK fees included)
    requests: Count
    prompt_tokens: Count
    completion_tokens: Count
    reasoning_tokens: Count = 0
    byok_usage_inference: Money = Decimal(0)  # paid to the upstream provider on the user's own key
    model_permaslug: Name | None = None
    provider_name: Name | None = None  # the upstream provider serving the endpoint
    workspace_id: Id | None = None  # only with group_by=workspace

    def plus(self, other: ActivityItem) -> ActivityItem:
        """This item with `other`'s money and counts added (the same ids twice in one day)."""
        return self.model_copy(update={f: getattr(self, f) + getattr(other, f) for f in _SUMMED})

    def tokens(self) -> TokenCounts:
        return TokenCounts(
            input=self.prompt_tokens,
            output=self.completion_tokens,
            reasoning=min(self.reasoning_tokens, self.completion_tokens),
        )


_SUMMED = (
    "usage",
    "byok_usage_inference",
    "requests",
    "prompt_tokens",
    "completion_tokens",
    "reasoning_tokens",
)


class Activity(Payload):
    data: list[ActivityItem]


class CreditsData(Payload):
    total_credits: Money  # every credit bought, all time
    total_usage: Money  # every credit spent, all time


class Credits(Payload):
    data: CreditsData
