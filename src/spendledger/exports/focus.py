"""The ledger's spend as FOCUS 1.2 or 1.3 cost and usage rows (files: focus_files.py).

Which money goes in: the query's basis, "best available" by default, as in every report
(billed figures where a billing sync covers the provider account and day, metered
estimates for the rest, manual and demo figures always), so nothing is counted twice and
a file's BilledCost adds up, per currency, to `spendledger report` over the same days to
the nano-unit. Each row says where its money comes from in `x_Basis` and in its
ChargeDescription ("metered estimate, priced from the catalogue").

One row per charge (`spendledger.charges`): the records of one local day sharing every
dimension and their tags. The charge period is that day, [local midnight, next local
midnight) written in UTC; the billing period is its local month. Money stays in the
currency it was recorded in (BillingCurrency per row). The ledger records no discounts,
commitments or list prices apart from what was paid, so BilledCost, EffectiveCost,
ListCost and ContractedCost are the same figure: the charge's cost (but for a purchase).

- ChargeCategory: "Usage" (Usage-Based); a negative amount (a refund, a seat reduction)
  is a "Credit" (One-Time); an imported FOCUS row keeps the category it came with. A seat
  subscription's charge is Usage of its seats, Recurring: FOCUS keeps "Purchase" for what
  is bought to cover later charges, whose EffectiveCost is 0 on the purchase and shows
  on those charges instead, while a seat's cost shows nowhere else. So only an imported
  purchase is a "Purchase" here, with EffectiveCost 0 as in the file it came from.
- Quantities: tokens (input + output) as ConsumedQuantity in Tokens and as
  PricingQuantity in 1000000 Tokens; a charge without tokens counts its requests, or its
  charges (a bill's money line item, a manual entry); a subscription counts its seats.
- SkuId: the model (else the bill's line item, the subscription's plan, or "Other").
- Tags: the records' own tags (nested objects flattened to `a.b` keys, lists as JSON
  text, as FOCUS's key-value format wants) with the ledger's workspace, project,
  api_key_id, user and feature, which win over a tag of the same name.
- Providers: focus_entities.py. A charge with no account is billed to account "(none)".
- InvoiceId (recommended) is present and null: the ledger knows no invoice ids, and
  FOCUS wants null rather than a made-up one. (The official validator's 1.2 rules check
  both "MUST be null" and "MUST NOT be null" on every row, their conditions dropped, so
  one of the two, InvoiceId-C-005-C, always reports a failure while their parent rule,
  InvoiceId-C-003-C, passes: both have an empty Condition in its model-1.2.0.1.json.)

Rows that FOCUS would tell apart by nothing but their amounts (tags equal once
flattened, an account "(none)" beside an empty one) are added into one, so a file never
holds two rows a reader keys the same.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from spendledger.charges import Charge
from spendledger.exports import focus_entities as entities
from spendledger.exports.focus_columns import TOKEN_COLUMN_OF, Kind, columns

NO_ACCOUNT = "(none)"
SERVICE_CATEGORY = "AI and Machine Learning"
SERVICE_SUBCATEGORY = "Generative AI"
TOKENS_PER_PRICING_UNIT = 1_000_000
CATEGORIES = ("Usage", "Purchase", "Tax", "Credit", "Adjustment")
BASIS_WORDS = {
    "billed": "billed by the provider",
    "metered": "metered estimate, priced from the catalogue",
    "manual": "entered by hand",
    "demo": "demo data",
}
DIMENSION_TAGS = ("workspace", "project", "api_key_id", "user", "feature")
Row = dict[str, Any]


def focus_rows(charges: Iterable[Charge], *, version: str, tz: ZoneInfo) -> Iterator[Row]:
    """The FOCUS rows of `charges` (in day order), one day held at a time."""
    kinds = columns(version)
    summed = [name for name, kind in kinds.items() if kind in (Kind.DECIMAL, Kind.INTEGER)]
    keyed = [name for name in kinds if name not in summed and not name.startswith("x_")]
    day: date | None = None
    rows: dict[tuple[Any, ...], Row] = {}
    for charge in charges:
        if charge.day != day:
            yield from rows.values()
            day, rows = charge.day, {}
        row = focus_row(charge, version=version, tz=tz)
        key = tuple(row[name] for name in keyed)
        if (same := rows.get(key)) is None:
            rows[key] = row
            continue
        for name in summed:
            if row[name] is not None:
                same[name] = row[name] if same[name] is None else same[name] + row[name]
    yield from rows.values()


def focus_row(charge: Charge, *, version: str, tz: ZoneInfo) -> Row:
    """One charge as a FOCUS row: column → a str, Decimal, int, UTC datetime or None."""
    c = charge
    route = entities.route_name(c.provider)
    service = entities.service_name(c.provider, c.tags)
    category = _category(c)
    sku = c.model or _text_tag(c.tags, "line_item", "plan", "subscription") or "Other"
    account = c.account or NO_ACCOUNT
    row: Row = {
        "BilledCost": c.cost,
        "BillingAccountId": account,
        "BillingAccountName": account,
        "BillingCurrency": c.currency,
        "BillingPeriodStart": _utc(c.day.replace(day=1), tz),
        "BillingPeriodEnd": _utc(_next_month(c.day), tz),
        "ChargeCategory": category,
        "ChargeClass": None,
        "ChargeDescription": f"{sku} on {service}, {BASIS_WORDS.get(c.basis, c.basis)}",
        "ChargeFrequency": _frequency(c, category),
        "ChargePeriodStart": _utc(c.day, tz),
        "ChargePeriodEnd": _utc(c.day + timedelta(days=1), tz),
        "ContractedCost": c.cost,
        "EffectiveCost": Decimal(0) if category == "Purchase" else c.cost,
        "InvoiceId": None,  # the ledger knows no invoice ids
        "InvoiceIssuerName": route,
        "ListCost": c.cost,
        "ProviderName": route,
        "PublisherName": entities.maker_name(c.provider, c.model, c.tags),
        "ServiceCategory": SERVICE_CATEGORY,
        "ServiceName": service,
        "ServiceSubcategory": SERVICE_SUBCATEGORY,
        "SkuId": sku,
        "Tags": tags_json(c),
        **_quantities(c, category),
        "x_Basis": c.basis,
        "x_Model": c.model or None,
        "x_Requests": c.requests,
        **{column: getattr(c.tokens, kind) for kind, column in TOKEN_COLUMN_OF.items()},
        "x_UnpricedRequests": c.unpriced_requests,
    }
    if version == "1.3":
        row["ServiceProviderName"] = row["PublisherName"]
        row["HostProviderName"] = route
    return row


def tags_json(charge: Charge) -> str | None:
    """The charge's tags as FOCUS's key-value JSON (flat, sorted), None when it has none."""
    flat = _flat(charge.tags)
    for name in DIMENSION_TAGS:
        if value := getattr(charge, name):
            flat[name] = value
    return json.dumps(flat, sort_keys=True, ensure_ascii=False, separators=(",", ":")) if flat else None


def _flat(tags: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tags.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flat(value, f"{name}."))
        elif isinstance(value, list):
            flat[name] = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        else:
            flat[name] = value
    return flat


def _category(c: Charge) -> str:
    imported = c.tags.get("charge_category")  # a FOCUS import keeps the row's own
    category = imported if isinstance(imported, str) and imported in CATEGORIES else "Usage"
    return "Credit" if c.cost < 0 and category in ("Usage", "Purchase") else category


def _subscription(c: Charge) -> bool:
    """A seat subscription's charge (ingest/subscriptions.py writes them)."""
    return c.basis == "manual" and "subscription" in c.tags


def _frequency(c: Charge, category: str) -> str:
    if category == "Usage":
        return "Recurring" if _subscription(c) else "Usage-Based"
    return "One-Time"


def _quantities(c: Charge, category: str) -> Row:
    none: Row = {"ConsumedQuantity": None, "ConsumedUnit": None, "PricingQuantity": None, "PricingUnit": None}
    if category == "Purchase":
        return none | {"PricingQuantity": Decimal(c.records), "PricingUnit": "Charges"}
    if category != "Usage":
        return none
    tokens = c.tokens.input + c.tokens.output
    seats = c.tags.get("seats")
    if tokens:
        return {
            "ConsumedQuantity": Decimal(tokens),
            "ConsumedUnit": "Tokens",
            "PricingQuantity": Decimal(tokens) / TOKENS_PER_PRICING_UNIT,
            "PricingUnit": f"{TOKENS_PER_PRICING_UNIT} Tokens",
        }
    if _subscription(c) and isinstance(seats, int) and not isinstance(seats, bool) and seats > 0:
        count, unit = seats, "Seats"
    elif c.requests:
        count, unit = c.requests, "Requests"
    else:
        count, unit = c.records, "Charges"
    quantity = Decimal(count)
    return {
        "ConsumedQuantity": quantity,
        "ConsumedUnit": unit,
        "PricingQuantity": quantity,
        "PricingUnit": unit,
    }


def _text_tag(tags: dict[str, Any], *names: str) -> str:
    for name in names:
        value = tags.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


@lru_cache(maxsize=1024)  # each day of an export, asked for by each of its charges
def _utc(day: date, tz: ZoneInfo) -> datetime:
    """Local midnight of `day` as a UTC instant."""
    return datetime.combine(day, time(), tz).astimezone(UTC)


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)
