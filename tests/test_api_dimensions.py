"""GET /api/v1/dimensions/{dim}: the values a dimension holds within the caller's scope,
with their spend in the period, equal to /api/v1/spend's for the same parameters and to
the hand-computed figures of tests/read_api_ledger.py. Every test runs on SQLite and
PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from logins import add_user, login
from read_api_ledger import ANN, BOB, NOVEMBER, write_november
from spendledger.config import Settings
from spendledger.records import DIMENSIONS
from spendledger.store.users import grant
from spendledger.web import create_app


@pytest.fixture
def seeded(client: TestClient, engine: Engine) -> TestClient:
    write_november(engine)
    return client


def session(settings: Settings, engine: Engine, email: str, role: str) -> Iterator[TestClient]:
    add_user(engine, email, f"{role} password!", role)
    with TestClient(create_app(settings)) as client:
        assert login(client, email, f"{role} password!").status_code == 303
        yield client


@pytest.fixture
def ann(settings: Settings, engine: Engine, seeded: TestClient) -> Iterator[TestClient]:
    """A member without grants: she sees the spend recorded under her email."""
    yield from session(settings, engine, ANN, "member")


@pytest.fixture
def bob(settings: Settings, engine: Engine, seeded: TestClient) -> Iterator[TestClient]:
    """A member granted project b."""
    add_user(engine, BOB, "member password!", "member")
    with engine.begin() as conn:
        grant(conn, BOB, dimension="project", value="b")
    with TestClient(create_app(settings)) as client:
        assert login(client, BOB, "member password!").status_code == 303
        yield client


def dimension(client: TestClient, dim: str, **params: Any) -> dict[str, Any]:
    response = client.get(f"/api/v1/dimensions/{dim}", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def figures(body: dict[str, Any]) -> list[tuple[str | None, dict[str, str]]]:
    return [(v["value"], v["spend"]) for v in body["values"]]


def test_dimensions_project_lists_known_values_with_november_spend(seeded: TestClient) -> None:
    body = dimension(seeded, "project", **NOVEMBER)
    # none: the $10.00 bill + the $20.00 subscription, and bob's €4.00; a: 1.25 + 4.00 (m4 is
    # under the bill); b: 2.50; legacy: spent in October only, known, nothing in November
    assert figures(body) == [
        (None, {"EUR": "4.00", "USD": "30.00"}),
        ("a", {"USD": "5.25"}),
        ("b", {"USD": "2.50"}),
        ("legacy", {}),
    ]
    assert body["totals"] == {"EUR": "4.00", "USD": "37.75"}
    assert (body["dimension"], body["from"], body["to"], body["basis"]) == (
        "project",
        "2026-11-01",
        "2026-11-30",
        "best",
    )
    assert [(v["value"], v["requests"]) for v in body["values"]] == [
        (None, 2),  # m6, the subscription (the bill counts no request)
        ("a", 2),
        ("b", 1),
        ("legacy", 0),
    ]


def test_dimensions_basis_and_filter_pick_the_figures(seeded: TestClient) -> None:
    # basis all: openai 1.25 + 2.50 + 3.00 + 10.00 = 16.75 (m4 counted beside the bill)
    everything = dimension(seeded, "provider", **NOVEMBER, basis="all")
    assert figures(everything) == [
        ("perplexity", {"USD": "20.00"}),
        ("openai", {"USD": "16.75"}),
        ("anthropic", {"USD": "4.00"}),
        ("mistral", {"EUR": "4.00"}),  # no USD: after those with USD spend
    ]
    best = dimension(seeded, "provider", **NOVEMBER)
    assert dict(figures(best))["openai"] == {"USD": "13.75"}  # 16.75 less m4's 3.00
    openai = dimension(seeded, "model", **NOVEMBER, filter="provider:openai")
    # the bill (no model) $10.00; gpt-4o m2 $2.50 (m7 was October); gpt-4o-mini m1 $1.25 (m4 under the bill)
    assert figures(openai) == [
        (None, {"USD": "10.00"}),
        ("gpt-4o", {"USD": "2.50"}),
        ("gpt-4o-mini", {"USD": "1.25"}),
    ]
    assert openai["filters"] == {"provider": ["openai"]}


@pytest.mark.parametrize("dim", DIMENSIONS)
def test_dimensions_agree_with_the_spend_endpoint_to_the_cent(seeded: TestClient, dim: str) -> None:
    for basis in ("best", "all", "metered"):
        params = {**NOVEMBER, "basis": basis}
        body = dimension(seeded, dim, **params)
        report = seeded.get("/api/v1/spend", params={**params, "by": dim}).json()
        expected: dict[tuple[str | None, str], Decimal] = {}
        for row in report["rows"]:
            key = (row[dim], row["currency"])
            expected[key] = expected.get(key, Decimal(0)) + Decimal(row["cost"])
        got = {(v["value"], c): Decimal(m) for v in body["values"] for c, m in v["spend"].items()}
        assert got == expected, (dim, basis)
        assert body["totals"] == report["totals"]


def test_dimensions_member_sees_only_their_own_values(ann: TestClient, seeded: TestClient) -> None:
    # ann's calls: project a (m1 1.25 + m3 4.00) in November, b only in December (m5)
    body = dimension(ann, "project", **NOVEMBER)
    assert figures(body) == [("a", {"USD": "5.25"}), ("b", {})]
    assert body["filters"] == {"user": [ANN]}
    assert body["totals"] == ann.get("/api/v1/spend", params=NOVEMBER).json()["totals"] == {"USD": "5.25"}
    assert figures(dimension(ann, "user", **NOVEMBER)) == [(ANN, {"USD": "5.25"})]
    refused = ann.get("/api/v1/dimensions/project", params={**NOVEMBER, "filter": f"user:{BOB}"})
    assert refused.status_code == 403
    assert "outside what you may see" in refused.json()["detail"]


def test_dimensions_member_with_a_grant_sees_its_project(bob: TestClient) -> None:
    # project b: m2 (gpt-4o, 2.50) in November, m5 (mistral-small) in December
    body = dimension(bob, "model", **NOVEMBER)
    assert figures(body) == [("gpt-4o", {"USD": "2.50"}), ("mistral-small", {})]
    assert figures(dimension(bob, "project", **NOVEMBER)) == [("b", {"USD": "2.50"})]
    assert bob.get("/api/v1/dimensions/project", params={"filter": "project:a"}).status_code == 403


def test_dimensions_viewer_and_token_see_everything(
    settings: Settings, engine: Engine, seeded: TestClient
) -> None:
    for viewer in session(settings, engine, "viewer@example.com", "viewer"):
        assert dimension(viewer, "user", **NOVEMBER) == dimension(seeded, "user", **NOVEMBER)
    # ann 5.25; bob 2.50 and €4.00; no user 30.00
    assert figures(dimension(seeded, "user", **NOVEMBER)) == [
        (None, {"USD": "30.00"}),
        (ANN, {"USD": "5.25"}),
        (BOB, {"EUR": "4.00", "USD": "2.50"}),
    ]


def test_dimensions_aliases_as_in_by(seeded: TestClient) -> None:
    canonical = dimension(seeded, "api_key_id", **NOVEMBER)
    assert dimension(seeded, "key", **NOVEMBER) == dimension(seeded, "api-key-id", **NOVEMBER) == canonical
    assert canonical["dimension"] == "api_key_id"


@pytest.mark.parametrize("dim", ["colour", "provider,model", "projects", "%00"])
def test_dimensions_unknown_dimension_is_404_naming_the_valid_ones(client: TestClient, dim: str) -> None:
    response = client.get(f"/api/v1/dimensions/{dim}")
    assert response.status_code == 404
    assert "use one of provider, account, workspace, project, api_key_id, model" in response.json()["detail"]


BAD = [
    ({"from": "2026-13-01"}, "from", "from: '2026-13-01' is not a date (YYYY-MM-DD)"),
    ({"to": "30/11/2026"}, "to", "to: '30/11/2026' is not a date (YYYY-MM-DD)"),
    ({"from": "2026-11-30", "to": "2026-11-01"}, "from", "from: 2026-11-30 is after to=2026-11-01"),
    ({"period": "fortnight"}, "period", "period: unknown preset 'fortnight'"),
    ({"basis": "guessed"}, "basis", "basis: 'guessed' is not one of best, all, billed"),
    ({"filter": "colour:red"}, "filter", "filter: unknown dimension 'colour'"),
]


@pytest.mark.parametrize(("params", "param", "detail"), BAD)
def test_dimensions_bad_parameter_is_400_naming_it(
    client: TestClient, params: dict[str, str], param: str, detail: str
) -> None:
    response = client.get("/api/v1/dimensions/project", params=params)
    assert (response.status_code, response.json()["param"]) == (400, param)
    assert response.json()["detail"].startswith(detail)


def test_dimensions_without_token_is_401(settings: Settings) -> None:
    with TestClient(create_app(settings)) as anonymous:
        response = anonymous.get("/api/v1/dimensions/project")
    assert response.status_code == 401
    assert "spendledger tokens create NAME" in response.json()["detail"]
