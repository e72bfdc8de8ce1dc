"""GET /explore: the cost explorer agrees with GET /api/v1/spend for the same query string."""

from __future__ import annotations

import calendar
import html
import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from logins import ADMIN_EMAIL, ADMIN_PASSWORD, add_user, login
from spendledger.alerts.forecast import forecast_spend
from spendledger.config import Settings
from spendledger.demo import load_demo
from spendledger.records import Basis, PricingStatus, UsageRecord
from spendledger.store import write_records
from spendledger.web import create_app
from spendledger.web.pages import money
from usage_records import usage_record

NOVEMBER = "from=2026-11-01&to=2026-11-30"
MEMBER = "member@example.com"
# (day, provider, project, model, user, cost): odd fractions of a cent, so that rounding shows
SPEND = [
    (2, "openai", "web", "gpt-4o", MEMBER, "1234.5651"),
    (2, "openai", "api", "gpt-4o-mini", "other@example.com", "0.333333"),
    (3, "anthropic", "web", "claude-sonnet-4", MEMBER, "10.004"),
    (9, "anthropic", "api", "claude-sonnet-4", "other@example.com", "2999.995"),
    (17, "mistral", "secret-project", "mistral-small", "other@example.com", "0.7"),
]


def record(
    day: int, provider: str, project: str, model: str, user: str, cost: str | None, **kw: Any
) -> UsageRecord:
    fields: dict[str, Any] = {
        "key": f"{provider}:{day}:{model}:{user}",
        "start": datetime(2026, 11, day, 12, tzinfo=UTC),
        "provider": provider,
        "project": project,
        "model": model,
        "user": user,
        "cost": cost,
        "pricing_status": PricingStatus.PROVIDER,
    }
    return usage_record(**{**fields, **kw})


def write(engine: Engine, *records: UsageRecord) -> None:
    with engine.begin() as conn:
        write_records(conn, list(records), tz=ZoneInfo("UTC"))


@pytest.fixture
def seeded(admin_client: TestClient, engine: Engine) -> TestClient:
    write(engine, *(record(*row) for row in SPEND))
    return admin_client


def total(page: str) -> str:
    match = re.search(r'id="explore-total">([^<]+)<', page)
    assert match, page
    return match.group(1)


def table(page: str) -> list[list[str]]:
    """The table's body rows, each cell's text."""
    body = page.split("<tbody>")[1].split("</tbody>")[0]
    rows = re.findall(r"<tr>(.*?)</tr>", body, re.S)
    return [
        [
            html.unescape(re.sub(r"<[^>]+>", "", c)).strip()
            for c in re.findall(r"<td[^>]*>(.*?)</td>", r, re.S)
        ]
        for r in rows
    ]


def export_links(page: str) -> dict[str, str]:
    """{format: href} of the export links."""
    hrefs = re.findall(r'href="(/api/v1/spend\?[^"]+)"', page)
    return {dict(parse_qsl(urlsplit(h).query))["format"]: h for h in map(html.unescape, hrefs)}


def api(client: TestClient, query_string: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/spend?{query_string}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_explore_page_needs_a_login(settings: Settings, engine: Engine) -> None:
    add_user(engine, ADMIN_EMAIL, ADMIN_PASSWORD, "admin")
    with TestClient(create_app(settings)) as anonymous:
        response = anonymous.get(f"/explore?{NOVEMBER}", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=%2Fexplore%3F")


@pytest.mark.parametrize(
    "query_string",
    [
        f"{NOVEMBER}&by=provider&granularity=day",
        f"{NOVEMBER}&by=project&by=model&granularity=week",
        f"{NOVEMBER}&by=user,provider&granularity=month&basis=all",
        f"{NOVEMBER}&filter=provider:anthropic&filter=provider:mistral",
        f"{NOVEMBER}&filter=project=web&by=model",
    ],
)
def test_explore_page_totals_equal_the_api_to_the_cent(seeded: TestClient, query_string: str) -> None:
    response = seeded.get(f"/explore?{query_string}")
    assert response.status_code == 200, response.text
    report = api(seeded, query_string)

    assert total(response.text) == money(Decimal(report["total"]))
    rows = table(response.text)
    by = report["by"]
    period_column = report["granularity"] != "total" or not by
    cost_at = len(by) + period_column
    expected = [
        [*(r[d] or "(none)" for d in by), *([r["period"]] if r["period"] else [])] for r in report["rows"]
    ]
    assert [row[: len(by) + (report["granularity"] != "total")] for row in rows] == expected
    assert [row[cost_at] for row in rows] == [money(Decimal(r["cost"])) for r in report["rows"]]
    footer = response.text.split("<tfoot>")[1]
    assert f'<td class="num">{money(Decimal(report["total"]))}</td>' in footer


def test_explore_page_groups_by_two_dimensions_and_draws_the_first(seeded: TestClient) -> None:
    page = seeded.get(f"/explore?{NOVEMBER}&by=provider&by=project&granularity=day").text

    assert re.findall(r'data-sort="text">([^<]+)</button>', page) == ["Provider", "Project", "Day"]
    pairs = {(row[0], row[1]) for row in table(page)}
    assert pairs == {(p, project) for _, p, project, *_ in SPEND}
    chart = json.loads(page.split('id="explore-chart-data">')[1].split("</script>")[0])
    assert [s["name"] for s in chart["series"]] == ["anthropic", "openai", "mistral"]  # by spend
    assert len(chart["periods"]) == 30  # every day of November, spent on or not
    assert chart["share"] == [
        {"name": "anthropic", "value": 3010.0},
        {"name": "openai", "value": 1234.9},
        {"name": "mistral", "value": 0.7},
    ]


def test_explore_page_answers_htmx_with_the_results_only(seeded: TestClient) -> None:
    query_string = f"{NOVEMBER}&by=model&granularity=total"
    partial = seeded.get(f"/explore?{query_string}", headers={"HX-Request": "true"})
    assert partial.status_code == 200
    assert "<html" not in partial.text and "<form" not in partial.text
    assert total(partial.text) == money(Decimal(api(seeded, query_string)["total"]))
    assert partial.headers["vary"] == "HX-Request"

    full = seeded.get(f"/explore?{query_string}")
    assert "<html" in full.text
    assert 'hx-get="/explore"' in full.text and 'hx-target="#results"' in full.text
    assert 'hx-push-url="true"' in full.text
    # the back button asks htmx for the page again: it must get all of it
    restore = {"HX-Request": "true", "HX-History-Restore-Request": "true"}
    assert "<html" in seeded.get(f"/explore?{query_string}", headers=restore).text


@pytest.mark.parametrize(
    ("query_string", "message"),
    [
        ("granularity=hour", "granularity: &#39;hour&#39; is not one of day, week, month, total"),
        ("filter=colour:red", "filter: unknown dimension &#39;colour&#39;"),
        ("from=2026-11-31", "from: &#39;2026-11-31&#39; is not a date (YYYY-MM-DD)"),
        ("by=provider,model,user", "by: the explorer groups by one or two dimensions, not 3"),
    ],
)
def test_explore_page_shows_a_bad_parameter_as_a_400_naming_it(
    seeded: TestClient, query_string: str, message: str
) -> None:
    for headers, whole_page in (({}, True), ({"HX-Request": "true"}, False)):
        response = seeded.get(f"/explore?{query_string}", headers=headers)
        assert response.status_code == 400
        assert response.headers["content-type"].startswith("text/html")
        assert 'role="alert"' in response.text and message in response.text
        assert ('<form id="explore-form"' in response.text) is whole_page


@pytest.fixture
def member(settings: Settings, engine: Engine, seeded: TestClient) -> Iterator[TestClient]:
    """A member without grants, logged in: they see the spend recorded under their email."""
    add_user(engine, MEMBER, "member password!", "member")
    with TestClient(create_app(settings)) as client:
        assert login(client, MEMBER, "member password!").status_code == 303
        yield client


def test_explore_page_shows_a_member_their_own_spend_only(member: TestClient) -> None:
    page = member.get(f"/explore?{NOVEMBER}&by=project").text

    own = sum((Decimal(cost) for *_, user, cost in SPEND if user == MEMBER), Decimal(0))
    assert total(page) == money(own) == money(Decimal(api(member, f"{NOVEMBER}&by=project")["total"]))
    assert [row[0] for row in table(page)] == ["web"]
    # neither others' figures nor their names, not even among the filters' values
    assert "other@example.com" not in page and "secret-project" not in page


def test_explore_page_refuses_a_member_probing_outside_their_scope(member: TestClient) -> None:
    response = member.get(f"/explore?{NOVEMBER}&filter=user:other@example.com")

    assert response.status_code == 403 and "outside what you may see" in response.text


def test_explore_page_export_links_carry_the_same_query_string(seeded: TestClient) -> None:
    query_string = f"{NOVEMBER}&by=provider&filter=project:web&granularity=week&basis=all"
    page = seeded.get(f"/explore?{query_string}").text
    links = export_links(page)

    assert set(links) == {"csv", "json"}
    for fmt, href in links.items():
        assert parse_qsl(urlsplit(href).query) == [*parse_qsl(query_string), ("format", fmt)]
    assert seeded.get(links["json"]).json() == api(seeded, query_string)
    csv = seeded.get(links["csv"])
    assert csv.headers["content-type"].startswith("text/csv")
    assert len(csv.text.splitlines()) == 1 + len(table(page))


def test_explore_page_opens_bare_on_the_default_view(seeded: TestClient) -> None:
    page = seeded.get("/explore").text
    assert parse_qsl(urlsplit(export_links(page)["csv"]).query) == [
        ("period", "30d"),
        ("by", "provider"),
        ("granularity", "total"),
        ("format", "csv"),
    ]
    assert '<option value="30d" selected>Last 30 days</option>' in page
    # empty controls (a form sent without JavaScript) are left out of the links
    page = seeded.get(f"/explore?{NOVEMBER}&period=&by=model&by=&filter=&granularity=total").text
    assert parse_qsl(urlsplit(export_links(page)["json"]).query) == [
        *parse_qsl(f"{NOVEMBER}&by=model&granularity=total"),
        ("format", "json"),
    ]


def test_explore_page_default_view_is_a_summary_with_its_projection(
    admin_client: TestClient, engine: Engine
) -> None:
    today = _today()
    load_demo(engine, tz=ZoneInfo("UTC"), end=today, days=30)
    page = admin_client.get("/explore").text

    # a row per provider, no row per day: 30 days × 4 providers were 120 rows
    report = api(admin_client, "period=30d&by=provider&granularity=total")
    rows = table(page)
    assert [row[0] for row in rows] == [r["provider"] for r in report["rows"]] and 2 <= len(rows) <= 8
    assert re.findall(r'data-sort="text">([^<]+)</button>', page) == ["Provider"]
    assert "periods" not in _chart(page) and len(_chart(page)["share"]) == len(rows)
    # the projection says what it projects: this month's spend, by its last day, at this pace
    month_end = today.replace(day=calendar.monthrange(today.year, today.month)[1])
    with engine.connect() as conn:
        f = forecast_spend(conn, start=today - timedelta(days=29), end=month_end, today=today)
    assert f is not None
    assert _projection_line(page).startswith(
        f"At this pace, by {month_end:%b} {month_end.day}: {money(f.projected_total)} spent from "
        f"{today - timedelta(days=29)} to {month_end} (80 %: {money(f.low)}–{money(f.high)})"
    )


def test_explore_page_offers_the_ledgers_values_as_filters(seeded: TestClient) -> None:
    page = seeded.get(f"/explore?{NOVEMBER}&filter=model:gpt-4o").text
    provider = page.split('id="filter-provider"')[1].split("</select>")[0]
    assert re.findall(r'value="([^"]*)"', provider) == [
        "",
        "provider:anthropic",
        "provider:mistral",
        "provider:openai",
    ]
    assert '<option value="model:gpt-4o" selected>gpt-4o</option>' in page


def test_explore_page_empty_state_says_what_to_try(admin_client: TestClient) -> None:
    page = admin_client.get(f"/explore?{NOVEMBER}").text
    assert "No spend in this period" in page and "spendledger demo" in page
    assert "<table" not in page and 'id="explore-chart-data"' not in page


def test_explore_page_labels_demo_data_and_counts_unpriced_requests(
    admin_client: TestClient, engine: Engine
) -> None:
    write(
        engine,
        record(4, "openai", "", "gpt-4o", "", "5", basis=Basis.DEMO),
        record(5, "openai", "", "new-model", "", None, pricing_status=PricingStatus.UNPRICED),
    )
    page = admin_client.get(f"/explore?{NOVEMBER}&by=basis").text
    assert "<strong>Demo data</strong>" in page
    assert '<span class="basis basis-demo">demo</span>' in page
    assert "1 request has no price yet" in page


def test_explore_table_csv_api_and_cli_report_agree_to_the_cent(
    seeded: TestClient, db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """One URL state, four renderings: the page's table, its CSV export, the JSON API and
    `spendledger report` with the same options give the same cents."""
    import csv
    import io
    import json

    from typer.testing import CliRunner

    from spendledger.cli import app

    query_string = f"{NOVEMBER}&by=project&granularity=total&basis=all"
    page = seeded.get(f"/explore?{query_string}").text
    shown = {row[0]: row[1] for row in table(page)}
    exported = seeded.get(export_links(page)["csv"]).text

    def by_project(rows: Any) -> dict[str, str]:
        return {r["project"] or "(none)": money(Decimal(r["cost"])) for r in rows}

    from_csv = by_project(csv.DictReader(io.StringIO(exported)))
    from_api = by_project(api(seeded, query_string)["rows"])
    monkeypatch.setenv("SPENDLEDGER_TIMEZONE", "UTC")
    monkeypatch.setenv("SPENDLEDGER_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(
        app,
        ["--database-url", db_url, "report", "--from", "2026-11-01", "--to", "2026-11-30", "--by", "project",
         "--basis", "all", "--format", "json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    cli_report = json.loads(result.stdout)
    from_cli = by_project(cli_report["rows"])

    assert shown == from_csv == from_api == from_cli and len(shown) >= 2
    assert total(page) == money(Decimal(cli_report["total"]))


def test_explore_page_filter_values_follow_the_ledgers_writes(seeded: TestClient, engine: Engine) -> None:
    def providers() -> list[str]:
        page = seeded.get(f"/explore?{NOVEMBER}").text
        return re.findall(
            r'value="provider:([^"]*)"', page.split('id="filter-provider"')[1].split("</select>")[0]
        )

    before = providers()
    assert "groq" not in before and providers() == before  # the second load is served from the cache
    write(engine, record(3, "groq", "web", "llama-3.3-70b", "new@example.com", "0.50"))
    assert "groq" in providers()  # a write makes the page read them again


# ---- the period-end projection ----------------------------------------------------------------


def _today() -> date:
    return datetime.now(UTC).date()  # the test settings' zone is UTC


def _spend_on(day: date, cost: str, user: str = MEMBER) -> UsageRecord:
    start = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    return record(1, "openai", "web", "gpt-4o", user, cost, key=f"{day}:{user}", start=start)


def _chart(page: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(page.split('id="explore-chart-data">')[1].split("</script>")[0])
    return data


def _projection_line(page: str) -> str:
    match = re.search(r"<p class=\"explore-projection\" data-projection>(.*?)</p>", page, flags=re.S)
    assert match, "no projection line"
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", match.group(1))).split())


def test_explore_page_projects_a_simple_series_by_hand(admin_client: TestClient, engine: Engine) -> None:
    today = _today()
    write(engine, *(_spend_on(today - timedelta(days=i), "10") for i in range(5)))
    start, end = today - timedelta(days=4), today + timedelta(days=5)
    page = admin_client.get(f"/explore?from={start}&to={end}&granularity=day").text

    # Five days of $10 (fewer than 14: the mean method): spent 5 × 10 = 50; the mean, $10 a
    # day, over the 5 days left: 50 more, projected 100. The band is ±(0.5 + 1/5) = ±70 % of
    # those 50: low 50 + 15 = 65, high 50 + 85 = 135.
    by = f"{end:%b} {end.day}" + (f", {end.year}" if end.year != today.year else "")
    line = _projection_line(page)
    assert line == (
        f"At this pace, by {by}: $100.00 spent from {start} to {end} (80 %: $65.00–$135.00)"
        " · projected from the spend to today (mean daily spend (too little history))"
    )
    with engine.connect() as conn:
        f = forecast_spend(conn, start=start, end=end, today=today)
    assert f is not None and (f.projected_total, f.low, f.high) == (Decimal(100), Decimal(65), Decimal(135))

    # the daily chart carries the cone: the cumulative spend to today, then the projection
    chart = _chart(page)
    cone, at = chart["projection"], chart["periods"].index(today.isoformat())
    assert chart["periods"] == [(start + timedelta(days=i)).isoformat() for i in range(10)]
    assert cone["end"] == end.isoformat()
    assert cone["cumulative"] == [10.0, 20.0, 30.0, 40.0, 50.0, None, None, None, None, None]
    assert cone["projected"][: at + 1] == [None] * at + [50.0]
    assert cone["projected"][-1] == 100.0 and cone["projected"][at + 1] == 60.0  # a fifth of the way
    assert cone["low"][-1] == 65.0 and cone["low"][-1] + cone["band"][-1] == 135.0
    assert [s["name"] for s in chart["series"]] == ["Spend"]  # the bars are untouched


def test_explore_page_carries_a_range_ending_today_to_the_months_end(
    admin_client: TestClient, engine: Engine
) -> None:
    today = _today()
    write(engine, *(_spend_on(today - timedelta(days=i), "10") for i in range(5)))
    month_end = today.replace(day=calendar.monthrange(today.year, today.month)[1])
    for query_string, start, end in [
        ("period=7d&granularity=day", today - timedelta(days=6), month_end),
        ("period=mtd&granularity=week", today.replace(day=1), month_end),
        ("period=ytd&granularity=month", today.replace(month=1, day=1), date(today.year, 12, 31)),
    ]:
        page = admin_client.get(f"/explore?{query_string}").text
        with engine.connect() as conn:
            f = forecast_spend(conn, start=start, end=end, today=today)
        assert f is not None
        band = f"(80 %: {money(f.low)}–{money(f.high)})"
        spent = f"{money(f.projected_total)} spent from {start} to {end}"
        expected = f"At this pace, by {end:%b} {end.day}: {spent} {band}"
        assert _projection_line(page).startswith(expected), query_string
        chart = _chart(page)
        if "granularity=day" in query_string:  # the axis runs on to the period's end
            assert chart["periods"][-1] == end.isoformat() and chart["projection"]["end"] == end.isoformat()
            assert all(len(s["data"]) == len(chart["periods"]) for s in chart["series"])
        else:
            assert "projection" not in chart  # a week or month chart gets the line only


def test_explore_page_shows_no_projection_for_a_past_range(admin_client: TestClient, engine: Engine) -> None:
    today = _today()
    write(engine, *(_spend_on(today - timedelta(days=i), "10") for i in range(1, 6)))
    page = admin_client.get(
        f"/explore?from={today - timedelta(days=9)}&to={today - timedelta(days=1)}&granularity=day"
    ).text
    assert "<table" in page  # there is spend to show
    assert "data-projection" not in page and "At this pace" not in page
    assert "projection" not in _chart(page)


def test_explore_page_projects_a_member_their_own_spend_only(
    settings: Settings, engine: Engine, admin_client: TestClient
) -> None:
    today = _today()
    write(
        engine,
        *(_spend_on(today - timedelta(days=i), "10") for i in range(5)),
        *(_spend_on(today - timedelta(days=i), "1000", user="other@example.com") for i in range(5)),
    )
    add_user(engine, MEMBER, "member password!", "member")
    with TestClient(create_app(settings)) as member:
        assert login(member, MEMBER, "member password!").status_code == 303
        start, end = today - timedelta(days=4), today + timedelta(days=5)
        page = member.get(f"/explore?from={start}&to={end}&granularity=day").text
    assert f": $100.00 spent from {start} to {end} (80 %: $65.00–$135.00)" in _projection_line(
        page
    )  # theirs alone


def _many_rows(engine: Engine) -> None:
    """600 rows by project and day: 30 days × 20 projects, one $1.25 call each."""
    write(
        engine,
        *(
            record(day, "openai", f"p{n:02d}", "gpt-4o", MEMBER, "1.25", key=f"many:{day}:{n}")
            for day in range(1, 31)
            for n in range(20)
        ),
    )


def test_explore_page_pages_a_table_past_500_rows_with_the_whole_answers_totals(
    seeded: TestClient, engine: Engine
) -> None:
    _many_rows(engine)
    query_string = f"{NOVEMBER}&by=project&granularity=day&filter=model:gpt-4o&filter=user:{MEMBER}"
    # gpt-4o for MEMBER: the 600 calls of $1.25 (750.00) and SPEND's first row (1,234.5651) on the 2nd
    whole = api(seeded, query_string)
    assert (len(whole["rows"]), whole["total"]) == (601, "1984.5651")

    first = seeded.get(f"/explore?{query_string}").text
    assert len(table(first)) == 500
    assert "601 rows: 1–500 shown, page 1 of 2" in first
    assert total(first) == money(Decimal("1984.5651"))
    assert 'rel="prev"' not in first and "page=2" in first
    assert all("page=" not in href for href in export_links(first).values())  # exports: the whole answer

    second = seeded.get(f"/explore?{query_string}&page=2").text
    rows = table(second)
    assert len(rows) == 101 and "501–601 shown, page 2 of 2" in second
    assert total(second) == money(Decimal("1984.5651"))
    assert (rows[0][0], rows[0][1]) == (whole["rows"][500]["project"], whole["rows"][500]["period"])
    assert 'rel="next"' not in second and 'rel="prev"' in second

    assert "page 2 of 2" in seeded.get(f"/explore?{query_string}&page=9").text  # past the end: the last
    partial = seeded.get(f"/explore?{query_string}&page=2", headers={"HX-Request": "true"}).text
    assert '<form id="explore-form"' not in partial and len(table(partial)) == 101


@pytest.mark.parametrize("page", ["0", "two", "-1", "1.5"])
def test_explore_page_refuses_a_bad_page_naming_it(seeded: TestClient, page: str) -> None:
    response = seeded.get(f"/explore?{NOVEMBER}&page={page}")
    assert response.status_code == 400
    assert f"page: &#39;{page}&#39; is not a page number; give 1 or more" in response.text
