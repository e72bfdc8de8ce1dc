"""Alerts are evaluated after an ingest batch, after the response, at most once a minute."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from spendledger.alerts.budgets import create_budget
from spendledger.store.alerts import list_alerts


def _batch(prefix: str, cost: str) -> dict[str, object]:
    now = datetime.now(UTC).isoformat()
    return {
        "events": [
            {"id": f"{prefix}-{i}", "timestamp": now, "provider": "openai", "model": "gpt-4o", "cost": cost}
            for i in range(3)
        ]
    }


def test_an_ingest_batch_that_crosses_a_threshold_raises_its_alerts(
    client: TestClient, engine: Engine
) -> None:
    with engine.begin() as conn:
        create_budget(conn, name="team", amount="10", now=datetime.now(UTC), thresholds="50,80,100")

    # 3 events × $2.00 = $6.00 of $10.00: 60 %, past the 50 % threshold only
    assert client.post("/api/v1/events", json=_batch("a", "2.00")).json()["accepted"] == 3
    with engine.connect() as conn:
        first = list_alerts(conn)
    assert [a.threshold for a in first if a.kind == "threshold"] == [50]
    # $6.00 already today, at that pace the month ends far over $10.00: heading over too
    assert [a.kind for a in first if a.kind != "threshold"] == ["forecast"]

    # another $6.00 within the minute: stored at once, but the alerts wait for the next
    # evaluation (the scheduler's round, or the first batch after a quiet minute)
    assert client.post("/api/v1/events", json=_batch("b", "2.00")).json()["accepted"] == 3
    with engine.connect() as conn:
        assert len(list_alerts(conn)) == len(first)
    client.app.state.alerts_evaluated_at -= 61  # type: ignore[attr-defined]  # a minute passes
    assert client.post("/api/v1/events", json=_batch("c", "0.01")).json()["accepted"] == 3
    with engine.connect() as conn:
        # $12.03 of $10.00: 80 % and 100 % now crossed too
        assert sorted(a.threshold for a in list_alerts(conn) if a.kind == "threshold") == [50, 80, 100]
