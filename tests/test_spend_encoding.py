"""Spend answers written straight from the report's tuples (exports/spend.py): byte for byte
the JSON and CSV a dict and a CSV line per row give, exact money, and a big CSV streamed."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine

from spendledger import queries
from spendledger.exports.csvfile import write_csv
from spendledger.exports.spend import (
    CSV_CHUNK_ROWS,
    ROW_FIELDS,
    report_footer,
    report_header,
    report_json,
    report_to_csv,
)
from spendledger.queries import SpendReport
from spendledger.records import format_money, format_nanos, from_nanos
from spendledger.store import write_records
from spendledger.web.api.schemas import SpendPublic
from usage_records import usage_record

TODAY = datetime(2026, 11, 30).date()
# (day, project, currency, cost): a formula, text to escape in JSON and to quote in CSV,
# no project, a credit, a nano-unit, a large figure and a second currency
AWKWARD = [
    (2, '=HYPERLINK("http://x")', "USD", "1.25"),
    (2, 'café ☕, "quoted"\nnext line', "USD", "0.000000001"),
    (3, "", "USD", "123456.123456789"),
    (3, "credits", "USD", "-1.50"),
    (4, "web", "EUR", "40.10"),
    (4, "web", "USD", "0.1"),
]


@given(st.integers(min_value=-(10**24), max_value=10**24))
def test_format_nanos_writes_format_moneys_strings(nanos: int) -> None:
    assert format_nanos(nanos) == format_money(from_nanos(nanos))


def _write_awkward(engine: Engine) -> None:
    records = [
        usage_record(
            key=f"awkward:{i}",
            start=datetime(2026, 11, day, 12, tzinfo=UTC),
            project=project,
            currency=currency,
            cost=cost,
            requests=i + 1,
        )
        for i, (day, project, currency, cost) in enumerate(AWKWARD)
    ]
    with engine.begin() as conn:
        write_records(conn, records, tz=ZoneInfo("UTC"))


def _reference(report: SpendReport) -> dict[str, Any]:
    """The answer as a dict per row would give it (the shape SpendPublic documents)."""
    rows = [
        {
            **r.dims,
            "period": r.period,
            "currency": r.currency,
            "cost": format_money(r.cost),
            **{name: getattr(r, name) for name in queries.LINE_COUNTS},
        }
        for r in report.rows
    ]
    return {**report_header(report), "rows": rows, **report_footer(report)}


def _reference_csv(report: SpendReport) -> str:
    by = report.query.by
    return write_csv(
        [*by, *ROW_FIELDS],
        (
            [
                *(r.dims[d] for d in by),
                r.period,
                r.currency,
                r.cost,
                *(getattr(r, n) for n in queries.LINE_COUNTS),
            ]
            for r in report.rows
        ),
    )


def test_spend_encoding_equals_a_dict_and_a_csv_line_per_row(engine: Engine) -> None:
    _write_awkward(engine)
    with engine.connect() as conn:
        for by, granularity in [((), "total"), (("project",), "total"), (("currency", "project"), "day")]:
            query = queries.build_query(
                today=TODAY, start="2026-11-01", by=by, granularity=granularity, basis="all"
            )
            report = queries.spend(conn, query)
            reference = _reference(report)
            assert (
                report_json(report)
                == json.dumps(reference, separators=(",", ":"), ensure_ascii=False).encode()
            )
            assert (
                report_json(report, indent=True)
                == json.dumps(reference, indent=2, ensure_ascii=False).encode()
            )
            assert report_to_csv(report) == _reference_csv(report)
            SpendPublic.model_validate(json.loads(report_json(report)))  # the documented shape
        empty = queries.spend(conn, queries.build_query(today=TODAY, start="2026-01-01", end="2026-01-31"))
        assert json.loads(report_json(empty))["rows"] == [] and report_to_csv(empty).count("\n") == 1


def test_spend_encoding_keeps_money_exact_and_text_safe(engine: Engine) -> None:
    _write_awkward(engine)
    with engine.connect() as conn:
        report = queries.spend(
            conn, queries.build_query(today=TODAY, start="2026-11-01", by=("project",), basis="all")
        )
    body = json.loads(report_json(report))
    # USD: 1.25 + 0.000000001 + 123456.123456789 - 1.50 + 0.1 = 123455.97345679; EUR: 40.10 alone
    assert body["totals"] == {"EUR": "40.10", "USD": "123455.97345679"}
    costs = {(r["project"], r["currency"]): r["cost"] for r in body["rows"]}
    assert costs[(None, "USD")] == "123456.123456789"
    assert costs[("credits", "USD")] == "-1.50"
    assert costs[('café ☕, "quoted"\nnext line', "USD")] == "0.000000001"
    assert costs[("web", "USD")] == "0.10"
    rows = list(csv.DictReader(io.StringIO(report_to_csv(report))))
    assert {r["project"] for r in rows} >= {'\'=HYPERLINK("http://x")', 'café ☕, "quoted"\nnext line', ""}
    assert sum(Decimal(r["cost"]) for r in rows if r["currency"] == "USD") == Decimal("123455.97345679")


def test_spend_api_streams_a_big_csv_equal_to_its_json(client: TestClient, engine: Engine) -> None:
    days, projects = 70, 31  # 2,170 rows by project and day: more than one chunk
    assert days * projects > CSV_CHUNK_ROWS
    first = datetime(2026, 9, 1, 12, tzinfo=UTC)
    records = [
        usage_record(key=f"big:{d}:{p}", start=first + timedelta(days=d), project=f"p{p:02d}", cost="0.01")
        for d in range(days)
        for p in range(projects)
    ]
    with engine.begin() as conn:
        write_records(conn, records, tz=ZoneInfo("UTC"))
    params = {"from": "2026-09-01", "to": "2026-11-30", "by": "project", "granularity": "day"}
    answer = client.get("/api/v1/spend", params=params).json()
    response = client.get("/api/v1/spend", params={**params, "format": "csv"})
    assert response.status_code == 200 and response.headers["content-type"] == "text/csv; charset=utf-8"
    assert "content-length" not in response.headers  # streamed, chunk by chunk
    rows = list(csv.DictReader(io.StringIO(response.text)))
    # 2,170 calls of $0.01 each: $21.70, in every rendering
    assert len(rows) == len(answer["rows"]) == days * projects
    assert sum(Decimal(r["cost"]) for r in rows) == Decimal(answer["total"]) == Decimal("21.70")
    assert [(r["project"], r["period"]) for r in rows] == [
        (r["project"], r["period"]) for r in answer["rows"]
    ]
