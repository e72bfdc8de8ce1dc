"""GET /api/v1/sources: every source's type, status, last sync, masked key and options, for
admins and API tokens only; the key (and a password in an option's URL) never leaves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from logins import add_user, login
from read_api_ledger import SOURCE_KEY, add_source
from spendledger.config import Settings
from spendledger.sources_admin import public_options
from spendledger.store.sources import acquire_lease, finish_run, progress_run, start_run
from spendledger.web import create_app


def test_sources_lists_masked_key_and_options_never_the_secret(
    client: TestClient, engine: Engine, settings: Settings
) -> None:
    add_source(engine, settings)
    response = client.get("/api/v1/sources")
    assert response.status_code == 200
    assert SOURCE_KEY not in response.text and SOURCE_KEY[9:] not in response.text
    assert "hunter2" not in response.text
    (source,) = response.json()["sources"]
    assert source["key"] == "sk-admin…a1b2"
    assert source["options"] == {"account": "org-1", "base_url": "https://ops:…@proxy.example.com/v1"}
    assert (source["name"], source["type"], source["type_label"]) == ("Edugami", "openai", "OpenAI")
    assert (source["status"], source["last_sync"], source["synced_until"]) == ("never_synced", None, None)
    assert (source["interval_minutes"], source["backfill_days"]) == (60, 90)


def test_sources_last_sync_says_when_how_and_why(
    client: TestClient, engine: Engine, settings: Settings
) -> None:
    add_source(engine, settings, name="Edugami")
    add_source(engine, settings, name="Zeta")
    started = datetime(2026, 11, 23, 8, tzinfo=UTC)
    error = "401 from OpenAI for source 'Edugami': the key is not an admin key (sk-admin-…)"
    with engine.begin() as conn:
        run = start_run(conn, "Edugami", now=started)
        progress_run(conn, run, pages=3, records=120)
        finish_run(conn, run, "Edugami", now=started + timedelta(seconds=4), error=error)
        # Zeta: running, its lease held by a live process
        assert acquire_lease(conn, "Zeta", owner="worker-1", now=datetime.now(UTC), ttl=timedelta(minutes=5))
        start_run(conn, "Zeta", now=started)
    edugami, zeta = client.get("/api/v1/sources").json()["sources"]
    assert edugami["status"] == "failed"
    assert edugami["last_sync"] == {
        "at": "2026-11-23T08:00:00Z",
        "outcome": "failed",
        "error": error,
        "pages": 3,
        "records": 120,
    }
    assert (zeta["status"], zeta["last_sync"]["outcome"]) == ("running", "running")
    assert zeta["last_sync"]["error"] is None
    with engine.begin() as conn:  # the worker died: its lease runs out, the run is interrupted
        an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
        assert acquire_lease(conn, "Zeta", owner="worker-1", now=an_hour_ago, ttl=timedelta(0))
    zeta = client.get("/api/v1/sources").json()["sources"][1]
    assert zeta["status"] == "interrupted"
    assert "stopped before the run finished" in zeta["last_sync"]["error"]


@pytest.mark.parametrize("role", ["member", "viewer"])
def test_sources_refuses_every_role_but_admin(settings: Settings, engine: Engine, role: str) -> None:
    add_source(engine, settings)
    add_user(engine, "admin@example.com", "admin password!", "admin")
    add_user(engine, f"{role}@example.com", f"{role} password!", role)
    with TestClient(create_app(settings)) as admin, TestClient(create_app(settings)) as other:
        assert login(admin, "admin@example.com", "admin password!").status_code == 303
        assert login(other, f"{role}@example.com", f"{role} password!").status_code == 303
        assert admin.get("/api/v1/sources").json()["sources"][0]["name"] == "Edugami"
        refused = other.get("/api/v1/sources")
        assert refused.status_code == 403
        assert refused.json()["detail"] == "this endpoint needs the role admin, or an API token"
        assert "Edugami" not in refused.text
    with TestClient(create_app(settings)) as anonymous:
        assert anonymous.get("/api/v1/sources").status_code == 401


def test_sources_public_options_mask_only_a_url_password() -> None:
    assert public_options(
        {
            "base_url": "http://user:s3cret@10.0.0.1:8080/path?q=1",
            "endpoint_url": "https://no-password@example.com",
            "region": "eu-west-1",
            "odd": "http://[::1",  # not a URL: as it is
        }
    ) == {
        "base_url": "http://user:…@10.0.0.1:8080/path?q=1",
        "endpoint_url": "https://no-password@example.com",
        "odd": "http://[::1",
        "region": "eu-west-1",
    }
