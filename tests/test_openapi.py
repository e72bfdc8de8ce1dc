"""The API's OpenAPI document is valid, and the API answers as it says: schemathesis sends
generated requests (valid and invalid) with an API token to every operation, and no answer
is a server error or breaks the document's response schemas."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from openapi_spec_validator import validate
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import Engine

from read_api_ledger import seed_everything
from spendledger.config import Settings
from spendledger.store.aliases import Alias, add_alias
from spendledger.web import create_app

OPERATIONS = [
    ("POST", "/api/v1/events"),
    ("GET", "/api/v1/spend"),
    ("GET", "/api/v1/dimensions/{dim}"),
    ("GET", "/api/v1/sources"),
    ("GET", "/api/v1/budgets"),
    ("GET", "/api/v1/alerts"),
    ("POST", "/api/v1/entries"),
    ("GET", "/api/v1/entries"),
    ("POST", "/api/v1/deletions"),
    ("GET", "/api/v1/audit"),
    ("GET", "/api/v1/subscriptions"),
    ("POST", "/api/v1/subscriptions"),
    ("POST", "/api/v1/imports"),
    ("GET", "/api/v1/exports/focus"),
    ("GET", "/api/v1/reconcile"),
    ("GET", "/api/v1/showback"),
    ("GET", "/api/v1/aliases"),
    ("POST", "/api/v1/aliases"),
    ("DELETE", "/api/v1/aliases/{alias_id}"),
    ("POST", "/v1/traces"),
    ("GET", "/healthz"),
]
CASES = [
    *((m, p, GenerationMode.POSITIVE) for m, p in OPERATIONS),
    *((m, p, GenerationMode.NEGATIVE) for m, p in OPERATIONS if p != "/healthz"),  # no input
]
EXAMPLES = 40  # per operation and mode: ~25 s in all on both databases
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def test_openapi_document_is_valid(client: TestClient) -> None:
    doc: dict[str, Any] = client.get("/openapi.json").json()

    validate(doc)  # raises, naming the first error
    assert [ref for ref in _refs(doc) if not _resolves(doc, ref)] == []  # which validate() skips
    assert [(m.upper(), p) for p, ops in doc["paths"].items() for m in ops] == OPERATIONS
    body = doc["paths"]["/api/v1/events"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["events"]
    assert body["properties"]["events"]["items"]["required"] == ["id", "timestamp", "provider", "model"]


def test_openapi_read_endpoints_answer_with_an_example(client: TestClient) -> None:
    doc: dict[str, Any] = client.get("/openapi.json").json()
    for path in (
        "/api/v1/dimensions/{dim}",
        "/api/v1/sources",
        "/api/v1/budgets",
        "/api/v1/alerts",
        "/api/v1/entries",
        "/api/v1/audit",
        "/api/v1/subscriptions",
        "/api/v1/reconcile",
        "/api/v1/aliases",
    ):
        ref = doc["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        schema = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
        (example,) = schema["examples"]
        assert set(example) == set(schema["properties"]), path  # every field shown


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _resolves(doc: dict[str, Any], ref: str) -> bool:
    """Whether a local reference (a JSON pointer from the document's root) names something."""
    node: Any = doc
    for part in ref.removeprefix("#/").split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return ref.startswith("#/")


@pytest.mark.parametrize(("method", "path", "mode"), CASES)
def test_openapi_api_answers_as_documented(
    settings: Settings, engine: Engine, token: str, method: str, path: str, mode: GenerationMode
) -> None:
    seed_everything(engine, settings)  # spend, a source, budgets and alerts for the reads to show
    if path.startswith("/api/v1/aliases"):  # alias 1, the example DELETE removes
        with engine.begin() as conn:
            add_alias(conn, Alias("feature", "summarise-v1", "summarise"), actor="test")
    app = create_app(settings, engine=engine)  # the fixture's engine, disposed after the test
    operation = schemathesis.openapi.from_asgi("/openapi.json", app)[path][method]
    auth = {"Authorization": f"Bearer {token}"}
    statuses: Counter[int] = Counter()

    strategy = operation.as_strategy(mode)
    if mode is GenerationMode.POSITIVE:  # the documented examples too: an upload is valid as its example
        strategy = st.one_of(strategy, *operation.get_strategies_from_examples())

    @given(case=strategy)
    @hypothesis_settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.reuse, Phase.generate],  # no shrinking (minutes of calls):
        # a failure shows its request as a curl command that reproduces it
    )
    def answers_as_documented(case: Any) -> None:
        statuses[case.call_and_validate(headers=auth, checks=CHECKS).status_code] += 1

    answers_as_documented()

    if mode is GenerationMode.POSITIVE:  # the token was sent, and valid requests are served
        assert 401 not in statuses and statuses[200] > 0, statuses
    else:  # requests without the token (401) and with bad parameters or bodies, answered
        assert set(statuses) - {401}, statuses
