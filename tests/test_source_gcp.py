"""The Google connector against the fake BigQuery, over real HTTP on 127.0.0.1.

Nothing of ours is mocked: google-cloud-bigquery and google-auth talk to the fake
(`endpoint_url`, the key file's `token_uri`), the token exchange signs a real JWT that
the fake verifies with the service account's public key, and the fake runs the
connector's SQL (translated by sqlglot) on DuckDB against a table of the export's
schema. The fake knows its own truth in integer micro-dollars (`expected_costs()`), so
the ledger is compared with it to the cent. Retries never sleep: the policy records waits.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from clirun import Cli, cli_runner
from fakes.gcp_bigquery import SA_EMAIL, TABLE, FakeBigQuery, ServiceAccount
from logins import csrf_of
from spendledger.records import Basis, PricingStatus, TokenCounts, UsageRecord, cents
from spendledger.sources._gcp_skus import model_of_sku, token_kind_of_sku
from spendledger.sources._http import RetryPolicy
from spendledger.sources.base import Page, SourceConfig, SourceError, connector_for
from spendledger.sources.gcp import GcpConnector, parse_page
from spendledger.store.tables import sources

START = date(2025, 3, 1)
SINCE = datetime(2025, 3, 1, tzinfo=UTC)
UNTIL = SINCE + timedelta(days=9)  # the fake has 7 days: the last two are empty
FIRST, LAST = "2025-03-01", "2025-03-09"


@pytest.fixture(scope="module")
def account() -> ServiceAccount:
    return ServiceAccount()  # one RSA key pair for the module (generating one takes ~0.1 s)


@pytest.fixture
def fake(account: ServiceAccount) -> Iterator[FakeBigQuery]:
    # 40 rows a result page: a day (~100 lines) runs over three pages
    with FakeBigQuery(account=account, start=START, days=7, projects=3, page_rows=40) as server:
        yield server


Connect = Callable[..., tuple[GcpConnector, list[float]]]


@pytest.fixture
def connect(fake: FakeBigQuery) -> Iterator[Connect]:
    opened: list[GcpConnector] = []

    def make(key: str | None = None, **options: str) -> tuple[GcpConnector, list[float]]:
        waits: list[float] = []
        policy = RetryPolicy(max_attempts=4, backoff=0.5, sleep=waits.append)
        config = SourceConfig(
            "Acme AI", key or fake.key_file(), {"table": TABLE, "endpoint_url": fake.url} | options
        )
        opened.append(GcpConnector(config, policy=policy))
        return opened[-1], waits

    yield make
    for connector in opened:
        connector.close()


def pages(connector: GcpConnector, since: datetime = SINCE, until: datetime = UNTIL) -> list[Page]:
    return list(connector.fetch("costs", since, until))


def records(connector: GcpConnector, **window: datetime) -> list[UsageRecord]:
    return [r for p in pages(connector, **window) for r in p.records]


def by_day_project_model(recs: list[UsageRecord]) -> dict[tuple[str, str, str], Decimal]:
    out: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    for r in recs:
        out[(r.start.date().isoformat(), r.project, r.model)] += r.cost or Decimal(0)
    return dict(out)


# ---- the figures ----------------------------------------------------------------------------


def test_gcp_one_row_by_hand(account: ServiceAccount) -> None:
    with FakeBigQuery(account=account, start=START, days=1, projects=1, windows=1) as fake:
        config = SourceConfig("Acme AI", fake.key_file(), {"table": TABLE, "endpoint_url": fake.url})
        connector = GcpConnector(config)
        recs = [r for r in records(connector) if r.tags["sku_id"] == "A1B2-0001-0001"]
        connector.close()
    # day 0, window 0, project 0, SKU 0: draw = (7919 + 104729 + 1299709 + 15485863) % 100003
    # = 16898220 % 100003 = 97716; usage = 1000 + 97716 × 20 = 1,955,320 tokens;
    # cost = 1,955,320 × $1.25/M = $2.444150; a promotion credit (project 0, 97716 % 3 == 0)
    # of -$0.244415 (a tenth); no free tier (97716 % 5 == 1); net $2.199735
    usage, credit = sorted(recs, key=lambda r: r.tags["charge"], reverse=True)
    assert usage.cost == Decimal("2.444150") and usage.tokens == TokenCounts(input=1_955_320)
    assert usage.tags["usage_amount"] == 1_955_320 and usage.tags["usage_unit"] == "count"
    assert credit.cost == Decimal("-0.244415") and credit.tokens == TokenCounts()
    assert credit.tags["credit_type"] == "PROMOTION" and credit.tags["charge"] == "credit"
    assert usage.cost + credit.cost == Decimal("2.199735")
    assert usage.model == credit.model == "gemini-2.5-pro"


def test_gcp_net_costs_equal_the_fake_to_the_cent(fake: FakeBigQuery, connect: Connect) -> None:
    connector, _ = connect()
    recs = records(connector)
    got, expected = by_day_project_model(recs), fake.expected_costs()
    assert got == expected  # exactly: FLOAT64 cast to NUMERIC before summing, never summed as floats
    assert {k: cents(v) for k, v in got.items()} == {k: cents(v) for k, v in expected.items()}
    gross = by_day_project_model([r for r in recs if r.tags["charge"] == "usage"])
    assert gross == fake.expected_costs(part="gross")  # the gross is one filter away
    credits = [r for r in recs if r.tags["charge"] == "credit"]
    assert credits and all(r.cost is not None and r.cost < 0 for r in credits)
    assert {r.tags["credit_type"] for r in credits} == {"FREE_TIER", "PROMOTION"}
    assert not any(r.tags["service"] == "Compute Engine" for r in recs)  # AI services only
    for r in recs:
        assert (r.basis, r.pricing_status, r.requests, r.provider) == (
            Basis.BILLED,
            PricingStatus.PROVIDER,
            0,
            "google",
        )
        assert (r.source, r.account, r.currency) == ("Acme AI", "Acme AI", "USD")
        assert r.key.startswith("costs|") and r.end == r.start + timedelta(days=1)


def test_gcp_tokens_equal_the_fake(fake: FakeBigQuery, connect: Connect) -> None:
    connector, _ = connect()
    got: dict[tuple[str, str], TokenCounts] = defaultdict(TokenCounts)
    for r in records(connector):
        r.tokens.validate()
        got[(r.start.date().isoformat(), r.model)] += r.tokens
    got = {k: v for k, v in got.items() if v != TokenCounts()}
    assert got == {k: TokenCounts(**v) for k, v in fake.expected_tokens().items()}
    assert any(t.cached_input and t.reasoning for t in got.values())
    assert any(t.audio_input for t in got.values())


def test_gcp_labels_become_tags_and_dimensions(connect: Connect) -> None:
    connector, _ = connect()
    recs = records(connector)
    alice = [r for r in recs if r.user == "alice"]
    assert alice and all(r.feature == "chat" and r.tags["labels"]["env"] == "prod" for r in alice)
    atlas = [r for r in recs if r.project == "atlas"]  # a `project` label names the project
    assert atlas and all(r.tags["gcp_project"].startswith("proj-") for r in atlas)
    assert {r.project for r in recs} == {"atlas", "proj-000-ai", "proj-001-ai", "proj-002-ai"}
    assert all("labels" not in r.tags for r in recs if not r.user and r.project != "atlas" and not r.feature)


def test_gcp_currency_as_billed(account: ServiceAccount) -> None:
    with FakeBigQuery(account=account, start=START, days=2, projects=1, currency="EUR") as fake:
        config = SourceConfig("Acme AI", fake.key_file(), {"table": TABLE, "endpoint_url": fake.url})
        connector = GcpConnector(config)
        recs = records(connector)
        connector.close()
        assert recs and {r.currency for r in recs} == {"EUR"}
        assert by_day_project_model(recs) == fake.expected_costs()


# ---- paging, days and the query --------------------------------------------------------------


def test_gcp_pages_hold_whole_days_in_order(fake: FakeBigQuery, connect: Connect) -> None:
    connector, _ = connect()
    got = pages(connector)
    assert [p.number for p in got] == list(range(1, len(got) + 1)) and len(got) > 7
    days = [start for p in got for start, _end in p.buckets]
    assert days == [SINCE + timedelta(days=d) for d in range(9)]  # each once; the empty 8th and 9th too
    for page in got:  # a page's records are exactly the records of the days it lists
        assert {r.start for r in page.records} <= {start for start, _ in page.buckets}
    assert any(not p.buckets for p in got)  # a long day made a page wait for the next
    tokens = [q.get("pageToken") for method, path, q, _ in fake.requests if "/queries/" in path]
    assert len([t for t in tokens if t]) >= 15  # pageToken paging, one request per page


def test_gcp_query_is_parameterised_and_filtered(fake: FakeBigQuery, connect: Connect) -> None:
    connector, _ = connect(services="Vertex AI")
    recs = records(connector)
    assert {r.tags["service"] for r in recs} == {"Vertex AI"}
    assert by_day_project_model(recs) == fake.expected_costs(("Vertex AI",))
    late_sql, late_params = fake.queries[0]
    sql, params = fake.queries[1]
    assert "@start" in sql and "@late_days" in sql and "2025" not in sql and "Vertex" not in sql
    assert params["services"] == ["Vertex AI"] and params["start"] == SINCE and params["end"] == UNTIL
    assert "export_time >= @start" in late_sql and late_params["lookback"] == SINCE - timedelta(days=35)


def test_gcp_revised_day_replaces_its_figures(fake: FakeBigQuery, connect: Connect) -> None:
    connector, _ = connect()
    before = by_day_project_model(records(connector))
    fake.revise("2025-03-03", micros=7_654_321)  # a late adjustment of +$7.654321
    after_records = records(connector)
    after = by_day_project_model(after_records)
    changed = {k for k in after if after[k] != before.get(k)}
    assert changed == {("2025-03-03", "proj-000-ai", "gemini-2.5-pro")}
    (key,) = changed
    assert after[key] - before[key] == Decimal("7.654321")
    assert after == fake.expected_costs()
    adjustment = [r for r in after_records if r.tags.get("cost_type") == "adjustment"]
    assert len(adjustment) == 1 and "|adjustment|" in adjustment[0].key


def test_gcp_late_rows_of_an_older_day_reread_it_whole(fake: FakeBigQuery, connect: Connect) -> None:
    connector, _ = connect()
    since = SINCE + timedelta(days=4)
    fake.revise("2025-03-02", micros=1_000_000, exported=since + timedelta(hours=30))  # credit revised late
    got = pages(connector, since=since, until=SINCE + timedelta(days=7))
    listed = [start.date() for p in got for start, _ in p.buckets]
    # Mar 2 (revised late) and Mar 4 (its last usage window was exported on Mar 5) are read again
    assert listed == [date(2025, 3, d) for d in (2, 4, 5, 6, 7)]
    recs = by_day_project_model([r for p in got for r in p.records])
    assert {k: v for k, v in recs.items() if k[0] == "2025-03-02"} == {
        k: v for k, v in fake.expected_costs().items() if k[0] == "2025-03-02"
    }


def test_gcp_check_describes_the_export(account: ServiceAccount, connect: Connect) -> None:
    connector, _ = connect()
    seen = connector.check()
    assert seen.startswith(f"BigQuery table {TABLE} reachable: standard billing export, ")
    assert connector_for("gcp") is GcpConnector
    with FakeBigQuery(account=account, days=1, projects=1, detailed=True) as fake:
        config = SourceConfig("Acme AI", fake.key_file(), {"table": TABLE, "endpoint_url": fake.url})
        detailed = GcpConnector(config)
        assert "detailed billing export" in detailed.check()
        assert records(detailed, since=SINCE, until=SINCE + timedelta(days=1))
        detailed.close()


# ---- keys, permissions, throttling -------------------------------------------------------------


def test_gcp_wrong_key_is_an_auth_error(fake: FakeBigQuery, connect: Connect) -> None:
    impostor = ServiceAccount().key_file(fake.token_uri)  # the right account, another key pair
    connector, waits = connect(key=impostor)
    with pytest.raises(SourceError) as caught:
        connector.check()
    message = str(caught.value)
    assert caught.value.kind == "auth" and caught.value.stops_source and waits == []
    assert "invalid_grant" in message and "Invalid JWT Signature" in message
    assert "create a new JSON key for " + SA_EMAIL in message and "PRIVATE KEY" not in message


def test_gcp_deleted_account_is_an_auth_error(fake: FakeBigQuery, connect: Connect) -> None:
    gone = ServiceAccount(email="deleted@billing-admin-4821.iam.gserviceaccount.com")
    connector, _ = connect(key=gone.key_file(fake.token_uri))
    with pytest.raises(SourceError, match="account not found") as caught:
        pages(connector)
    assert caught.value.kind == "auth"


@pytest.mark.parametrize(
    ("key", "said"),
    [
        (
            '{"type": "authorized_user", "client_id": "x", "refresh_token": "y"}',
            "a user's gcloud credentials",
        ),
        ("sk-admin-1234567890abcdef", "the key is not JSON"),
        ('{"type": "service_account", "client_email": "a@b.c"', "it looks cut short"),
        ('{"type": "service_account", "client_email": "a@b.c"}', "lacks or garbles private_key"),
    ],
)
def test_gcp_key_that_is_not_a_service_account_key(key: str, said: str) -> None:
    with pytest.raises(SourceError) as caught:
        GcpConnector(SourceConfig("Acme AI", key, {"table": TABLE}))
    assert caught.value.kind == "auth" and said in str(caught.value)
    assert "Add key → JSON" in str(caught.value) and "refresh_token" not in str(caught.value)


def test_gcp_missing_dataset_grant_is_a_permission_error(fake: FakeBigQuery, connect: Connect) -> None:
    fake.data_viewer = False
    connector, waits = connect()
    with pytest.raises(SourceError) as caught:
        pages(connector)
    message = str(caught.value)
    assert caught.value.kind == "permission" and waits == []
    assert (
        "costs (late rows): 403 accessDenied: Access Denied: Table billing-admin-4821:billing_export."
        in message
    )
    assert "needs roles/bigquery.dataViewer on the dataset billing-admin-4821.billing_export" in message
    assert "roles/bigquery.jobUser on the project billing-admin-4821; grant them in IAM" in message


def test_gcp_missing_job_grant_names_the_job_project(fake: FakeBigQuery, connect: Connect) -> None:
    fake.job_user = False
    connector, _ = connect(job_project="finops-jobs")
    with pytest.raises(SourceError) as caught:
        connector.check()
    assert caught.value.kind == "permission"
    assert "bigquery.jobs.create permission in project finops-jobs" in str(caught.value)
    assert "roles/bigquery.jobUser on the project finops-jobs" in str(caught.value)


def test_gcp_unknown_table_names_the_table_option(connect: Connect) -> None:
    wrong = "billing-admin-4821.billing_export.gcp_billing_export_v1_FFFFFF_FFFFFF_FFFFFF"
    connector, _ = connect(table=wrong)
    with pytest.raises(SourceError) as caught:
        pages(connector)
    assert caught.value.kind == "not_found" and f"check the table option: table={wrong}" in str(caught.value)


def test_gcp_429_honours_retry_after(fake: FakeBigQuery, connect: Connect) -> None:
    connector, waits = connect()
    fake.fail(429, "rateLimitExceeded", at=3, retry_after=7, path="/queries/")
    assert [start for p in pages(connector) for start, _ in p.buckets][-1] == UNTIL - timedelta(days=1)
    assert waits == [7.0]


def test_gcp_rate_limit_forever_is_rate_limited(fake: FakeBigQuery, connect: Connect) -> None:
    connector, waits = connect()
    fake.fail(403, "rateLimitExceeded", times=None, path="/queries")
    with pytest.raises(SourceError) as caught:
        pages(connector)
    assert caught.value.kind == "rate_limited" and not caught.value.stops_source
    assert waits == [0.5, 1.0, 2.0] and "after 4 attempts" in str(caught.value)
    assert "BigQuery keeps rate-limiting; sync again later" in str(caught.value)


def test_gcp_backend_error_is_retried(fake: FakeBigQuery, connect: Connect) -> None:
    connector, waits = connect()
    fake.fail(503, "backendError", times=2, path="/queries")
    assert len(pages(connector)) > 7 and waits == [0.5, 1.0]


def test_gcp_401_from_bigquery_is_an_auth_error(fake: FakeBigQuery, connect: Connect) -> None:
    connector, _ = connect()
    fake.fail(401, "authError", times=None, path="/bigquery/")
    with pytest.raises(SourceError) as caught:
        connector.check()
    assert caught.value.kind == "auth" and "token was refused" in str(caught.value)


# ---- malformed results -------------------------------------------------------------------------


def test_gcp_malformed_page_names_page_row_and_column(fake: FakeBigQuery, connect: Connect) -> None:
    connector, _ = connect()
    fake.malform(page=2, column="amount", value="abc")
    fetched = connector.fetch("costs", SINCE, UNTIL)
    assert next(fetched).number == 1
    with pytest.raises(SourceError) as caught:
        next(fetched)
    message = str(caught.value)
    assert (caught.value.kind, caught.value.endpoint, caught.value.page) == ("malformed", "costs", 2)
    assert 'Google source "Acme AI", costs (page 2): unexpected data at rows[0].amount' in message


def test_gcp_null_day_is_malformed(fake: FakeBigQuery, connect: Connect) -> None:
    connector, _ = connect()
    fake.malform(page=1, column="day", value=None)
    with pytest.raises(SourceError, match=r"costs \(page 1\): unexpected data at rows\[0\]\.day"):
        pages(connector)


_CELL = st.one_of(
    st.none(), st.text(max_size=12), st.sampled_from(["2025-03-01", "1.5", "-0.25", "USD", "NaN"])
)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=12,
)
_ROWS = st.lists(
    st.fixed_dictionaries({"f": st.lists(st.fixed_dictionaries({"v": _CELL}), min_size=15, max_size=17)}),
    max_size=3,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(_JSON, st.fixed_dictionaries({"rows": _ROWS}), st.fixed_dictionaries({"rows": _JSON})))
def test_gcp_garbage_pages_only_raise_source_errors(raw: Any) -> None:
    try:
        lines = parse_page(raw, source="Acme AI", page=3)
    except SourceError as exc:
        assert exc.kind == "malformed" and exc.page == 3 and "costs (page 3)" in str(exc)
    else:
        assert all(line.amount.is_finite() for line in lines)


# ---- SKUs --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sku", "model", "kind"),
    [
        ("Gemini 2.5 Flash GA Text Input - Predictions", "gemini-2.5-flash", "input"),
        ("Gemini 2.5 Flash GA Thinking Text Output - Predictions", "gemini-2.5-flash", "reasoning"),
        ("Gemini 2.5 Flash GA Text Output (Thinking On) - Predictions", "gemini-2.5-flash", "output"),
        (" Gemini 2.5 Flash GA Input Text Caching", "gemini-2.5-flash", "cached_input"),
        ("Gemini 2.5 Flash Input Text Caching Storage", "gemini-2.5-flash", None),
        ("Gemini 2.5 Flash Lite Text Input - Predictions", "gemini-2.5-flash-lite", "input"),
        ("Gemini 2.5 Pro Input Text Tokens", "gemini-2.5-pro", "input"),
        ("Gemini 3.1 Flash Image Text Output - Predictions", "gemini-3.1-flash-image", "output"),
        ("Generate content input token count gemini 2.5 flash short input text", "gemini-2.5-flash", "input"),
        ("Generate content cached input token count gemini 3 flash text", "gemini-3-flash", "cached_input"),
        ("Generate content output token count gemini 3.1 flash lite preview text",
         "gemini-3.1-flash-lite-preview", "output"),
        ("Generate content input token count gemini 2.5 flash input audio", "gemini-2.5-flash",
         "audio_input"),
        ("Generate_content_cached_input_token_count_gemini_3_pro_short_image", "gemini-3-pro",
         "cached_input"),
        ("Grounding with Google Search", "", None),
        ("N2 Instance Core running in Americas", "", None),
    ],
)  # fmt: skip
def test_gcp_sku_gives_model_and_token_kind(sku: str, model: str, kind: str | None) -> None:
    assert (model_of_sku(sku), token_kind_of_sku(sku)) == (model, kind)


# ---- the whole path: CLI, ledger, report --------------------------------------------------------


@pytest.fixture
def cli(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    return cli_runner(db_url, tmp_path, monkeypatch, SPENDLEDGER_TIMEZONE="UTC")


def _report(cli: Cli) -> dict[tuple[str, str, str], Decimal]:
    result = cli(
        "report", "--from", FIRST, "--to", LAST, "--by", "account,project,model", "--granularity", "day",
        "--basis", "billed", "--format", "json",
    )  # fmt: skip
    out: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    for row in json.loads(result.stdout)["rows"]:
        assert row["account"] == "Acme AI"
        out[(row["period"], row["project"] or "", row["model"] or "")] += Decimal(row["cost"])
    return {k: cents(v) for k, v in out.items() if v}


def _cents(expected: dict[tuple[str, str, str], Decimal]) -> dict[tuple[str, str, str], Decimal]:
    return {k: cents(v) for k, v in expected.items() if cents(v)}


def test_gcp_cli_add_test_sync_report_equal_the_fake(
    fake: FakeBigQuery, cli: Cli, engine: Engine, db_url: str
) -> None:
    key = fake.key_file()
    assert "\n" in key  # a pretty-printed key file, piped whole
    cli("sources", "add", "gcp", "--name", "Acme AI", "--key-stdin", "--option", f"table={TABLE}",
        "--option", f"endpoint_url={fake.url}", stdin=key + "\n")  # fmt: skip
    assert cli("sources", "test", "Acme AI").stdout.startswith(f"OK: BigQuery table {TABLE} reachable")
    cli("sync", "--since", FIRST, "--until", LAST)
    expected = _cents(fake.expected_costs())
    assert _report(cli) == expected
    cli("sync", "--since", FIRST, "--until", LAST)  # a second run changes nothing
    assert _report(cli) == expected
    fake.revise("2025-03-04", micros=-2_500_000)  # a late credit-like adjustment of -$2.50
    cli("sync", "--since", FIRST, "--until", LAST)
    assert _report(cli) == _cents(fake.expected_costs()) != expected
    listed = cli("sources", "list").stdout
    assert f"spendledger-reader@…{fake.account.key_id[-4:]}" in listed
    with engine.connect() as conn:
        stored = conn.execute(select(sources)).all()
    assert "PRIVATE KEY" not in str(stored) and fake.account.key_id not in str(stored)


def test_gcp_sync_interrupted_then_rerun_is_exact(fake: FakeBigQuery, cli: Cli) -> None:
    cli("sources", "add", "gcp", "--name", "Acme AI", "--key-stdin", "--option", f"table={TABLE}",
        "--option", f"endpoint_url={fake.url}", stdin=fake.key_file())  # fmt: skip
    fake.fail(403, "accessDenied", at=4, times=None, path="/queries/")  # the grant revoked mid-run
    failed = cli("sync", "--since", FIRST, "--until", LAST, ok=False)
    assert failed.exit_code == 1 and "Acme AI" in failed.stderr and "roles/bigquery" in failed.stderr
    partial = _report(cli)
    assert partial and partial != _cents(fake.expected_costs())
    fake.heal()
    cli("sync", "--since", FIRST, "--until", LAST)
    assert _report(cli) == _cents(fake.expected_costs())


def test_gcp_add_refuses_what_is_not_a_key_or_a_table(fake: FakeBigQuery, cli: Cli) -> None:
    user_creds = '{"type": "authorized_user", "client_id": "x", "client_secret": "s", "refresh_token": "r"}'
    refused = cli("sources", "add", "gcp", "--name", "Acme AI", "--key-stdin", "--option", f"table={TABLE}",
                  stdin=user_creds, ok=False)  # fmt: skip
    assert (
        refused.exit_code == 1 and "a user's gcloud credentials, not a service-account key" in refused.output
    )
    assert '"r"' not in refused.output
    no_table = cli(
        "sources", "add", "gcp", "--name", "Acme AI", "--key-stdin", stdin=fake.key_file(), ok=False
    )
    assert no_table.exit_code == 2 and "--option: Table: give the billing export's table" in no_table.output
    assert "Acme AI" not in cli("sources", "list").stdout


def test_gcp_sources_form_checks_the_key_and_the_table(
    admin_client: TestClient, fake: FakeBigQuery, engine: Engine
) -> None:
    def add(**fields: str) -> Any:
        data = {
            "csrf_token": csrf_of(admin_client.get("/sources").text),
            "provider": "gcp", "name": "Acme AI", "key": fake.key_file(), "table": TABLE,
            "job_project": "", "base_url": "", "backfill_days": "90", "interval_minutes": "60",
        }  # fmt: skip
        return admin_client.post("/sources", data=data | fields, follow_redirects=False)

    refused = add(key='{"type": "authorized_user", "refresh_token": "r"}', table="billing_export")
    assert refused.status_code == 400
    assert "Key: the key is a user&#39;s gcloud credentials, not a service-account key" in refused.text
    assert "Table: give the billing export&#39;s table as project.dataset.table" in refused.text
    assert add(key=fake.key_file().replace("\n", "")).status_code == 303  # pasted: no line breaks, still JSON
    with engine.connect() as conn:
        (hint,) = conn.execute(select(sources.c.key_hint)).scalars().all()
    assert hint == f"spendledger-reader@…{fake.account.key_id[-4:]}"
