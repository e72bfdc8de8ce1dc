"""A month a period holds in part is read from the monthly twin only when the daily rollup
holds nothing on that month's other days (store/reads.py, `segments`): the answer is the
same as the days' own sums whichever way it is read, folded or not, and a record written
or removed on one of those other days moves the read back to the daily table."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine

from spendledger.queries import Granularity, SpendQuery, spend
from spendledger.store import write_records
from spendledger.store.folder import fold_all
from spendledger.store.ledger import delete_where
from spendledger.store.tables import usage
from usage_records import usage_record

UTC_ZONE = ZoneInfo("UTC")
# the records' days: two in October, three in November, one in December
DAYS = (date(2026, 10, 30), date(2026, 10, 31), date(2026, 11, 2), date(2026, 11, 15), date(2026, 11, 20))
PERIODS = (
    (date(2026, 11, 1), date(2026, 11, 20)),  # the month to its last record
    (date(2026, 11, 2), date(2026, 11, 30)),  # from its first record
    (date(2026, 11, 3), date(2026, 11, 20)),  # a record on an outside day
    (date(2026, 10, 31), date(2026, 11, 15)),  # two partial months
    (date(2026, 10, 1), date(2026, 12, 31)),  # whole months
)


def _write(conn: Connection, day: date, key: str, cost: str, project: str = "web") -> None:
    start = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    write_records(conn, [usage_record(key=key, start=start, cost=cost, project=project)], tz=UTC_ZONE)


def _by_day(conn: Connection, start: date, end: date) -> dict[tuple[str | None, str | None], Decimal]:
    """The period's sums per (month, project), added up from its days' own rows."""
    report = spend(conn, SpendQuery(start=start, end=end, by=("project",), granularity=Granularity.DAY))
    found: dict[tuple[str | None, str | None], Decimal] = {}
    for row in report.rows:
        key = (row.period[:7] if row.period else None, row.dims["project"])
        found[key] = found.get(key, Decimal(0)) + row.cost
    return found


def _check(conn: Connection) -> None:
    for start, end in PERIODS:
        expected = _by_day(conn, start, end)
        by_month = SpendQuery(start=start, end=end, by=("project",), granularity=Granularity.MONTH)
        monthly = spend(conn, by_month)
        assert {(r.period, r.dims["project"]): r.cost for r in monthly.rows} == expected, (start, end)
        total = spend(conn, SpendQuery(start=start, end=end))
        assert total.totals.get("USD", Decimal(0)) == sum(expected.values(), Decimal(0)), (start, end)


def test_spend_months_partial_month_exact_folded_or_not(engine: Engine) -> None:
    with engine.begin() as conn:
        for i, day in enumerate(DAYS):
            _write(conn, day, f"k{i}", f"1.{i:02d}", project="web" if i % 2 else "api")
    with engine.connect() as conn:
        _check(conn)  # everything in the journal
    fold_all(engine)
    with engine.connect() as conn:
        _check(conn)  # everything folded
    with engine.begin() as conn:  # an outside day of every period gains a record, not folded yet
        _write(conn, date(2026, 11, 25), "late", "7.5")
        _write(conn, date(2026, 11, 1), "early", "0.25")
    with engine.connect() as conn:
        _check(conn)
    fold_all(engine)
    with engine.connect() as conn:
        _check(conn)  # folded: the daily table answers the months these days break
    with engine.begin() as conn:  # removed, not folded yet: the rollups still hold them
        delete_where(conn, usage.c.key.in_(["late", "early"]))
    with engine.connect() as conn:
        _check(conn)
    fold_all(engine)
    with engine.connect() as conn:
        _check(conn)
        assert spend(conn, SpendQuery(start=DAYS[2], end=DAYS[-1])).totals == {"USD": Decimal("3.09")}


def test_spend_months_period_edges_of_one_month(engine: Engine) -> None:
    with engine.begin() as conn:
        day = date(2026, 11, 1)
        while day <= date(2026, 11, 30):
            _write(conn, day, day.isoformat(), "0.5")
            day += timedelta(days=1)
    fold_all(engine)
    with engine.connect() as conn:
        for first, last in ((1, 30), (1, 29), (2, 30), (10, 10), (1, 1), (30, 30)):
            start, end = date(2026, 11, first), date(2026, 11, last)
            report = spend(conn, SpendQuery(start=start, end=end, granularity=Granularity.MONTH))
            assert report.totals == {"USD": Decimal("0.5") * (last - first + 1)}, (first, last)
