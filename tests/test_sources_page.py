"""/sources: admins add, test, sync and remove provider accounts; a key goes in and never out.

Every test runs on SQLite and PostgreSQL, against the fake OpenAI Admin API over real HTTP.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from html import unescape
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from fakes.openai_admin import ADMIN_KEY, FakeOpenAIAdmin
from logins import add_user, csrf_of, login
from spendledger.config import Settings
from spendledger.records import Basis
from spendledger.secrets import load_vault, mask
from spendledger.store import write_records
from spendledger.store.tables import sources, sync_runs, usage
from spendledger.web import create_app
from usage_records import usage_record

WRONG_KEY = "sk-admin-fake-000000000000000000wxyz"


@pytest.fixture
def web(admin_client: TestClient) -> Iterator[TestClient]:
    """An admin's session; background syncs are joined before the database goes."""
    yield admin_client
    for thread in getattr(admin_client.app.state, "source_syncs", {}).values():  # type: ignore[attr-defined]
        thread.join(timeout=20)
        assert not thread.is_alive()


@pytest.fixture
def fake() -> Iterator[FakeOpenAIAdmin]:
    """Three days of an organisation, ending yesterday: inside any backfill window from today."""
    today = datetime.now(UTC).date()
    with FakeOpenAIAdmin(start=today - timedelta(days=3), days=3, page_buckets=2) as server:
        yield server


def text_of(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def add(web: TestClient, **fields: str) -> Any:
    """Post the add form as a browser would, after loading the page."""
    data = {
        "csrf_token": csrf_of(web.get("/sources").text),
        "provider": "openai",
        "name": "Edugami",
        "key": ADMIN_KEY,
        "base_url": "",
        "project_ids": "",
        "workspace_ids": "",
        "backfill_days": "90",
        "interval_minutes": "60",
    }
    return web.post("/sources", data=data | fields, follow_redirects=False)


def post(web: TestClient, path: str, *, htmx: bool = True, **data: str) -> Any:
    data.setdefault("csrf_token", csrf_of(web.get("/sources").text))
    headers = {"HX-Request": "true"} if htmx else {}
    return web.post(path, data=data, headers=headers, follow_redirects=False)


def wait_for_sync(web: TestClient, name: str, *, timeout: float = 20) -> str:
    """Poll the status partial, as the page does, until the run is over; its last HTML."""
    deadline = time.monotonic() + timeout
    while True:
        html = web.get(f"/sources/{name}/status").text
        if 'data-running="false"' in html:
            return html
        assert time.monotonic() < deadline, f"the sync of {name} still runs after {timeout} s: {html}"
        time.sleep(0.1)


def test_sources_page_is_for_admins_only(settings: Settings, engine: Engine) -> None:
    add_user(engine, "vic@example.com", "vic password!", "viewer")
    add_user(engine, "mia@example.com", "mia password!", "member")
    with TestClient(create_app(settings)) as anonymous:
        for response in (
            anonymous.get("/sources", follow_redirects=False),
            anonymous.post("/sources", data={"name": "x"}, follow_redirects=False),
            anonymous.get("/sources/x/status", follow_redirects=False),
        ):
            assert response.status_code == 303
            assert response.headers["location"].startswith("/login?next=%2Fsources")
    for email, password in (("vic@example.com", "vic password!"), ("mia@example.com", "mia password!")):
        with TestClient(create_app(settings)) as client:
            assert login(client, email, password).status_code == 303
            assert client.get("/sources").status_code == 403
            assert client.post("/sources", data={"name": "x"}).status_code == 403
            assert client.get("/sources/x/status").status_code == 403
            assert client.post("/sources/x/sync").status_code == 403
            assert 'href="/sources"' not in client.get("/").text
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(sources)).scalar_one() == 0


def test_sources_page_empty_state_shows_the_add_form(web: TestClient) -> None:
    response = web.get("/sources")
    assert response.status_code == 200
    assert "No sources yet — add your OpenAI admin key" in text_of(response.text)
    html = response.text
    assert '<form method="post" action="/sources"' in html
    assert re.search(r'<input id="add-key" name="key" type="password" value="" [^>]*autocomplete="off"', html)
    for name in ("provider", "name", "base_url", "project_ids", "workspace_ids"):
        assert f'<label for="add-{name}">' in html, name
    assert re.search(r'id="add-backfill_days" name="backfill_days" type="number" value="90"', html)
    assert re.search(r'id="add-interval_minutes" name="interval_minutes" type="number" value="60"', html)


def test_sources_page_add_seals_the_key_and_shows_only_its_hint(
    web: TestClient, engine: Engine, settings: Settings, fake: FakeOpenAIAdmin
) -> None:
    responses = [add(web, base_url=fake.url, project_ids="proj_a, proj_b", backfill_days="5")]
    assert responses[0].status_code == 303
    assert responses[0].headers["location"] == "/sources?added=Edugami"
    responses.append(web.get(responses[0].headers["location"]))
    hint = mask(ADMIN_KEY)
    assert hint == "sk-admin…" + ADMIN_KEY[-4:]
    assert f"Added openai source 'Edugami' (key {hint})." in text_of(responses[-1].text)
    assert f"<code>{hint}</code>" in responses[-1].text
    responses.append(post(web, "/sources/Edugami/test"))
    responses.append(post(web, "/sources/Edugami/test", htmx=False))
    responses.append(post(web, "/sources/Edugami/edit", backfill_days="x", interval_minutes="60"))
    responses.append(add(web))  # the same name again: refused, and the key typed is not echoed
    responses.append(post(web, "/sources/Edugami/sync"))
    responses.append(web.get("/sources/Edugami/status"))
    wait_for_sync(web, "Edugami")
    responses.append(web.get("/sources"))
    for response in responses:
        assert ADMIN_KEY not in response.text and ADMIN_KEY[9:] not in response.text, response.url
    assert responses[-4].status_code == 400
    exists = "Name: a source named 'Edugami' exists; pick another name or remove it first"
    assert exists in text_of(responses[-4].text)
    with engine.connect() as conn:
        row = conn.execute(select(sources)).one()
        runs = conn.execute(select(sync_runs)).all()
    assert ADMIN_KEY not in str(tuple(row)) and ADMIN_KEY not in str(runs)
    assert row.key_hint == hint and load_vault(settings).open(row.credential) == ADMIN_KEY
    assert row.options == {"base_url": fake.url, "project_ids": "proj_a, proj_b"}
    assert (row.backfill_days, row.interval_minutes) == (5, 60)


def test_sources_page_add_form_errors_name_the_field(web: TestClient, engine: Engine) -> None:
    response = add(web, name=" ", key="", backfill_days="ninety", interval_minutes="1", base_url="ftp://x")
    assert response.status_code == 400
    text = text_of(response.text)
    assert "The source was not added: fix the fields marked below." in text
    assert "Name: give the account a name" in text
    assert "Admin key: paste the organisation's admin key" in text
    assert "Backfill days: a whole number from 1 to 3650" in text
    assert "Interval minutes: a whole number from 5 to 10080" in text
    assert "Base URL: must start with https://" in text
    assert 'id="add-backfill_days" name="backfill_days" type="number" value="ninety"' in response.text
    assert 'aria-describedby="add-backfill_days-help add-backfill_days-error"' in response.text
    bad_provider = add(web, provider="teleport", backfill_days="7")
    assert bad_provider.status_code == 400
    assert "Provider: unknown 'teleport'; use one of openai, anthropic" in text_of(bad_provider.text)
    assert ADMIN_KEY not in bad_provider.text
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(sources)).scalar_one() == 0


def test_sources_page_edit_changes_options_and_keeps_a_blank_key(
    web: TestClient, engine: Engine, settings: Settings
) -> None:
    key = "sk-ant-admin01-abcdefghijkl1234"
    assert add(web, provider="anthropic", name="Story/gami", key=key).is_redirect
    with engine.connect() as conn:
        before = conn.execute(select(sources)).one()
    edit = "/sources/Story/gami/edit"
    saved = post(web, edit, htmx=False, base_url="https://eu.example", workspace_ids="wrkspc_1",
                 backfill_days="30", interval_minutes="15", key="")  # fmt: skip
    assert saved.status_code == 303 and saved.headers["location"] == "/sources?saved=Story%2Fgami"
    with engine.connect() as conn:
        after = conn.execute(select(sources)).one()
    assert after.options == {"base_url": "https://eu.example", "workspace_ids": "wrkspc_1"}
    assert (after.backfill_days, after.interval_minutes) == (30, 15)
    assert (after.credential, after.key_hint) == (before.credential, before.key_hint)
    assert post(web, edit, backfill_days="30", interval_minutes="15", key=WRONG_KEY).status_code == 303
    with engine.connect() as conn:
        replaced = conn.execute(select(sources)).one()
    assert replaced.key_hint == mask(WRONG_KEY)
    assert load_vault(settings).open(replaced.credential) == WRONG_KEY
    assert replaced.options == {}
    refused = post(web, edit, backfill_days="30", interval_minutes="2", key=ADMIN_KEY)
    assert refused.status_code == 400 and "Interval minutes: a whole number from 5 to 10080" in refused.text
    assert "<details open>" in refused.text and ADMIN_KEY not in refused.text
    assert post(web, "/sources/nobody/edit", backfill_days="1", interval_minutes="5").status_code == 404


def test_sources_page_test_connection_says_ok_or_what_to_fix(web: TestClient, fake: FakeOpenAIAdmin) -> None:
    assert add(web, name="Good", base_url=fake.url).is_redirect
    assert add(web, name="Bad", base_url=fake.url, key=WRONG_KEY).is_redirect
    ok = post(web, "/sources/Good/test")
    assert ok.status_code == 200 and "<html" not in ok.text
    assert text_of(ok.text) == "OK: OpenAI organisation reachable; 3 projects (1 archived)"
    wrong = post(web, "/sources/Bad/test")
    assert 'role="alert"' in wrong.text
    message = text_of(wrong.text)
    assert '"Bad"' in message and "401" in message
    assert "the key must be an organisation admin key (sk-admin-…)" in message
    assert "Organization settings → Admin keys" in message
    whole_page = post(web, "/sources/Good/test", htmx=False)  # without script: the page, with the answer
    assert "<html" in whole_page.text and "OK: OpenAI organisation reachable" in whole_page.text


def test_sources_page_sync_now_runs_in_the_background_until_done(
    web: TestClient, engine: Engine, fake: FakeOpenAIAdmin
) -> None:
    assert add(web, base_url=fake.url, backfill_days="5").is_redirect
    started = post(web, "/sources/Edugami/sync")
    assert started.status_code == 200
    assert 'hx-trigger="every 1s"' in started.text and 'hx-get="/sources/Edugami/status"' in started.text
    assert "Syncing…" in started.text
    final = wait_for_sync(web, "Edugami")
    assert "hx-trigger" not in final
    with engine.connect() as conn:
        records = conn.execute(select(func.count()).where(usage.c.source == "Edugami")).scalar_one()
        run = conn.execute(select(sync_runs)).one()
    assert records > 0 and run.status == "ok" and run.records == records and run.pages > 1
    facts = dict(re.findall(r"<dt>([^<]+)</dt><dd>(.*?)</dd>", final))
    assert facts["Status"] == "ok" and facts["Records"] == f"{records:,}"
    assert facts["Synced through"] == datetime.now(UTC).date().isoformat()
    assert re.search(rf"<td>ok</td><td>{run.pages}</td><td>{records:,}</td>", final)
    # the costs of the fake's three days arrived, to the cent
    with engine.connect() as conn:
        costs = select(func.sum(usage.c.cost_nanos)).where(usage.c.key.startswith("costs|"))
        nanos = conn.execute(costs).scalar_one()
    assert round(Decimal(nanos) / 10**9, 2) == round(sum(fake.expected_costs().values(), Decimal(0)), 2)
    # a second click while idle starts a new run; the page shows both
    post(web, "/sources/Edugami/sync")
    wait_for_sync(web, "Edugami")
    assert web.get("/sources").text.count("<td>ok</td>") == 2


def test_sources_page_remove_keeps_or_purges_the_records(web: TestClient, engine: Engine) -> None:
    for name in ("Keep", "Purge"):
        assert add(web, name=name).is_redirect
    now = datetime.now(UTC)
    records = [
        usage_record(key=f"costs|{name}|{i}", source=name, basis=Basis.BILLED, start=now - timedelta(days=i),
                     cost="1")
        for name in ("Keep", "Purge") for i in range(3)
    ]  # fmt: skip
    with engine.begin() as conn:
        write_records(conn, records, tz=ZoneInfo("UTC"))
    assert "also delete its records (3)" in web.get("/sources").text
    kept = post(web, "/sources/Keep/remove", htmx=False)
    assert kept.headers["location"] == "/sources?removed=Keep"
    page = text_of(web.get(kept.headers["location"]).text)
    assert "Removed source 'Keep'. Its records stay in the ledger" in page
    purged = post(web, "/sources/Purge/remove", htmx=False, purge="true")
    assert purged.headers["location"] == "/sources?removed=Purge&purged=3"
    assert "Removed source 'Purge' and 3 records." in text_of(web.get(purged.headers["location"]).text)
    with engine.connect() as conn:
        left: Any = conn.execute(select(usage.c.source, func.count()).group_by(usage.c.source)).all()
        assert conn.execute(select(func.count()).select_from(sources)).scalar_one() == 0
    assert [tuple(r) for r in left] == [("Keep", 3)]
    assert "No sources yet" in web.get("/sources").text
    assert post(web, "/sources/Keep/remove").status_code == 404


def test_sources_page_posts_without_the_csrf_token_are_refused(web: TestClient, engine: Engine) -> None:
    assert add(web, csrf_token="").status_code == 403
    assert add(web, csrf_token="forged").status_code == 403
    assert add(web).is_redirect
    for action in ("test", "sync", "edit", "remove"):
        for token in ("", "forged"):
            response = post(web, f"/sources/Edugami/{action}", csrf_token=token, backfill_days="1")
            assert response.status_code == 403, (action, token)
            assert "The form expired: reload the page and try again." in response.text
    with engine.connect() as conn:
        row = conn.execute(select(sources)).one()
        assert conn.execute(select(func.count()).select_from(sync_runs)).scalar_one() == 0
    assert (row.name, row.backfill_days) == ("Edugami", 90)
