"""The /alerts page: viewers and admins read the alert centre, members may not, admins acknowledge."""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from logins import ADMIN_EMAIL, add_user, login
from spendledger.alerts.budgets import create_budget
from spendledger.alerts.evaluate import check_budgets, describe, evaluate
from spendledger.cli.alerts import app as alerts_cli
from spendledger.config import Settings
from spendledger.store import write_records
from spendledger.store.alerts import get_alert, list_alerts, raise_alert
from spendledger.web import create_app
from test_anomalies import DAY, call, four_quiet_weeks, write
from usage_records import usage_record

NOV_25 = date(2026, 11, 25)


def _raise_alerts(engine: Engine) -> dict[int, int]:
    """Project web spent $105 of its $100 November budget, found in one evaluation: the
    100 % alert raised, 50 and 80 % recorded as passed; every threshold's alert id."""
    record = usage_record(start=datetime(2026, 11, 20, 12, tzinfo=UTC), project="web", cost="105")
    now = datetime(2026, 11, 25, 9, tzinfo=UTC)
    with engine.begin() as conn:
        write_records(conn, [record], tz=ZoneInfo("UTC"))
        create_budget(conn, name="web", amount="100", now=now, filters=["project=web"])
        assert [a.threshold for a in check_budgets(conn, tz=ZoneInfo("UTC"), today=NOV_25, now=now)] == [100]
        return {a.threshold: a.id or 0 for a in list_alerts(conn)}


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
    # one open alert to act on; the thresholds passed on the way are listed as passed
    assert text.count("Acknowledge</button>") == 1
    assert text.count("passed: the 100 % alert covers it") == 2
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf

    refused = admin_client.post(f"/alerts/{ids[100]}/ack", data={"csrf_token": "wrong"})
    assert refused.status_code == 403
    before = datetime.now(UTC)
    done = admin_client.post(
        f"/alerts/{ids[100]}/ack", data={"csrf_token": csrf.group(1)}, follow_redirects=False
    )
    assert done.status_code == 303 and done.headers["location"].startswith(f"/alerts?acked={ids[100]}")
    with engine.connect() as conn:
        acked = get_alert(conn, ids[100])
        assert list_alerts(conn, "open") == []
    assert acked.status == "acknowledged" and acked.acknowledged_by == ADMIN_EMAIL
    assert acked.acknowledged_at is not None
    assert before - timedelta(seconds=1) <= acked.acknowledged_at <= datetime.now(UTC)

    after = html.unescape(admin_client.get(f"/alerts?acked={ids[100]}").text)
    assert f"Alert #{ids[100]} acknowledged." in after
    assert f"by {ADMIN_EMAIL}" in after
    assert after.count("Acknowledge</button>") == 0
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
        assert f'id="alert-{ids[100]}"' in page.text
        assert "Acknowledge</button>" not in page.text  # reading only
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf
        refused = viewer.post(f"/alerts/{ids[100]}/ack", data={"csrf_token": csrf.group(1)})
        assert refused.status_code == 403 and "needs the role admin" in refused.text
    with TestClient(create_app(settings)) as member:
        assert login(member, "member@example.com", "member password!").status_code == 303
        refused = member.get("/alerts")
        assert refused.status_code == 403 and "needs the role admin or viewer" in refused.text
    with engine.connect() as conn:
        assert len(list_alerts(conn, "open")) == 1


def test_alerts_page_without_alerts(admin_client: TestClient) -> None:
    page = admin_client.get("/alerts")
    assert page.status_code == 200 and "No alerts yet." in page.text


def test_alerts_page_shows_an_anomaly_by_its_subject(admin_client: TestClient, engine: Engine) -> None:
    # a $412 jump of gpt-4o on Nov 20 against its usual $35 a weekday, found the day after;
    # and a jump of spend with no project, stored under the subject "project:" (empty value)
    write(engine, [*four_quiet_weeks(), call("t1", DAY, "35.00"), call("t2", DAY, "412.00", user="u_17")])
    with engine.begin() as conn:
        (found,) = evaluate(conn, tz=ZoneInfo("UTC"), at=datetime(2026, 11, 21, 8, tzinfo=UTC))
        raise_alert(
            conn,
            budget="project:",
            kind="anomaly",
            threshold=0,
            window_start=DAY,
            window_end=DAY,
            figures={"spent": Decimal("60"), "usual": Decimal("10"), "spread": Decimal("2")},
            currency="USD",
            now=datetime(2026, 11, 21, 8, tzinfo=UTC),
        )
    text = html.unescape(admin_client.get("/alerts").text)
    start = text.index(">", text.index(f'id="alert-{found.id}"')) + 1
    cells = re.sub(r"<[^>]+>", " ", text[start : text.index("</tr>", start)]).split()
    words = describe(found)
    assert words.startswith(
        "Anomaly: model:gpt-4o — spend jumped to $447.00 on 2026-11-20, usual $35.00 ± $3.50; "
        "100 % of the jump is user u_17"
    )
    assert " ".join(cells) == (
        f"#{found.id} Anomaly: model:gpt-4o anomaly 2026-11-20 → 2026-11-20 {words} "
        "2026-11-21 08:00 UTC Acknowledge Explain"
    )
    assert "Anomaly: project:(none) — spend jumped to $60.00 on 2026-11-20, usual $10.00 ± $2.00" in text
    assert ">0 %<" not in text  # never a budget at 0 %


def test_alerts_page_names_the_documented_command(admin_client: TestClient, engine: Engine) -> None:
    _raise_alerts(engine)
    page = admin_client.get("/alerts").text
    commands = re.findall(r"<code>spendledger alerts (\w+)</code>", page)
    assert commands == ["evaluate"]
    visible = [c.name for c in alerts_cli.registered_commands if not c.hidden]
    assert "evaluate" in visible
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    assert "spendledger alerts evaluate" in readme
