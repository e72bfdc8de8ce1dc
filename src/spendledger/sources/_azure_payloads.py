"""The Cost Management Query API's JSON, as pydantic models, and the reading of one page.

Only `sources/azure.py` imports this (provider-apis.md §4.2). A query answers
`properties.columns` (name, type) and `properties.rows`, positional arrays in the columns'
order, with `nextLink` set while more rows remain. Columns are found by name, never by
position, and case-insensitively (the service echoes a grouping's name as it spells it:
`MeterSubcategory`, `ResourceId`).
Each row is validated into a `CostRow`: money as Decimal (the body is decoded with
`parse_float=Decimal`, so a JSON number never passes through float), finite and within
±10^12; `UsageDate` a real day written as the integer yyyymmdd; `Currency` three letters.
A mismatch (`read_page`) is a SourceError naming the page, the row and the column, so a
corrupt page never reaches the ledger.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, NoReturn

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from spendledger.sources.errors import SourceError


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


@dataclass(frozen=True)
class Where:
    """Where a page was read, for its error messages: the source, endpoint, page and window."""

    source: str
    endpoint: str
    number: int | None = None
    detail: str = ""  # the window and the part of it, e.g. " (2025-03-01..2025-03-31, part 2)"

    def malformed(self, path: str, problem: str) -> NoReturn:
        page = f" (page {self.number})" if self.number else ""
        raise SourceError(
            "malformed",
            f'Azure source "{self.source}", {self.endpoint}{page}{self.detail}: unexpected data at {path}: '
            f"{problem}; the API's format may have changed, report this message",
            endpoint=self.endpoint,
            page=self.number,
        )


def read_page(
    body: object, where: Where, first: date, last: date, *, daily: bool = True
) -> tuple[list[CostRow], str | None]:
    """One query page's rows, validated, and its `nextLink`; a mismatch is a named SourceError.

    A `daily` page must have a `UsageDate` and a `Meter` column, and every row's day within
    [first, last]; any page a `Cost` (or `PreTaxCost`) and a `Currency` column.
    """
    try:
        result = QueryResult.model_validate(body)
    except ValidationError as exc:
        error = exc.errors()[0]
        where.malformed(".".join(str(p) for p in error["loc"]) or "the page", error["msg"])
    fields = [COLUMN_FIELDS.get(c.name.lower()) for c in result.properties.columns]
    if missing := ({"cost", "currency"} | ({"day", "meter"} if daily else set())) - set(fields):
        names = {v: k for k, v in COLUMN_FIELDS.items()}
        where.malformed("properties.columns", f"no {', '.join(sorted(names[m] for m in missing))} column")
    rows = []
    for i, values in enumerate(result.properties.rows):
        if len(values) != len(fields):
            where.malformed(f"properties.rows[{i}]", f"{len(values)} values for {len(fields)} columns")
        try:
            row = CostRow.model_validate({f: v for f, v in zip(fields, values, strict=True) if f})
        except ValidationError as exc:
            error = exc.errors()[0]
            column = next(
                (
                    c.name
                    for c, f in zip(result.properties.columns, fields, strict=True)
                    if f == error["loc"][0]
                ),
                "?",
            )
            where.malformed(
                f"properties.rows[{i}].{column}", f"{error['msg']} (got {str(error.get('input'))[:40]!r})"
            )
        if row.day is not None and not first <= row.day <= last:
            where.malformed(f"properties.rows[{i}].UsageDate", f"{row.day} is outside {first}..{last}")
        rows.append(row)
    return rows, result.properties.nextLink
