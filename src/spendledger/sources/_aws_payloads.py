"""Cost Explorer's answers (as boto3 returns them), as pydantic models.

Only `sources/aws.py` imports this. `GetCostAndUsage` answers `ResultsByTime` (one entry
per day asked, empty days included; a day's groups may run over several pages, each
page naming the day again), each with `Groups` of `Keys` (one per group-by, in the
request's order; a tag group's key is `Key$value`) and `Metrics` of `{Amount, Unit}`,
the amount a decimal string; `Total` instead when nothing is grouped. `NextPageToken`
pages. `GetDimensionValues` answers `DimensionValues` of `{Value, Attributes}`, paged the
same way. Unknown fields are ignored; amounts must be finite decimals within a sane
bound, so a corrupt page fails validation, naming the field, before it reaches the ledger.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

# money and quantities: finite, below a trillion (anything larger is a corrupt page)
Amount = Annotated[Decimal, Field(allow_inf_nan=False, gt=-(10**12), lt=10**12)]


class Payload(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Metric(Payload):
    Amount: Amount
    Unit: str = ""


class Period(Payload):
    Start: date
    End: date


class Group(Payload):
    Keys: list[str]
    Metrics: dict[str, Metric]


class ResultByTime(Payload):
    TimePeriod: Period
    Groups: list[Group] = []
    Total: dict[str, Metric] = {}
    Estimated: bool = False


class ValueAttributes(Payload):
    Value: str
    Attributes: dict[str, str] = {}


class CostPage(Payload):
    ResultsByTime: list[ResultByTime]
    NextPageToken: str | None = None
    DimensionValueAttributes: list[ValueAttributes] = []


class DimensionValuesPage(Payload):
    DimensionValues: list[ValueAttributes]
    NextPageToken: str | None = None
