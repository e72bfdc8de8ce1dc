"""A seeded AWS bill: the cost rows the fake Cost Explorer (aws_cost_explorer.py) computes from.

One row is one day × linked account × service × usage type, at the finest grain Cost
Explorer groups by, with its cost-allocation tag, its three cost metrics and its usage
quantity. The rows are the fake's own truth: the server aggregates them for whatever
filter, group-by and metrics a request asks, and `expected_costs()` / `expected_tokens()`
say, from the same rows and each row's own model and token count (never from a usage
type parsed back), what a connector must read.

Usage types follow the forms AWS bills (Bedrock's CUR guide, the AWS price lists):
native "Amazon Bedrock" types metered per 1K tokens (`USE1-NovaPro-input-tokens`,
`-cache-read-input-token-count`, `-cross-region-global`, `-flex`, mantle), the third-party
models' own "(Amazon Bedrock Edition)" services metered in Marketplace units of a million
tokens (`USE1-MP:USE1_InputTokenCount-Units`), a guardrail with no tokens, and services
that are not Bedrock at all (EC2, S3), which a connector must leave out.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

BEDROCK = "Amazon Bedrock"
SONNET = "Claude Sonnet 4.5 (Amazon Bedrock Edition)"
HAIKU = "Claude Haiku 4.5 (Amazon Bedrock Edition)"
OLD_SONNET = "Claude 3.5 Sonnet (Amazon Bedrock Edition)"
EC2 = "Amazon Elastic Compute Cloud - Compute"
S3 = "Amazon Simple Storage Service"
PLACES = Decimal("0.0000000001")  # Cost Explorer's amounts carry up to 10 decimals
NET = Decimal("0.93")  # a private-offer discount on the Marketplace editions: NetUnblendedCost


@dataclass(frozen=True)
class Meter:
    """One usage type a seeded account may use: what it bills and at what price per unit."""

    service: str
    usage_type: str
    model: str  # the billed model ("" for no model); the connector must find the same
    kind: str  # input | output | cache_read | cache_write | cache_write_1h | "" (not tokens)
    unit: str  # UsageQuantity's unit
    scale: int  # tokens per unit (1 when not tokens)
    price: Decimal  # dollars per unit


def _m(service: str, usage_type: str, model: str, kind: str, price: str) -> Meter:
    if service == BEDROCK and kind:
        return Meter(service, usage_type, model, kind, "1K tokens", 1000, Decimal(price))
    if kind:
        return Meter(service, usage_type, model, kind, "Units", 10**6, Decimal(price))
    return Meter(
        service, usage_type, model, kind, "Units" if service == BEDROCK else "Hrs", 1, Decimal(price)
    )


METERS: tuple[Meter, ...] = (
    _m(BEDROCK, "USE1-NovaPro-input-tokens", "NovaPro", "input", "0.0008"),
    _m(BEDROCK, "USE1-NovaPro-output-tokens", "NovaPro", "output", "0.0032"),
    _m(BEDROCK, "USE1-NovaPro-cache-read-input-token-count", "NovaPro", "cache_read", "0.0002"),
    _m(BEDROCK, "USE1-NovaPro-cache-write-input-token-count", "NovaPro", "cache_write", "0.0008"),
    _m(BEDROCK, "USE1-Nova2.0Lite-input-tokens-cross-region-global", "Nova2.0Lite", "input", "0.00033"),
    _m(BEDROCK, "USE1-Nova2.0Lite-output-tokens-cross-region-global", "Nova2.0Lite", "output", "0.00275"),
    _m(BEDROCK, "USE1-Nova2.0Lite-input-tokens-flex", "Nova2.0Lite", "input", "0.00015"),
    _m(BEDROCK, "USW2-TitanEmbeddingsG1-Text-input-tokens", "TitanEmbeddingsG1-Text", "input", "0.0001"),
    _m(
        BEDROCK,
        "USW2-mistral.mistral-large-3-675b-instruct-mantle-input-tokens-standard",
        "mistral.mistral-large-3-675b-instruct",
        "input",
        "0.0005",
    ),
    _m(
        BEDROCK,
        "USW2-mistral.mistral-large-3-675b-instruct-mantle-output-tokens-standard",
        "mistral.mistral-large-3-675b-instruct",
        "output",
        "0.0015",
    ),
    _m(BEDROCK, "USE1-Guardrail-AutomatedReasoningPolicyUnitsConsumed", "", "", "0.00017"),
    _m(SONNET, "USE1-MP:USE1_InputTokenCount-Units", "Claude Sonnet 4.5", "input", "3.3"),
    _m(SONNET, "USE1-MP:USE1_OutputTokenCount-Units", "Claude Sonnet 4.5", "output", "16.5"),
    _m(SONNET, "USE1-MP:USE1_CacheReadInputTokenCount-Units", "Claude Sonnet 4.5", "cache_read", "0.33"),
    _m(SONNET, "USE1-MP:USE1_CacheWriteInputTokenCount-Units", "Claude Sonnet 4.5", "cache_write", "4.125"),
    _m(
        SONNET,
        "USE1-MP:USE1_CacheWrite1hInputTokenCount_Global-Units",
        "Claude Sonnet 4.5",
        "cache_write_1h",
        "6.0",
    ),
    _m(SONNET, "USE1-MP:USE1_InputTokenCount_Global_Batch-Units", "Claude Sonnet 4.5", "input", "1.5"),
    _m(HAIKU, "USW2-MP:USW2_InputTokenCount_Global-Units", "Claude Haiku 4.5", "input", "1.0"),
    _m(HAIKU, "USW2-MP:USW2_OutputTokenCount_Global-Units", "Claude Haiku 4.5", "output", "5.0"),
    _m(OLD_SONNET, "USE1-MP:USE1_InputTokenCount-Units", "Claude 3.5 Sonnet", "input", "3.0"),
    _m(OLD_SONNET, "USE1-MP:USE1_OutputTokenCount-Units", "Claude 3.5 Sonnet", "output", "15.0"),
    _m(EC2, "USE1-BoxUsage:g5.xlarge", "", "", "1.006"),
    _m(S3, "USE1-TimedStorage-ByteHrs", "", "", "0.023"),
)
TEAMS = ("search", "ads", "")  # the `team` cost-allocation tag; "" untagged


@dataclass
class Row:
    day: date
    account: str  # linked account id
    meter: Meter
    quantity: Decimal
    tokens: int
    cost: Decimal  # UnblendedCost (AmortizedCost is the same: on-demand only)
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def net(self) -> Decimal:
        edition = self.meter.service.endswith("(Amazon Bedrock Edition)")
        return (self.cost * NET).quantize(PLACES, ROUND_HALF_EVEN) if edition else self.cost

    def metric(self, name: str) -> Decimal:
        if name == "UsageQuantity":
            return self.quantity
        return self.net if name == "NetUnblendedCost" else self.cost


class SeededBill:
    """`days` days from `start` of `accounts` linked accounts using METERS at random (seeded).

    `estimated_days`: the last days Cost Explorer has not finalised (`Estimated: true`).
    `empty_days`: day offsets with no usage at all.
    """

    def __init__(
        self,
        *,
        start: date = date(2025, 3, 1),
        days: int = 7,
        accounts: int = 3,
        density: float = 0.7,
        seed: int = 13,
        empty_days: tuple[int, ...] = (),
        estimated_days: int = 2,
    ) -> None:
        self.start, self.days = start, days
        self.accounts = [
            (f"{111122223333 + 1111 * a:012d}", f"Team {chr(65 + a)} prod") for a in range(accounts)
        ]
        self.estimated_from = start + timedelta(days=days - estimated_days)
        rng = random.Random(seed)
        self.rows: list[Row] = []
        for offset in range(days):
            day = start + timedelta(days=offset)
            for a, (account, _name) in enumerate(self.accounts):
                for m, meter in enumerate(METERS):
                    if offset in empty_days or rng.random() > density:
                        continue
                    tokens = rng.randint(1_000, 4_000_000) if meter.kind else 0
                    quantity = (
                        Decimal(tokens) / meter.scale if meter.kind else Decimal(rng.randint(1, 2400)) / 100
                    )
                    cost = (quantity * meter.price).quantize(PLACES, ROUND_HALF_EVEN)
                    team = TEAMS[(a + m) % len(TEAMS)]
                    self.rows.append(
                        Row(day, account, meter, quantity, tokens, cost, {"team": team} if team else {})
                    )
        self.version = 1  # bumped by every revision: page tokens of older versions are refused

    @property
    def end(self) -> date:
        return self.start + timedelta(days=self.days)

    def account_name(self, account: str) -> str:
        return dict(self.accounts)[account]

    def revise(self, day: str, *, factor: int | str = 2) -> None:
        """Cost Explorer revises a day: its rows' usage and cost times `factor`."""
        when, scale = date.fromisoformat(day), Decimal(factor)
        for row in self.rows:
            if row.day == when:
                row.tokens *= int(scale)
                row.quantity *= scale
                row.cost = (row.cost * scale).quantize(PLACES, ROUND_HALF_EVEN)
        self.version += 1

    # ---- the truth ------------------------------------------------------------------------------

    def bedrock_rows(self) -> list[Row]:
        return [r for r in self.rows if r.meter.service == BEDROCK or r.meter.service.endswith("Edition)")]

    def expected_costs(
        self, metric: str = "UnblendedCost", by: str = ""
    ) -> dict[tuple[str, str, str], Decimal]:
        """Bedrock's cost per (day, dimension, model); `by`: "" (none), "workspace" (the linked
        account's name) or "project" (the team tag)."""
        out: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
        for row in self.bedrock_rows():
            dim = ""
            if by == "workspace":
                dim = self.account_name(row.account)
            elif by == "project":
                dim = row.tags.get("team", "")
            out[(row.day.isoformat(), dim, row.meter.model)] += row.metric(metric)
        return dict(out)

    def expected_tokens(self) -> dict[tuple[str, str], dict[str, int]]:
        """Bedrock's tokens per (day, model) under the ledger's contract (cache reads and writes
        are part of input)."""
        out: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
        fields = {
            "cache_read": "cached_input",
            "cache_write": "cache_write_5m",
            "cache_write_1h": "cache_write_1h",
        }
        for row in self.bedrock_rows():
            kind = row.meter.kind
            if not kind:
                continue
            counts = out[(row.day.isoformat(), row.meter.model)]
            if kind == "output":
                counts["output"] += row.tokens
            else:
                counts["input"] += row.tokens
                if kind in fields:
                    counts[fields[kind]] += row.tokens
        return {k: dict(v) for k, v in out.items()}

    def total(self, metric: str = "UnblendedCost") -> Decimal:
        return sum((r.metric(metric) for r in self.bedrock_rows()), Decimal(0))


def dimension(row: Row, key: str) -> str:
    """A row's value of a Cost Explorer dimension."""
    if key == "SERVICE":
        return row.meter.service
    if key == "USAGE_TYPE":
        return row.meter.usage_type
    if key == "LINKED_ACCOUNT":
        return row.account
    if key == "REGION":
        return {"USE1": "us-east-1", "USW2": "us-west-2"}.get(row.meter.usage_type[:4], "global")
    if key == "RECORD_TYPE":
        return "Usage"
    raise KeyError(key)
