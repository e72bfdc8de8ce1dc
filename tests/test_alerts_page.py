"""The /alerts page: viewers and admins read the alert centre, members may not, admins acknowledge."""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from logins import ADMIN_EMAIL, add_user, login
from spendledger.alerts import check_budgets
from spendledger.budgets import create_budget
from spendledger.config import Settings
from spendledger.records import Basis, PricingStatus, UsageRecord
from spendledger.store import write_records
from spendledger.store.alerts import get_alert, list_alerts
from spendledger.web import create_app

NOV_25 = date(2026, 11, 25)


def _raise_alerts(engine: Engine) -> dict[int, int]:
    """Project web spent $105 of its $100 November budget: alerts at 50, 80 and 100 %."""
    record = UsageRecord(
        key="k1",
        source="test",
        basis=Basis.METERED,
        start=datetime(2026, 11, 20, 12, tzinfo=UTC),
        provider="openai",
        model="m",
        project="web",
        cost=Decimal("105"),
        pricing_status=PricingStatus.PROVIDER,
    )
    now = datetime(2026, 11, 25, 9, tzinfo=UTC)
    with engine.begin() as conn:
        write_records(conn, [record], tz=ZoneInfo("UTC"))
        create_budget(conn, name="web", amount="100", now=now, filters=["project=web"])
        raised = check_budgets(conn, tz=ZoneInfo("UTC"), today=NOV_25, now=now)
    return {a.threshold: a.id or 0 for a in raised}


def test_admin_sees_and_acknowledges_an_alert(admin_client: TestClient, engine: Engine) -> None:
    ids = _raise_alerts(engine)
    assert sorted(ids) == [50, 80, 100]
    page = admin_client.get("/alerts")
    assert page.status_code == 200
    text = html.unescape(page.text)
    for alert_id in ids.values():
        assert f'id="alert-{alert_id}"' in text
    assert "$105.00" in text and "$100.00" in text and "105.0 %" in text
    assert "2026-11-01 → 2026-11-30" in text
    # the explorer view that explains it: the window up to today (or to its end once over), in
    # the budget's scope
    to = min(max(datetime.now(UTC).date(), date(2026, 11, 1)), date(2026, 11, 30))
    assert f"/explore?from=2026-11-01&to={to}&by=project&granularity=day&filter=project%3Aweb" in text
    assert text.count("Acknowledge</button>") == 3
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf

    refused = admin_client.post(f"/alerts/{ids[80]}/ack", data={"csrf_token": "wrong"})
    assert refused.status_code == 403
    before = datetime.now(UTC)
    done = admin_client.post(
        f"/alerts/{ids[80]}/ack", data={"csrf_token": csrf.group(1)}, follow_redirects=False
    )
    assert done.status_code == 303 and done.headers["location"].startswith(f"/alerts?acked={ids[80]}")
    with engine.connect() as conn:
        acked = get_alert(conn, ids[80])
        assert [a.id for a in list_alerts(conn, "open")] == sorted([ids[50], ids[100]], reverse=True)
    assert acked.status == "acknowledged" and acked.acknowledged_by == ADMIN_EMAIL
    assert acked.acknowledged_at is not None
    assert before - timedelta(seconds=1) <= acked.acknowledged_at <= datetime.now(UTC)

    after = html.unescape(admin_client.get(f"/alerts?acked={ids[80]}").text)
    assert f"Alert #{ids[80]} acknowledged." in after
    assert f"by {ADMIN_EMAIL}" in after
    assert after.count("Acknowledge</button>") == 2
    missing = admin_client.post("/alerts/999/ack", data={"csrf_token": csrf.group(1)})
    assert missing.status_code == 404


def test_viewer_reads_member_is_refused(settings: Settings, engine: Engine) -> None:
    ids = _raise_alerts(engine)
    add_user(engine, "viewer@example.com", "viewer password!", "viewer")
    add_user(engine, "member@example.com", "member password!", "member")
    with TestClient(create_app(settings)) as viewer:
        assert login(viewer, "viewer@example.com", "viewer password!").status_code == 303
        page = viewer.get("/alerts")
        assert page.status_code == 200
        assert f'id="alert-{ids[50]}"' in page.text
        assert "Acknowledge</button>" not in page.text  # reading only
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf
        refused = viewer.post(f"/alerts/{ids[50]}/ack", data={"csrf_token": csrf.group(1)})
        assert refused.status_code == 403 and "needs the role admin" in refused.text
    with TestClient(create_app(settings)) as member:
        assert login(member, "member@example.com", "member password!").status_code == 303
        refused = member.get("/alerts")
        assert refused.status_code == 403 and "needs the role admin or viewer" in refused.text
    with engine.connect() as conn:
        assert len(list_alerts(conn, "open")) == 3


def test_alerts_page_without_alerts(admin_client: TestClient) -> None:
    page = admin_client.get("/alerts")
    assert page.status_code == 200 and "No alerts yet." in page.text
