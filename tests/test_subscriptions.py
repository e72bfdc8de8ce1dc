"""Seat subscriptions → manual records, on real SQLite and PostgreSQL ledgers.

Every figure is worked out by hand beside its assertion; "today" is fixed (2026-12-03)
so the periods recorded are known. The ledger's own read path (`queries.spend`, which
the pages, the API and `report` call) is what the tests compare, so the figures the
views show are the ones asserted.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from spendledger.errors import SpendledgerError
from spendledger.ingest import seat_periods
from spendledger.ingest.subscription_plans import PRESETS
from spendledger.ingest.subscriptions import (
    Outcome,
    SubscriptionError,
    change_seats,
    create_subscription,
    current_view,
    define_subscription,
    period_figures,
    remove_subscription,
    set_view,
    sync_in_round,
    sync_subscriptions,
)
from spendledger.model_names import canonical_provider
from spendledger.queries import build_query, spend
from spendledger.secrets import mask
from spendledger.store import Connection
from spendledger.store.ledger import records_by_source
from spendledger.store.sources import add_source, remove_source
from spendledger.store.subscriptions import SubscriptionExistsError, list_subscriptions, recorded

UTC_ZONE = ZoneInfo("UTC")
TODAY = date(2026, 12, 3)
NOW = datetime(2026, 12, 3, 9, tzinfo=UTC)


def _add(conn: Connection, name: str = "team", *, today: date = TODAY, **fields: Any) -> Outcome:
    definition: dict[str, Any] = {
        "provider": "openai",
        "seats": 12,
        "price_per_seat": "30",
        "starts": "2026-09-01",
        **fields,
    }
    return create_subscription(conn, name=name, tz=UTC_ZONE, today=today, now=NOW, **definition)


def _monthly(conn: Connection) -> dict[str, Decimal]:
    """The ledger's spend per month of 2026, as `report --granularity month` reads it."""
    query = build_query(today=TODAY, start="2026-01-01", end="2026-12-31", granularity="month", basis="all")
    return {row.period or "": row.cost for row in spend(conn, query).rows}


def _daily(conn: Connection, start: str, end: str) -> dict[str, Decimal]:
    query = build_query(today=TODAY, start=start, end=end, granularity="day", basis="all")
    return {row.period or "": row.cost for row in spend(conn, query).rows}


@pytest.mark.parametrize("view", ["charge", "spread"])
def test_subscription_12_seats_then_15_costs_360_360_450(engine: Engine, view: str) -> None:
    with engine.begin() as conn:
        set_view(conn, view, tz=UTC_ZONE, today=TODAY, now=NOW)
        _add(conn)  # 12 seats × $30 a month from 2026-09-01, billed on the 1st
        change_seats(conn, "team", 15, from_day="2026-11-01", tz=UTC_ZONE, today=TODAY, now=NOW)
        months = _monthly(conn)
    # Sep: 12 × 30 = 360; Oct: 12 × 30 = 360; Nov: 15 × 30 = 450. December (today the 3rd):
    # charged in full on Dec 1 (450), or spread: 3 days × 15 × 30 / 31 = 1350 / 31 = 43.548387097
    december = Decimal("450") if view == "charge" else Decimal("43.548387097")
    assert months == {
        "2026-09": Decimal("360"),
        "2026-10": Decimal("360"),
        "2026-11": Decimal("450"),
        "2026-12": december,
    }


def test_subscription_charge_lands_on_the_billing_day_and_spread_on_every_day(engine: Engine) -> None:
    with engine.begin() as conn:
        _add(conn)
        charged = _daily(conn, "2026-10-01", "2026-10-31")
        set_view(conn, "spread", tz=UTC_ZONE, today=TODAY, now=NOW)
        spread = _daily(conn, "2026-10-01", "2026-10-31")
    assert charged == {"2026-10-01": Decimal("360")}  # one charge, on the 1st
    # 360 over October's 31 days: 11.612903225806... a day, rounded on the running total,
    # so the days sum to exactly 360 (no cent appears or vanishes)
    assert len(spread) == 31 and sum(spread.values()) == Decimal("360")
    assert set(spread.values()) == {Decimal("11.612903226"), Decimal("11.612903225")}


def test_subscription_mid_period_seat_change_is_prorated_by_the_day(engine: Engine) -> None:
    with engine.begin() as conn:
        _add(conn)
        out = change_seats(conn, "team", 15, from_day="2026-11-16", tz=UTC_ZONE, today=TODAY, now=NOW)
        november = _daily(conn, "2026-11-01", "2026-11-30")
        set_view(conn, "spread", tz=UTC_ZONE, today=TODAY, now=NOW)
        spread = _daily(conn, "2026-11-01", "2026-11-30")
        fewer = change_seats(conn, "team", 10, from_day="2026-11-16", tz=UTC_ZONE, today=TODAY, now=NOW)
        credited = _monthly(conn)["2026-11"]
    assert out.covered_by is None
    # 12 seats charged on Nov 1 (360); 3 more seats for the 15 days left of 30 (16th to 30th):
    # 3 × 30 × 15 / 30 = 45 on the 16th
    assert november == {"2026-11-01": Decimal("360"), "2026-11-16": Decimal("45")}
    # spread: 12 × 30 / 30 = 12 a day to the 15th, 15 × 30 / 30 = 15 a day from the 16th: 180 + 225 = 405
    assert spread["2026-11-15"] == Decimal("12") and spread["2026-11-16"] == Decimal("15")
    assert sum(spread.values()) == Decimal("405")
    # down to 10 seats from the 16th: 15 days × 10 × 30 / 30 = 150 + 180 = 330 (a 30 credit against 12 seats)
    assert fewer.written.replaced and credited == Decimal("330")


def test_subscription_annual_interval_charges_once_a_year_and_prorates_added_seats(engine: Engine) -> None:
    with engine.begin() as conn:
        _add(
            conn,
            "claude",
            provider="anthropic",
            seats=10,
            price_per_seat="300",
            interval="annual",
            starts="2026-01-01",
        )
        change_seats(conn, "claude", 15, from_day="2026-04-01", tz=UTC_ZONE, today=TODAY, now=NOW)
        months = _monthly(conn)
        (figure,) = period_figures(list_subscriptions(conn)[0], today=TODAY)
    # 10 × 300 = 3000 on 2026-01-01; 5 more seats for Apr 1 to Dec 31, 275 of the year's 365 days:
    # 5 × 300 × 275 / 365 = 412500 / 365 = 1130.1369863013... → 1130.136986301 on Apr 1
    assert months == {"2026-01": Decimal("3000"), "2026-04": Decimal("1130.136986301")}
    assert (figure.start, figure.end, figure.seats) == (date(2026, 1, 1), date(2027, 1, 1), "10 → 15")
    assert figure.amount == Decimal("4130.136986301")
    with engine.begin() as conn:  # a year on, the next period's charge: 15 × 300 = 4500
        sync_subscriptions(conn, tz=UTC_ZONE, today=date(2027, 1, 1), now=NOW)
        assert _monthly(conn)["2026-01"] == Decimal("3000")
        assert recorded(conn)[list_subscriptions(conn)[0].id] == (3, Decimal("8630.136986301"))


def test_subscription_ends_and_a_start_off_the_billing_day_are_prorated(engine: Engine) -> None:
    with engine.begin() as conn:
        _add(conn, ends="2026-11-15")
        _add(conn, "late", provider="anthropic", starts="2026-09-16", billing_day=1)
        by_provider = {provider: _monthly_of(conn, provider) for provider in ("openai", "anthropic")}
    # ends Nov 15: November pays 15 of its 30 days, 12 × 30 × 15 / 30 = 180; nothing after
    assert by_provider["openai"] == {
        "2026-09": Decimal("360"),
        "2026-10": Decimal("360"),
        "2026-11": Decimal("180"),
    }
    # starts Sep 16, billed on the 1st: September pays its last 15 days, 12 × 30 × 15 / 30 = 180,
    # charged on the start day; then 360 a month
    assert by_provider["anthropic"] == {
        "2026-09": Decimal("180"),
        "2026-10": Decimal("360"),
        "2026-11": Decimal("360"),
        "2026-12": Decimal("360"),
    }


def _monthly_of(conn: Connection, provider: str) -> dict[str, Decimal]:
    query = build_query(
        today=TODAY, start="2026-01-01", end="2026-12-31", granularity="month", basis="all",
        filters=[f"provider={provider}"],
    )  # fmt: skip
    return {row.period or "": row.cost for row in spend(conn, query).rows}


def test_subscription_billing_day_past_a_months_end_falls_on_its_last_day() -> None:
    plan = seat_periods.Schedule(
        price_nanos=28 * 10**9, interval="monthly", billing_day=31, starts=date(2027, 1, 31), ends=None,
        seats=[(date(2027, 1, 31), 1)],
    )  # fmt: skip
    days = [line.day for line in seat_periods.charges(plan, date(2027, 4, 30))]
    assert days == [date(2027, 1, 31), date(2027, 2, 28), date(2027, 3, 31), date(2027, 4, 30)]
    # the February period runs Feb 28 to Mar 31 (31 days) and costs the full price
    assert {line.nanos for line in seat_periods.charges(plan, date(2027, 4, 30))} == {28 * 10**9}


def test_subscription_records_are_dated_in_the_configured_zone(engine: Engine) -> None:
    la = ZoneInfo("America/Los_Angeles")
    with engine.begin() as conn:
        create_subscription(
            conn, name="team", provider="openai", seats=12, price_per_seat="30", starts="2026-09-01",
            tz=la, today=TODAY, now=NOW,
        )  # fmt: skip
        days = _daily(conn, "2026-08-31", "2026-09-02")
    assert days == {"2026-09-01": Decimal("360")}  # the 1st in Los Angeles, not the UTC day around it


def test_subscription_presets_fill_provider_and_price_and_are_overridable(engine: Engine) -> None:
    with engine.begin() as conn:
        team = _add(conn, "claude", provider=None, price_per_seat=None, plan="claude-team", interval="annual")
        copilot = _add(conn, "copilot", provider=None, price_per_seat=None, plan="GitHub Copilot Business")
        override = _add(conn, "negotiated", provider=None, price_per_seat="22.50", plan="chatgpt-business")
        with pytest.raises(
            SubscriptionError, match="price_per_seat: plan chatgpt-enterprise has no public price"
        ):
            _add(conn, "enterprise", provider=None, price_per_seat=None, plan="chatgpt-enterprise")
        enterprise = _add(conn, "enterprise", provider=None, price_per_seat="60", plan="chatgpt-enterprise")
        with pytest.raises(SubscriptionError, match="plan cursor-pro lists no annual price"):
            _add(conn, "cursor", provider=None, price_per_seat=None, plan="cursor-pro", interval="annual")
        with pytest.raises(
            SubscriptionError, match=r"plan: 'chatgpt-ultra' is not a shipped plan; plans: chatgpt-plus"
        ):
            _add(conn, "nope", plan="chatgpt-ultra")
    # Claude Team standard seats, annual: $25 a month billed annually = 300 a seat a year
    assert (team.subscription.provider, team.subscription.price) == ("anthropic", Decimal("300"))
    assert (copilot.subscription.provider, copilot.subscription.price) == ("github-copilot", Decimal("19"))
    assert (override.subscription.provider, override.subscription.price) == ("openai", Decimal("22.5"))
    assert enterprise.subscription.plan == "chatgpt-enterprise"
    for p in PRESETS:
        assert canonical_provider(p.provider) == p.provider and p.source and p.label
        assert all(price > 0 for price in p.prices.values())
    assert {p.name for p in PRESETS if not p.prices} == {"chatgpt-enterprise"}


def test_subscription_regeneration_is_idempotent_and_follows_the_days(engine: Engine) -> None:
    with engine.begin() as conn:
        set_view(conn, "spread", tz=UTC_ZONE, today=TODAY, now=NOW)
        first = _add(conn)
        before = _monthly(conn)
        (again,) = sync_subscriptions(conn, tz=UTC_ZONE, today=TODAY, now=NOW)
        assert _monthly(conn) == before and records_by_source(conn) == {"subscriptions": 94}
        (later,) = sync_subscriptions(conn, tz=UTC_ZONE, today=date(2026, 12, 5), now=NOW)
    # Sep 1 to Dec 3: 30 + 31 + 30 + 3 = 94 days, each a record
    assert first.written.inserted == 94
    assert (again.removed, again.written.inserted, again.written.replaced, again.written.duplicates) == (
        0,
        0,
        0,
        94,
    )
    assert not again.changed and later.written.inserted == 2  # Dec 4 and 5


def test_subscription_view_switch_rewrites_the_records_and_keeps_the_periods(engine: Engine) -> None:
    with engine.begin() as conn:
        _add(conn)
        assert current_view(conn) == "charge" and records_by_source(conn) == {"subscriptions": 4}
        set_view(conn, "spread", tz=UTC_ZONE, today=TODAY, now=NOW)
        spread = _monthly(conn)
        set_view(conn, "charge", tz=UTC_ZONE, today=TODAY, now=NOW)
        assert records_by_source(conn) == {"subscriptions": 4}  # the daily shares went
        with pytest.raises(SubscriptionError, match="view: 'daily' is not one of charge, spread"):
            set_view(conn, "daily", tz=UTC_ZONE, today=TODAY, now=NOW)
    # full periods agree to the nano-unit in both shapes: 360 each
    assert spread["2026-09"] == spread["2026-10"] == Decimal("360")


def test_subscription_removal_takes_its_records_away(engine: Engine) -> None:
    with engine.begin() as conn:
        _add(conn)
        _add(conn, "other", provider="anthropic", seats=2)
        gone = remove_subscription(conn, "team", tz=UTC_ZONE)
        left = _monthly_of(conn, "openai"), records_by_source(conn)
        with pytest.raises(SpendledgerError, match="no subscription named 'team'"):
            remove_subscription(conn, "team", tz=UTC_ZONE)
    # Sep 360 + Oct 360 + Nov 360 + Dec 360 (12 seats × 30, charged on the 1st up to Dec 3)
    assert (gone.subscription.name, gone.records, gone.total) == ("team", 4, Decimal("1440"))
    assert left == ({}, {"subscriptions": 4})  # the other one's 4 monthly charges stay


def test_subscription_define_creates_then_replaces_and_is_idempotent(engine: Engine) -> None:
    definition: dict[str, Any] = {
        "provider": "openai", "seats": 12, "price_per_seat": "30", "starts": "2026-09-01",
        "seat_changes": [("2026-11-01", 15)],
    }  # fmt: skip
    with engine.begin() as conn:
        made, created = define_subscription(
            conn, name="team", tz=UTC_ZONE, today=TODAY, now=NOW, **definition
        )
        same, created_again = define_subscription(
            conn, name="team", tz=UTC_ZONE, today=TODAY, now=NOW, **definition
        )
        months = _monthly(conn)
    assert created and not created_again and not same.changed
    assert made.subscription.seats == ((date(2026, 9, 1), 12), (date(2026, 11, 1), 15))
    assert [months[m] for m in ("2026-09", "2026-10", "2026-11")] == [360, 360, 450]


def _copilot_source(conn: Connection, name: str, **options: str) -> None:
    add_source(
        conn, name=name, provider="github-copilot", credential="sealed", key_hint=mask("ghp_xxxxxxxxxxxx"),
        options={"org": "acme", **options}, now=NOW,
    )  # fmt: skip


def test_subscription_covered_by_a_seat_billing_source_records_nothing(engine: Engine) -> None:
    with engine.begin() as conn:
        before = _add(conn, "copilot", provider="github", plan="github-copilot-business", account="acme")
        assert before.covered_by is None and records_by_source(conn) == {"subscriptions": 4}
        _copilot_source(conn, "gh", account="acme")
        other = _add(conn, "elsewhere", plan="github-copilot-business", provider=None, account="globex")
        (covered, uncovered) = sync_subscriptions(conn, tz=UTC_ZONE, today=TODAY, now=NOW)
        counted = records_by_source(conn)
        remove_source(conn, "gh")
        (back, _) = sync_subscriptions(conn, tz=UTC_ZONE, today=TODAY, now=NOW)
    assert other.covered_by is None and uncovered.subscription.name == "elsewhere"
    # the Copilot source syncs account acme's seat charges: the subscription's 4 charges go,
    # and it says which figures count
    assert (covered.subscription.name, covered.covered_by, covered.removed) == ("copilot", "gh", 4)
    assert covered.warning is not None and "covered by source 'gh'" in covered.warning
    assert counted == {"subscriptions": 4}  # only globex's: 19 × 12 seats a month, 4 months
    assert back.covered_by is None and back.written.inserted == 4  # the source gone, it counts again


def test_subscription_without_account_is_covered_by_any_source_of_its_provider(engine: Engine) -> None:
    with engine.begin() as conn:
        _copilot_source(conn, "gh")  # its records' account is the source's name
        out = _add(conn, "copilot", provider="copilot", price_per_seat="19")
        named = _add(conn, "named", provider="github-copilot", price_per_seat="19", account="gh")
    assert out.covered_by == "gh" and named.covered_by == "gh" and out.written.inserted == 0


def test_subscription_scheduler_round_runs_once_a_day(engine: Engine) -> None:
    with engine.begin() as conn:
        _add(conn)
    assert sync_in_round(engine, tz=UTC_ZONE, now=NOW) is not None
    assert sync_in_round(engine, tz=UTC_ZONE, now=NOW) is None  # nothing new today
    (next_month,) = sync_in_round(engine, tz=UTC_ZONE, now=datetime(2027, 1, 1, 9, tzinfo=UTC)) or []
    assert next_month.written.inserted == 1  # January's charge


BAD_INPUT = [
    ({"seats": "twelve"}, "seats: 'twelve' is not a whole number of seats"),
    ({"seats": 0}, "seats: 0: seats are 1 to 100,000"),
    ({"price_per_seat": "-1"}, "price_per_seat: -1: send an amount from 0 to 1,000,000"),
    ({"price_per_seat": "thirty"}, "price_per_seat: 'thirty' is not an amount"),
    ({"price_per_seat": "NaN"}, "price_per_seat: NaN: send an amount"),
    ({"currency": "dollars"}, "currency: 'DOLLARS' is not a currency code"),
    ({"interval": "weekly"}, "interval: 'weekly' is not one of monthly, annual"),
    ({"starts": "2026-13-01"}, "starts: '2026-13-01' is not a date; send YYYY-MM-DD"),
    ({"starts": "1999-01-01"}, "starts: 1999-01-01 is outside 2015-01-01 to 2099-12-31"),
    ({"ends": "2026-08-31"}, "ends: 2026-08-31 is before the start, 2026-09-01"),
    ({"billing_day": "32"}, "billing_day: 32: a billing day is 1 to 31"),
    ({"provider": None}, "provider: give the provider billing it"),
    ({"account": "a\x00b"}, "account: control characters are not allowed"),
    ({"project": "p" * 201}, "project: 201 characters; at most 200"),
    ({"seats": 100_000, "price_per_seat": "1000.01"}, "seats: seats × price per seat exceeds 100,000,000"),
    (
        {"seat_changes": [("2026-08-01", 3)]},
        "from: 2026-08-01 is outside the subscription (2026-09-01 to open)",
    ),
]


@pytest.mark.parametrize(("fields", "message"), BAD_INPUT)
def test_subscription_bad_input_names_the_field(engine: Engine, fields: dict[str, Any], message: str) -> None:
    with engine.begin() as conn, pytest.raises(SubscriptionError) as caught:
        _add(conn, **fields)
    assert str(caught.value).startswith(message)
    with engine.connect() as conn:
        assert list_subscriptions(conn) == []


def test_subscription_names_are_unique_and_seat_changes_checked(engine: Engine) -> None:
    with engine.begin() as conn:
        _add(conn)
        with pytest.raises(SubscriptionExistsError, match="name: a subscription named 'team' exists"):
            _add(conn)
        with pytest.raises(SubscriptionError, match="name: a subscription's name is 1 to 200 characters"):
            _add(conn, "  ")
        with pytest.raises(SubscriptionError, match="seats: 0: seats are 1 to"):  # the start keeps a seat
            change_seats(conn, "team", 0, from_day="2026-09-01", tz=UTC_ZONE, today=TODAY, now=NOW)
        paused = change_seats(conn, "team", 0, from_day="2026-11-01", tz=UTC_ZONE, today=TODAY, now=NOW)
    assert paused.subscription.seats[-1] == (date(2026, 11, 1), 0)
    assert paused.removed == 2  # November's and December's charges: nothing to pay from Nov 1


_garbage = st.one_of(
    st.none(), st.text(max_size=30), st.integers(-(10**12), 10**12), st.decimals(allow_nan=True)
)


@given(
    seats=_garbage,
    price=_garbage,
    starts=_garbage,
    ends=_garbage,
    billing_day=_garbage,
    interval=_garbage,
    currency=_garbage,
    plan=_garbage,
    provider=_garbage,
)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_subscription_garbage_input_raises_only_our_errors(engine: Engine, **garbage: Any) -> None:
    with engine.connect() as conn, conn.begin() as tx:
        try:
            create_subscription(
                conn, name="fuzz", seats=garbage["seats"], starts=garbage["starts"], ends=garbage["ends"],
                price_per_seat=garbage["price"], billing_day=garbage["billing_day"],
                interval=str(garbage["interval"]), currency=garbage["currency"], plan=garbage["plan"],
                provider=garbage["provider"], tz=UTC_ZONE, today=TODAY, now=NOW,
            )  # fmt: skip
        except SpendledgerError:
            pass
        finally:
            tx.rollback()
