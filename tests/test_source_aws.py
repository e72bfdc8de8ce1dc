"""The AWS connector against the fake Cost Explorer, through boto3 over real HTTP on 127.0.0.1.

Nothing of ours is mocked: boto3 signs real SigV4 requests to the fake, which verifies
them, computes each answer from its seeded bill for the filter, group-by and metrics
asked, and knows its own truth (`expected_costs()`, `expected_tokens()`). Retries never
sleep: the policy records the waits. The sync tests run the whole path into a real
ledger (SQLite and PostgreSQL) and read it back with `spendledger report --format json`.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from clirun import Cli, cli_runner
from fakes.aws_bill import BEDROCK, EC2, HAIKU, OLD_SONNET, S3, SONNET
from fakes.aws_cost_explorer import (
    ACCESS_KEY_ID,
    DENIED_KEY_ID,
    DENIED_SECRET,
    MISSING,
    SECRET_KEY,
    FakeCostExplorer,
)
from ledger_models import by_ledger_model, kept_provider_models, renamed
from spendledger.config import Settings
from spendledger.records import Basis, PricingStatus, TokenCounts, UsageRecord, cents
from spendledger.sources._aws_usage_types import parse_usage_type, token_scale
from spendledger.sources._http import RetryPolicy
from spendledger.sources.aws import AwsConnector
from spendledger.sources.base import Page, SourceConfig, SourceError, connector_for, source_type
from spendledger.sources_admin import add as add_source
from spendledger.store.tables import sync_runs, usage
from spendledger.sync import sync_source

START = date(2025, 3, 1)
DAYS = 7
SINCE = datetime(2025, 3, 1, tzinfo=UTC)
UNTIL = SINCE + timedelta(days=DAYS)
FIRST, LAST = "2025-03-01", "2025-03-07"
BEDROCK_SERVICES = [BEDROCK, OLD_SONNET, HAIKU, SONNET]


@pytest.fixture
def fake() -> Iterator[FakeCostExplorer]:
    # 3 accounts × 7 days; 12 groups a page: a day runs over 2-3 pages; day 3 has no usage at all
    with FakeCostExplorer(
        start=START, days=DAYS, accounts=3, empty_days=(3,), page_groups=12, page_values=2
    ) as f:
        yield f


Connect = Callable[..., tuple[AwsConnector, list[float]]]


@pytest.fixture
def connect(fake: FakeCostExplorer) -> Iterator[Connect]:
    """Connectors on the fake, each with a policy that records its waits instead of sleeping."""
    opened: list[AwsConnector] = []

    def make(key: str = SECRET_KEY, **options: str) -> tuple[AwsConnector, list[float]]:
        waits: list[float] = []
        policy = RetryPolicy(max_attempts=4, backoff=0.5, sleep=waits.append)
        options = {"access_key_id": ACCESS_KEY_ID, "endpoint_url": fake.url, **options}
        config = SourceConfig("Acme", key, {k: v for k, v in options.items() if v})
        opened.append(AwsConnector(config, policy=policy))
        return opened[-1], waits

    yield make
    for connector in opened:
        connector.close()


def pages(connector: AwsConnector) -> list[Page]:
    return list(connector.fetch("costs", SINCE, UNTIL))


def records(connector: AwsConnector) -> list[UsageRecord]:
    return [r for p in pages(connector) for r in p.records]


def costs_by(recs: list[UsageRecord], dim: str = "") -> dict[tuple[str, str, str], Decimal]:
    out: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    for r in recs:
        out[(r.start.date().isoformat(), getattr(r, dim) if dim else "", r.model)] += r.cost or Decimal(0)
    return dict(out)


# ---- paging and the figures -------------------------------------------------------------------


def test_aws_follows_every_page_and_lists_each_day_once(fake: FakeCostExplorer, connect: Connect) -> None:
    connector, _ = connect()
    got = pages(connector)
    assert [p.number for p in got] == list(range(1, len(got) + 1)) and len(got) > 5
    days = [start for p in got for start, _end in p.buckets]
    assert sorted(days) == [SINCE + timedelta(days=d) for d in range(DAYS)]  # each once, empty day 3 too
    assert any(not p.buckets and p.records for p in got), "a day should run over pages"
    sent = fake.cost_requests()
    assert "NextPageToken" not in sent[0] and all("NextPageToken" in q for q in sent[1:])
    assert len({q["NextPageToken"] for q in sent[1:]}) == len(sent) - 1
    assert all({k: v for k, v in q.items() if k != "NextPageToken"} == sent[0] for q in sent)
    assert sent[0]["TimePeriod"] == {"Start": "2025-03-01", "End": "2025-03-08"}  # End exclusive
    assert sent[0]["Granularity"] == "DAILY" and sent[0]["Metrics"] == ["UnblendedCost", "UsageQuantity"]
    assert sent[0]["GroupBy"] == [
        {"Type": "DIMENSION", "Key": "SERVICE"},
        {"Type": "DIMENSION", "Key": "USAGE_TYPE"},
    ]


def test_aws_reads_every_bedrock_service_and_nothing_else(fake: FakeCostExplorer, connect: Connect) -> None:
    connector, _ = connect()
    recs = records(connector)
    listed = [body for op, body, _key in fake.requests if op == "GetDimensionValues"]
    assert len(listed) == 2 and "NextPageToken" in listed[1]  # 4 services named "…Bedrock…", two a page
    assert all(q["Dimension"] == "SERVICE" and q["SearchString"] == "Bedrock" for q in listed)
    wanted = fake.cost_requests()[0]["Filter"]["Dimensions"]
    assert wanted["Key"] == "SERVICE" and sorted(wanted["Values"]) == sorted(BEDROCK_SERVICES)
    assert {r.tags["service"] for r in recs} == set(BEDROCK_SERVICES)  # the editions, not only Bedrock
    assert not {EC2, S3} & {r.tags["service"] for r in recs}
    assert any(r.model == "Claude Sonnet 4.5" for r in recs) and any(r.model == "NovaPro" for r in recs)


def test_aws_costs_equal_the_fake_to_the_cent(fake: FakeCostExplorer, connect: Connect) -> None:
    connector, _ = connect()
    recs = records(connector)
    expected = fake.expected_costs()
    assert {k: cents(v) for k, v in costs_by(recs).items()} == {k: cents(v) for k, v in expected.items()}
    assert costs_by(recs) == expected  # and exactly: amounts are decimal strings, never floats
    assert cents(sum((r.cost or Decimal(0) for r in recs), Decimal(0))) == cents(fake.total())
    for r in recs:
        assert (r.basis, r.pricing_status, r.requests, r.provider) == (
            Basis.BILLED,
            PricingStatus.PROVIDER,
            0,
            "aws",
        )
        assert (r.source, r.account, r.currency) == ("Acme", "Acme", "USD")
        assert r.key == f"costs|{r.tags['service']}|{r.tags['usage_type']}"
        assert r.end is not None and r.end - r.start == timedelta(days=1) and r.start.tzinfo == UTC
    # the last 2 days are not final yet
    assert {r.start.date() for r in recs if r.tags.get("estimated")} == {date(2025, 3, 6), date(2025, 3, 7)}


def test_aws_tokens_equal_the_fake(fake: FakeCostExplorer, connect: Connect) -> None:
    connector, _ = connect()
    recs = records(connector)
    got: dict[tuple[str, str], TokenCounts] = defaultdict(TokenCounts)
    for r in recs:
        r.tokens.validate()
        if r.tokens != TokenCounts():
            got[(r.start.date().isoformat(), r.model)] += r.tokens
    assert dict(got) == {k: TokenCounts(**v) for k, v in fake.expected_tokens().items()}
    assert any(t.cached_input and t.cache_write_5m and t.cache_write_1h for t in got.values())
    guardrail = [r for r in recs if "Guardrail" in r.tags["usage_type"]]
    assert guardrail and all(r.model == "" and r.tokens == TokenCounts() and r.cost for r in guardrail)
    assert all(r.tags["unit"] == "Units" and Decimal(r.tags["quantity"]) > 0 for r in guardrail)
    flex = [r for r in recs if r.tags["usage_type"].endswith("-flex")]
    assert flex and all(r.service_tier == "flex" for r in flex)
    assert any(r.batch and r.model == "Claude Sonnet 4.5" for r in recs)
    assert {r.tags["region"] for r in recs} == {"us-east-1", "us-west-2"}


def test_aws_group_by_linked_account_reads_each_service_apart(
    fake: FakeCostExplorer, connect: Connect
) -> None:
    connector, _ = connect(group_by="LINKED_ACCOUNT")
    recs = records(connector)
    sent = fake.cost_requests()
    asked = [q["Filter"]["Dimensions"]["Values"] for q in sent if "NextPageToken" not in q]
    assert sorted(v for (v,) in asked) == sorted(BEDROCK_SERVICES)  # at most 2 group-bys: one query a service
    assert all(q["GroupBy"][1] == {"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"} for q in sent)
    assert costs_by(recs, "workspace") == fake.expected_costs(by="workspace")
    assert {r.workspace for r in recs} == {name for _id, name in fake.accounts}
    assert all(r.key.endswith(f"|{r.tags['linked_account_id']}") for r in recs)
    assert sorted(s for p in pages(connector) for s, _e in p.buckets) == [
        SINCE + timedelta(days=d) for d in range(DAYS)
    ]


def test_aws_group_by_tag_fills_the_project(fake: FakeCostExplorer, connect: Connect) -> None:
    connector, _ = connect(group_by="tag:team")
    recs = records(connector)
    assert fake.cost_requests()[0]["GroupBy"][1] == {"Type": "TAG", "Key": "team"}
    assert costs_by(recs, "project") == fake.expected_costs(by="project")
    assert {r.project for r in recs} == {"search", "ads", ""}
    assert all(r.tags["tag"] == {"team": r.project} for r in recs)


def test_aws_cost_metric_option_reads_net_cost(fake: FakeCostExplorer, connect: Connect) -> None:
    connector, _ = connect(cost_metric="NetUnblendedCost")
    recs = records(connector)
    assert fake.cost_requests()[0]["Metrics"] == ["NetUnblendedCost", "UsageQuantity"]
    assert costs_by(recs) == fake.expected_costs("NetUnblendedCost") != fake.expected_costs()


def test_aws_revised_day_replaces_its_figures(fake: FakeCostExplorer, connect: Connect) -> None:
    connector, _ = connect()
    before = {(r.start, r.key): r.cost for r in records(connector)}
    fake.revise("2025-03-02", factor=3)
    after_records = records(connector)
    after = {(r.start, r.key): r.cost for r in after_records}
    assert before.keys() == after.keys()  # the same natural keys: the new version replaces the old
    changed = {start.date() for (start, key), cost in after.items() if before[(start, key)] != cost}
    assert changed == {date(2025, 3, 2)}
    assert costs_by(after_records) == fake.expected_costs()


def test_aws_check_reports_the_services(connect: Connect) -> None:
    connector, _ = connect()
    assert connector.check().startswith("AWS Cost Explorer reachable; ")
    assert connector_for("aws") is AwsConnector and source_type("aws").http is False


# ---- retries and errors -------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["ThrottlingException", "LimitExceededException"])
def test_aws_throttling_is_retried_with_backoff(fake: FakeCostExplorer, connect: Connect, code: str) -> None:
    connector, waits = connect()
    fake.fail(code, at=2, times=2, operation="GetCostAndUsage")
    assert costs_by(records(connector)) == fake.expected_costs()
    assert waits == [0.5, 1.0]


def test_aws_throttling_forever_is_rate_limited(fake: FakeCostExplorer, connect: Connect) -> None:
    connector, waits = connect()
    fake.fail("ThrottlingException", times=None, operation="GetCostAndUsage")
    with pytest.raises(SourceError) as caught:
        pages(connector)
    message = str(caught.value)
    assert caught.value.kind == "rate_limited" and not caught.value.stops_source
    assert waits == [0.5, 1.0, 2.0]  # 4 attempts
    assert 'AWS source "Acme", costs (page 1): ThrottlingException Rate exceeded after 4 attempts' in message
    assert "about 5 requests a second" in message and SECRET_KEY not in message


def test_aws_5xx_retried(fake: FakeCostExplorer, connect: Connect) -> None:
    connector, waits = connect()
    fake.fail("ServiceUnavailableException", at=1, times=1, operation="GetCostAndUsage")
    assert costs_by(records(connector)) == fake.expected_costs() and waits == [0.5]


@pytest.mark.parametrize(
    ("key_id", "secret", "code"),
    [
        (ACCESS_KEY_ID, "wrong+secret/access/key0000000000000000", "InvalidSignatureException"),
        ("AKIAUNKNOWNKEY000003", SECRET_KEY, "UnrecognizedClientException"),
    ],
)
def test_aws_wrong_key_pair_is_an_auth_error(connect: Connect, key_id: str, secret: str, code: str) -> None:
    connector, waits = connect(key=secret, access_key_id=key_id)
    with pytest.raises(SourceError) as caught:
        connector.check()
    message = str(caught.value)
    assert caught.value.kind == "auth" and caught.value.stops_source and waits == []
    assert f'AWS source "Acme", costs: services (page 1): {code}' in message, message
    assert "access_key_id option and the secret access key" in message and secret not in message


def test_aws_region_must_be_cost_explorers(connect: Connect) -> None:
    connector, _ = connect(region="eu-west-1")
    with pytest.raises(SourceError, match="scoped to a valid region") as caught:
        pages(connector)
    assert caught.value.kind == "auth"


def test_aws_key_without_ce_permission_is_a_permission_error(connect: Connect) -> None:
    connector, _ = connect(key=DENIED_SECRET, access_key_id=DENIED_KEY_ID)
    with pytest.raises(SourceError) as caught:
        pages(connector)
    message = str(caught.value)
    assert caught.value.kind == "permission" and "AccessDeniedException" in message
    assert (
        "needs ce:GetCostAndUsage and ce:GetDimensionValues on the payer" in message
        and "grant them in IAM" in message
    )
    assert DENIED_SECRET not in message


def test_aws_data_unavailable_says_so(fake: FakeCostExplorer, connect: Connect) -> None:
    connector, _ = connect()
    fake.fail("DataUnavailableException", operation="GetCostAndUsage")
    with pytest.raises(SourceError, match="enable Cost Explorer in the Billing console") as caught:
        pages(connector)
    assert caught.value.kind == "not_found"


def test_aws_malformed_amount_names_endpoint_page_and_field(fake: FakeCostExplorer, connect: Connect) -> None:
    connector, _ = connect()
    fake.malform(page=2, field="ResultsByTime.0.Groups.1.Metrics.UnblendedCost.Amount", value="abc")
    fetched = connector.fetch("costs", SINCE, UNTIL)
    assert next(fetched).number == 1
    with pytest.raises(SourceError) as caught:
        next(fetched)
    message = str(caught.value)
    assert (caught.value.kind, caught.value.endpoint, caught.value.page) == ("malformed", "costs", 2)
    assert (
        'AWS source "Acme", costs (page 2): unexpected data at ResultsByTime[0].Groups[1].Metrics' in message
    )
    assert "UnblendedCost.Amount" in message and SECRET_KEY not in message


def test_aws_missing_cost_metric_is_malformed(fake: FakeCostExplorer, connect: Connect) -> None:
    connector, _ = connect()
    fake.malform(page=3, field="ResultsByTime.0.Groups.0.Metrics.UnblendedCost", value=MISSING)
    with pytest.raises(
        SourceError, match=r"costs \(page 3\): unexpected data at ResultsByTime\[0\]\.Groups\[0\]"
    ):
        pages(connector)


def test_aws_token_refused_after_a_revision_restarts_the_window(
    fake: FakeCostExplorer, connect: Connect
) -> None:
    connector, _ = connect()
    fetched = connector.fetch("costs", SINCE, UNTIL)
    first = next(fetched)
    fake.revise("2025-03-01", factor=2)  # page 2's token is now stale: RequestChangedException
    rest = list(fetched)
    assert first.buckets[0][0] == SINCE and any(s == SINCE for p in rest for s, _e in p.buckets)
    assert [p.number for p in [first, *rest]] == list(range(1, len(rest) + 2))
    restarted = rest[next(i for i, p in enumerate(rest) if any(s == SINCE for s, _ in p.buckets)) :]
    assert costs_by([r for p in restarted for r in p.records]) == fake.expected_costs()


# ---- options and credentials -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"access_key_id": ""}, "give the access key id with --option access_key_id="),
        ({"cost_metric": "BlendedCost"}, "cost_metric must be one of UnblendedCost"),
        ({"group_by": "REGION"}, "group_by must be LINKED_ACCOUNT or tag:"),
        ({"credentials": "chain"}, "credentials=chain takes no access_key_id"),
        ({"credentials": "sso"}, "credentials must be keys or chain"),
    ],
)
def test_aws_bad_options_are_config_errors(connect: Connect, options: dict[str, str], problem: str) -> None:
    with pytest.raises(SourceError, match=problem) as caught:
        connect(**options)
    assert caught.value.kind == "config"


def test_aws_credential_chain_reads_the_environment(
    fake: FakeCostExplorer, connect: Connect, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    connector, _ = connect(key="default", credentials="chain", access_key_id="")
    assert costs_by(records(connector)) == fake.expected_costs()
    assert {key for _op, _body, key in fake.requests} == {ACCESS_KEY_ID}


def test_aws_credential_chain_reads_a_profile(
    fake: FakeCostExplorer, connect: Connect, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "credentials").write_text(
        f"[billing]\naws_access_key_id = {DENIED_KEY_ID}\naws_secret_access_key = {DENIED_SECRET}\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    connector, _ = connect(key="billing", credentials="chain", access_key_id="")
    with pytest.raises(SourceError, match="AccessDeniedException"):  # the profile's pair was the one used
        connector.check()
    with pytest.raises(SourceError, match="could not be found") as caught:
        connect(key="nosuchprofile", credentials="chain", access_key_id="")
    assert caught.value.kind == "auth"


# ---- the usage types and the parser --------------------------------------------------------------


B = BEDROCK
OPUS = "Claude Opus 5 (Amazon Bedrock Edition)"


@pytest.mark.parametrize(
    ("usage_type", "service", "billed"),
    [
        ("USE1-Claude3.5Sonnet-input-tokens", B, "Claude3.5Sonnet us-east-1 input"),
        ("USW2-TitanEmbeddingsG1-Text-input-tokens", B, "TitanEmbeddingsG1-Text us-west-2 input"),
        ("USE1-NovaPro-cache-read-input-token-count", B, "NovaPro us-east-1 cache_read"),
        ("EUC1-NovaPro-cache-write-input-token-count", B, "NovaPro eu-central-1 cache_write"),
        ("USE1-Nova2.0Lite-output-tokens-cross-region-global", B, "Nova2.0Lite us-east-1 output"),
        ("USE1-Nova2.0Lite-input-tokens-flex", B, "Nova2.0Lite us-east-1 input flex"),
        ("APN1-NovaPro-input-tokens-batch", B, "NovaPro ap-northeast-1 input batch"),
        ("USE1-Claude4.5Haiku-input-token-count-global", B, "Claude4.5Haiku us-east-1 input"),
        ("USW2-mistral.mistral-large-3-675b-instruct-mantle-output-tokens-standard", B,
         "mistral.mistral-large-3-675b-instruct us-west-2 output"),
        ("USE1-Guardrail-AutomatedReasoningPolicyUnitsConsumed", B, " us-east-1 None"),
        ("USE1-MP:USE1_InputTokenCount-Units", SONNET, "Claude Sonnet 4.5 us-east-1 input"),
        ("USE1-MP:USE1_CacheWrite1hInputTokenCount_Global-Units", SONNET,
         "Claude Sonnet 4.5 us-east-1 cache_write_1h"),
        ("USE1-MP:USE1_InputTokenCount_Global_Batch-Units", SONNET,
         "Claude Sonnet 4.5 us-east-1 input batch"),
        ("USE1_input_tokens_global_standard-Units", OPUS, "Claude Opus 5 us-east-1 input"),
        ("USE1-MP:USE1_ProvisionedThroughput_1MonthCommit_ModelUnits_Usage-Units", SONNET,
         "Claude Sonnet 4.5 us-east-1 None"),
    ],
)  # fmt: skip
def test_aws_usage_type_gives_model_region_and_kind(usage_type: str, service: str, billed: str) -> None:
    got = parse_usage_type(usage_type, service)
    flags = [got.service_tier or "", "batch" if got.batch else ""]
    assert " ".join([got.model, got.region, str(got.kind), *filter(None, flags)]) == billed


@pytest.mark.parametrize(
    ("unit", "default", "scale"),
    [("1K tokens", 10**6, 1000), ("1M tokens", 1000, 10**6), ("Tokens", 1000, 1), ("Units", 10**6, 10**6),
     ("N/A", 1000, 1000), ("", 1000, 1000)],
)  # fmt: skip
def test_aws_quantity_unit_gives_the_token_scale(unit: str, default: int, scale: int) -> None:
    assert token_scale(unit, default) == scale


_text = st.text(max_size=12)
_amount = st.one_of(
    st.text(max_size=8), st.from_regex(r"-?[0-9]{1,16}(\.[0-9]{1,12})?", fullmatch=True), st.integers()
)
_metric = st.one_of(st.fixed_dictionaries({"Amount": _amount, "Unit": _text}), st.none(), _text)
_group = st.one_of(
    st.fixed_dictionaries(
        {
            "Keys": st.lists(_text, max_size=3),
            "Metrics": st.dictionaries(st.sampled_from(["UnblendedCost", "UsageQuantity", "x"]), _metric),
        }
    ),
    _text,
)
_day = st.one_of(st.dates().map(date.isoformat), _text)
_result = st.fixed_dictionaries(
    {
        "TimePeriod": st.one_of(st.fixed_dictionaries({"Start": _day, "End": _day}), _text),
        "Groups": st.lists(_group, max_size=3),
    },
    optional={
        "Estimated": st.one_of(st.booleans(), _text),
        "Total": st.dictionaries(_text, _metric, max_size=2),
    },
)
_page = st.one_of(
    st.fixed_dictionaries(
        {"ResultsByTime": st.lists(_result, max_size=3)},
        optional={
            "NextPageToken": st.one_of(_text, st.none(), st.integers()),
            "DimensionValueAttributes": st.lists(st.fixed_dictionaries({"Value": _text}), max_size=2),
        },
    ),
    st.lists(st.integers(), max_size=2),
    _text,
    st.none(),
)


@pytest.fixture(scope="module")
def reader() -> Iterator[AwsConnector]:
    """A connector whose parser the garbage test feeds directly (it never sends a request)."""
    config = SourceConfig(
        "Acme", SECRET_KEY, {"access_key_id": ACCESS_KEY_ID, "endpoint_url": "http://127.0.0.1:9"}
    )
    connector = AwsConnector(config)
    yield connector
    connector.close()


@settings(max_examples=200, deadline=None)
@given(body=_page, per_service=st.booleans())
def test_aws_garbage_pages_give_only_source_errors(
    reader: AwsConnector, body: Any, per_service: bool
) -> None:
    try:
        page, _token = reader.read(body, number=4, seen=set(), service=SONNET if per_service else None)
    except SourceError as exc:
        assert (exc.kind, exc.endpoint, exc.page) == ("malformed", "costs", 4)
        return
    for r in page.records:
        r.tokens.validate()
        assert r.cost is not None and r.key.startswith("costs|")


# ---- the whole path: sources add, sync, report ---------------------------------------------------


@pytest.fixture
def cli(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    return cli_runner(db_url, tmp_path, monkeypatch, SPENDLEDGER_TIMEZONE="UTC", AWS_SECRET=SECRET_KEY)


def billed(cli: Cli) -> dict[tuple[str, str, str, str], Decimal]:
    """The ledger's billed cost by day × account × workspace × model, to the cent."""
    result = cli(
        "report", "--from", FIRST, "--to", LAST, "--by", "account,workspace,model", "--granularity", "day",
        "--basis", "billed", "--format", "json",
    )  # fmt: skip
    out: dict[tuple[str, str, str, str], Decimal] = defaultdict(Decimal)
    for row in json.loads(result.stdout)["rows"]:
        out[(row["period"], row["account"] or "", row["workspace"] or "", row["model"] or "")] += Decimal(
            row["cost"]
        )
    return {k: cents(v) for k, v in out.items() if cents(v)}


def expected(fake: FakeCostExplorer) -> dict[tuple[str, str, str, str], Decimal]:
    """The fake's cost by day × account × workspace × model, the model named as the ledger names it."""
    out = {
        (day, "Acme", ws, model): cents(v)
        for (day, ws, model), v in by_ledger_model(fake.expected_costs(by="workspace")).items()
    }
    return {k: v for k, v in out.items() if v}


def test_aws_sync_totals_equal_the_fakes_and_stay_equal(cli: Cli, engine: Engine) -> None:
    with FakeCostExplorer(start=START, days=DAYS, accounts=4, page_groups=25) as fake:
        added = cli("sources", "add", "aws", "--name", "Acme", "--key-env", "AWS_SECRET",
                    "--option", f"access_key_id={ACCESS_KEY_ID}", "--option", f"endpoint_url={fake.url}",
                    "--option", "group_by=LINKED_ACCOUNT")  # fmt: skip
        assert "Added aws source 'Acme'" in added.stdout
        assert cli("sources", "test", "Acme").stdout.startswith("OK: AWS Cost Explorer reachable; ")
        cli("sync", "--since", FIRST, "--until", LAST)
        assert billed(cli) == expected(fake)
        # each renamed model keeps the id AWS billed it as (Claude3.5Sonnet → claude-3-5-sonnet)
        kept = kept_provider_models(engine)
        assert kept == renamed(m for _d, _w, m in fake.expected_costs()) and kept
        cli("sync", "--since", FIRST, "--until", LAST)  # a second run changes nothing
        assert billed(cli) == expected(fake)
        fake.revise("2025-03-03", factor=3)  # a revised day replaces the old figures
        cli("sync", "--since", FIRST, "--until", LAST)
        assert billed(cli) == expected(fake)
        total = cli("report", "--from", FIRST, "--to", LAST, "--by", "provider", "--basis", "billed",
                    "--format", "json")  # fmt: skip
        assert [(r["provider"], cents(Decimal(r["cost"]))) for r in json.loads(total.stdout)["rows"]] == [
            ("aws", cents(fake.total()))
        ]
        listed = cli("sources", "list").stdout
    assert "Acme" in listed and SECRET_KEY not in listed and SECRET_KEY[-12:] not in listed
    with engine.connect() as conn:
        runs = conn.execute(select(sync_runs.c.status, sync_runs.c.pages)).all()
    assert [r.status for r in runs] == ["ok", "ok", "ok"] and all(r.pages > 4 for r in runs)


def test_aws_sync_broken_halfway_then_rerun_is_exact(cli: Cli) -> None:
    with FakeCostExplorer(start=START, days=DAYS, accounts=4, page_groups=25) as fake:
        cli("sources", "add", "aws", "--name", "Acme", "--key-env", "AWS_SECRET",
            "--option", f"access_key_id={ACCESS_KEY_ID}", "--option", f"endpoint_url={fake.url}",
            "--option", "group_by=LINKED_ACCOUNT")  # fmt: skip
        cli("sync", "--since", FIRST, "--until", LAST)
        fake.revise("2025-03-02", factor=2)
        fake.revise("2025-03-06", factor=3)
        fake.fail("AccessDeniedException", at=4, times=None, operation="GetCostAndUsage")  # after 3 pages
        broken = cli("sync", "--since", FIRST, "--until", LAST, ok=False)
        assert broken.exit_code == 1 and "AccessDeniedException" in broken.stderr
        assert billed(cli) != expected(fake)  # part old, part new
        fake._faults.clear()
        cli("sync", "--since", FIRST, "--until", LAST)
        assert billed(cli) == expected(fake)


def test_aws_sync_restarted_by_a_revision_mid_run_ends_exact(engine: Engine, settings: Settings) -> None:
    with FakeCostExplorer(start=START, days=DAYS, accounts=3, page_groups=10) as fake:
        options = {"access_key_id": ACCESS_KEY_ID, "endpoint_url": fake.url}
        add_source(engine, settings, provider="aws", name="Acme", key=SECRET_KEY, options=options)

        def revise_once(_name: str, page: Page) -> None:
            if page.number == 2:
                fake.revise("2025-03-04", factor=5)

        outcome = sync_source(
            engine, settings, "Acme", since=START, until=date(2025, 3, 7), on_page=revise_once
        )
        assert outcome.ok, outcome.error
        assert any(op == "GetCostAndUsage" for op, _b, _k in fake.requests)
        with engine.connect() as conn:
            rows = conn.execute(select(usage.c.day, usage.c.model, usage.c.cost_nanos)).all()
        got: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
        for r in rows:
            got[(str(r.day), "", r.model)] += Decimal(r.cost_nanos).scaleb(-9)
        assert {k: cents(v) for k, v in got.items() if cents(v)} == {
            k: cents(v) for k, v in by_ledger_model(fake.expected_costs()).items() if cents(v)
        }


# ---- the fake itself, as an oracle ---------------------------------------------------------------


def test_aws_fake_computes_filters_totals_and_refusals(fake: FakeCostExplorer) -> None:
    session = boto3.session.Session(
        aws_access_key_id=ACCESS_KEY_ID, aws_secret_access_key=SECRET_KEY, region_name="us-east-1"
    )
    ce = session.client("ce", endpoint_url=fake.url)
    period = {"Start": "2025-03-01", "End": "2025-03-08"}
    either = {"Or": [{"Dimensions": {"Key": "SERVICE", "Values": [s]}} for s in (SONNET, HAIKU)]}
    no_ec2 = {"And": [either, {"Not": {"Tags": {"Key": "team", "Values": ["ads"]}}}]}
    answer = ce.get_cost_and_usage(
        TimePeriod=period, Granularity="MONTHLY", Metrics=["AmortizedCost"], Filter=no_ec2
    )
    (month,) = answer["ResultsByTime"]
    assert month["Groups"] == [] and month["TimePeriod"] == period
    wanted = [r for r in fake.rows if r.meter.service in (SONNET, HAIKU) and r.tags.get("team") != "ads"]
    assert Decimal(month["Total"]["AmortizedCost"]["Amount"]) == sum((r.cost for r in wanted), Decimal(0))
    too_many = [{"Type": "DIMENSION", "Key": k} for k in ("SERVICE", "USAGE_TYPE", "LINKED_ACCOUNT")]
    with pytest.raises(ClientError, match="at most 2"):
        ce.get_cost_and_usage(
            TimePeriod=period, Granularity="DAILY", Metrics=["UnblendedCost"], GroupBy=too_many
        )
    with pytest.raises(ClientError, match="Start date"):
        ce.get_cost_and_usage(
            TimePeriod={"Start": "2025-03-08", "End": "2025-03-01"},
            Granularity="DAILY",
            Metrics=["UnblendedCost"],
        )
    ce.close()
