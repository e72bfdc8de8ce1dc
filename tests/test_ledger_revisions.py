"""The best-available basis and local days.

Billed and metered figures describe the same money from two sides: for each provider
account and day the billed figure wins where a billing sync covers it, the metered
estimate fills the rest (DESIGN.md). Days are counted in the configured zone.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select

from spendledger.queries import SpendQuery, spend
from spendledger.records import Basis, TokenCounts, UsageRecord
from spendledger.store import write_records
from spendledger.store.folder import fold_all
from spendledger.store.ledger import rebuild_rollups
from spendledger.store.tables import rollups, usage
from usage_records import usage_record

UTC_ZONE = ZoneInfo("UTC")
TOKYO = ZoneInfo("Asia/Tokyo")
NOV_20 = datetime(2026, 11, 20, tzinfo=UTC)


def _billed(
    cost: str, *, day: datetime = NOV_20, account: str = "org-1", provider: str = "openai"
) -> UsageRecord:
    return usage_record(
        key=f"{provider}:{account}:cost:{day.date()}",
        source=f"{provider}-{account}",
        basis=Basis.BILLED,
        start=day,
        end=day + timedelta(days=1),
        provider=provider,
        model="",
        account=account,
        requests=0,
        cost=cost,
    )


def _metered(
    key: str,
    cost: str,
    *,
    at: datetime = NOV_20 + timedelta(hours=10),
    account: str = "org-1",
    provider: str = "openai",
    user: str = "",
) -> UsageRecord:
    return usage_record(
        key=f"api:{key}",
        source="api",
        start=at,
        provider=provider,
        model="gpt-4o-mini",
        account=account,
        user=user,
        tokens=TokenCounts(input=1000, output=100),
        cost=cost,
    )


def _write(engine: Engine, records: list[UsageRecord], tz: ZoneInfo = UTC_ZONE) -> None:
    with engine.begin() as conn:
        write_records(conn, records, tz=tz)


def _total(
    engine: Engine,
    basis: str,
    *,
    start: date = date(2026, 11, 1),
    end: date = date(2026, 11, 30),
    by: tuple[str, ...] = (),
) -> Decimal:
    with engine.connect() as conn:
        return spend(conn, SpendQuery(start=start, end=end, basis=basis, by=by)).total


def test_best_basis_billed_day_counts_only_billed(engine: Engine) -> None:
    _write(engine, [_billed("10.00"), _metered("a", "2.50"), _metered("b", "1.25")])
    # the billed $10 covers openai/org-1 on 11-20; the metered $3.75 is the same money
    assert _total(engine, "best") == Decimal("10")
    assert _total(engine, "billed") == Decimal("10")
    assert _total(engine, "metered") == Decimal("3.75")
    # all: 10 + 2.50 + 1.25
    assert _total(engine, "all") == Decimal("13.75")


def test_best_basis_metered_other_day_or_account_still_counts(engine: Engine) -> None:
    _write(
        engine,
        [
            _billed("10.00"),
            _metered("covered", "2.50"),
            _metered("next-day", "1.25", at=NOV_20 + timedelta(days=1, hours=3)),
            _metered("other-account", "0.75", account="org-2"),
            _metered("other-provider", "0.10", provider="anthropic"),
        ],
    )
    # 10 billed + 1.25 (11-21 has no billed) + 0.75 (org-2 has no billed) + 0.10 (anthropic)
    assert _total(engine, "best") == Decimal("12.10")
    # all: 10 + 2.50 + 1.25 + 0.75 + 0.10
    assert _total(engine, "all") == Decimal("14.60")


def test_best_basis_metered_without_account_covered_by_any_billed_account(engine: Engine) -> None:
    _write(
        engine,
        [
            _billed("10.00", account="org-2"),
            _metered("no-account", "2.50", account=""),
            _metered("no-account-next-day", "1.25", account="", at=NOV_20 + timedelta(days=1, hours=3)),
            _metered("no-account-anthropic", "0.40", account="", provider="anthropic"),
        ],
    )
    # 11-20 openai: billed org-2 covers the account-less $2.50; 11-21 and anthropic are not covered
    # 10 + 1.25 + 0.40
    assert _total(engine, "best") == Decimal("11.65")
    assert _total(engine, "all") == Decimal("14.15")


def test_best_basis_same_from_every_rollup_and_records(engine: Engine) -> None:
    _write(
        engine,
        [
            _billed("10.00"),
            _metered("a", "2.50", user="ann"),
            _metered("b", "0.75", account="org-2", user="bob"),
        ],
    )
    # 10 billed + 0.75 uncovered (org-2), whichever table answers:
    # rollup_model (no dims), rollup_user (by user), rollup_key (by api key), usage (user × feature)
    for by in ((), ("user",), ("api_key_id",), ("model",), ("user", "feature")):
        assert _total(engine, "best", by=by) == Decimal("10.75"), by
        assert _total(engine, "all", by=by) == Decimal("13.25"), by


def test_best_basis_billed_revision_keeps_covering(engine: Engine) -> None:
    _write(engine, [_billed("10.00"), _metered("a", "2.50")])
    _write(engine, [_billed("11.00")])  # the provider revised its figure
    assert _total(engine, "best") == Decimal("11")
    assert _total(engine, "all") == Decimal("13.5")  # 11 + 2.50


def test_best_basis_manual_always_counts(engine: Engine) -> None:
    manual = usage_record(
        key="manual:chatgpt-team:2026-11",
        source="manual",
        basis=Basis.MANUAL,
        start=NOV_20,
        model="",
        account="org-1",
        requests=0,
        cost="30",
    )
    _write(engine, [_billed("10.00"), _metered("a", "2.50"), manual])
    # 10 billed + 30 manual; the covered metered $2.50 is left out
    assert _total(engine, "best") == Decimal("40")


# ---- local days -----------------------------------------------------------------------


def _late_event() -> UsageRecord:
    return _metered("late", "1.00", at=datetime(2026, 11, 20, 23, 30, tzinfo=UTC))


def _days(engine: Engine) -> dict[str, list[str]]:
    fold_all(engine)  # the rollups are written behind: fold the journal before reading them
    with engine.connect() as conn:
        out = {"usage": [r.day for r in conn.execute(select(usage.c.day))]}
        for name, table in rollups.items():
            out[name] = [r.day for r in conn.execute(select(table.c.day))]
    return out


def _on(day: str) -> dict[str, list[str]]:
    """Every table holding one row on `day` (the monthly twins on its month's first day)."""
    return {name: [day[:8] + "01" if name.endswith("_month") else day] for name in ("usage", *rollups)}


@pytest.mark.parametrize(("zone", "day"), [(TOKYO, "2026-11-21"), (UTC_ZONE, "2026-11-20")])
def test_local_day_follows_configured_zone(engine: Engine, zone: ZoneInfo, day: str) -> None:
    # 2026-11-20T23:30Z is 08:30 on the 21st in Tokyo (UTC+9)
    _write(engine, [_late_event()], tz=zone)
    assert _days(engine) == _on(day)
    on_day = date.fromisoformat(day)
    assert _total(engine, "all", start=on_day, end=on_day) == Decimal("1")
    other = on_day + timedelta(days=1 if day.endswith("20") else -1)
    assert _total(engine, "all", start=other, end=other) == Decimal("0")


def test_local_day_billed_utc_bucket_stays_on_its_day_in_tokyo(engine: Engine) -> None:
    # a UTC-day bucket counts at its midpoint (12:00Z = 21:00 in Tokyo): same calendar day
    _write(engine, [_billed("10.00")], tz=TOKYO)
    assert _days(engine)["usage"] == ["2026-11-20"]


def test_rebuild_rollups_redates_after_zone_change(engine: Engine) -> None:
    _write(engine, [_late_event()], tz=UTC_ZONE)
    with engine.begin() as conn:
        rebuild_rollups(conn, tz=UTC_ZONE)
    with engine.begin() as conn:
        rebuild_rollups(conn, tz=TOKYO)
    assert _days(engine) == _on("2026-11-21")
    assert _total(engine, "all", start=date(2026, 11, 21), end=date(2026, 11, 21)) == Decimal("1")
    with engine.begin() as conn:
        rebuild_rollups(conn, tz=UTC_ZONE)
    assert _days(engine) == _on("2026-11-20")


def test_rebuild_rollups_redates_records_written_in_another_zone(engine: Engine) -> None:
    _write(engine, [_late_event()], tz=TOKYO)  # dated 2026-11-21
    with engine.begin() as conn:
        rebuild_rollups(conn, tz=UTC_ZONE)
    assert _days(engine) == _on("2026-11-20")


# ---- natural keys -----------------------------------------------------------------------


def test_ledger_event_id_stored_once_whatever_its_timestamp(engine: Engine) -> None:
    first = _metered("same-id", "1.00")
    later = _metered("same-id", "1.00", at=first.start + timedelta(seconds=1))
    with engine.begin() as conn:
        together = write_records(conn, [first, later], tz=UTC_ZONE)
    with engine.begin() as conn:
        apart = write_records(conn, [later], tz=UTC_ZONE)
    # one event id, one record: the first version stays, whichever way the others arrive
    assert (together.inserted, together.duplicates) == (1, 1)
    assert (apart.inserted, apart.duplicates) == (0, 1)
    assert _total(engine, "all") == Decimal("1")


def test_best_basis_billed_bucket_covers_its_instants_in_any_zone(engine: Engine) -> None:
    # OpenAI bills 2026-11-20 00:00Z-24:00Z as one bucket of $10; the 23:30Z call is in it
    _write(engine, [_billed("10.00"), _late_event()], tz=TOKYO)
    # the sync has not reached 11-21 yet: the $1 call is billed money already
    assert _total(engine, "best", start=date(2026, 11, 20), end=date(2026, 11, 21)) == Decimal("10")
