"""The Cloud Billing export as the connector reads it: the key, the query and its result rows.

Only `sources/gcp.py` imports this. The key is a service account's JSON key file; the
query groups the export (standard or detailed: the columns read are in both) by UTC day
of `usage_start_time`, project, service, SKU, cost type, label set, usage unit, currency
and credit, and its result pages come back as BigQuery's `{"f": [{"v": ...}]}` rows,
each validated as an `ExportLine` against the columns the query names, so a page that
does not fit names its row and column instead of reaching the ledger.

Money is exact: the export's `cost` and `credits.amount` are FLOAT64, cast to NUMERIC (9
decimals, the ledger's nano-units) before they are summed, and NUMERIC comes back as a
decimal string.
"""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

# The columns the sync query returns, in order; the result's schema must name them so.
COLUMNS = (
    "day",
    "project_id",
    "project_name",
    "service_id",
    "service",
    "sku_id",
    "sku",
    "cost_type",
    "label_set",
    "usage_unit",
    "currency",
    "credit_type",
    "credit_id",
    "credit_name",
    "amount",
    "quantity",
)
# The export columns the query reads: a table lacking one is not a billing export.
EXPORT_COLUMNS = (
    "usage_start_time",
    "export_time",
    "project",
    "service",
    "sku",
    "labels",
    "cost",
    "currency",
    "usage",
    "credits",
    "cost_type",
)
_TABLE = re.compile(
    r"(?P<project>[a-z0-9.:-]{4,}[a-z0-9])\.(?P<dataset>[A-Za-z0-9_]{1,1024})\.(?P<table>[\w$-]{1,1024})"
)

# Shared by the sync query and the late-days query: the AI services' rows.
_SERVICES = "service.description IN UNNEST(@services)"

# Which usage days before the window got rows exported since its start (late rows, credits
# and adjustments): their days are read again, whole.
LATE_DAYS_SQL = f"""
SELECT DISTINCT DATE(usage_start_time) AS day
FROM `{{table}}`
WHERE {_SERVICES}
  AND export_time >= @start
  AND usage_start_time >= @lookback
  AND usage_start_time < @start
ORDER BY day
"""

SYNC_SQL = f"""
WITH export_rows AS (
  SELECT
    DATE(usage_start_time) AS day,
    IFNULL(project.id, '') AS project_id,
    IFNULL(project.name, '') AS project_name,
    IFNULL(service.id, '') AS service_id,
    IFNULL(service.description, '') AS service,
    IFNULL(sku.id, '') AS sku_id,
    IFNULL(sku.description, '') AS sku,
    IFNULL(cost_type, '') AS cost_type,
    IFNULL((
      SELECT STRING_AGG(CONCAT(l.key, ':', l.value), ',' ORDER BY l.key, l.value)
      FROM UNNEST(labels) AS l
    ), '') AS label_set,
    IFNULL(usage.unit, '') AS usage_unit,
    currency,
    cost,
    usage.amount AS usage_amount,
    credits
  FROM `{{table}}`
  WHERE {_SERVICES}
    AND usage_start_time < @end
    AND (usage_start_time >= @start OR DATE(usage_start_time) IN UNNEST(@late_days))
),
lines AS (
  SELECT
    day, project_id, project_name, service_id, service, sku_id, sku, cost_type, label_set,
    usage_unit, currency, '' AS credit_type, '' AS credit_id, '' AS credit_name,
    CAST(cost AS NUMERIC) AS amount, CAST(IFNULL(usage_amount, 0) AS NUMERIC) AS quantity
  FROM export_rows
  UNION ALL
  SELECT
    day, project_id, project_name, service_id, service, sku_id, sku, cost_type, label_set,
    usage_unit, currency, IFNULL(c.type, ''), IFNULL(c.id, ''), IFNULL(c.name, ''),
    CAST(c.amount AS NUMERIC), CAST(0 AS NUMERIC)
  FROM export_rows, UNNEST(credits) AS c
)
SELECT
  day, project_id, ANY_VALUE(project_name) AS project_name, service_id,
  ANY_VALUE(service) AS service, sku_id, ANY_VALUE(sku) AS sku, cost_type, label_set,
  usage_unit, currency, credit_type, credit_id, ANY_VALUE(credit_name) AS credit_name,
  SUM(amount) AS amount, SUM(quantity) AS quantity
FROM lines
GROUP BY day, project_id, service_id, sku_id, cost_type, label_set, usage_unit, currency,
  credit_type, credit_id
ORDER BY day, project_id, service_id, sku_id, cost_type, label_set, usage_unit, currency,
  credit_type, credit_id
"""


class Payload(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ServiceAccountKey(Payload):
    """The fields of a service account's JSON key file that the token exchange needs."""

    type: str
    project_id: str = ""
    private_key_id: str = ""
    private_key: Annotated[str, Field(min_length=1)]
    client_email: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+$")]
    token_uri: Annotated[str, Field(pattern=r"^https?://")] = "https://oauth2.googleapis.com/token"


_KEY_HELP = (
    "give a service account's JSON key file (IAM & Admin → Service accounts → the account → "
    'Keys → Add key → JSON): a JSON object whose "type" is "service_account"'
)


def parse_key(text: str) -> tuple[ServiceAccountKey, dict[str, Any]]:
    """The key file's fields and the whole object; ValueError says what is wrong (never the key)."""
    try:
        info = json.loads(text)
    except ValueError:
        hint = " (it looks cut short: give the whole file)" if text.lstrip().startswith("{") else ""
        raise ValueError(f"the key is not JSON{hint}; {_KEY_HELP}") from None
    if not isinstance(info, dict):
        raise ValueError(f"the key is not a JSON object; {_KEY_HELP}")
    kind = info.get("type")
    if kind != "service_account":
        what = {
            "authorized_user": "a user's gcloud credentials",
            "external_account": "a workload identity federation configuration",
            "impersonated_service_account": "an impersonation configuration",
        }.get(str(kind), f'a JSON object of type "{kind}"' if kind else 'a JSON object without "type"')
        raise ValueError(f"the key is {what}, not a service-account key; {_KEY_HELP}")
    try:
        key = ServiceAccountKey.model_validate(info)
    except ValidationError as exc:
        fields = ", ".join(sorted({str(e["loc"][0]) for e in exc.errors()}))
        raise ValueError(f"the service-account key lacks or garbles {fields}; {_KEY_HELP}") from None
    if "PRIVATE KEY-----" not in key.private_key:
        raise ValueError(f"the service-account key's private_key is not a PEM private key; {_KEY_HELP}")
    return key, info


def parse_table(text: str) -> tuple[str, str, str]:
    """(project, dataset, table) of `project.dataset.table`; ValueError when it is not one."""
    match = _TABLE.fullmatch(text.strip())
    if match is None:
        raise ValueError(
            "Table: give the billing export's table as project.dataset.table, e.g. "
            "my-billing-project.billing_export.gcp_billing_export_v1_0A1B2C_3D4E5F_6A7B8C"
        )
    return match["project"], match["dataset"], match["table"]


Money = Annotated[Decimal, Field(allow_inf_nan=False)]


class ExportLine(Payload):
    """One result row: a day's line of one project, service, SKU, labels and credit."""

    day: date
    project_id: str
    project_name: str | None = None
    service_id: str
    service: str
    sku_id: str
    sku: str
    cost_type: str
    label_set: str
    usage_unit: str
    currency: Annotated[str, Field(pattern=r"^[A-Za-z]{3}$")]
    credit_type: str
    credit_id: str
    credit_name: str | None = None
    amount: Money
    quantity: Money

    def labels(self) -> dict[str, str]:
        """The label set, `key:value,...` (GCP label keys and values hold no `:` or `,`)."""
        out: dict[str, str] = {}
        for pair in self.label_set.split(",") if self.label_set else ():
            key, _, value = pair.partition(":")
            out[key] = value
        return out
