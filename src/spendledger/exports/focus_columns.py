"""The FOCUS columns spendledger writes, per version, with their types: one list that the
export writes and the FOCUS reader (imports/focus.py) reads its own columns back from.

FOCUS 1.2's mandatory columns, its recommended ones (ChargeFrequency, InvoiceId,
ServiceSubcategory) and the conditional ones the ledger has data for (usage measurement:
ConsumedQuantity and ConsumedUnit; SKUs: SkuId; tagging: Tags). FOCUS 1.3 adds its two
mandatory columns, ServiceProviderName and HostProviderName, and keeps 1.2's ProviderName
and PublisherName (deprecated, still present); 1.3's other new columns (ContractApplied,
the Allocated* family) are conditional on features the ledger does not have (contract
commitments, provider-calculated split cost). Columns for features the ledger does not
record (commitment discounts, capacity reservations, unit prices, regions, resources,
sub-accounts) are left out, as FOCUS allows for an unsupported conditional column.

Then the ledger's own figures as custom columns (`x_` first, after every FOCUS column, as
FOCUS asks): the basis of each charge, the model, requests and every token kind. They
make a spendledger export read back exactly (tokens by kind, requests), which FOCUS's
one ConsumedQuantity cannot carry.
"""

from __future__ import annotations

import enum

from spendledger.records import TOKEN_COLUMNS

VERSIONS: tuple[str, ...] = ("1.2", "1.3")


class Kind(enum.Enum):
    """How a column's values are typed in a Parquet file (and spelled in a CSV)."""

    STRING = "string"
    DECIMAL = "decimal"  # money and quantities: exact, never float
    DATETIME = "datetime"  # UTC, YYYY-MM-DDTHH:mm:ssZ
    JSON = "json"  # a JSON object, as text
    INTEGER = "integer"  # the custom columns' counts


FOCUS_1_2: dict[str, Kind] = {
    "BilledCost": Kind.DECIMAL,
    "BillingAccountId": Kind.STRING,
    "BillingAccountName": Kind.STRING,
    "BillingCurrency": Kind.STRING,
    "BillingPeriodEnd": Kind.DATETIME,
    "BillingPeriodStart": Kind.DATETIME,
    "ChargeCategory": Kind.STRING,
    "ChargeClass": Kind.STRING,
    "ChargeDescription": Kind.STRING,
    "ChargeFrequency": Kind.STRING,
    "ChargePeriodEnd": Kind.DATETIME,
    "ChargePeriodStart": Kind.DATETIME,
    "ConsumedQuantity": Kind.DECIMAL,
    "ConsumedUnit": Kind.STRING,
    "ContractedCost": Kind.DECIMAL,
    "EffectiveCost": Kind.DECIMAL,
    "InvoiceId": Kind.STRING,
    "InvoiceIssuerName": Kind.STRING,
    "ListCost": Kind.DECIMAL,
    "PricingQuantity": Kind.DECIMAL,
    "PricingUnit": Kind.STRING,
    "ProviderName": Kind.STRING,
    "PublisherName": Kind.STRING,
    "ServiceCategory": Kind.STRING,
    "ServiceName": Kind.STRING,
    "ServiceSubcategory": Kind.STRING,
    "SkuId": Kind.STRING,
    "Tags": Kind.JSON,
}
FOCUS_1_3_ADDED: dict[str, Kind] = {"HostProviderName": Kind.STRING, "ServiceProviderName": Kind.STRING}

# the ledger's token kinds as custom columns: input → x_InputTokens, cache_write_5m → x_CacheWrite5mTokens
TOKEN_COLUMN_OF: dict[str, str] = {
    kind: "x_" + "".join(part[:1].upper() + part[1:] for part in kind.split("_")) + "Tokens"
    for kind in TOKEN_COLUMNS
}
CUSTOM: dict[str, Kind] = {
    "x_Basis": Kind.STRING,  # billed | metered | manual | demo: where the figure comes from
    "x_Model": Kind.STRING,  # the ledger's model name (SkuId names a charge without one too)
    "x_Requests": Kind.INTEGER,
    **dict.fromkeys(TOKEN_COLUMN_OF.values(), Kind.INTEGER),
    "x_UnpricedRequests": Kind.INTEGER,  # calls waiting for a price: not in the costs
}


def columns(version: str) -> dict[str, Kind]:
    """Every column of a `version` export, in the order written: FOCUS's (alphabetical), then ours."""
    if version not in VERSIONS:
        raise ValueError(version)
    focus = FOCUS_1_2 | (FOCUS_1_3_ADDED if version == "1.3" else {})
    return {name: focus[name] for name in sorted(focus)} | CUSTOM
