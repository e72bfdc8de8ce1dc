"""GitHub's Copilot billing JSON, as pydantic models (provider-apis-2026.md §1.6).

Only `sources/github_copilot.py` imports this. Three shapes:
- the Copilot usage reports (`settings/billing/ai_credit/usage`, and before June 2026
  `settings/billing/premium_request/usage`): `timePeriod`, then `usageItems` per product
  × SKU × model with gross, discount and net quantity and money. The docs mark every
  item field required. Amounts are JSON numbers with up to 9 decimals, decoded as
  `Decimal` (never float). `netAmount` is what is billed. It is *not* always gross
  minus discount: pooled entitlements can give a discount larger than the gross and a
  net of 0 (GitHub's own sample, go-github#4262). So the net is read, never computed.
- the billing usage report (`settings/billing/usage`): items per `date` (a timestamp,
  several a day) × product × SKU, for every metered product. Seats are its Copilot lines.
- the Copilot seat listing (`copilot/billing/seats`): `total_seats`, then the seats,
  paged by Link headers.

Unknown fields are ignored. A money field outside ±10^12 or not finite fails validation,
because it could not be stored in nano-units.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

_BOUND = Decimal(10) ** 12
Number = Annotated[Decimal, Field(allow_inf_nan=False, ge=-_BOUND, le=_BOUND)]


class Payload(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Camel(Payload):
    """GitHub's billing reports name fields in camelCase; errors name them as sent."""

    model_config = ConfigDict(extra="ignore", alias_generator=to_camel, populate_by_name=True)


class TimePeriod(Camel):
    year: int
    month: int | None = None
    day: int | None = None


class UsageItem(Camel):
    """One line of a Copilot usage report: one product × SKU × model for the period asked."""

    product: str
    sku: str
    model: str
    unit_type: str
    price_per_unit: Number
    gross_quantity: Number
    gross_amount: Number
    discount_quantity: Number
    discount_amount: Number
    net_quantity: Number
    net_amount: Number

    @property
    def line(self) -> tuple[str, str, str]:
        """What makes the line unique in a report: product, SKU, model."""
        return (self.product, self.sku, self.model)


class UsageReport(Camel):
    time_period: TimePeriod
    usage_items: list[UsageItem]


class BillingItem(Camel):
    """One line of the billing usage report (every metered product; seats among them)."""

    billed_at: datetime = Field(alias="date")  # "2025-10-15T01:34:34Z"; a bare date: midnight UTC
    product: str
    sku: str
    quantity: Number
    unit_type: str
    price_per_unit: Number
    gross_amount: Number
    discount_amount: Number
    net_amount: Number
    organization_name: str | None = None

    @property
    def day(self) -> date:
        """The UTC day the line is billed on."""
        when = self.billed_at if self.billed_at.tzinfo else self.billed_at.replace(tzinfo=UTC)
        return when.astimezone(UTC).date()


class BillingReport(Camel):
    usage_items: list[BillingItem]


class Assignee(Payload):
    login: str | None = None  # a user's login; a team or organisation assignee has none


class Seat(Payload):
    assignee: Assignee | None = None
    created_at: datetime | None = None
    plan_type: str | None = None


class SeatListing(Payload):
    total_seats: int = Field(ge=0)
    seats: list[Seat]
