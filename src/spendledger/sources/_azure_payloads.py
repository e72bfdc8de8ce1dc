"""The Cost Management Query API's JSON, as pydantic models (provider-apis.md §4.2).

Only `sources/azure.py` imports this. A query answers `properties.columns` (name, type)
and `properties.rows`, positional arrays in the columns' order, with `nextLink` set while
more rows remain. Columns are found by name, never by position, and case-insensitively
(the service echoes a grouping's name as it spells it: `MeterSubcategory`, `ResourceId`).
Each row is validated into a `CostRow`: money as Decimal (the body is decoded with
`parse_float=Decimal`, so a JSON number never passes through float), finite and within
±10^12; `UsageDate` a real day written as the integer yyyymmdd; `Currency` three letters.
A mismatch names the row and the column, so a corrupt page never reaches the ledger.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


def _not_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("a number is required, not a boolean")
    return value


def _day(value: Any) -> Any:
    """UsageDate's integer yyyymmdd as a date; anything else is left for pydantic to refuse."""
    if isinstance(value, bool) or not isinstance(value, int):
        return value if isinstance(value, date) else "not a yyyymmdd integer"
    if not 20000101 <= value <= 20991231:
        raise ValueError("UsageDate must be a day written yyyymmdd")
    return date(value // 10_000, value // 100 % 100, value % 100)  # ValueError on 20250231


Money = Annotated[Decimal, BeforeValidator(_not_bool), Field(allow_inf_nan=False, ge=-(10**12), le=10**12)]
Day = Annotated[date, BeforeValidator(_day)]
Text = Annotated[str, BeforeValidator(lambda v: "" if v is None else v)]


class Payload(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Column(Payload):
    name: str
    type: str = ""


class Properties(Payload):
    nextLink: str | None = None  # noqa: N815 (the API's name)
    columns: list[Column]
    rows: list[list[Any]]


class QueryResult(Payload):
    """One page of a query; its rows are validated one by one as `CostRow`s."""

    properties: Properties


# column name (lower case) → CostRow field; `PreTaxCost` is the cost column of `Usage` queries
COLUMN_FIELDS = {
    "cost": "cost",
    "pretaxcost": "cost",
    "costusd": "cost_usd",
    "usagequantity": "quantity",
    "usagedate": "day",
    "resourceid": "resource_id",
    "subscriptionid": "subscription_id",
    "servicename": "service_name",
    "metersubcategory": "meter_subcategory",
    "meter": "meter",
    "currency": "currency",
}


class CostRow(Payload):
    """One row: a day's money and quantity of one resource's meter, in one currency."""

    cost: Money
    currency: Annotated[str, Field(pattern=r"^[A-Za-z]{3}$")]
    day: Day | None = None  # absent from a query without granularity (the key check's total)
    cost_usd: Money | None = None
    quantity: Money | None = None
    resource_id: Text = ""
    subscription_id: Text = ""
    service_name: Text = ""
    meter_subcategory: Text = ""
    meter: Text = ""
