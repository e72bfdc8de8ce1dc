"""POST /v1/traces with spans a client got wrong: each is a rejected span of the partial
success, named with its attribute, and the valid spans of the export are stored."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from spendledger.config import Settings
from spendledger.ingest.otlp import AttributionKeys
from spendledger.web import create_app
from test_otlp import CHAT, CHAT_COST, accepted, export, json_export, november, post_proto, rows, span

INPUT = "gen_ai.usage.input_tokens"


def test_otlp_token_counts_that_are_not_whole_numbers_are_rejected_spans(client: TestClient) -> None:
    body = json_export(
        (1, CHAT),
        (2, {**CHAT, INPUT: "--5"}),
        (3, {**CHAT, INPUT: "9" * 5000}),
        (4, {**CHAT, INPUT: "-" + "9" * 30}),
        (5, {**CHAT, INPUT: "1_200"}),
    )
    response = client.post("/v1/traces", json=body)
    assert response.status_code == 200
    nines = "9" * 57 + "..."
    assert response.json()["partialSuccess"] == {
        "rejectedSpans": "4",
        "errorMessage": "4 of 5 GenAI spans rejected: "
        f"span eee19b7ec3c1b102 'chat gpt-4o-mini': {INPUT} must be a whole number, got --5; "
        f"span eee19b7ec3c1b103 'chat gpt-4o-mini': {INPUT} must be at most 1,000,000,000,000, got {nines}; "
        f"span eee19b7ec3c1b104 'chat gpt-4o-mini': {INPUT} must be zero or more, got -{'9' * 30}; "
        f"span eee19b7ec3c1b105 'chat gpt-4o-mini': {INPUT} must be a whole number, got 1_200",
    }
    assert november(client)["total"] == CHAT_COST  # the valid span is stored


def test_otlp_protobuf_count_strings_are_read_strictly(client: TestClient) -> None:
    request = export(span(1, {**CHAT, INPUT: " 1200 "}), span(2, {**CHAT, INPUT: "--5"}))
    partial = accepted(post_proto(client, request)).partial_success
    assert (partial.rejected_spans, partial.error_message) == (
        1,
        "1 of 2 GenAI spans rejected: span 0000000000000003 'span 2': "
        f"{INPUT} must be a whole number, got --5",
    )
    assert november(client)["total"] == CHAT_COST


def test_otlp_huge_scope_operation_and_reported_cost_never_reject_the_span(
    client: TestClient, engine: Engine
) -> None:
    """The tags a span gets from them stay small: cut to 200 characters, or left out."""
    body = json_export((1, {**CHAT, "gen_ai.operation.name": "c" * 5000, "gen_ai.usage.cost": "9" * 5000}))
    body["resourceSpans"][0]["scopeSpans"][0]["scope"]["name"] = "s" * 5000
    response = client.post("/v1/traces", json=body)
    assert (response.status_code, response.json()) == (200, {})
    assert rows(engine)[0]["tags"] == {"otel.scope": "s" * 200, "otel.operation": "c" * 200}


@pytest.mark.parametrize(
    ("start", "shown"),
    [(1, "1970-01-01T00:00:00+00:00"), (2**64 - 1, "2554-07-21T23:34:33.709551+00:00")],
    ids=["1970", "2554"],
)
def test_otlp_span_starting_outside_the_ledgers_years_is_rejected(
    client: TestClient, engine: Engine, start: int, shown: str
) -> None:
    bad = span(2, CHAT)
    bad.start_time_unix_nano = start
    partial = accepted(post_proto(client, export(span(1, CHAT), bad))).partial_success
    assert (partial.rejected_spans, partial.error_message) == (
        1,
        "1 of 2 GenAI spans rejected: span 0000000000000003 'span 2': startTimeUnixNano "
        f"{shown} is outside the years the ledger keeps: send a time from 2000-01-01 to "
        "2099-12-31T23:59:59Z (UTC)",
    )
    assert len(rows(engine)) == 1


def test_otlp_account_comes_from_the_configured_attributes(
    settings: Settings, token: str, engine: Engine
) -> None:
    assert AttributionKeys().account == ("spendledger.account",)
    configured = settings.model_copy(update={"otlp_account_attributes": ("openai.organization",)})
    headers = {"Authorization": f"Bearer {token}"}
    request = export(
        span(1, {**CHAT, "openai.organization": "org-second"}),
        span(2, CHAT),
        resource={"service.name": "web", "openai.organization": "org-main"},
    )
    with TestClient(create_app(configured), headers=headers) as client:
        accepted(post_proto(client, request))
    with TestClient(create_app(settings), headers=headers) as client:
        accepted(post_proto(client, export(span(3, {**CHAT, "spendledger.account": "Edugami"}))))
    assert [r["account"] for r in rows(engine)] == ["org-second", "org-main", "Edugami"]


def test_otlp_account_attributes_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPENDLEDGER_OTLP_ACCOUNT_ATTRIBUTES", "spendledger.account, openai.organization")
    assert Settings().otlp_account_attributes == ("spendledger.account", "openai.organization")
