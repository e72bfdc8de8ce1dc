"""Manual entries: an amount on a day, or spread over a period, as records of basis manual.

The figures are worked out by hand in the comments; every test that touches the ledger
runs on SQLite and PostgreSQL. The CLI, the JSON API and the /entries page call the same
library (spendledger.ingest.manual), so each is tested for its own part: the CLI's
output and exit codes, the API's batches and idempotency, the page's roles and forms.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from clirun import Cli, cli_runner
from logins import add_user, csrf_of, login, text_of
from spendledger.config import Settings
from spendledger.errors import SpendledgerError
from spendledger.ingest.entries import FIELDS, EntryError, entry_records, parse_entry, split_nanos
from spendledger.ingest.manual import (
    EntryBatchError,
    edit_entry,
    list_entries,
    parse_entry_batch,
    remove_entry,
    save_entry,
    store_entry_batch,
)
from spendledger.queries import build_query, spend
from spendledger.records import Basis, as_utc
from spendledger.store import write_records
from spendledger.store.ledger import records_by_source
from spendledger.store.users import grant
from spendledger.web import create_app
from usage_records import usage_record

UTC_ZONE = ZoneInfo("UTC")
LA = "America/Los_Angeles"
TODAY = date(2026, 12, 3)
NOVEMBER_DAY_HIGH = Decimal("1.333333334")
NOVEMBER_DAY_LOW = Decimal("1.333333333")


def _daily(engine: Engine, start: str, end: str, **filters: str) -> dict[str, Decimal]:
    """Manual spend per local day, as the explorer's daily chart reads it (rollups)."""
    query = build_query(
        today=TODAY,
        start=start,
        end=end,
        granularity="day",
        basis="manual",
        filters=[f"{k}={v}" for k, v in filters.items()],
    )
    with engine.connect() as conn:
        return {str(row.period): row.cost for row in spend(conn, query).rows}


def _total(
    engine: Engine, start: str, end: str, granularity: str = "total", basis: str = "manual"
) -> Decimal:
    query = build_query(today=TODAY, start=start, end=end, granularity=granularity, basis=basis)
    with engine.connect() as conn:
        report = spend(conn, query)
    assert report.total is not None
    return report.total


def _save(engine: Engine, tz: ZoneInfo = UTC_ZONE, **values: Any) -> str:
    with engine.begin() as conn:
        return save_entry(conn, parse_entry(values), tz=tz, actor="test").outcome


# ---- the spread: hand-computed figures -------------------------------------------------------


def test_entries_split_sums_to_the_amount_with_the_remainder_on_the_first_days() -> None:
    # $40.00 = 40 000 000 000 nano-units over 30 days: 1 333 333 333 each, 10 left over, so
    # Nov 1-10 take 1 333 333 334: 10 × 1.333333334 + 20 × 1.333333333 = 13.33333334 + 26.66666666 = 40
    shares = split_nanos(40_000_000_000, 30)
    assert shares[:10] == [1_333_333_334] * 10 and shares[10:] == [1_333_333_333] * 20
    assert sum(shares) == 40_000_000_000
    assert split_nanos(7, 7) == [1] * 7 and split_nanos(5, 7) == [1] * 5 + [0] * 2
    assert split_nanos(10_000_000_000, 3) == [3_333_333_334, 3_333_333_333, 3_333_333_333]


def test_entries_records_are_one_local_day_each() -> None:
    # a day is a bucket from local midnight to the next: its midpoint (the record's instant,
    # which the rollups date it by) is local noon of that same day, in any zone
    entry = parse_entry({"id": "inv-1", "provider": "Mistral", "amount": "40.00", "period": "2026-11"})
    records = entry_records(entry, tz=ZoneInfo(LA))
    assert len(records) == 30 and entry.provider == "mistral"
    assert [r.key for r in records[:2]] == ["entry|inv-1|2026-11-01", "entry|inv-1|2026-11-02"]
    la = ZoneInfo(LA)
    assert [r.instant.astimezone(la).date() for r in records] == [date(2026, 11, d) for d in range(1, 31)]
    assert records[1].instant.astimezone(la).time() == time(12)
    # Nov 1 in Los Angeles is 25 hours long (DST ends): its midpoint is 11:30 PST, still Nov 1
    assert records[0].instant.astimezone(la).time() == time(11, 30)
    first_end = records[0].end
    assert (
        first_end is not None and (as_utc(first_end) - as_utc(records[0].start)).total_seconds() == 25 * 3600
    )
    assert sum((r.cost or Decimal(0)) for r in records) == Decimal("40.00")
    assert {r.requests for r in records} == {0}


def test_entries_month_spread_makes_the_daily_chart_and_the_month_right(engine: Engine) -> None:
    assert _save(engine, provider="mistral", amount="40.00", period="2026-11", id="inv-1234") == "added"

    daily = _daily(engine, "2026-10-30", "2026-12-02")
    assert len(daily) == 30 and set(daily) == {f"2026-11-{d:02d}" for d in range(1, 31)}
    assert daily["2026-11-01"] == daily["2026-11-10"] == NOVEMBER_DAY_HIGH  # $1.333333334
    assert daily["2026-11-11"] == daily["2026-11-30"] == NOVEMBER_DAY_LOW  # $1.333333333
    assert _total(engine, "2026-11-01", "2026-11-30") == Decimal("40.00")
    assert _total(engine, "2026-11-01", "2026-11-30", basis="best") == Decimal(
        "40.00"
    )  # manual always counts
    months = _daily_by(engine, "2026-10-01", "2026-12-31", "month")
    assert months == {"2026-11": Decimal("40.00")}
    # a week cut from the month: Nov 8-14 = 3 × 1.333333334 + 4 × 1.333333333 = 9.333333334
    assert _total(engine, "2026-11-08", "2026-11-14") == Decimal("9.333333334")


def test_entries_one_record_over_the_month_would_spike_on_its_midpoint(engine: Engine) -> None:
    # why an entry is stored per day: the rollups date a record by its instant, a bucket's
    # midpoint, so one record from Nov 1 00:00 to Dec 1 00:00 UTC counts all $40.00 on Nov 16
    month = usage_record(
        key="one-bucket", source="manual", basis=Basis.MANUAL, start=datetime(2026, 11, 1, tzinfo=UTC),
        end=datetime(2026, 12, 1, tzinfo=UTC), provider="mistral", cost="40.00", requests=0,
    )  # fmt: skip
    with engine.begin() as conn:
        write_records(conn, [month], tz=UTC_ZONE)
    assert _daily(engine, "2026-11-01", "2026-11-30") == {"2026-11-16": Decimal("40.00")}


def _daily_by(engine: Engine, start: str, end: str, granularity: str) -> dict[str, Decimal]:
    query = build_query(today=TODAY, start=start, end=end, granularity=granularity, basis="manual")
    with engine.connect() as conn:
        return {str(row.period): row.cost for row in spend(conn, query).rows}


def test_entries_range_and_single_day(engine: Engine) -> None:
    # $10 over Nov 5-7: 10 000 000 000 / 3 = 3 333 333 333 r 1 → Nov 5 takes one nano-unit more
    _save(engine, provider="groq", amount="10", **{"from": "2026-11-05", "to": "2026-11-07"})
    _save(engine, provider="perplexity", amount="20.00", date="2026-11-30", project="research")
    assert _daily(engine, "2026-11-01", "2026-11-30") == {
        "2026-11-05": Decimal("3.333333334"),
        "2026-11-06": Decimal("3.333333333"),
        "2026-11-07": Decimal("3.333333333"),
        "2026-11-30": Decimal("20.00"),
    }
    assert _daily(engine, "2026-11-01", "2026-11-30", project="research") == {"2026-11-30": Decimal("20.00")}
    assert _total(engine, "2026-11-01", "2026-11-30") == Decimal("30.00")


def test_entries_days_are_local_days_of_the_configured_zone(engine: Engine) -> None:
    la = ZoneInfo(LA)
    _save(engine, la, provider="mistral", amount="12.00", date="2026-11-30")
    # the explorer in Los Angeles shows it on Nov 30, not on Dec 1 (its UTC midpoint is 20:00 UTC Nov 30)
    assert _daily(engine, "2026-11-29", "2026-12-01") == {"2026-11-30": Decimal("12.00")}


# ---- idempotency, edits, removal ----------------------------------------------------------------


def test_entries_same_id_twice_changes_nothing_and_a_new_figure_replaces(engine: Engine) -> None:
    values = {"provider": "mistral", "amount": "40.00", "period": "2026-11", "id": "inv-1234"}
    assert _save(engine, **values) == "added"
    assert _save(engine, **values) == "unchanged"
    assert _save(engine, **{**values, "amount": "40"}) == "unchanged"  # the same amount, written otherwise
    with engine.connect() as conn:
        assert records_by_source(conn, source="manual") == {"manual": 30}
    assert _save(engine, **{**values, "amount": "45.00"}) == "replaced"
    assert _total(engine, "2026-11-01", "2026-11-30") == Decimal(
        "45.00"
    )  # moved by the difference, not doubled
    # $45 / 30 = $1.50 a day exactly
    assert set(_daily(engine, "2026-11-01", "2026-11-30").values()) == {Decimal("1.50")}
    with engine.begin() as conn, pytest.raises(SpendledgerError, match="exists already"):
        save_entry(conn, parse_entry({**values, "amount": "1"}), tz=UTC_ZONE, actor="t", overwrite=False)


def test_entries_edit_moves_its_days_and_remove_takes_them_out(engine: Engine) -> None:
    _save(engine, provider="mistral", amount="40.00", period="2026-11", id="inv-1234", note="invoice 1234")
    with engine.begin() as conn:
        saved = edit_entry(conn, "inv-1234", {"date": "2026-12-01", "project": "web"}, tz=UTC_ZONE, actor="t")
    assert saved.outcome == "replaced" and saved.entry.note == "invoice 1234"  # kept
    assert _daily(engine, "2026-11-01", "2026-12-31") == {"2026-12-01": Decimal("40.00")}
    with engine.begin() as conn:
        edit_entry(conn, "inv-1234", {"to": "2026-12-04"}, tz=UTC_ZONE, actor="t")  # one end moves
    assert _daily(engine, "2026-11-01", "2026-12-31") == {
        f"2026-12-0{d}": Decimal("10.00") for d in range(1, 5)
    }
    with engine.begin() as conn:
        removed = remove_entry(conn, "inv-1234", actor="t")
        assert removed.amount == Decimal("40.00") and records_by_source(conn, source="manual") == {}
    assert _total(engine, "2026-11-01", "2026-12-31") == Decimal(0)
    with engine.begin() as conn, pytest.raises(SpendledgerError, match="no entry with id 'inv-1234'"):
        remove_entry(conn, "inv-1234", actor="t")


def test_entries_list_counts_what_falls_in_the_range(engine: Engine) -> None:
    _save(engine, provider="mistral", amount="40.00", period="2026-11", id="a")
    _save(engine, provider="perplexity", amount="20.00", date="2026-12-02", id="b", currency="EUR")
    with engine.connect() as conn:
        listed = list_entries(conn, start=date(2026, 11, 25), end=date(2026, 12, 31))
        everything = list_entries(conn)
    # Nov 25-30: 6 days × 1.333333333 = 7.999999998
    assert [(x.entry.id, x.in_range) for x in listed] == [
        ("a", Decimal("7.999999998")),
        ("b", Decimal("20.00")),
    ]
    assert [(x.entry.id, x.entry.amount, x.entry.days) for x in everything] == [
        ("a", Decimal("40.00"), 30),
        ("b", Decimal("20.00"), 1),
    ]
    assert _total(engine, "2026-11-25", "2026-11-30") == Decimal("7.999999998")  # the report agrees


# ---- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "field", "says"),
    [
        ({"amount": "40"}, "provider", "name the provider"),
        ({"provider": "x", "date": "2026-11-30"}, "amount", "give the amount"),
        ({"provider": "x", "amount": "forty", "date": "2026-11-30"}, "amount", "'forty' is not a number"),
        ({"provider": "x", "amount": "$40", "date": "2026-11-30"}, "amount", "not a number"),
        ({"provider": "x", "amount": "-5", "date": "2026-11-30"}, "amount", "not more than zero"),
        ({"provider": "x", "amount": "0.0000000001", "date": "2026-11-30"}, "amount", "9 decimal places"),
        ({"provider": "x", "amount": "NaN", "date": "2026-11-30"}, "amount", "not a number"),
        ({"provider": "x", "amount": "1e12", "date": "2026-11-30"}, "amount", "more than an entry holds"),
        ({"provider": "x", "amount": True, "date": "2026-11-30"}, "amount", "as a number"),
        ({"provider": "x", "amount": "1"}, "date", "give the day"),
        ({"provider": "x", "amount": "1", "date": "2026-11-31"}, "date", "not a date"),
        ({"provider": "x", "amount": "1", "date": "1999-12-31"}, "date", "outside the years"),
        ({"provider": "x", "amount": "1", "period": "2026-13"}, "period", "not a month"),
        (
            {"provider": "x", "amount": "1", "date": "2026-11-01", "period": "2026-11"},
            "period",
            "not several",
        ),
        ({"provider": "x", "amount": "1", "from": "2026-11-01"}, "to", "to is missing"),
        ({"provider": "x", "amount": "1", "from": "2026-11-05", "to": "2026-11-01"}, "to", "before from"),
        ({"provider": "x", "amount": "1", "from": "2026-01-01", "to": "2028-12-31"}, "to", "at most 731"),
        ({"provider": "x", "amount": "1", "date": "2026-11-01", "currency": "US$"}, "currency", "ISO 4217"),
        ({"provider": "x", "amount": "1", "date": "2026-11-01", "id": "a|b"}, "id", "not an entry id"),
        ({"provider": "x", "amount": "1", "date": "2026-11-01", "project": 7}, "project", "as text"),
        (
            {"provider": "x", "amount": "1", "date": "2026-11-01", "user": "a\x00b"},
            "user",
            "control character",
        ),
        ({"provider": "x", "amount": "1", "date": "2026-11-01", "note": "n" * 501}, "note", "at most 500"),
        ({"provider": "x", "amount": "1", "date": "2026-11-01", "amout": "1"}, "amout", "not a field"),
    ],
)
def test_entries_bad_input_names_the_field(values: dict[str, Any], field: str, says: str) -> None:
    with pytest.raises(EntryError) as caught:
        parse_entry(values)
    assert caught.value.field == field and says in str(caught.value), str(caught.value)


_JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30) | st.decimals(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
_FIELD_VALUE = st.one_of(
    _JSONISH,
    st.sampled_from(["2026-11", "2026-11-30", "2026-02-29", "40.00", "1e5", "-1", "usd", "EUR", "", " "]),
)


@hypothesis_settings(max_examples=400, deadline=None)
@given(values=st.dictionaries(st.sampled_from([*FIELDS, "bogus"]), _FIELD_VALUE, max_size=8))
def test_entries_parser_raises_only_entry_errors(values: dict[str, Any]) -> None:
    try:
        entry = parse_entry(values)
    except EntryError as exc:
        assert exc.field and str(exc).startswith(f"{exc.field}: ")
        return
    records = entry_records(entry, tz=ZoneInfo(LA))  # a parsed entry always makes records
    assert sum(r.cost or 0 for r in records) == entry.amount and len(records) == entry.days


@hypothesis_settings(max_examples=300, deadline=None)
@given(body=st.one_of(st.binary(max_size=200), _JSONISH.map(lambda v: json.dumps(v, default=str).encode())))
def test_entries_batch_body_parser_raises_only_batch_errors(body: bytes) -> None:
    try:
        items = parse_entry_batch(body)
    except EntryBatchError:
        return
    assert isinstance(items, list) and items


def test_entries_batch_body_refuses_deep_nesting_and_huge_numbers() -> None:
    with pytest.raises(EntryBatchError, match="nests too deep"):
        parse_entry_batch(b'{"entries": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    with pytest.raises(EntryBatchError, match="not JSON"):
        parse_entry_batch(b'{"entries": [{"amount": 1' + b"0" * 5000 + b"}]}")


# ---- the CLI ---------------------------------------------------------------------------------


@pytest.fixture
def cli(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    return cli_runner(db_url, tmp_path, monkeypatch, SPENDLEDGER_TIMEZONE=LA)


def _rows(output: str) -> dict[str, list[str]]:
    return {
        cells[0]: cells[1:]
        for line in output.splitlines()
        if line.startswith("│") and (cells := [c.strip() for c in line.strip("│").split("│")])
    }


def test_entries_cli_add_list_edit_remove(cli: Cli, engine: Engine) -> None:
    added = cli(
        "entries", "add", "--provider", "Mistral", "--amount", "40.00", "--period", "2026-11",
        "--note", "invoice 1234", "--id", "inv-1234",
    ).output  # fmt: skip
    assert (
        "Added entry inv-1234: $40.00 mistral on 2026-11-01 to 2026-11-30, 30 days of about $1.33." in added
    )
    generated = cli(
        "entries", "add", "--provider", "perplexity", "--amount", "20", "--date", "2026-11-30"
    ).output
    new_id = re.search(r"Added entry (e-[2-9a-z]{6}):", generated)
    assert new_id, generated

    rows = _rows(cli("entries", "list").output)
    assert rows["inv-1234"][:5] == ["mistral", "$40.00", "2026-11-01", "2026-11-30", "30"]
    assert rows[new_id.group(1)][:5] == ["perplexity", "$20.00", "2026-11-30", "2026-11-30", "1"]
    assert rows["Total"][1] == "$60.00"
    # Nov 21-30: 10 × 1.333333333 = 13.33333333, shown $13.33; with perplexity's $20: $33.33
    ranged = _rows(cli("entries", "list", "--from", "2026-11-21", "--to", "2026-11-30").output)
    assert ranged["inv-1234"][5] == "$13.33" and ranged["Total"][5] == "$33.33"

    csv_text = cli("entries", "list", "--from", "2026-11-21", "--format", "csv").output
    assert csv_text.splitlines()[0].startswith("id,provider,amount,currency,from,to,days,in_range,account")
    assert "inv-1234,mistral,40.00,USD,2026-11-01,2026-11-30,30,13.33333333,,,,,,,invoice 1234" in csv_text
    listed = json.loads(cli("entries", "list", "--format", "json").output)
    assert listed["totals"] == {"USD": "60.00"} and listed["entries"][0]["amount"] == "40.00"
    report = json.loads(cli("report", "--from", "2026-11-01", "--to", "2026-11-30", "--basis", "manual",
                            "--format", "json").output)  # fmt: skip
    assert report["total"] == "60.00"  # the list and the report agree

    assert "nothing changed" in cli(
        "entries", "add", "--provider", "mistral", "--amount", "40", "--period", "2026-11",
        "--note", "invoice 1234", "--id", "inv-1234",
    ).output  # fmt: skip
    taken = cli(
        "entries", "add", "--provider", "x", "--amount", "1", "--date", "2026-11-01", "--id", "inv-1234",
        ok=False,
    )  # fmt: skip
    assert taken.exit_code == 1 and "entries edit inv-1234" in taken.output

    edited = cli("entries", "edit", "inv-1234", "--amount", "45", "--project", "web").output
    assert "Changed entry inv-1234: $45.00 mistral on 2026-11-01 to 2026-11-30" in edited
    assert _rows(cli("entries", "list").output)["inv-1234"][:7] == [
        "mistral", "$45.00", "2026-11-01", "2026-11-30", "30", "", "web",
    ]  # fmt: skip
    assert "Removed entry inv-1234: $45.00 mistral" in cli("entries", "remove", "inv-1234").output
    gone = cli("entries", "remove", "inv-1234", ok=False)
    assert gone.exit_code == 1 and "no entry with id 'inv-1234'" in gone.output
    assert _total(engine, "2026-11-01", "2026-11-30") == Decimal("20.00")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--amount", "forty", "--date", "2026-11-30"], "amount: 'forty' is not a number"),
        (["--amount", "40", "--date", "30/11/2026"], "date: '30/11/2026' is not a date"),
        (["--amount", "40", "--period", "2026-11", "--date", "2026-11-30"], "not several"),
        (["--amount", "40", "--from", "2026-11-01"], "to: a range needs both"),
        (["--amount", "40", "--date", "2026-11-30", "--currency", "dollars"], "currency 'DOLLARS'"),
    ],
)
def test_entries_cli_bad_input_exits_1_naming_the_field(cli: Cli, args: list[str], says: str) -> None:
    result = cli("entries", "add", "--provider", "mistral", *args, ok=False)
    assert result.exit_code == 1 and says in result.output, result.output
    assert "Traceback" not in result.output


def test_entries_cli_list_empty_says_how_to_add(cli: Cli) -> None:
    assert "No entries yet" in cli("entries", "list").output
    assert cli("entries", "list", "--format", "csv").output.startswith("id,provider,amount")


# ---- the JSON API --------------------------------------------------------------------------


def test_entries_api_batch_keeps_good_items_and_names_bad_ones(client: TestClient, engine: Engine) -> None:
    batch = {
        "entries": [
            {"id": "inv-1234", "provider": "mistral", "amount": "40.00", "period": "2026-11"},
            {"id": "bad-amount", "provider": "groq", "amount": "forty", "date": "2026-11-30"},
            {"provider": "perplexity", "amount": 20.00, "date": "2026-11-30", "project": "research"},
            "not an entry",
            {"id": "inv-1234", "provider": "mistral", "amount": "1", "date": "2026-11-01"},
            {"provider": "groq", "amount": "5", "from": "2026-11-01"},
        ]
    }
    answer = client.post("/api/v1/entries", json=batch)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["added"], body["replaced"], body["unchanged"], body["rejected_count"]) == (2, 0, 0, 4)
    assert [(e["index"], e["outcome"]) for e in body["entries"]] == [(0, "added"), (2, "added")]
    assert body["entries"][0]["id"] == "inv-1234" and body["entries"][1]["id"].startswith("e-")
    assert [(r["index"], r["id"], r["field"]) for r in body["rejected"]] == [
        (1, "bad-amount", "amount"),
        (3, None, ""),
        (4, "inv-1234", "id"),
        (5, None, "to"),
    ]
    assert "'forty' is not a number" in body["rejected"][0]["reason"]
    assert "given twice in this batch (item 0)" in body["rejected"][2]["reason"]
    assert _total(engine, "2026-11-01", "2026-11-30") == Decimal("60.00")

    again = client.post("/api/v1/entries", json={"entries": batch["entries"][:1]}).json()
    assert (again["added"], again["replaced"], again["unchanged"]) == (0, 0, 1)
    revised = {"id": "inv-1234", "provider": "mistral", "amount": "45.00", "period": "2026-11"}
    assert client.post("/api/v1/entries", json={"entries": [revised]}).json()["replaced"] == 1
    assert _total(engine, "2026-11-01", "2026-11-30") == Decimal("65.00")

    listed = client.get("/api/v1/entries", params={"from": "2026-11-21", "to": "2026-11-30"}).json()
    # inv-1234: $45 / 30 = $1.50 a day, 10 days = $15.00; perplexity $20.00
    assert listed["totals"] == {"USD": "35.00"}
    assert {e["id"]: e["in_range"] for e in listed["entries"]}["inv-1234"] == "15.00"


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"not json", "is not JSON"),
        (b'{"entries": []}', "at least one entry"),
        (b"[1, 2]", 'send {"entries"'),
        (json.dumps({"entries": [{}] * 1001}).encode(), "at most 1,000"),
    ],
)
def test_entries_api_refuses_a_body_that_is_no_batch(client: TestClient, body: bytes, says: str) -> None:
    answer = client.post("/api/v1/entries", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 422 and says in answer.json()["detail"]


def test_entries_api_post_needs_a_token(admin_client: TestClient) -> None:
    answer = admin_client.post("/api/v1/entries", json={"entries": [{"provider": "x"}]})
    assert answer.status_code == 401


# ---- the page: roles and forms -------------------------------------------------------------


@pytest.fixture
def seeded(engine: Engine) -> Engine:
    _save(engine, provider="mistral", amount="40.00", period="2026-11", id="inv-1234", project="web")
    _save(engine, provider="perplexity", amount="20.00", date="2026-11-30", id="pplx-nov", project="research")
    return engine


def _as(role: str, settings: Settings, engine: Engine, **grants: str) -> Iterator[TestClient]:
    add_user(engine, f"{role}@example.com", f"{role} password!", role)
    with engine.begin() as conn:
        for dimension, value in grants.items():
            grant(conn, f"{role}@example.com", dimension=dimension, value=value)
    with TestClient(create_app(settings)) as client:
        assert login(client, f"{role}@example.com", f"{role} password!").status_code == 303
        yield client


@pytest.fixture
def viewer(settings: Settings, seeded: Engine) -> Iterator[TestClient]:
    yield from _as("viewer", settings, seeded)


@pytest.fixture
def member(settings: Settings, seeded: Engine) -> Iterator[TestClient]:
    yield from _as("member", settings, seeded, project="research")


def test_entries_page_admin_adds_edits_and_removes(admin_client: TestClient, engine: Engine) -> None:
    page = admin_client.get("/entries")
    assert page.status_code == 200 and "No entries" in text_of(page.text)
    csrf = csrf_of(page.text)
    form = {"csrf_token": csrf, "provider": "Mistral", "amount": "40.00", "currency": "USD",
            "period": "2026-11", "id": "inv-1234", "note": "invoice 1234"}  # fmt: skip
    added = admin_client.post("/entries", data=form)
    assert added.status_code == 200
    shown = text_of(added.text)
    assert "Added entry inv-1234: 40.00 USD mistral on 2026-11-01 to 2026-11-30." in shown
    # the row: $40.00 over 30 days, about $1.33 a day
    assert "inv-1234 mistral $40.00 2026-11-01 → 2026-11-30 (30 days, $1.33 a day)" in shown

    bad = admin_client.post("/entries", data={**form, "id": "", "amount": "forty"})
    assert bad.status_code == 400 and "amount: 'forty' is not a number" in text_of(bad.text)
    assert re.search(r'name="amount" value="forty"[^>]*aria-invalid="true"', bad.text)
    taken = admin_client.post("/entries", data={**form, "amount": "1"})
    assert taken.status_code == 400 and "exists already" in text_of(taken.text)

    editing = admin_client.get("/entries", params={"edit": "inv-1234"})
    assert 'name="start" type="date" value="2026-11-01"' in editing.text
    assert 'name="amount" value="40.00"' in editing.text
    edit = {
        **form,
        "period": "",
        "start": "2026-11-01",
        "end": "2026-11-30",
        "amount": "45",
        "project": "web",
    }
    changed = admin_client.post("/entries/inv-1234/edit", data=edit)
    assert changed.status_code == 200
    assert "Changed entry inv-1234: 45.00 USD mistral on 2026-11-01 to 2026-11-30 (was 40.00 USD" in text_of(
        changed.text
    )
    assert _total(engine, "2026-11-01", "2026-11-30") == Decimal("45.00")

    ranged = text_of(admin_client.get("/entries", params={"from": "2026-11-29", "to": "2026-11-30"}).text)
    assert "Total in range $3.00" in ranged  # 2 days × $1.50

    removed = admin_client.post("/entries/inv-1234/remove", data={"csrf_token": csrf})
    assert removed.status_code == 200 and "Removed entry inv-1234" in text_of(removed.text)
    assert _total(engine, "2026-11-01", "2026-11-30") == Decimal(0)
    assert admin_client.post("/entries/inv-1234/remove", data={"csrf_token": csrf}).status_code == 404
    assert admin_client.post("/entries", data={**form, "csrf_token": "forged"}).status_code == 403


def test_entries_page_viewer_reads_without_forms(viewer: TestClient) -> None:
    page = viewer.get("/entries")
    shown = text_of(page.text)
    assert page.status_code == 200 and "inv-1234" in shown and "pplx-nov" in shown
    assert "Total $60.00" in shown
    assert "Add an entry" not in shown and "/remove" not in page.text
    csrf = csrf_of(page.text)  # the log-out form's
    refused = viewer.post(
        "/entries", data={"csrf_token": csrf, "provider": "x", "amount": "1", "date": "2026-11-01"}
    )
    assert refused.status_code == 403
    assert viewer.post("/entries/inv-1234/remove", data={"csrf_token": csrf}).status_code == 403


def test_entries_page_and_api_show_a_member_their_scope_only(member: TestClient) -> None:
    shown = text_of(member.get("/entries").text)
    assert "pplx-nov" in shown and "inv-1234" not in shown and "Total $20.00" in shown
    listed = member.get("/api/v1/entries").json()
    assert [e["id"] for e in listed["entries"]] == ["pplx-nov"] and listed["totals"] == {"USD": "20.00"}


def test_entries_batch_in_the_library_never_raises(engine: Engine) -> None:
    garbage: list[Any] = [None, 1, [], {"provider": ["x"]}, {"amount": {"a": 1}}, {"id": 5, "provider": "x"}]
    with engine.begin() as conn:
        result = store_entry_batch(conn, garbage, tz=UTC_ZONE, actor="t")
    assert result.saved == [] and [r.index for r in result.rejected] == list(range(6))
