"""Which metered calls a bill covers: its own account's, never another organisation's.

A metered record is covered by a billed account only when (a) its `account` names that
account, (b) its project or API key is known to belong to that account (the billed
records of the account show it), or (c) it has no account and its provider has exactly
one billed account that day. Otherwise it counts in the best-available total.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select

from spendledger.queries import SpendQuery, spend
from spendledger.records import Basis, TokenCounts, UsageRecord
from spendledger.store import write_records
from spendledger.store.folder import fold_all
from spendledger.store.ledger import rebuild_rollups, replace_where
from spendledger.store.tables import rollups, usage
from usage_records import usage_record

UTC_ZONE = ZoneInfo("UTC")
NOV_20 = datetime(2026, 11, 20, tzinfo=UTC)


def _billed(cost: str, *, account: str, project: str = "", api_key_id: str = "") -> UsageRecord:
    return usage_record(
        key=f"costs|{account}|{project}|{api_key_id}",
        source=f"openai-{account}",
        basis=Basis.BILLED,
        start=NOV_20,
        end=NOV_20 + timedelta(days=1),
        model="",
        account=account,
        project=project,
        api_key_id=api_key_id,
        requests=0,
        cost=cost,
    )


def _call(key: str, cost: str, *, account: str = "", project: str = "", api_key_id: str = "") -> UsageRecord:
    return usage_record(
        key=f"api:{key}",
        source="api",
        start=NOV_20 + timedelta(hours=10),
        model="gpt-4o-mini",
        account=account,
        project=project,
        api_key_id=api_key_id,
        tokens=TokenCounts(input=1000, output=100),
        cost=cost,
    )


def _write(engine: Engine, records: list[UsageRecord]) -> None:
    with engine.begin() as conn:
        write_records(conn, records, tz=UTC_ZONE)


def _best(engine: Engine, by: tuple[str, ...] = ()) -> dict[tuple[str | None, ...], Decimal]:
    """Best-available cost per group, from the rollups kept at write time; the same from
    the records (by user and project, which no rollup holds) and from rebuilt rollups."""

    def read(by: tuple[str, ...]) -> dict[tuple[str | None, ...], Decimal]:
        query = SpendQuery(start=date(2026, 11, 20), end=date(2026, 11, 20), by=by, basis="best")
        with engine.connect() as conn:
            return {tuple(r.dims.values()): r.cost for r in spend(conn, query).rows}

    kept = read(by)
    from_records: dict[tuple[str | None, ...], Decimal] = {}
    for dims, cost in read((*by, "user", "project")).items():
        from_records[dims[: len(by)]] = from_records.get(dims[: len(by)], Decimal(0)) + cost
    with engine.begin() as conn:
        rebuild_rollups(conn, tz=UTC_ZONE)
    assert kept == from_records == read(by)
    return kept


def test_coverage_call_of_an_unsynced_org_counts_beside_two_billed_orgs(engine: Engine) -> None:
    # two organisations are synced; a call with no account and a project neither bill
    # knows may be a third organisation's: it is not swallowed
    _write(engine, [_billed("10.00", account="org-a"), _billed("20.00", account="org-b")])
    _write(engine, [_call("c1", "1.50", project="elsewhere")])
    # $10 + $20 billed + $1.50 metered that no bill covers
    assert _best(engine) == {(): Decimal("31.50")}


def test_coverage_call_with_no_account_covered_when_its_provider_has_one_billed_account(
    engine: Engine,
) -> None:
    _write(engine, [_billed("10.00", account="org-a"), _call("c1", "1.50")])
    # one billed OpenAI account that day: the call is in its bill
    assert _best(engine) == {(): Decimal("10.00")}


def test_coverage_call_of_a_project_of_an_unbilled_day_account_not_swallowed(engine: Engine) -> None:
    # org-a's bill (another day) shows project p-a is org-a's; today only org-b is billed
    earlier = _billed("5.00", account="org-a", project="p-a")
    earlier.start, earlier.end = NOV_20 - timedelta(days=1), NOV_20
    _write(engine, [earlier, _billed("20.00", account="org-b", project="p-b")])
    _write(engine, [_call("c1", "1.50", project="p-a")])
    # the call belongs to org-a, whose 11-20 is not billed: it counts ($20 + $1.50)
    assert _best(engine, ("account",)) == {("org-b",): Decimal("20.00"), ("org-a",): Decimal("1.50")}


def test_coverage_call_covered_by_the_account_its_project_belongs_to(engine: Engine) -> None:
    _write(
        engine,
        [_billed("10.00", account="org-a", project="p-a"), _billed("20.00", account="org-b", project="p-b")],
    )
    _write(engine, [_call("c1", "1.50", project="p-a"), _call("c2", "2.50", api_key_id="key-x")])
    # c1 is org-a's (its project), in org-a's bill; c2's key is nobody's: it counts
    assert _best(engine, ("account",)) == {
        ("org-a",): Decimal("10.00"),
        ("org-b",): Decimal("20.00"),
        (None,): Decimal("2.50"),
    }


def test_coverage_learnt_later_moves_calls_already_stored(engine: Engine) -> None:
    # the calls arrive before the sync: nothing says whose they are yet
    _write(engine, [_call("c1", "1.50", project="p-a"), _call("c2", "2.50", api_key_id="key-b")])
    with engine.begin() as conn:
        replace_where(
            conn,
            usage.c.source.in_(["openai-org-a", "openai-org-b"]),
            [
                _billed("10.00", account="org-a", project="p-a"),
                _billed("20.00", account="org-b", api_key_id="key-b"),
            ],
            tz=UTC_ZONE,
        )
    with engine.connect() as conn:
        accounts = dict(
            conn.execute(select(usage.c.key, usage.c.account).where(usage.c.basis == "metered")).all()
        )
    assert accounts == {"api:c1": "org-a", "api:c2": "org-b"}
    # both are in their accounts' bills now: $10 + $20
    assert _best(engine) == {(): Decimal("30.00")}


def test_coverage_call_naming_its_account_only_covered_by_that_account(engine: Engine) -> None:
    _write(engine, [_billed("10.00", account="org-a"), _call("c1", "1.50", account="org-z")])
    # org-z is not synced: its call counts beside org-a's bill
    assert _best(engine) == {(): Decimal("11.50")}
    fold_all(engine)  # the rollups are written behind: fold the journal before reading them
    with engine.connect() as conn:
        flags = {r.account: r.covered for r in conn.execute(select(rollups["rollup_user"]))}
    assert flags == {"org-a": 0, "org-z": 0}
