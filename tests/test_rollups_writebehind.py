"""Write-behind rollups: every read is exact whatever the folder has folded, one folder at
a time, and a fold that dies changes nothing.

Random sequences of writes (new events, re-sent batches, billed records and their
revisions, replaced billing buckets, re-pricing, deletions) interleaved with partial
folds and reads run on the real databases; at every read, each rollup as it stands (its
rows plus the journal's, `rollups.current`) must hold exactly the sums taken straight
from `usage` in Python with the coverage rule, and `queries.spend` must agree with them.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, Engine, delete, func, select

from ledger_ops import Billed, Buckets, Delete, Fold, Insert, Op, Read, Reprice, Resend, apply
from spendledger.pricing import PriceOverride, Pricer
from spendledger.queries import Granularity, SpendQuery, spend
from spendledger.records import Basis, TokenCounts, UsageRecord, from_nanos
from spendledger.store import rollups as rollup_sums
from spendledger.store import write_records
from spendledger.store.folder import claim, fold_all, fold_once
from spendledger.store.tables import GRAINS, MEASURES, MONTHLY, rollup_key, rollup_pending, rollups, usage
from usage_records import usage_record

ZONE = ZoneInfo("Asia/Tokyo")  # local days and UTC bills at once
DAY0 = datetime(2026, 11, 29, tzinfo=UTC)  # three days across a month end: the monthly twins
DAYS = 3
MODELS = (("openai", "gpt-4o-mini"), ("openai", "gpt-9-preview"), ("anthropic", "claude-sonnet-4-5"))
ACCOUNTS = ("", "org-1", "org-2")


@st.composite
def _event(draw: st.DrawFn) -> UsageRecord:
    provider, model = draw(st.sampled_from(MODELS))
    start = DAY0 + timedelta(days=draw(st.integers(0, DAYS - 1)), minutes=draw(st.integers(0, 1439)))
    record = usage_record(
        key=f"evt-{draw(st.integers(0, 10**9))}",
        source="api",
        start=start,
        provider=provider,
        model=model,
        account=draw(st.sampled_from(ACCOUNTS)),
        project=draw(st.sampled_from(("", "p1", "p2"))),
        user=draw(st.sampled_from(("", "ann", "bob"))),
        feature=draw(st.sampled_from(("", "chat"))),
        api_key_id=draw(st.sampled_from(("", "k1"))),
        tokens=TokenCounts(input=draw(st.integers(0, 90_000)), output=draw(st.integers(0, 9_000))),
    )
    Pricer().price(record)
    return record


def _bill(
    provider: str, model: str, day: int, account: str, project: str, cost: int, key: str
) -> UsageRecord:
    start = DAY0 + timedelta(days=day)
    return usage_record(
        key=key,
        source=f"{provider}-{account}",
        basis=Basis.BILLED,
        start=start,
        end=start + timedelta(days=1),
        provider=provider,
        model=model,
        account=account,
        project=project,
        cost=from_nanos(cost),
    )


@st.composite
def _billed(draw: st.DrawFn) -> UsageRecord:
    provider, model = draw(st.sampled_from(MODELS[:1] + MODELS[2:]))
    account, project = draw(st.sampled_from(ACCOUNTS[1:])), draw(st.sampled_from(("", "p1")))
    day, cost = draw(st.integers(0, DAYS - 1)), draw(st.integers(0, 10**10))
    return _bill(provider, model, day, account, project, cost, f"{provider}:{account}:{project}:{model}")


@st.composite
def _buckets(draw: st.DrawFn) -> Buckets:
    day, account = draw(st.integers(0, DAYS - 1)), draw(st.sampled_from(ACCOUNTS[1:]))
    projects = draw(st.lists(st.sampled_from(("", "p1", "p2")), max_size=3, unique=True))
    records = tuple(
        _bill("openai", "gpt-4o-mini", day, account, p, draw(st.integers(1, 10**10)), f"costs|{p}")
        for p in projects
    )
    return Buckets(DAY0 + timedelta(days=day), account, records)


_override_ids = iter(range(1, 10**9))
_ops: st.SearchStrategy[Op] = st.one_of(
    st.builds(Insert, st.lists(_event(), min_size=1, max_size=6).map(tuple)),
    st.builds(Resend, st.integers(0, 5)),
    st.builds(Billed, st.lists(_billed(), min_size=1, max_size=3).map(tuple)),
    _buckets(),
    st.builds(
        Reprice,
        st.builds(
            lambda pattern, price: PriceOverride(
                id=next(_override_ids),
                provider="*",
                model_pattern=pattern,
                prices={"input_mtok": price, "output_mtok": price},
                note="property test",
            ),
            st.sampled_from(("gpt-9-*", "gpt-4o*", "claude-*")),
            st.sampled_from(("0", "0.5", "3")),
        ),
    ),
    st.builds(
        Delete,
        st.sampled_from(("model", "account", "user", "basis")),
        st.sampled_from(("gpt-4o-mini", "org-1", "", "ann", "billed", "metered")),
    ),
    st.builds(Fold, st.integers(1, 40)),
    st.just(Read()),
)


# ---- the sums straight from the records --------------------------------------------------


def _from_records(conn: Connection) -> dict[str, dict[tuple[Any, ...], tuple[int, ...]]]:
    """Every rollup's rows as the records make them, the coverage rule applied in Python."""
    rows = conn.execute(select(usage)).mappings().all()
    billed = {(r["utc_day"], r["provider"], r["account"]) for r in rows if r["basis"] == "billed"}
    accounts: dict[tuple[str, str], int] = {}
    for day, provider, _ in billed:
        accounts[(day, provider)] = accounts.get((day, provider), 0) + 1

    def covered(r: Any) -> int:
        if r["basis"] != "metered":
            return 0
        if r["account"]:
            return int((r["utc_day"], r["provider"], r["account"]) in billed)
        return int(accounts.get((r["utc_day"], r["provider"])) == 1)

    out: dict[str, dict[tuple[Any, ...], list[int]]] = {name: {} for name in rollups}
    for r in rows:
        value = {**r, "covered": covered(r)}
        for name, dims in GRAINS.items():
            for table, daily in ((name, True), (MONTHLY[name], False)):
                key = tuple(
                    value["day"][:8] + "01" if k == "day" and not daily else value[k]
                    for k in rollup_key(dims, daily=daily)
                )
                acc = out[table].setdefault(key, [0] * len(MEASURES))
                for i, m in enumerate(MEASURES):
                    acc[i] += int(r[m])
    return {name: {k: tuple(v) for k, v in sums.items() if any(v)} for name, sums in out.items()}


def _as_they_stand(conn: Connection) -> dict[str, dict[tuple[Any, ...], tuple[int, ...]]]:
    """Every rollup as a read sees it: its rows and the journal's, in one statement each."""
    out = {}
    for name, table in rollups.items():
        now = rollup_sums.current(table)
        keys = [now.c[k] for k in table.primary_key.columns.keys()]  # noqa: SIM118 - a column collection
        query = select(*keys, *(func.sum(now.c[m]) for m in MEASURES)).group_by(*keys)
        sums = {
            tuple(row[: len(keys)]): tuple(int(v) for v in row[len(keys) :]) for row in conn.execute(query)
        }
        out[name] = {k: v for k, v in sums.items() if any(v)}
    return out


def _spend_totals(conn: Connection) -> dict[str, Decimal]:
    """Totals and the best basis by model over the three days, from the first of the month
    (so the monthly twins answer November)."""
    first, last = DAY0.date().replace(day=1), DAY0.date() + timedelta(days=DAYS)
    out = {}
    for basis in ("all", "best", "billed", "metered"):
        out[basis] = spend(conn, SpendQuery(start=first, end=last, basis=basis)).totals.get("USD", Decimal(0))
    by_model = spend(
        conn, SpendQuery(start=first, end=last, by=("model",), basis="best", granularity=Granularity.MONTH)
    )
    out["best by model"] = sum((r.cost for r in by_model.rows), Decimal(0))
    return out


def _expected_totals(expected: dict[str, dict[tuple[Any, ...], tuple[int, ...]]]) -> dict[str, Decimal]:
    table = rollup_key(GRAINS["rollup_provider"], daily=False)
    basis, covered, cost = table.index("basis"), table.index("covered"), MEASURES.index("cost_nanos")
    rows = expected[MONTHLY["rollup_provider"]].items()
    sums = {
        "all": sum(v[cost] for _, v in rows),
        "best": sum(v[cost] for k, v in rows if k[covered] == 0),
        "billed": sum(v[cost] for k, v in rows if k[basis] == "billed"),
        "metered": sum(v[cost] for k, v in rows if k[basis] == "metered"),
    }
    totals = {b: from_nanos(n) for b, n in sums.items()}
    totals["best by model"] = totals["best"]
    return totals


def _check(conn: Connection) -> None:
    expected = _from_records(conn)
    assert _as_they_stand(conn) == expected
    assert _spend_totals(conn) == _expected_totals(expected)


# ---- the runs -------------------------------------------------------------------------------


def _run(engine: Engine, ops: list[Op]) -> None:
    inserts: list[tuple[UsageRecord, ...]] = []
    for op in ops:
        with engine.begin() as conn:
            if isinstance(op, Read):
                _check(conn)
            else:
                apply(conn, op, inserts, tz=ZONE)
    with engine.begin() as conn:
        _check(conn)
    fold_all(engine)
    with engine.begin() as conn:
        assert conn.execute(select(func.count()).select_from(rollup_pending)).scalar_one() == 0
        _check(conn)


def _clean(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in (usage, rollup_pending, *rollups.values()):
            conn.execute(delete(table))


def test_writebehind_reads_exact_between_random_writes_and_folds(engine: Engine) -> None:
    examples = 30 if engine.dialect.name == "sqlite" else 15

    @settings(max_examples=examples, deadline=None, database=None)
    @given(ops=st.lists(_ops, min_size=1, max_size=12))
    def run(ops: list[Op]) -> None:
        _clean(engine)
        _run(engine, ops)

    run()


def _calls(n: int, day: int = 0) -> list[UsageRecord]:
    # n calls of 1M input tokens of gpt-4o-mini at $0.15/M: $0.15 each
    records = [
        usage_record(
            key=f"c{day}-{i}",
            source="api",
            start=DAY0 + timedelta(days=day, minutes=i),
            model="gpt-4o-mini",
            user=f"u{i % 7}",
            tokens=TokenCounts(input=1_000_000),
        )
        for i in range(n)
    ]
    Pricer().price_all(records)
    return records


def _total(engine: Engine) -> Decimal:
    with engine.connect() as conn:
        query = SpendQuery(start=DAY0.date(), end=DAY0.date() + timedelta(days=DAYS), basis="all")
        return spend(conn, query).totals.get("USD", Decimal(0))


def test_writebehind_folder_killed_mid_fold_loses_nothing(engine: Engine) -> None:
    with engine.begin() as conn:
        write_records(conn, _calls(40), tz=ZONE)
    conn = engine.connect()
    transaction = conn.begin()
    assert rollup_sums.fold(conn, limit=25) == 25
    transaction.rollback()  # the folder died before its commit
    conn.close()
    with engine.begin() as conn:
        assert conn.execute(select(func.count()).select_from(rollup_pending)).scalar_one() == 40
        _check(conn)
    # 40 calls × $0.15 = $6, before and after the next folder folds them
    assert _total(engine) == Decimal("6")
    assert fold_all(engine) == 40
    assert _total(engine) == Decimal("6")
    with engine.begin() as conn:
        _check(conn)


def test_writebehind_lease_one_folder_at_a_time(engine: Engine) -> None:
    now = datetime.now(UTC) - timedelta(hours=1)
    with engine.begin() as conn:
        assert claim(conn, "folder-a", now=now)
    with engine.begin() as conn:
        assert not claim(conn, "folder-b", now=now + timedelta(seconds=10))  # a holds it
        assert claim(conn, "folder-a", now=now + timedelta(seconds=10))  # a renews it
    with engine.begin() as conn:  # a stopped renewing: b takes it once it expired
        assert claim(conn, "folder-b", now=now + timedelta(seconds=41))
    with engine.begin() as conn:
        assert not claim(conn, "folder-a", now=now + timedelta(seconds=42))
    with engine.begin() as conn:
        write_records(conn, _calls(5), tz=ZONE)
    # b's lease ran until 71 s after `now`, an hour ago: a folder now finds it expired
    assert fold_once(engine, holder="folder-c") == 5


def test_writebehind_two_folders_never_fold_the_same_rows(engine: Engine) -> None:
    for day in range(DAYS):
        with engine.begin() as conn:
            write_records(conn, _calls(60, day), tz=ZONE)
    folded: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def folder() -> None:
        try:
            start.wait()
            while True:
                with engine.begin() as conn:  # no lease: the journal alone keeps the rows apart
                    n = rollup_sums.fold(conn, limit=7)
                folded.append(n)
                if n == 0:
                    return
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=folder) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sum(folded) == 3 * 60
    # 180 calls × $0.15 = $27, each in the rollups once
    with engine.begin() as conn:
        _check(conn)
        table = rollups["rollup_model"]
        assert conn.execute(select(func.sum(table.c.records))).scalar_one() == 180
    assert _total(engine) == Decimal("27")
