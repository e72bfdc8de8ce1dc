"""One provider name per route, whatever spelling brought a record in (model_names.PROVIDER_NAMES).

A metered Bedrock call reported over OTLP as `aws.bedrock` and the AWS bill that covers
it must carry the same provider, or "best available" counts both.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from spendledger.model_names import canonical_provider
from spendledger.records import Basis, PricingStatus
from spendledger.store.ledger import write_records
from usage_records import usage_record


@pytest.mark.parametrize(
    ("spelling", "name"),
    [
        ("aws.bedrock", "aws"),
        ("Bedrock", "aws"),
        ("gcp.vertex_ai", "google"),
        ("gcp", "google"),
        ("gemini", "google"),
        ("az.ai.openai", "azure"),
        ("mistral_ai", "mistral"),
        (" OpenAI ", "openai"),
        ("some-new-lab", "some-new-lab"),
    ],
)
def test_provider_spellings_map_to_the_ledgers_name(spelling: str, name: str) -> None:
    assert canonical_provider(spelling) == name
    assert canonical_provider(name) == name  # idempotent


def test_a_metered_bedrock_call_is_covered_by_the_aws_bill_of_its_day(
    client: TestClient, engine: Engine
) -> None:
    day = datetime(2026, 11, 20, tzinfo=UTC)
    with engine.begin() as conn:  # the AWS source's bill of that UTC day: $2.00
        billed = usage_record(
            key="costs|USE1-Claude-input", source="AWS", basis=Basis.BILLED, start=day,
            end=day + timedelta(days=1),
            provider="aws", model="claude-sonnet-4-5", account="AWS", cost="2.00",
            pricing_status=PricingStatus.PROVIDER, requests=0,
        )  # fmt: skip
        write_records(conn, [billed], tz=ZoneInfo("UTC"))
    event = {
        "id": "bedrock-1", "timestamp": "2026-11-20T10:00:00Z", "provider": "aws.bedrock",
        "model": "us.anthropic.claude-sonnet-4-5-20250929-v1:0", "input_tokens": 1000, "output_tokens": 100,
        "cost": "0.50", "currency": "USD",
    }  # fmt: skip
    response = client.post("/api/v1/events", json={"events": [event]})
    assert response.status_code == 200, response.text
    params = {"from": "2026-11-20", "to": "2026-11-20", "by": "provider"}
    metered = client.get("/api/v1/spend", params={**params, "basis": "metered"}).json()
    assert [(r["provider"], r["cost"]) for r in metered["rows"]] == [("aws", "0.50")]
    best = client.get("/api/v1/spend", params=params).json()
    # the bill covers the call: $2.00, not $2.50
    assert [(r["provider"], Decimal(r["cost"])) for r in best["rows"]] == [("aws", Decimal("2.00"))]
