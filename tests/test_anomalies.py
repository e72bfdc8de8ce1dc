"""Anomalies: a day's spend against its usual, with the driver and the cause named."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from clirun import cli_runner
from spendledger.alerts.anomalies import baseline, find_anomalies
from spendledger.records import TokenCounts, UsageRecord
from spendledger.store import write_records
from usage_records import usage_record

DAY = date(2026, 11, 20)  # a Friday


def call(
    key: str, day: date, cost: str, *, user: str = "u_01", api_key: str = "k1", model: str = "gpt-4o",
    requests: int = 10, tokens: TokenCounts | None = None,
) -> UsageRecord:  # fmt: skip
    return usage_record(
        key=key, source="api", start=datetime(day.year, day.month, day.day, 12, tzinfo=UTC),
        model=model, project="Storygami", user=user, api_key_id=api_key, requests=requests,
        tokens=tokens or TokenCounts(input=10_000, cached_input=6_000, output=1_000), cost=cost,
    )  # fmt: skip


def write(engine: Engine, records: list[UsageRecord]) -> None:
    with engine.begin() as conn:
        write_records(conn, records, tz=ZoneInfo("UTC"))


def four_quiet_weeks() -> list[UsageRecord]:
    """$35.00 a weekday and $10.00 a weekend day, 28 days before DAY."""
    out = []
    for back in range(1, 29):
        day = DAY - timedelta(days=back)
        out.append(call(f"api:{back}", day, "10.00" if day.weekday() >= 5 else "35.00"))
    return out


def test_anomaly_baseline_is_weekday_aware_and_robust() -> None:
    # four weeks starting on a Friday: Fridays and other weekdays $35, weekends $10,
    # one odd Wednesday at $500
    first = DAY - timedelta(days=28)
    history = [Decimal(10) if (first + timedelta(days=i)).weekday() >= 5 else Decimal(35) for i in range(28)]
    history[5] = Decimal(500)
    usual, spread = baseline(history, weekday_of_first=first.weekday(), weekday=DAY.weekday())
    # same weekday (Fridays): median $35; last 14 days: 10 weekdays at $35, 4 weekend
    # days at $10 → median $35; usual = ($35 + $35) / 2 = $35.00. The $500 day moves
    # neither median. The median is $35, the deviations 0 (20 days) or 25 (8 days) or
    # 465 (1): their median is 0, so the spread is the floor, 10 % of $35 = $3.50
    assert (usual, spread) == (Decimal("35.00"), Decimal("3.50"))


def test_anomaly_names_the_driver_and_a_new_key(engine: Engine) -> None:
    write(engine, [*four_quiet_weeks(),
                   call("api:today-1", DAY, "35.00"),
                   call("api:today-2", DAY, "412.00", user="u_17", api_key="k9", requests=12)])  # fmt: skip

    with engine.connect() as conn:
        found = {(a.dimension, a.value): a for a in find_anomalies(conn, day=DAY)}

    model = found[("model", "gpt-4o")]
    # spent $35 + $412 = $447.00 against the usual $35.00 (a Friday) ± $3.50: a jump of
    # $412.00, all of it user u_17's (u_17 had nothing before)
    assert (model.spent, model.usual, model.spread) == (Decimal("447.00"), Decimal("35.00"), Decimal("3.50"))
    assert model.driver == "user u_17" and model.driver_share == 100
    assert "a new API key k9 with no spend in the four weeks before" in model.causes
    assert model.describe() == (
        "model gpt-4o: $447.00 on 2026-11-20, usual $35.00 ± $3.50; 100 % of the jump is user u_17; "
        "likely a new API key k9 with no spend in the four weeks before, requests ×2.2 (22 against 10)"
    )
    assert ("user", "u_17") in found and ("api_key_id", "k9") in found and ("provider", "openai") in found
    assert ("user", "u_01") not in found  # u_01 spent as usual


def test_a_three_day_spike_is_one_anomaly_on_its_first_day(engine: Engine) -> None:
    # $412.00 more on Thursday, Friday and Saturday (Nov 19-21): news on the 19th only
    spike = [call(f"api:spike-{d}", DAY + timedelta(days=d), "412.00", user="u_17") for d in (-1, 0, 1)]
    # u_01 as usual
    quiet = [call("api:fri", DAY, "35.00"), call("api:sat", DAY + timedelta(days=1), "10.00")]
    write(engine, [*four_quiet_weeks(), *spike, *quiet])

    with engine.connect() as conn:
        flagged = {d: find_anomalies(conn, day=DAY + timedelta(days=d)) for d in (-1, 0, 1)}
        higher = [call("api:higher", DAY + timedelta(days=2), "900.00", user="u_17")]
        assert [a.value for a in flagged[-1] if a.dimension == "user"] == ["u_17"]
    assert flagged[0] == [] and flagged[1] == []  # the same episode, not news again
    # a new high within the week is news: $900 on Sunday against Thursday's $447
    write(engine, higher)
    with engine.connect() as conn:
        sunday = find_anomalies(conn, day=DAY + timedelta(days=2))
    assert [a.value for a in sunday if a.dimension == "user"] == ["u_17"]


def test_anomaly_sees_the_cache_hit_rate_fall(engine: Engine) -> None:
    cold = TokenCounts(input=200_000, cached_input=0, output=1_000)  # same calls, no cache hits
    write(engine, [*four_quiet_weeks(), call("api:today", DAY, "120.00", tokens=cold)])

    with engine.connect() as conn:
        (model,) = [a for a in find_anomalies(conn, day=DAY) if a.dimension == "model"]

    # usual cache hits: 6,000 of 10,000 input tokens = 60 %; today 0 %
    assert "the cache-hit rate fell from 60% to 0%" in model.causes
    # tokens per request: (200,000 + 1,000) / 10 = 20,100 against (10,000 + 1,000) / 10
    # = 1,100 on the usual days: ×18.3
    assert "tokens per request ×18.3" in model.causes


def test_anomaly_ignores_small_money_and_usual_days(engine: Engine) -> None:
    write(engine, [*four_quiet_weeks(), call("api:today", DAY, "38.00"),
                   call("api:tiny", DAY, "0.90", user="u_99", api_key="k2")])  # fmt: skip
    with engine.connect() as conn:
        # $38 against $35 ± $3.50 is within 4 spreads; u_99's $0.90 is under the $5 floor
        assert find_anomalies(conn, day=DAY) == []
        assert [a.value for a in find_anomalies(conn, day=DAY, min_jump=Decimal("0.5"))] == ["u_99", "k2"]


def test_anomaly_a_normal_weekly_pattern_raises_none_over_180_days(engine: Engine) -> None:
    import random

    rng = random.Random(7)
    first = DAY - timedelta(days=179)
    records = []
    for i in range(180):
        day = first + timedelta(days=i)
        growth = 1 + i / 360  # +50 % over the half year
        base = 10.0 if day.weekday() >= 5 else 35.0
        for user in ("u_01", "u_02", "u_03"):
            cost = base * growth * rng.uniform(0.8, 1.2) / 3
            records.append(call(f"api:{i}:{user}", day, f"{cost:.2f}", user=user, api_key=f"k_{user}"))
    write(engine, records)

    with engine.connect() as conn:
        flagged = [a for i in range(28, 180) for a in find_anomalies(conn, day=first + timedelta(days=i))]

    print(f"false positives over {180 - 28} days × 5 dimensions: {len(flagged)}")
    assert flagged == []


def test_anomalies_cli_names_the_spike_and_says_when_there_is_none(
    engine: Engine, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    usual, spike = call("api:t1", DAY, "35.00"), call("api:t2", DAY, "412.00", user="u_17", api_key="k9")
    write(engine, [*four_quiet_weeks(), usual, spike])
    cli = cli_runner(db_url, tmp_path, monkeypatch, SPENDLEDGER_TIMEZONE="UTC")

    found = cli("anomalies", "--day", DAY.isoformat()).stdout
    quiet = cli("anomalies", "--day", (DAY - timedelta(days=1)).isoformat()).stdout
    bad = cli("anomalies", "--min-jump", "lots", ok=False)

    assert (
        "model gpt-4o: $447.00 on 2026-11-20, usual $35.00 ± $3.50; 100 % of the jump is user u_17" in found
    )
    assert quiet.startswith("No anomalies on 2026-11-19")
    assert bad.exit_code == 2 and "--min-jump" in bad.stderr


def test_anomaly_alerts_fire_once_with_their_words(engine: Engine, db_url: str, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    import json

    usual, spike = call("api:t1", DAY, "35.00"), call("api:t2", DAY, "412.00", user="u_17", api_key="k9")
    write(engine, [*four_quiet_weeks(), usual, spike])
    cli = cli_runner(db_url, tmp_path, monkeypatch, SPENDLEDGER_TIMEZONE="UTC")

    # evaluated the morning after: the anomalies of the 20th, the last whole day
    first = cli("alerts", "evaluate", "--at", "2026-11-21T08:00").stdout
    again = cli("alerts", "evaluate", "--at", "2026-11-21T09:00").stdout
    listed = json.loads(cli("alerts", "list", "--format", "json").stdout)

    assert (
        "Anomaly: model:gpt-4o — spend jumped to $447.00 on 2026-11-20, usual $35.00 ± $3.50; "
        "100 % of the jump is user u_17" in first
    )
    assert again.strip() == "No new alerts."
    model = next(a for a in listed if a["budget"] == "model:gpt-4o")
    assert model["kind"] == "anomaly" and model["state"] == "open" and model["window"]["from"] == "2026-11-20"
    assert model["figures"] == {"spent": "447.000000000", "usual": "35.00", "spread": "3.50"}
    assert model["text"].startswith("Anomaly: model:gpt-4o — spend jumped to $447.00 on 2026-11-20")
    # one jump seen as the model's, the user's, the key's, the project's and the provider's
    # is one incident: one alert, led by the model, naming the rest
    assert [a["budget"] for a in listed] == ["model:gpt-4o"]
    assert model["text"].endswith(
        "also seen in project Storygami ($447.00), API key k9 ($412.00), user u_17 ($412.00), "
        "provider openai ($447.00)"
    )
    bad = cli("alerts", "evaluate", "--at", "yesterday", ok=False)
    assert bad.exit_code == 2 and "--at" in bad.stderr
