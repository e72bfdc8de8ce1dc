"""The monthly (and weekly) PDF report, read back as text: its totals equal GET
/api/v1/spend for the same month to the cent, the change against the month before is the
hand computation, and each section holds the figures of tests/report_ledger.py. From the
CLI and the dashboard's download, on SQLite and PostgreSQL; members get their own scope."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from clirun import Cli, cli_runner
from logins import add_user, login
from pdf_text import pdf_text
from report_ledger import MEMBER, NOVEMBER_TOTAL, OCTOBER_TOTAL, load_report_ledger
from spendledger.config import Settings
from spendledger.demo import load_demo
from spendledger.exports.pdf import render_pdf
from spendledger.exports.periods import parse_period
from spendledger.queries import QueryError
from spendledger.reconcile import CATEGORIES, CATEGORY_SHORT
from spendledger.records import cents, display_money
from spendledger.reports.period_report import period_report
from spendledger.web import create_app


@pytest.fixture
def cli(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    return cli_runner(db_url, tmp_path, monkeypatch, SPENDLEDGER_TIMEZONE="UTC")


@pytest.fixture
def ledger(engine: Engine) -> Engine:
    load_report_ledger(engine)
    return engine


def _api_total(client: TestClient, start: str, end: str) -> str:
    answer = client.get("/api/v1/spend", params={"from": start, "to": end})
    assert answer.status_code == 200, answer.text
    return display_money(Decimal(answer.json()["total"]), "USD")


def test_report_monthly_pdf_totals_equal_the_api_to_the_cent(
    ledger: Engine, cli: Cli, client: TestClient, tmp_path: Path
) -> None:
    result = cli("report", "monthly", "--month", "2026-11", "-o", "november.pdf")
    assert "Wrote the report for November 2026 to november.pdf" in result.stdout
    text = pdf_text((tmp_path / "november.pdf").read_bytes())

    november = _api_total(client, "2026-11-01", "2026-11-30")
    october = _api_total(client, "2026-10-01", "2026-10-31")
    assert (november, october) == ("$348.75", "$200.00")  # report_ledger's hand computation
    assert f"Total spend {november}" in text
    assert f"Previous: October 2026 {october}" in text
    # $348.75 − $200.00 = +$148.75; 148.75 / 200.00 = 74.375 % → +74.4 %
    assert "Change +$148.75 (+74.4 %)" in text
    assert "Basis of the total billed $200.25 · metered $108.50 · manual $40.00" in text
    assert "Spend report — November 2026" in text and "1 Nov 2026 – 30 Nov 2026" in text
    assert "days in UTC · figures in USD · scope: all spend" in text


def test_report_monthly_pdf_breakdowns_top_rest_and_basis(ledger: Engine, cli: Cli, tmp_path: Path) -> None:
    cli("report", "monthly", "--month", "2026-11", "-o", "r.pdf")
    text = pdf_text((tmp_path / "r.pdf").read_bytes())
    # provider: openai $200.25 billed (Oct $150.00: +$50.25), 200.25 / 348.75 = 57.42 % → 57.4 %
    assert "openai $200.25 57.4 % $150.00 +$50.25 billed" in text
    # anthropic $108.50 metered (Oct $50.00), 31.1 %; mistral $40.00 manual, 11.5 %
    assert "anthropic $108.50 31.1 % $50.00 +$58.50 metered" in text
    assert "mistral $40.00 11.5 % $0.00 +$40.00 manual" in text
    assert "Total $348.75 100.0 % $200.00 +$148.75 billed + metered + manual" in text
    # users: (none) $240.25 (the bills and the invoice), ann $30.50, u_12..u_05; then u_04..u_01
    assert "the top 10 of 14 users" in text
    assert "(none) $240.25 68.9 %" in text and "u_05 $5.00" in text and "u_04 $4.00" not in text
    assert "the other 4 $10.00 2.9 % $0.00 +$10.00 metered" in text
    # projects: support-bot 120.00 + 30.50 = $150.50 (Oct 150 + 50 = $200.00); search 80.25 + 78 = $158.25
    assert "search $158.25 45.4 % $0.00 +$158.25 billed + metered" in text
    assert "support-bot $150.50 43.2 % $200.00 -$49.50 billed + metered" in text


def test_report_monthly_pdf_budgets_anomalies_reconciliation(
    ledger: Engine, cli: Cli, tmp_path: Path
) -> None:
    cli("report", "monthly", "--month", "2026-11", "-o", "r.pdf")
    text = pdf_text((tmp_path / "r.pdf").read_bytes())
    # $348.75 of $300: over by $48.75, 348.75 / 300 = 116.25 % → 116.2 % (half to even)
    assert (
        "all spend (everything, monthly) 1 Nov – 30 Nov 2026 $348.75 $300.00 116.2 % over by $48.75" in text
    )
    # support-bot's weeks ending in November (Oct 26 – Dec 6: six), the week of Nov 2–8 at $120.00
    assert (
        "support weekly (project=support-bot, weekly) 6 weeks, 26 Oct – 6 Dec 2026 $120.00 $100.00 120.0 %"
        in text
    )
    assert "1 of 6 weeks over; the highest shown (the last still running)" in text
    # anomalies against a history of nothing: the first bill, and the twelve users' day
    assert "2026-11-05 model (none) $120.00 $0.00 also seen in project support-bot ($120.00)" in text
    assert "2026-11-12 model m $78.00 $0.00 15 % of the jump is user u_12; likely requests ×12.0" in text
    assert "The basis of the figures" in text and "billed: the provider's bill" in text


def _amount(shown: str) -> Decimal:
    """A figure as the PDF shows it ("-$1,234.56", "$0.00074") as a Decimal."""
    return Decimal(shown.replace("$", "").replace(",", ""))


def _pdf_reconciliation(text: str, providers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The PDF's reconciliation read back, in the API's shape (money to the cent): per
    provider its summary row, and the gap's categories from "The gap explained"."""
    section = text[text.index("Reconciliation each provider") : text.index("The basis of the figures")]
    summary, _, explained = section.partition("The gap explained")
    found = []
    for p in providers:
        name, currency = re.escape(p["provider"]), p["currency"]
        row = re.search(rf" {name} {currency} (\S+) (\S+) (—|\S+ %) (\S+) (\d+) of (\d+)", summary)
        assert row, (p["provider"], summary)
        billed, metered, coverage, gap, flagged, days = row.groups()
        gaps = {}
        for category in CATEGORIES:
            label = re.escape(CATEGORY_SHORT[category])
            shown = re.findall(rf" {name} {label} (\S+)", explained)
            if shown:
                (amount,) = shown
                gaps[category] = cents(_amount(amount))
        found.append(
            {
                "provider": p["provider"],
                "billed": cents(_amount(billed)),
                "metered": cents(_amount(metered)),
                "coverage_pct": None if coverage == "—" else coverage.removesuffix(" %"),
                "gap": cents(_amount(gap)),
                "gaps": gaps,
                "flagged": int(flagged),
                "days": int(days),
            }
        )
    return found


def _api_reconciliation(client: TestClient, start: str, end: str) -> list[dict[str, Any]]:
    answer = client.get("/api/v1/reconcile", params={"from": start, "to": end})
    assert answer.status_code == 200, answer.text
    return answer.json()["providers"]  # type: ignore[no-any-return]


def _to_the_cent(providers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The API's providers in `_pdf_reconciliation`'s shape: each figure rounded to the cent."""
    return [
        {
            "provider": p["provider"],
            "billed": cents(Decimal(p["billed"])),
            "metered": cents(Decimal(p["metered"])),
            "coverage_pct": p["coverage_pct"],
            "gap": cents(Decimal(p["gap"])),
            "gaps": {c: cents(Decimal(v)) for c, v in p["gaps"].items()},
            "flagged": len(p["flagged_days"]),
            "days": p["days"],
        }
        for p in providers
    ]


def test_report_monthly_pdf_reconciliation_is_the_reconcile_commands_to_the_cent(
    ledger: Engine, cli: Cli, client: TestClient, tmp_path: Path
) -> None:
    cli("report", "monthly", "--month", "2026-11", "-o", "r.pdf")
    text = pdf_text((tmp_path / "r.pdf").read_bytes())
    api = _api_reconciliation(client, "2026-11-01", "2026-11-30")
    printed = json.loads(
        cli("reconcile", "--from", "2026-11-01", "--to", "2026-11-30", "--format", "json").stdout
    )
    assert printed["providers"] == api  # the CLI prints the API's document
    assert _pdf_reconciliation(text, api) == _to_the_cent(api)
    # by hand (report_ledger): openai's bill names no model, so its $120.00 + $80.25 = $200.25
    # are non-token lines ("other"); its one metered call, $90.00 on Nov 5, matches no billed
    # model: unexplained −$90.00; gap 200.25 − 90.00 = $110.25, coverage 90 / 200.25 = 44.94 %
    # → 44.9 %. anthropic: no bill syncs it, so its $30.50 + $78.00 = $108.50 is outside.
    assert "openai USD $200.25 $90.00 44.9 % $110.25 2 of 2" in text
    assert "anthropic USD $0.00 $108.50 — -$108.50 2 of 2" in text
    assert "openai non-token items $200.25 other non-token items $200.25" in text
    assert "openai unexplained -$90.00" in text and "anthropic outside synced accounts -$108.50" in text


def test_report_pdf_reconciliation_of_the_demo_has_every_category_as_the_api(
    engine: Engine, client: TestClient
) -> None:
    load_demo(engine, tz=ZoneInfo("UTC"), end=date(2026, 11, 23), days=60)
    with engine.connect() as conn:
        figures = period_report(
            conn,
            period=parse_period("2026-10"),
            today=date(2026, 11, 23),
            timezone="UTC",
            now=datetime(2026, 11, 23, 12, tzinfo=UTC),
        )
    text = pdf_text(render_pdf(figures))
    api = _api_reconciliation(client, "2026-10-01", "2026-10-31")
    assert _pdf_reconciliation(text, api) == _to_the_cent(api)
    # demo_bill.py injects missed calls, an account outside any sync, a negotiated price,
    # non-token lines and rounding (tests/test_reconcile_demo.py sums each by hand)
    shown = {c for p in api for c in p["gaps"]}
    assert {"missed", "outside", "priced", "non_token", "rounding"} <= shown


def test_report_pdf_for_a_member_leaves_the_reconciliation_out(ledger: Engine) -> None:
    with ledger.connect() as conn:
        figures = period_report(
            conn,
            period=parse_period("2026-11"),
            today=date(2026, 12, 2),
            timezone="UTC",
            now=datetime(2026, 12, 2, 12, tzinfo=UTC),
            scope={"user": [MEMBER]},
        )
    assert figures.reconciliation is None  # a bill does not split by user
    assert "Reconciliation" not in pdf_text(render_pdf(figures))


def test_report_weekly_pdf_covers_an_iso_week(ledger: Engine, cli: Cli, tmp_path: Path) -> None:
    cli("report", "weekly", "--week", "2026-W45")
    text = pdf_text((tmp_path / "spendledger-2026-W45.pdf").read_bytes())
    # week 45: Nov 2–8; billed $120.00 + $80.25 = $200.25; the week before (Oct 26 – Nov 1): nothing
    assert "Spend report — Week 45 of 2026 (2 Nov – 8 Nov)" in text
    assert "Total spend $200.25" in text and "Change +$200.25 (nothing spent before)" in text


def test_report_monthly_in_another_currency_converts_at_the_rates(
    ledger: Engine, cli: Cli, client: TestClient, tmp_path: Path
) -> None:
    refused = cli("report", "monthly", "--month", "2026-11", "--currency", "EUR", ok=False)
    assert refused.exit_code == 2 and "no exchange rates for EUR" in refused.output
    assert cli("report", "monthly", "--month", "2026-11", "--currency", "usd", "-o", "x.pdf").exit_code == 0

    cli("fx", "set", "2026-10-01", "USD", "1.25")  # 1 EUR = 1.25 USD from Oct 1 (every later day takes it)
    cli("report", "monthly", "--month", "2026-11", "--currency", "EUR", "-o", "eur.pdf")
    text = pdf_text((tmp_path / "eur.pdf").read_bytes())
    api = client.get("/api/v1/spend", params={"from": "2026-11-01", "to": "2026-11-30", "currency": "EUR"})
    assert Decimal(api.json()["total"]) == Decimal("279.00")  # $348.75 / 1.25
    # October: $200.00 / 1.25 = €160.00; change €119.00, 119 / 160 = 74.375 % → +74.4 %
    assert f"Total spend {display_money(Decimal('279.00'), 'EUR')}" in text
    assert f"Change +{display_money(Decimal('119.00'), 'EUR')} (+74.4 %)" in text
    assert "figures in EUR" in text
    bad = cli("report", "monthly", "--month", "2026-13", ok=False)
    assert bad.exit_code == 2 and "'2026-13' is not a month: write YYYY-MM, e.g. 2026-11" in bad.output
    future = cli("report", "monthly", "--month", "2099-01", ok=False)
    assert future.exit_code == 2 and "2099-01 has not started yet" in future.output


@pytest.fixture
def member_client(settings: Settings, ledger: Engine) -> Iterator[TestClient]:
    add_user(ledger, MEMBER, "a member's passphrase", "member")
    with TestClient(create_app(settings)) as client:
        assert login(client, MEMBER, "a member's passphrase").status_code == 303
        yield client


def test_download_is_a_pdf_with_the_api_totals(ledger: Engine, admin_client: TestClient) -> None:
    answer = admin_client.get("/reports/2026-11.pdf")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/pdf"
    assert answer.headers["content-disposition"] == 'attachment; filename="spendledger-2026-11.pdf"'
    text = pdf_text(answer.content)
    assert f"Total spend {_api_total(admin_client, '2026-11-01', '2026-11-30')}" in text
    assert text.count("Budgets") == 1 and "all spend (everything, monthly)" in text
    assert display_money(Decimal(NOVEMBER_TOTAL), "USD") in text and OCTOBER_TOTAL in text
    page = admin_client.get("/reports")
    assert page.status_code == 200 and 'href="/reports/2026-11.pdf"' in page.text
    assert "$348.75" in page.text and 'href="/reports/2026-W45.pdf"' in page.text


def test_download_for_a_member_holds_their_scope_and_no_budgets(member_client: TestClient) -> None:
    answer = member_client.get("/reports/2026-11.pdf")
    assert answer.status_code == 200
    text = pdf_text(answer.content)
    scoped = _api_total(member_client, "2026-11-01", "2026-11-30")  # the session's own scope
    assert scoped == "$30.50"  # only the call recorded under ann@example.com
    assert f"Total spend {scoped}" in text and f"scope: user={MEMBER}" in text
    assert "Budgets" not in text and "$348.75" not in text and "u_12" not in text


def test_download_refuses_bad_periods_and_currencies_with_400(
    ledger: Engine, admin_client: TestClient
) -> None:
    for path in (
        "/reports/2026-13.pdf",
        "/reports/nope.pdf",
        "/reports/2026-W54.pdf",
        "/reports/2099-01.pdf",
    ):
        answer = admin_client.get(path)
        assert answer.status_code == 400, (path, answer.text)
    answer = admin_client.get("/reports/2026-11.pdf", params={"currency": "EUR"})
    assert answer.status_code == 400 and answer.json()["param"] == "currency"


def test_download_needs_a_login(settings: Settings, ledger: Engine) -> None:
    add_user(ledger, "admin@example.com", "correct horse battery", "admin")
    with TestClient(create_app(settings)) as client:
        answer = client.get("/reports/2026-11.pdf", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login?next=")


@hypothesis_settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.text(max_size=20) | st.from_regex(r"[0-9]{4}-W?[0-9]{1,2}", fullmatch=True))
def test_parse_period_takes_any_text_and_names_the_problem(key: str) -> None:
    try:
        period = parse_period(key)
    except QueryError as exc:
        assert exc.param == "period" and str(exc)
    else:
        assert parse_period(period.key) == period and period.start <= period.end


@hypothesis_settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    key=st.text(max_size=24) | st.from_regex(r"(19|20|21)[0-9]{2}-W?[0-9]{2}", fullmatch=True),
    currency=st.none() | st.text(max_size=8),
)
def test_download_answers_any_period_and_currency_without_a_server_error(
    admin_client: TestClient, key: str, currency: str | None
) -> None:
    params = {} if currency is None else {"currency": currency}
    answer = admin_client.get(f"/reports/{quote(key, safe='')}.pdf", params=params)
    assert answer.status_code in (200, 400, 404), (key, currency, answer.status_code, answer.text[:200])
    if answer.status_code == 400:
        assert answer.json()["param"] in ("period", "month", "week", "currency"), answer.text


def test_a_month_still_running_is_compared_with_as_many_days_before(ledger: Engine) -> None:
    with ledger.connect() as conn:
        figures = period_report(
            conn,
            period=parse_period("2026-11"),
            today=date(2026, 11, 20),
            timezone="UTC",
            now=datetime(2026, 11, 20, 12, tzinfo=UTC),
        )
    text = pdf_text(render_pdf(figures))
    # Nov 1–20: 120.00 + 80.25 + 30.50 + 78.00 = $308.75 (the Nov 30 invoice not yet);
    # Oct 1–20: 150.00 + 50.00 = $200.00; +$108.75, 108.75 / 200 = 54.375 % → +54.4 %
    assert "1 Nov 2026 – 20 Nov 2026 (to date; the month ends 30 Nov)" in text
    assert "Total spend $308.75 Previous: 1 Oct – 20 Oct 2026 (as many days) $200.00" in text
    assert "Change +$108.75 (+54.4 %)" in text
    # the weekly budget's week of Nov 16–22 is still running on the 20th
    assert "4 weeks, 26 Oct – 22 Nov 2026 $120.00 $100.00 120.0 % 1 of 4 weeks over" in text
