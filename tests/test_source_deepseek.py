"""DeepSeek, a balance-only source: the balance read on every sync, spend from its drops.

The fake account (tests/fakes/deepseek.py) is scripted day by day: calls spend its granted
credit first, then the paid balance; top-ups add to the paid balance. Each day the test
syncs at a moment of its choosing (sync_source's clock), and the ledger's spend, read
back through `spendledger report --format json`, must equal the figures worked out by
hand below with the rule of sources/balance.py: the drop between two readings lands on
the UTC day of the later one; a rise of a part is a credit, never negative spend.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select

from clirun import Cli, cli_runner
from fakes.deepseek import API_KEY, MISSING, FakeDeepSeek
from logins import csrf_of, text_of
from receivers import Webhook, webhook_server
from spendledger.config import Settings
from spendledger.sources._http import RetryPolicy
from spendledger.sources.balance import BalanceDay, balance_days, interval
from spendledger.sources.base import SourceConfig, SourceError, connector_for
from spendledger.sources.deepseek import DeepSeekConnector
from spendledger.store.balances import BalanceRow
from spendledger.store.tables import balance_readings, usage
from spendledger.sync import sync_source

D = [date(2026, 11, 2) + timedelta(days=n) for n in range(8)]  # D[0] = 2026-11-02


def at(day: date, hour: int = 22) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


# ---- the rule, on readings ---------------------------------------------------------------


def _row(when: datetime, total: str, granted: str | None = None, topped: str | None = None) -> BalanceRow:
    g = None if granted is None else Decimal(granted)
    t = None if topped is None else Decimal(topped)
    return BalanceRow("ds", "CNY", when, Decimal(total), g, t)


def test_deepseek_rule_a_drop_is_spend_a_rise_a_top_up_never_negative() -> None:
    a = _row(at(D[0]), "110.00", "10.00", "100.00")
    # spend 4.00 from the granted credit: spent 4.00
    assert interval(a, _row(at(D[1]), "106.00", "6.00", "100.00")) == (Decimal("4.00"), 0, 0)
    # top-up 50.00 and 5.50 spent from the granted credit between the same readings:
    # spent = 110.00 + 50.00 - 154.50 = 5.50, topped up 50.00
    b = _row(at(D[1]), "154.50", "4.50", "150.00")
    assert interval(a, b) == (Decimal("5.50"), Decimal("50.00"), 0)
    # only the total known: a rise is a top-up, and spend hidden by it is the documented limit
    assert interval(_row(at(D[0]), "110.00"), _row(at(D[1]), "150.00")) == (0, Decimal("40.00"), 0)
    assert interval(_row(at(D[0]), "110.00"), _row(at(D[1]), "97.25")) == (Decimal("12.75"), 0, 0)
    # a grant is a credit too
    assert interval(a, _row(at(D[1]), "120.00", "20.00", "100.00")) == (0, 0, Decimal("10.00"))


def test_deepseek_rule_days_land_on_the_later_reading() -> None:
    rows = [
        _row(at(D[0]), "110.00", "10.00", "100.00"),
        _row(at(D[1], 9), "107.00", "7.00", "100.00"),  # 3.00 by 09:00
        _row(at(D[1], 22), "101.00", "1.00", "100.00"),  # 6.00 more: the day spent 9.00
        _row(at(D[4]), "91.00", "0.00", "91.00"),  # three days without a sync: 10.00 lands on D[4]
    ]
    days = balance_days(rows)
    assert [(d.day, d.spent, d.opening, d.closing, d.readings) for d in days] == [
        (D[0], 0, Decimal("110.00"), Decimal("110.00"), 1),  # the first reading: the baseline
        (D[1], Decimal("9.00"), Decimal("110.00"), Decimal("101.00"), 2),
        (D[4], Decimal("10.00"), Decimal("101.00"), Decimal("91.00"), 1),
    ]
    assert all(isinstance(d, BalanceDay) and d.spent >= 0 for d in days)


# ---- the connector against the fake --------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeDeepSeek]:
    with FakeDeepSeek() as server:
        yield server


def connect(fake: FakeDeepSeek, key: str = API_KEY, **options: str) -> tuple[DeepSeekConnector, list[float]]:
    waits: list[float] = []
    policy = RetryPolicy(max_attempts=3, backoff=0.5, sleep=waits.append)
    config = SourceConfig("ds", key, {"base_url": fake.url, **options})
    return DeepSeekConnector(config, policy=policy), waits


def test_deepseek_reads_the_balance_per_currency(fake: FakeDeepSeek) -> None:
    connector, _ = connect(fake)
    assert connector_for("deepseek") is DeepSeekConnector
    page = next(connector.fetch("balance", at(D[0]), at(D[1])))
    assert (page.endpoint, page.number, page.buckets, page.records) == ("balance", 1, [], [])
    got = {r.currency: (r.total, r.granted, r.topped_up) for r in page.balances}
    assert got == {
        "CNY": (Decimal("110.00"), Decimal("10.00"), Decimal("100.00")),
        "USD": (Decimal("20.00"), Decimal("0.00"), Decimal("20.00")),
    }
    assert connector.check() == "DeepSeek balance reachable: 110.00 CNY, 20.00 USD"
    fake.available = False
    assert "not available for API calls" in connector.check()
    assert fake.requests == [("GET", "/user/balance", "")] * 3  # no parameters: the endpoint takes none
    connector.close()


def test_deepseek_401_403_and_throttling_say_what_to_do(fake: FakeDeepSeek) -> None:
    wrong, _ = connect(fake, key="sk-wrong-key-9999")
    with pytest.raises(SourceError) as exc:
        wrong.read()
    assert exc.value.kind == "auth" and "401 Authentication Fails" in str(exc.value)
    assert "platform.deepseek.com → API keys" in str(exc.value) and "sk-wrong-key-9999" not in str(exc.value)
    connector, waits = connect(fake)
    fake.fail(403)
    with pytest.raises(SourceError) as exc:
        connector.read()
    assert exc.value.kind == "permission" and "may not read the balance" in str(exc.value)
    fake.fail(429, times=2, retry_after=7)  # twice, then the balance
    assert len(connector.read()) == 2 and waits == [7, 7]
    fake.fail(429, times=5)
    with pytest.raises(SourceError) as exc:
        connector.read()
    assert exc.value.kind == "rate_limited" and "keeps rate-limiting; sync again later" in str(exc.value)
    assert waits[2:] == [0.5, 1.0]  # no Retry-After: exponential backoff
    wrong.close()
    connector.close()


@pytest.mark.parametrize(
    ("field", "value", "path"),
    [
        ("total_balance", "abc", "balance_infos[0].total_balance"),
        ("total_balance", MISSING, "balance_infos[0].total_balance"),
        ("granted_balance", True, "balance_infos[0].granted_balance"),
        ("currency", 7, "balance_infos[0].currency"),
        ("balance_infos", MISSING, "balance_infos"),
    ],
)
def test_deepseek_malformed_balance_is_named(
    fake: FakeDeepSeek, field: str, value: object, path: str
) -> None:
    connector, _ = connect(fake)
    fake.malform(field, value)
    with pytest.raises(SourceError) as exc:
        connector.read()
    assert exc.value.kind == "malformed" and (exc.value.endpoint, exc.value.page) == ("balance", 1)
    assert f'DeepSeek source "ds", balance (page 1): unexpected data at {path}:' in str(exc.value)
    connector.close()


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8) | st.decimals(allow_nan=True),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=20), inner, max_size=4),
    max_leaves=12,
)
_info = st.fixed_dictionaries(
    {},
    optional={
        "currency": st.sampled_from(["CNY", "USD", "", "usd", 3]) | _json,
        "total_balance": st.sampled_from(["1.00", "-2", "NaN", "1e400", ""]) | _json,
        "granted_balance": _json,
        "topped_up_balance": _json,
    },
)
_body = (
    st.fixed_dictionaries(
        {}, optional={"is_available": _json, "balance_infos": st.lists(_info, max_size=3) | _json}
    )
    | _json
)


@hsettings(max_examples=300, deadline=None)
@given(body=_body)
def test_deepseek_garbage_balance_gives_a_source_error_or_readings(body: Any) -> None:
    connector = DeepSeekConnector(SourceConfig("ds", API_KEY, {"base_url": "http://127.0.0.1:9"}))
    try:
        readings = connector.readings_of(body)
    except SourceError as exc:
        assert exc.kind == "malformed" and "unexpected data at" in str(exc)
    else:
        assert len({r.currency for r in readings}) == len(readings)
        assert all(r.total.is_finite() and len(r.currency) == 3 for r in readings)
    finally:
        connector.close()


# ---- a month of syncs into a real ledger ---------------------------------------------------


@pytest.fixture
def cli(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    return cli_runner(db_url, tmp_path, monkeypatch, SPENDLEDGER_TIMEZONE="UTC", DEEPSEEK_API_KEY=API_KEY)


def spend_by_day(cli: Cli) -> dict[tuple[str, str], Decimal]:
    result = cli(
        "report", "--from", D[0].isoformat(), "--to", D[-1].isoformat(), "--by", "currency",
        "--granularity", "day", "--basis", "billed", "--format", "json",
    )  # fmt: skip
    out: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for row in json.loads(result.stdout)["rows"]:
        out[(row["period"], row["currency"])] += Decimal(row["cost"])
    return {k: v for k, v in out.items() if v}


def counts(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        readings = conn.execute(select(func.count()).select_from(balance_readings)).scalar_one()
        records = conn.execute(select(func.count()).select_from(usage)).scalar_one()
    return readings, records


class Account:
    """The scripted week: what the account does each day, and the syncs that read it."""

    def __init__(self, fake: FakeDeepSeek, engine: Engine, settings: Settings) -> None:
        self.fake, self.engine, self.settings = fake, engine, settings

    def sync(self, moment: datetime) -> None:
        outcome = sync_source(self.engine, self.settings, "ds", now=lambda: moment)
        assert outcome.ok, outcome.error

    def day(self, n: int) -> None:
        """Day D[n]'s events, then its sync(s)."""
        f, d = self.fake, D[n]
        if n == 1:
            f.spend("CNY", "4.00", d)  # granted 10.00 → 6.00
            f.spend("USD", "1.25", d)
        elif n == 2:
            f.top_up("CNY", "50.00", d)  # paid 100.00 → 150.00
            f.spend("CNY", "5.50", d)  # granted 6.00 → 0.50
        elif n == 3:
            f.spend("CNY", "8.00", d)  # granted 0.50 → 0, paid 150.00 → 142.50
            self.sync(at(d, 10))
            f.spend("CNY", "12.00", d)  # paid → 130.50
            f.spend("USD", "0.75", d)
        elif n == 4:
            f.spend("CNY", "7.00", d)  # no sync on D[4]
            return
        elif n == 5:
            f.spend("CNY", "3.00", d)  # CNY 120.50
        elif n == 6:
            f.top_up("USD", "10.00", d)  # USD 18.00 → 28.00, nothing spent
        self.sync(at(d))


# By hand, with the rule: each day's spend is the drop from the last reading before it.
EXPECTED = {
    ("2026-11-03", "CNY"): Decimal("4.00"),  # 110.00 → 106.00
    ("2026-11-03", "USD"): Decimal("1.25"),  # 20.00 → 18.75
    ("2026-11-04", "CNY"): Decimal("5.50"),  # 106.00 + 50.00 top-up − 150.50
    ("2026-11-05", "CNY"): Decimal("20.00"),  # 150.50 → 142.50 (10:00) → 130.50 (22:00)
    ("2026-11-05", "USD"): Decimal("0.75"),  # 18.75 → 18.00
    ("2026-11-07", "CNY"): Decimal("10.00"),  # 130.50 → 120.50: D[4]'s 7.00 lands on D[5], no sync between
}


def test_deepseek_sync_spend_equals_the_drops_to_the_cent(
    cli: Cli, engine: Engine, settings: Settings, fake: FakeDeepSeek
) -> None:
    cli("sources", "add", "deepseek", "--name", "ds", "--key-env", "DEEPSEEK_API_KEY",
        "--option", f"base_url={fake.url}")  # fmt: skip
    assert "DeepSeek balance reachable: 110.00 CNY, 20.00 USD" in cli("sources", "test", "ds").stdout
    account = Account(fake, engine, settings)
    for n in range(7):
        account.day(n)
    assert spend_by_day(cli) == EXPECTED
    # the fake's own truth, in total per currency (only the gap's day moved)
    truth: dict[str, Decimal] = defaultdict(Decimal)
    for (_day, currency), amount in fake.expected_spend().items():
        truth[currency] += amount
    assert truth == {"CNY": Decimal("39.50"), "USD": Decimal("2.00")}
    assert fake.expected_spend()[("2026-11-06", "CNY")] == Decimal("7.00")
    ledger: dict[str, Decimal] = defaultdict(Decimal)
    for (_day, currency), amount in spend_by_day(cli).items():
        ledger[currency] += amount
    assert ledger == truth
    # the top-ups: recorded as such (credits in tags), the day's cost never negative
    with engine.connect() as conn:
        rows = conn.execute(select(usage.c.day, usage.c.currency, usage.c.cost_nanos, usage.c.tags)).all()
    assert all(r.cost_nanos >= 0 for r in rows)
    tops = {(r.day, r.currency): r.tags["topped_up"] for r in rows if "topped_up" in r.tags}
    assert tops == {("2026-11-04", "CNY"): "50.00", ("2026-11-08", "USD"): "10.00"}
    shown = cli("balances", "show", "ds").stdout
    assert "+50.00" in shown and "+10.00" in shown and "2026-11-07" in shown
    assert "120.50" in cli("balances", "list").stdout

    # a second sync at the same moment changes nothing; a later one with no change, no spend
    before = counts(engine)
    account.sync(at(D[6]))
    assert counts(engine) == before and spend_by_day(cli) == EXPECTED
    account.sync(at(D[6], 23))
    assert counts(engine) == (before[0] + 2, before[1]) and spend_by_day(cli) == EXPECTED
    # a sync that fails (the provider down) stores nothing; the next one carries on
    fake.fail(500, times=10)
    failed = sync_source(
        engine, settings, "ds", now=lambda: at(D[7]), policy=RetryPolicy(max_attempts=2, sleep=lambda _: None)
    )
    assert failed.error and "500" in failed.error and counts(engine)[0] == before[0] + 2
    fake._faults.clear()
    fake.spend("CNY", "0.40", D[7])
    account.sync(at(D[7]))
    assert spend_by_day(cli) == {**EXPECTED, ("2026-11-09", "CNY"): Decimal("0.40")}


def test_deepseek_balance_below_alert_fires_once(
    cli: Cli, engine: Engine, settings: Settings, fake: FakeDeepSeek
) -> None:
    with webhook_server() as hook:
        _alert_scenario(cli, engine, settings, fake, hook)


def _alert_scenario(cli: Cli, engine: Engine, settings: Settings, fake: FakeDeepSeek, hook: Webhook) -> None:
    cli("sources", "add", "deepseek", "--name", "ds", "--key-env", "DEEPSEEK_API_KEY",
        "--option", f"base_url={fake.url}")  # fmt: skip
    cli("channels", "add", "ops", hook.url())
    account = Account(fake, engine, settings)
    account.day(0)
    refused = cli("balances", "alert", "add", "cny-low", "--source", "ds", "--below", "125", ok=False)
    assert refused.exit_code != 0 and "CNY, USD" in refused.output  # two currencies: say which
    added = cli("balances", "alert", "add", "cny-low", "--source", "ds", "--below", "125", "--currency",
                "cny", "--channel", "ops")  # fmt: skip
    assert "when ds's CNY balance drops below 125.00" in added.stdout
    for n in range(1, 4):  # down to 130.50 CNY: above the line
        account.day(n)
    assert "No new alerts." in cli("alerts", "evaluate").stdout
    account.day(4)
    account.day(5)  # 120.50 CNY: below
    fired = cli("alerts", "evaluate").stdout
    assert "1 new alert" in fired and "the balance is 120.50 CNY, below 125.00 CNY since 2026-11-07" in fired
    assert len(hook.received) == 1 and "balance cny-low below 125.00 CNY" in hook.received[0]["title"]
    # evaluated again, or after another drop below: nothing new, nothing sent again
    assert "No new alerts." in cli("alerts", "evaluate").stdout
    fake.spend("CNY", "1.00", D[5])
    account.sync(at(D[5], 23))
    assert "No new alerts." in cli("alerts", "evaluate").stdout
    assert len(hook.received) == 1
    listed = json.loads(cli("alerts", "list", "--format", "json").stdout)
    assert [(a["kind"], a["budget"], a["state"], a["threshold"]) for a in listed] == [
        ("balance", "balance:cny-low", "open", None)
    ]
    # a top-up takes it back above: resolved; a later fall fires again, once
    fake.top_up("CNY", "100.00", D[6])
    account.sync(at(D[6]))
    cli("alerts", "evaluate")
    assert json.loads(cli("alerts", "list", "--format", "json").stdout) == []
    fake.spend("CNY", "100.00", D[7])
    account.sync(at(D[7]))
    assert "1 new alert" in cli("alerts", "evaluate").stdout
    assert len(hook.received) == 2
    assert "cny-low" in cli("balances", "alert", "list").stdout


def test_deepseek_balance_on_sources_page_and_alert_rules_on_budgets_page(
    admin_client: TestClient, cli: Cli, engine: Engine, settings: Settings, fake: FakeDeepSeek
) -> None:
    cli("sources", "add", "deepseek", "--name", "ds", "--key-env", "DEEPSEEK_API_KEY",
        "--option", f"base_url={fake.url}")  # fmt: skip
    budgets = text_of(admin_client.get("/budgets").text)
    assert "No balance read yet" in budgets  # nothing to watch before the first sync
    account = Account(fake, engine, settings)
    account.day(0)
    account.day(1)
    sources = text_of(admin_client.get("/sources").text)
    assert "Balance 106.00 CNY · $18.75" in sources  # the latest balance on the source's row
    csrf = csrf_of(admin_client.get("/budgets").text)
    refused = admin_client.post(
        "/balance-alerts", data={"csrf_token": csrf, "name": "low", "source": "ds", "below": "x"}
    )
    assert refused.status_code == 400 and "'x' is not an amount" in text_of(refused.text)
    added = admin_client.post(
        "/balance-alerts",
        data={"csrf_token": csrf, "name": "low", "source": "ds", "below": "105", "currency": "CNY"},
    )
    assert added.status_code == 200 and "Added balance alert 'low'" in text_of(added.text)
    assert "low ds 105.00 CNY 106.00 CNY every channel" in text_of(added.text)
    account.day(2)  # 150.50 CNY after the top-up
    fake.spend("CNY", "50.00", D[3])
    account.sync(at(D[3]))  # 100.50 CNY
    assert "100.50 CNY below" in text_of(admin_client.get("/budgets").text)
    gone = admin_client.post("/balance-alerts/low/delete", data={"csrf_token": csrf})
    assert "Removed balance alert 'low'" in text_of(gone.text)
    assert "No balance alerts" in text_of(gone.text)
