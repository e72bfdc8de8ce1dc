"""Tags and the customer as dimensions: `by=tag:KEY`, `filter=tag:KEY:VALUE`, `by=customer`,
on the API, the CLI and the explorer, with the customer set by the events API and the
tracker. On SQLite and PostgreSQL (the tracker's database mode: SQLite).

The events (November 2026, costs given): acme $3 (tags team=search, tier=1), acme $2
(team=support), globex $4 (team=search, tier=true), one with no customer and no tags $1.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import spendledger
from clirun import cli_runner
from sdk_ledger import Ledger, sdk_ledger

EVENTS = [
    {"id": "e1", "customer": "acme", "tags": {"team": "search", "tier": 1}, "cost": "3"},
    {"id": "e2", "customer": "acme", "tags": {"team": "support"}, "cost": "2"},
    {"id": "e3", "customer": "globex", "tags": {"team": "search", "tier": True}, "cost": "4"},
    {"id": "e4", "cost": "1"},
]
NOVEMBER = {"from": "2026-11-01", "to": "2026-11-30"}


@pytest.fixture
def sent(client: TestClient) -> TestClient:
    base = {"timestamp": "2026-11-20T10:00:00Z", "provider": "openai", "model": "gpt-4o-mini"}
    answer = client.post("/api/v1/events", json={"events": [{**base, **e} for e in EVENTS]})
    assert answer.json()["accepted"] == 4, answer.text
    return client


def _costs(client: TestClient, **params: object) -> dict[str | None, str]:
    answer = client.get("/api/v1/spend", params={**NOVEMBER, **params})
    assert answer.status_code == 200, answer.text
    (dim,) = answer.json()["by"]
    return {row[dim]: row["cost"] for row in answer.json()["rows"]}


def test_tag_and_customer_dimensions_on_the_api(sent: TestClient) -> None:
    assert _costs(sent, by="customer") == {"acme": "5.00", "globex": "4.00", None: "1.00"}  # 3 + 2; 4; 1
    assert _costs(sent, by="tag:team") == {"search": "7.00", "support": "2.00", None: "1.00"}  # 3 + 4; 2; 1
    assert _costs(sent, by="customer", filter="tag:team:search") == {"globex": "4.00", "acme": "3.00"}
    assert _costs(sent, by="tag:team", filter="customer:acme") == {"search": "3.00", "support": "2.00"}
    assert _costs(sent, by="tag:tier") == {
        None: "3.00",
        "1": "3.00",
        "true": "4.00",
    }  # numbers, booleans as JSON
    assert _costs(sent, by="tag:team", filter="tag:team:none") == {None: "1.00"}
    answer = sent.get("/api/v1/spend", params={**NOVEMBER, "by": "customer", "format": "csv"})
    assert answer.text.splitlines()[0].startswith("customer,period,currency,cost")


def test_tag_dimensions_on_the_cli_and_the_explorer(
    sent: TestClient, admin_client: TestClient, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = cli_runner(db_url, tmp_path, monkeypatch)
    out = json.loads(
        run(
            "report",
            "--from",
            "2026-11-01",
            "--to",
            "2026-11-30",
            "--by",
            "tag:team",
            "--filter",
            "tag:team=search",
            "--format",
            "json",
        ).stdout
    )
    assert (out["total"], [r["tag:team"] for r in out["rows"]]) == ("7.00", ["search"])
    page = admin_client.get("/explore", params={**NOVEMBER, "by": "tag:team", "filter": "customer:acme"})
    assert page.status_code == 200
    assert '<option value="tag:team" selected>Tag team</option>' in page.text
    assert (
        '<option value="customer">Customer</option>' in page.text
        and '<option value="team">Team</option>' in page.text
    )
    assert "$5.00" in page.text  # acme: 3 + 2


def test_tag_key_that_cannot_be_read_is_a_400_naming_the_parameter(client: TestClient) -> None:
    for params, param in (
        ({"by": "tag:a b"}, "by"),
        ({"filter": "tag:"}, "filter"),
        ({"by": "tag:" + "k" * 65}, "by"),
    ):
        answer = client.get("/api/v1/spend", params=params)
        assert answer.status_code == 400, answer.text
        assert answer.json()["param"] == param
        assert (
            "tag key of 1 to 64 letters" in answer.json()["detail"]
            or "tag:KEY:VALUE" in answer.json()["detail"]
        )


@pytest.fixture
def ledger(tmp_path: Path, sqlite_template: Path) -> Iterator[Ledger]:
    with sdk_ledger(tmp_path, sqlite_template) as ledger:
        spendledger.configure(database_url=ledger.url, spill_dir=tmp_path / "spill", customer="house")
        yield ledger


def test_tag_sdk_customer_record_beats_context_beats_configure(ledger: Ledger) -> None:
    spendledger.record("mistral", "mistral-small-latest", input_tokens=1)
    with spendledger.context(customer="acme"):
        spendledger.record("mistral", "mistral-small-latest", input_tokens=1)
        spendledger.record("mistral", "mistral-small-latest", input_tokens=1, customer="globex")
    assert [row["customer"] for row in ledger.rows()] == ["house", "acme", "globex"]


_DIM = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        ["tag:team", "tag:", "tag:a:b", "tag:team,customer", "team", "customer", "tag:é", "tag:-"]
    ),
)


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    by=st.lists(_DIM, max_size=2),
    filters=st.lists(
        st.one_of(
            st.text(max_size=30), st.builds("tag:{}:{}".format, st.text(max_size=8), st.text(max_size=8))
        ),
        max_size=3,
    ),
)
def test_tag_garbage_in_by_and_filter_is_a_200_or_a_400(
    sent: TestClient, by: list[str], filters: list[str]
) -> None:
    answer = sent.get("/api/v1/spend", params={**NOVEMBER, "by": by, "filter": filters})
    assert answer.status_code in (200, 400), (by, filters, answer.text)
    if answer.status_code == 400:
        assert answer.json()["param"] in ("by", "filter")
