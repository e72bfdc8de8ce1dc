"""The rate files: the ECB's XML, daily and historical CSV and zips, a generic CSV; bad lines
named by line and column with the good ones kept; garbage thrown at every reader."""

from __future__ import annotations

import io
import zipfile
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fakes.ecb import daily_xml
from spendledger.fx.files import RateFileError, RateRejected, RateRow, read_rates
from spendledger.fx.rates import Rate, RateBook, RateError, make_rate, parse_day, parse_rate, round_nanos


def _read(data: bytes) -> tuple[str, list[RateRow]]:
    fmt, rows = read_rates(data, source="ecb")
    return fmt, list(rows)


def _pairs(rows: list[RateRow]) -> list[tuple[str, str, str]]:
    return [(r.day.isoformat(), r.currency, f"{r.rate:f}") for r in rows if isinstance(r, Rate)]


def _rejected(rows: list[RateRow]) -> list[tuple[int, str]]:
    return [(r.line, r.column) for r in rows if isinstance(r, RateRejected)]


# the ECB's historical CSV as published: newest first, withdrawn currencies, N/A, a trailing comma
HIST_CSV = b"""Date,USD,JPY,CYP,CHF,
2024-06-28,1.0705,171.94,N/A,0.9634,
2024-06-27,1.0696,171.60,N/A,0.9614,
2008-01-02,1.4717,165.29,0.58500,1.6543,
"""


def test_fx_files_ecb_daily_xml() -> None:
    fmt, rows = _read(daily_xml(date(2024, 6, 28), {"USD": "1.0705", "JPY": "171.94", "CHF": "0.9634"}))
    assert fmt == "ecb-xml"
    assert _pairs(rows) == [
        ("2024-06-28", "USD", "1.0705"),
        ("2024-06-28", "JPY", "171.94"),
        ("2024-06-28", "CHF", "0.9634"),
    ]
    assert all(isinstance(r, Rate) and r.base == "EUR" and r.source == "ecb" for r in rows)


def test_fx_files_ecb_historical_xml_days() -> None:
    xml = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01" '
        b'xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">\n'
        b"<Cube>\n"
        b'<Cube time="2024-06-28"><Cube currency="USD" rate="1.0705"/></Cube>\n'
        b'<Cube time="2024-06-27"><Cube currency="USD" rate="1.0696"/>\n'
        b'<Cube currency="USD" rate="-1"/>\n'
        b'<Cube currency="US" rate="1"/></Cube>\n'
        b'<Cube time="2024-13-01"><Cube currency="USD" rate="2"/></Cube>\n'
        b"</Cube></gesmes:Envelope>\n"
    )
    _, rows = _read(xml)
    assert _pairs(rows) == [("2024-06-28", "USD", "1.0705"), ("2024-06-27", "USD", "1.0696")]
    assert _rejected(rows) == [(6, "rate"), (7, "currency"), (8, "time")]


def test_fx_files_ecb_daily_csv_as_in_its_zip() -> None:
    daily = b"Date, USD, JPY, CHF, \n28 June 2024, 1.0705, 171.94, 0.9634, \n"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("eurofxref.csv", daily)
    for data in (daily, buffer.getvalue()):
        fmt, rows = _read(data)
        assert fmt == "ecb-csv"
        assert _pairs(rows) == [
            ("2024-06-28", "USD", "1.0705"),
            ("2024-06-28", "JPY", "171.94"),
            ("2024-06-28", "CHF", "0.9634"),
        ]


def test_fx_files_ecb_historical_csv_skips_na_and_withdrawn_currencies() -> None:
    fmt, rows = _read(HIST_CSV)
    assert fmt == "ecb-csv"
    assert _rejected(rows) == [(1, "CYP")]  # said once: its column is skipped
    assert "its column is skipped" in next(r.reason for r in rows if isinstance(r, RateRejected))
    assert len(_pairs(rows)) == 9  # 3 days × USD, JPY, CHF
    assert ("2008-01-02", "CHF", "1.6543") in _pairs(rows)


def test_fx_files_generic_csv_with_and_without_base() -> None:
    data = b"date,currency,rate,base\n2026-11-20,usd,1.08,\n2026-11-20,CHF,0.88,USD\n"
    fmt, rows = _read(data)
    assert fmt == "generic-csv"
    assert [(r.base, r.currency, r.rate) for r in rows if isinstance(r, Rate)] == [
        ("EUR", "USD", Decimal("1.08")),
        ("USD", "CHF", Decimal("0.88")),
    ]


def test_fx_files_bad_lines_name_line_and_column_and_keep_the_good() -> None:
    data = (
        b"date,currency,rate\n"
        b"2026-11-20,USD,1.08\n"  # 2: good
        b"2026-11-31,USD,1.08\n"  # 3: no such day
        b"2026-11-21,XYZ,1.08\n"  # 4: not a currency
        b"2026-11-21,USD,0\n"  # 5: zero
        b"2026-11-21,USD,-1.1\n"  # 6: negative
        b"2026-11-21,USD,1e3\n"  # 7: an exponent
        b"2026-11-21,USD\n"  # 8: a cell short
        b"2026-11-21,EUR,1\n"  # 9: the base itself
        b"\xff\xfe,USD,1\n"  # 10: not UTF-8
        b"1998-12-31,USD,1.1\n"  # 11: before the ECB's rates
        b"2026-11-22,JPY,171.94\n"  # 12: good
    )
    _, rows = _read(data)
    assert _pairs(rows) == [("2026-11-20", "USD", "1.08"), ("2026-11-22", "JPY", "171.94")]
    assert _rejected(rows) == [
        (3, "date"),
        (4, "currency"),
        (5, "rate"),
        (6, "rate"),
        (7, "rate"),
        (8, ""),
        (9, "currency"),
        (10, ""),
        (11, "date"),
    ]
    reasons = {r.line: r.reason for r in rows if isinstance(r, RateRejected)}
    assert "number above 0" in reasons[5] and "YYYY-MM-DD" in reasons[3] and "ISO 4217" in reasons[4]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"\n\n", "empty"),
        (b"when,what\n1,2\n", "not a rate file"),
        (b"date,currency,rate,colour\n", "unknown columns ['colour']"),
        (b"date,currency,rate,rate\n", "a column named twice"),
        (b"<html><body>Not found</body></html>", "no <Cube time"),
        (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>', "DOCTYPE"),
        (b"PK\x03\x04 not really a zip", "not a readable zip"),
    ],
)
def test_fx_files_whole_file_errors_say_what_to_send(data: bytes, message: str) -> None:
    with pytest.raises(RateFileError, match=message.replace("[", r"\[").replace("]", r"\]")):
        _read(data)


def test_fx_files_zip_with_two_files_is_refused() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.csv", HIST_CSV)
        archive.writestr("b.csv", HIST_CSV)
    with pytest.raises(RateFileError, match="holds 2"):
        _read(buffer.getvalue())


def test_fx_files_xml_that_breaks_off_keeps_what_came_before() -> None:
    whole = daily_xml(date(2024, 6, 28), {"USD": "1.0705", "CHF": "0.9634"})
    cut = whole[: whole.index(b"CHF") + 20]
    _, rows = _read(cut)
    assert _pairs(rows)[:1] == [("2024-06-28", "USD", "1.0705")]
    assert isinstance(rows[-1], RateRejected) and "breaks off" in rows[-1].reason


# ---- garbage ----------------------------------------------------------------------------------

GOOD = "2026-11-{day:02d},USD,1.{day:02d}"
CELL = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["N/A", "", "-1", "0", "1e5", "NaN", "Infinity", "2026-02-30", "USD", "1,5", "0.0"]),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.dates().map(str),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(garbage=st.lists(st.lists(CELL, min_size=0, max_size=5), max_size=12), seed=st.randoms())
def test_fx_files_generic_garbage_keeps_every_good_line(garbage: list[list[str]], seed: object) -> None:
    lines = [
        ",".join(c.replace("\n", " ").replace("\r", " ").replace('"', "") for c in cells) for cells in garbage
    ]
    good = [GOOD.format(day=d) for d in range(1, 6)]
    body = lines + good
    seed.shuffle(body)  # type: ignore[attr-defined]
    data = ("date,currency,rate\n" + "\n".join(body) + "\n").encode()
    _, rows = _read(data)
    good_lines = {i + 2 for i, line in enumerate(body) if line in good}
    kept = {r.day.day for r in rows if isinstance(r, Rate) and r.currency == "USD" and r.day.month == 11}
    assert kept >= set(range(1, 6))
    for r in rows:
        if isinstance(r, RateRejected):
            assert 2 <= r.line <= len(body) + 1 and r.line not in good_lines
            assert r.column in ("", "date", "currency", "rate") and r.reason
        else:
            assert r.rate > 0 and r.currency != r.base


@settings(max_examples=150, deadline=None)
@given(cells=st.lists(st.lists(CELL, min_size=1, max_size=4), max_size=8))
def test_fx_files_ecb_csv_garbage_is_rejected_by_line_and_column(cells: list[list[str]]) -> None:
    rows_text = [
        ",".join(c.replace("\n", " ").replace("\r", " ").replace('"', "") for c in row) for row in cells
    ]
    data = ("Date,USD,JPY,CHF,\n2026-11-20,1.08,170,0.95,\n" + "\n".join(rows_text) + "\n").encode()
    _, rows = _read(data)
    assert _pairs(rows)[:3] == [
        ("2026-11-20", "USD", "1.08"),
        ("2026-11-20", "JPY", "170"),
        ("2026-11-20", "CHF", "0.95"),
    ]
    for r in rows:
        if isinstance(r, RateRejected):
            assert r.line >= 3 and r.column in ("", "Date", "USD", "JPY", "CHF")


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=400))
def test_fx_files_any_bytes_give_rows_or_a_file_error(data: bytes) -> None:
    try:
        _, rows = _read(data)
    except RateFileError as exc:
        assert exc.message
        return
    for r in rows:
        assert isinstance(r, Rate | RateRejected)


@settings(max_examples=100, deadline=None)
@given(tail=st.text(max_size=200))
def test_fx_files_xml_garbage_after_a_good_day(tail: str) -> None:
    head = daily_xml(date(2024, 6, 28), {"USD": "1.0705"})
    data = head[: head.index(b"</Cube>")] + tail.encode()
    try:
        _, rows = _read(data)
    except RateFileError:
        return
    assert ("2024-06-28", "USD", "1.0705") in _pairs(rows)


# ---- the rule of conversion -------------------------------------------------------------------


def _book(*rates: tuple[str, str, str, str]) -> RateBook:
    return RateBook(make_rate(d, c, r, base=b, source="t") for d, b, c, r in rates)


def test_fx_rate_book_takes_the_last_rate_before_a_day() -> None:
    book = _book(("2026-11-02", "EUR", "USD", "1.25"), ("2026-11-06", "EUR", "USD", "1.10"))
    assert book.rate_on("EUR", "USD", date(2026, 11, 1)) is None
    assert book.rate_on("EUR", "USD", date(2026, 11, 5)) == (date(2026, 11, 2), Decimal("1.25"))
    assert book.rate_on("EUR", "USD", date(2026, 11, 6)) == (date(2026, 11, 6), Decimal("1.10"))
    # $10 at 1.10: 10 / 1.1 = 9.0909090909... → 9.090909091 (half-even to the nano-unit)
    converted = book.convert(Decimal(10), "USD", "EUR", date(2026, 11, 9))
    assert converted is not None and round_nanos(converted) == Decimal("9.090909091")
    assert book.convert(Decimal(10), "USD", "EUR", date(2026, 11, 1)) is None
    assert book.convert(Decimal(10), "USD", "USD", date(1990, 1, 1)) == Decimal(10)


def test_fx_rate_book_inverts_and_crosses_through_the_freshest_base() -> None:
    book = _book(
        ("2026-11-02", "USD", "CHF", "0.80"),  # a direct USD base rate, stale by Nov 6
        ("2026-11-06", "EUR", "USD", "1.25"),
        ("2026-11-06", "EUR", "CHF", "0.95"),
    )
    # Nov 6: through EUR (both of Nov 6) beats USD→CHF of Nov 2: 100 × 0.95 / 1.25 = 76
    assert book.convert(Decimal(100), "USD", "CHF", date(2026, 11, 6)) == Decimal("76")
    # Nov 3: only the USD base answers: 100 × 0.80 = 80, and back: 80 / 0.80 = 100
    assert book.convert(Decimal(100), "USD", "CHF", date(2026, 11, 3)) == Decimal("80")
    assert book.convert(Decimal(80), "CHF", "USD", date(2026, 11, 3)) == Decimal("100")
    assert book.factor("EUR", "CHF", date(2026, 11, 6)) == Decimal("0.95")
    assert book.known("CHF") and not book.known("JPY")


@pytest.mark.parametrize(
    "text", ["0", "0.000", "-1", "1e3", "NaN", "Infinity", "1,5", "", " ", "1.1234567890123"]
)
def test_fx_parse_rate_refuses_what_is_not_a_positive_number(text: str) -> None:
    with pytest.raises(RateError) as caught:
        parse_rate(text)
    assert caught.value.field == "rate"


def test_fx_parse_day_takes_iso_and_the_ecb_daily_form() -> None:
    assert (
        parse_day("2024-06-28")
        == parse_day("28 June 2024")
        == parse_day(" 28 june 2024 ")
        == date(2024, 6, 28)
    )
    for bad in ("28/06/2024", "2024-6-28", "31 June 2024", "3000-01-01"):
        with pytest.raises(RateError):
            parse_day(bad)


@settings(max_examples=300, deadline=None)
@given(day=CELL, currency=CELL, rate=CELL, base=CELL)
def test_fx_make_rate_takes_any_text_or_names_the_field(
    day: str, currency: str, rate: str, base: str
) -> None:
    try:
        made = make_rate(day, currency, rate, base=base, source="manual")
    except RateError as exc:
        assert exc.field in ("date", "currency", "rate", "base") and exc.message
    else:
        assert made.rate > 0 and made.base != made.currency
