"""Garbage thrown at the file importer: nothing but our own errors comes out, a bad row never
sinks the file, and whatever is stored imports again without a change.

Random bytes go through every format (and `auto`, which sniffs them); CSV files with a
generic header and cells drawn from numbers, dates, quotes, delimiters, line breaks, NUL,
invalid UTF-8 and any character go through a real import on the test's ledger.
"""

from __future__ import annotations

import importlib.util
import io
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select

from spendledger.errors import SpendledgerError
from spendledger.imports.base import AUTO, FORMATS, ImportOptions
from spendledger.imports.generic import FIELDS
from spendledger.imports.importer import ImportSummary, run_import
from spendledger.pricing import Pricer
from spendledger.store.tables import usage

PROPERTY = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
UTC_ZONE = ZoneInfo("UTC")
PRICER = Pricer()
# every format whose reader is installed, and auto once they all are
NAMES = [name for name in FORMATS if importlib.util.find_spec(FORMATS[name]) is not None]
NAMES += [AUTO] if len(NAMES) == len(FORMATS) else []

CELLS = st.one_of(
    st.text(max_size=20),
    st.sampled_from(
        [
            "", "0", "-1", "1e400", "NaN", "Infinity", "1,234", "12.50", "$3", "9" * 40, "1.5",
            "2026-11-20", "2026-11-20T10:00:00Z", "2026-02-30", "1999-12-31T23:59:59Z",
            "2100-01-01T00:00:00Z",
            "1793836800", "openai", "gpt-4o-mini", "USD", "usd", "XXX", "billed", "demo", "true", "maybe",
            '"', '""', "a,b", "a;b", "\t", "line\nbreak", "\r", "\x00", "\u202e", "💸", "x" * 300,
        ]
    ),
)  # fmt: skip


def _dry_run(data: bytes, name: str) -> ImportSummary | None:
    try:
        return run_import(
            io.BytesIO(data),
            format_name=name,
            options=ImportOptions(),
            pricer=PRICER,
            tz=UTC_ZONE,
            engine=None,
        )
    except SpendledgerError:
        return None


@PROPERTY
@given(data=st.binary(max_size=2000), name=st.sampled_from(NAMES))
def test_import_random_bytes_raise_only_our_errors(data: bytes, name: str) -> None:
    summary = _dry_run(data, name)
    if summary is not None:
        assert summary.rows + summary.rejected_count <= data.count(b"\n") + data.count(b"\r") + 1


_TIMES = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1)).map(
    lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")
)
_COUNT = st.integers(min_value=0, max_value=10**7).map(str)
VALID: dict[str, st.SearchStrategy[str]] = {
    "timestamp": _TIMES,
    "date": st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 1, 1)).map(str),
    "end": st.just("2031-01-01T00:00:00Z"),
    "provider": st.sampled_from(["openai", "anthropic", "groq", "mistral"]),
    "model": st.sampled_from(["gpt-4o-mini", "claude-sonnet-4-5", "llama-3.1-8b-instant", ""]),
    "cost": st.decimals(min_value=-1000, max_value=10**6, places=6, allow_nan=False).map(str),
    "currency": st.sampled_from(["USD", "EUR", "usd"]),
    "basis": st.sampled_from(["billed", "metered", "manual"]),
    "batch": st.sampled_from(["true", "false", ""]),
    "input_tokens": st.integers(min_value=10**7, max_value=10**8).map(str),
}


def _cell(column: str) -> st.SearchStrategy[str]:
    valid = VALID.get(column, _COUNT if column.endswith(("_tokens", "requests")) else st.text(max_size=12))
    return st.one_of(valid, valid, valid, CELLS)


@st.composite
def generic_files(draw: st.DrawFn) -> tuple[bytes, int]:
    """A CSV with a generic header (a time and a provider among its columns) and random rows."""
    columns = draw(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=8, unique=True))
    columns = list(dict.fromkeys(["timestamp", "provider", *columns]))
    rows = draw(st.lists(st.tuples(*(_cell(c) for c in columns)), max_size=12))
    text = "\n".join(",".join(_quoted(c) for c in row) for row in [columns, *rows])
    data = text.encode("utf-8", errors="surrogatepass")
    if draw(st.booleans()):
        data += draw(st.sampled_from([b"\n\xff\xfe,bad", b"\n,,,", b'\n"unterminated', b"\n" + b"9" * 300]))
    return data, len(rows)


def _quoted(cell: str) -> str:
    return '"' + cell.replace('"', '""') + '"' if any(c in cell for c in ',"\n\r') else cell


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@PROPERTY
@given(file=generic_files())
def test_import_random_generic_rows_store_once(file: tuple[bytes, int], engine: Engine) -> None:
    data, _ = file
    try:
        first = run_import(
            io.BytesIO(data),
            format_name="generic",
            options=ImportOptions(),
            pricer=PRICER,
            tz=UTC_ZONE,
            engine=engine,
        )
    except SpendledgerError:
        return
    assert all(r.line >= 2 and r.reason for r in first.rejected)
    with engine.connect() as conn:
        before = conn.execute(select(func.count(), func.coalesce(func.sum(usage.c.cost_nanos), 0))).one()
    again = run_import(
        io.BytesIO(data),
        format_name="generic",
        options=ImportOptions(),
        pricer=PRICER,
        tz=UTC_ZONE,
        engine=engine,
    )
    assert (again.inserted, again.replaced) == (0, 0)
    assert (again.rows, again.rejected_count) == (first.rows, first.rejected_count)
    with engine.connect() as conn:
        after = conn.execute(select(func.count(), func.coalesce(func.sum(usage.c.cost_nanos), 0))).one()
    assert after == before
    assert sum((t.cost for t in first.totals.values()), Decimal(0)) == sum(
        (t.cost for t in again.totals.values()), Decimal(0)
    )
