"""/prices: the lookup, the overrides an admin adds, edits and deletes (re-pricing each time),
the unpriced models; read-only for everyone else, and CSRF on every form."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html import unescape
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from logins import add_user, login
from spendledger.config import Settings
from spendledger.pricing import Pricer
from spendledger.records import TokenCounts
from spendledger.store import write_records
from spendledger.store.overrides import add_override, list_overrides
from spendledger.store.tables import usage
from spendledger.web import create_app
from usage_records import usage_record

TOKENS = TokenCounts(input=1_000_000, cached_input=200_000, output=250_000)
ACME_PRICE = {"input": "0.2", "cached_input": "0.05", "output": "0.8", "note": "Acme order form 2026"}


def _text(html: str) -> str:
    """The page's words, without tags, styles and scripts."""
    body = re.sub(r"<(style|script)\b.*?</\1>", " ", html, flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", body)).split())


def _prices(html: str) -> dict[str, str]:
    """The lookup's table: {token kind: price per 1M tokens}."""
    return dict(re.findall(r"<tr><td>([^<]+)</td><td class=\"price\">([^<]+)</td></tr>", html))


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def _write_unpriced(engine: Engine, model: str = "acme-llm-7b") -> None:
    """One metered record of a model no catalogue knows: it waits unpriced."""
    record = usage_record(
        key=f"api:evt-{model}",
        source="api",
        start=datetime.now(UTC).replace(microsecond=0) - timedelta(days=1),
        provider="acme",
        model=model,
        tokens=TOKENS,
    )
    Pricer().price(record)
    with engine.begin() as conn:
        write_records(conn, [record], tz=ZoneInfo("UTC"))


def _stored(engine: Engine) -> dict[str, tuple[int | None, str]]:
    with engine.connect() as conn:
        rows = conn.execute(select(usage.c.key, usage.c.cost_nanos, usage.c.pricing_status))
        return {r.key: (r.cost_nanos, r.pricing_status) for r in rows}


def _post(client: TestClient, url: str, data: dict[str, str]) -> tuple[int, str]:
    csrf = _csrf(client.get("/prices").text)
    response = client.post(url, data={**data, "csrf_token": csrf})
    return response.status_code, response.text


@pytest.fixture
def viewer_client(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    add_user(engine, "viewer@example.com", "correct horse battery", "viewer")
    with TestClient(create_app(settings)) as client:
        assert login(client, "viewer@example.com", "correct horse battery").status_code == 303
        yield client


def test_prices_page_looks_up_a_catalogue_price(admin_client: TestClient) -> None:
    html = admin_client.get("/prices", params={"model": "gpt-4o-mini", "at": "2026-11-01"}).text
    # genai-prices: gpt-4o-mini $0.15 in / $0.075 cached / $0.60 out per 1M tokens
    assert _prices(html) == {"input": "$0.15", "cached input": "$0.075", "output": "$0.60"}
    assert "openai/gpt-4o-mini · 2026-11-01" in html  # the provider is guessed
    assert "Source: catalogue (genai-prices 0.2.3: openai/gpt-4o-mini)" in _text(html)


def test_prices_page_lookup_as_of_a_date(admin_client: TestClient) -> None:
    # o3 was cut from $10 / $40 to $2 / $8 on 2025-06-10
    before = admin_client.get("/prices", params={"model": "o3", "provider": "openai", "at": "2025-06-09"})
    after = admin_client.get("/prices", params={"model": "o3", "provider": "openai", "at": "2025-06-11"})
    assert (_prices(before.text)["input"], _prices(before.text)["output"]) == ("$10.00", "$40.00")
    assert (_prices(after.text)["input"], _prices(after.text)["output"]) == ("$2.00", "$8.00")


def test_prices_page_lookup_of_an_unknown_model_says_so(admin_client: TestClient) -> None:
    html = admin_client.get("/prices", params={"model": "acme-llm-7b", "provider": "acme"}).text
    text = _text(html)
    assert "unknown model: no price for acme/acme-llm-7b on " in text
    assert "neither the catalogue (genai-prices 0.2.3) nor an override covers it." in text
    assert 'href="/prices?provider=acme&amp;model=acme-llm-7b&amp;add=1#override-form"' in html
    bad = admin_client.get("/prices", params={"model": "gpt-4o", "at": "yesterday"})
    assert "as of: 'yesterday' is not a date (YYYY-MM-DD)" in _text(bad.text)


def test_prices_page_add_a_price_reprices_the_unpriced_record(
    admin_client: TestClient, engine: Engine
) -> None:
    _write_unpriced(engine)
    assert _stored(engine) == {"api:evt-acme-llm-7b": (0, "unpriced")}
    page = admin_client.get("/prices").text
    assert "Records waiting for a price" in page
    assert re.search(r"<td>acme</td>\s*<td>acme-llm-7b</td>\s*<td class=\"num\">1</td>", page)
    # the unpriced row's one-click link opens the add form, pre-filled
    link = re.search(r'<a href="([^"]+)">Add a price</a></td>', page)
    assert link, page
    form = admin_client.get(link.group(1).replace("&amp;", "&")).text
    assert '<details id="override-form" open>' in form
    assert 'name="provider" value="acme"' in form and 'name="model" value="acme-llm-7b"' in form

    code, html = _post(
        admin_client, "/prices/overrides", {"provider": "acme", "model": "acme-llm-*", **ACME_PRICE}
    )

    assert code == 200
    text = _text(html)
    assert "Added price override #1 for acme/acme-llm-*." in text
    assert "Re-priced 1 records: 1 changed, 1 newly priced, 0 still unpriced." in text
    # 800k uncached input × $0.2/M + 200k cached × $0.05/M + 250k output × $0.8/M
    # = 0.16 + 0.01 + 0.20 = $0.37
    assert _stored(engine) == {"api:evt-acme-llm-7b": (370_000_000, "priced")}
    assert "Every record has a price." in text
    lookup = admin_client.get("/prices", params={"model": "acme-llm-7b"}).text
    assert _prices(lookup) == {"input": "$0.20", "cached input": "$0.05", "output": "$0.80"}
    assert "Source: override #1: Acme order form 2026" in _text(lookup)


def test_prices_page_override_changes_the_price_then_edit_and_delete(
    admin_client: TestClient, engine: Engine
) -> None:
    code, _ = _post(
        admin_client,
        "/prices/overrides",
        {"provider": "openai", "model": "gpt-4o-mini", "input": "0.1", "output": "0.4", "note": "contract"},
    )
    assert code == 200
    lookup = {"model": "gpt-4o-mini", "provider": "openai"}
    # the override's $0.10 / $0.40; cached input is charged at the input rate, so not listed
    assert _prices(admin_client.get("/prices", params=lookup).text) == {"input": "$0.10", "output": "$0.40"}
    with engine.begin() as conn:  # a kind the form does not show, set with the CLI
        add_override(
            conn,
            provider="acme",
            model_pattern="acme-*",
            prices={"input": "1", "cache_write_1h": "2"},
            note="n",
        )
    edit_form = admin_client.get("/prices", params={"edit": 2}).text
    assert 'action="/prices/overrides/2/edit"' in edit_form and 'name="input" value="1"' in edit_form
    assert "other prices (cache write (1 h)) are kept" in _text(edit_form)

    code, html = _post(
        admin_client,
        "/prices/overrides/2/edit",
        {"provider": "acme", "model": "acme-*", "input": "3", "note": "new"},
    )

    assert code == 200 and "Changed price override #2." in html
    with engine.connect() as conn:
        edited = list_overrides(conn)[1]
    assert (dict(edited.prices), edited.note) == ({"input_mtok": "3", "cache_write_1h_mtok": "2"}, "new")

    code, html = _post(admin_client, "/prices/overrides/1/delete", {})

    assert code == 200 and "Removed price override #1 (openai/gpt-4o-mini)." in html
    # back to the catalogue's $0.15 / $0.075 / $0.60
    assert _prices(admin_client.get("/prices", params=lookup).text)["input"] == "$0.15"
    assert _post(admin_client, "/prices/overrides/1/delete", {})[0] == 404


def test_prices_page_delete_puts_records_back_to_unpriced(admin_client: TestClient, engine: Engine) -> None:
    _write_unpriced(engine)
    _post(admin_client, "/prices/overrides", {"provider": "acme", "model": "acme-llm-7b", **ACME_PRICE})
    assert _stored(engine)["api:evt-acme-llm-7b"] == (370_000_000, "priced")

    code, html = _post(admin_client, "/prices/overrides/1/delete", {})

    assert code == 200
    assert "Re-priced 1 records: 1 changed, 0 newly priced, 1 still unpriced." in _text(html)
    assert _stored(engine)["api:evt-acme-llm-7b"][1] == "unpriced"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"input": "cheap"}, "price for 'input' is not a number: 'cheap'"),
        ({"input": "-1"}, "price for 'input' must be zero or more, got '-1'"),
        (
            {"input": ""},
            "an override needs at least one price, e.g. input=0.5 output=1.5 (USD per 1M tokens)",
        ),
        ({"note": " "}, "an override needs a note saying where the price came from"),
        ({"effective_from": "2026-07-01", "effective_to": "2026-07-01"}, "on or before it starts"),
        ({"effective_from": "July"}, "effective from: 'July' is not a date (YYYY-MM-DD)"),
        ({"provider": ""}, "an override needs a provider"),
    ],
)
def test_prices_page_add_rejects_bad_input_with_the_cli_message(
    admin_client: TestClient, engine: Engine, fields: dict[str, str], message: str
) -> None:
    data = {"provider": "acme", "model": "acme-7b", "input": "1", "note": "contract", **fields}
    code, html = _post(admin_client, "/prices/overrides", data)
    assert code == 400
    assert message in _text(html)
    assert 'name="model" value="acme-7b"' in html  # the form keeps what was typed
    with engine.connect() as conn:
        assert list_overrides(conn) == []


def test_prices_page_edit_rejects_bad_input_and_keeps_the_override(
    admin_client: TestClient, engine: Engine
) -> None:
    with engine.begin() as conn:
        add_override(conn, provider="acme", model_pattern="acme-7b", prices={"input": "1"}, note="contract")
    data = {"provider": "acme", "model": "acme-7b", "input": "1", "output": "lots", "note": "contract"}

    code, html = _post(admin_client, "/prices/overrides/1/edit", data)

    assert code == 400 and "price for 'output' is not a number: 'lots'" in _text(html)
    assert 'action="/prices/overrides/1/edit"' in html and 'name="output" value="lots"' in html
    with engine.connect() as conn:
        assert [dict(o.prices) for o in list_overrides(conn)] == [{"input_mtok": "1"}]
    assert _post(admin_client, "/prices/overrides/9/edit", data)[0] == 404


def test_prices_page_is_read_only_for_viewers_and_members(
    viewer_client: TestClient, settings: Settings, engine: Engine
) -> None:
    _write_unpriced(engine)
    with engine.begin() as conn:
        add_override(conn, provider="openai", model_pattern="gpt-4o", prices={"input": "1"}, note="contract")
    html = viewer_client.get("/prices", params={"model": "acme-llm-7b", "edit": 1}).text
    assert "#1" in html and "acme-llm-7b" in html  # overrides and the unpriced list are shown
    assert 'method="post" action="/prices' not in html and "Add a price" not in html and "Edit" not in html
    for url in ("/prices/overrides", "/prices/overrides/1/edit", "/prices/overrides/1/delete"):
        data = {"provider": "acme", "model": "m", "input": "1", "note": "n", "csrf_token": _csrf(html)}
        assert viewer_client.post(url, data=data).status_code == 403
    add_user(engine, "member@example.com", "correct horse battery", "member")
    with TestClient(create_app(settings)) as member:
        login(member, "member@example.com", "correct horse battery")
        page = member.get("/prices")
    assert page.status_code == 200
    assert "Records waiting for a price" not in page.text  # others' volumes are not a member's
    with engine.connect() as conn:
        assert len(list_overrides(conn)) == 1


def test_prices_page_forms_need_their_csrf_token(admin_client: TestClient, engine: Engine) -> None:
    with engine.begin() as conn:
        add_override(conn, provider="openai", model_pattern="gpt-4o", prices={"input": "1"}, note="contract")
    data = {"provider": "acme", "model": "m", "input": "1", "note": "n"}
    for url in ("/prices/overrides", "/prices/overrides/1/edit", "/prices/overrides/1/delete"):
        assert admin_client.post(url, data=data).status_code == 403
        assert admin_client.post(url, data={**data, "csrf_token": "forged"}).status_code == 403
    with engine.connect() as conn:
        assert [(o.model_pattern, dict(o.prices)) for o in list_overrides(conn)] == [
            ("gpt-4o", {"input_mtok": "1"})
        ]
