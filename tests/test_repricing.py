"""Re-pricing: unpriced records get their price when one arrives; provider costs never move."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select

from spendledger.pricing import Pricer
from spendledger.queries import SpendQuery, spend
from spendledger.records import TokenCounts, UsageRecord
from spendledger.repricing import RepriceResult, reprice
from spendledger.store import write_records
from spendledger.store.overrides import add_override, load_overrides
from spendledger.store.tables import usage
from usage_records import usage_record

UTC_ZONE = ZoneInfo("UTC")
DAY = datetime(2026, 11, 10, 9, tzinfo=UTC)
TOKENS = TokenCounts(input=1_000_000, cached_input=200_000, output=250_000)


def _record(i: int, model: str = "acme-llm-7b", **kw: object) -> UsageRecord:
    record = usage_record(
        key=f"api:evt-{model}-{i}",
        source="api",
        start=DAY + timedelta(days=i),
        provider="acme" if model.startswith("acme") else "openai",
        model=model,
        tokens=TOKENS,
    )
    for k, v in kw.items():
        setattr(record, k, v)
    return record


def _write(engine: Engine, records: list[UsageRecord]) -> None:
    Pricer().price_all(records)
    with engine.begin() as conn:
        write_records(conn, records, tz=UTC_ZONE)


def _costs(engine: Engine) -> dict[str, tuple[int, str]]:
    with engine.connect() as conn:
        rows = conn.execute(select(usage.c.key, usage.c.cost_nanos, usage.c.pricing_status))
        return {r.key: (r.cost_nanos, r.pricing_status) for r in rows}


def _total(engine: Engine) -> tuple[Decimal, int]:
    with engine.connect() as conn:
        report = spend(conn, SpendQuery(start=date(2026, 11, 1), end=date(2026, 11, 30), basis="all"))
    return report.total, sum(r.unpriced_requests for r in report.rows)


def _add_acme_price(engine: Engine, **kw: object) -> None:
    with engine.begin() as conn:
        add_override(
            conn,
            provider="acme",
            model_pattern="acme-llm-*",
            prices={"input": "0.2", "cached_input": "0.05", "output": "0.8"},
            note="Acme order form 2026",
            **kw,  # type: ignore[arg-type]
        )


def _pricer(engine: Engine) -> Pricer:
    with engine.connect() as conn:
        return Pricer(load_overrides(conn))


def test_repricing_prices_unpriced_records_and_leaves_provider_costs(engine: Engine) -> None:
    provider_cost = _record(9, cost=Decimal("1.234"))  # reported by the caller: never re-priced
    _write(engine, [_record(i) for i in range(3)] + [_record(0, "gpt-4o-mini"), provider_cost])
    assert _total(engine) == (Decimal("1.234") + Decimal("0.285"), 3)
    _add_acme_price(engine)
    calls: list[tuple[int, int]] = []

    result = reprice(engine, pricer=_pricer(engine), progress=lambda done, total: calls.append((done, total)))

    # provider-reported costs are not even examined: 3 acme + 1 gpt-4o-mini
    assert result == RepriceResult(examined=4, changed=3, newly_priced=3, still_unpriced=0)
    assert calls[0] == (0, 4) and calls[-1] == (4, 4)
    costs = _costs(engine)
    # 800k uncached input × $0.2/M + 200k cached × $0.05/M + 250k output × $0.8/M
    # = 0.16 + 0.01 + 0.20 = $0.37 per record
    for i in range(3):
        assert costs[f"api:evt-acme-llm-7b-{i}"] == (370_000_000, "priced")
    # gpt-4o-mini keeps its catalogue price: 800k × 0.15 + 200k × 0.075 + 250k × 0.6 (per M) = $0.285
    assert costs["api:evt-gpt-4o-mini-0"] == (285_000_000, "priced")
    assert costs["api:evt-acme-llm-7b-9"] == (1_234_000_000, "provider")
    # the rollups moved with the records: 1.234 + 0.285 + 3 × 0.37
    assert _total(engine) == (Decimal("2.629"), 0)
    # a second run finds nothing to change
    assert reprice(engine, pricer=_pricer(engine)) == RepriceResult(examined=4, changed=0)


def test_repricing_since_and_window_limit_what_changes(engine: Engine) -> None:
    _write(engine, [_record(i) for i in range(4)])  # 2026-11-10 .. 2026-11-13
    _add_acme_price(engine, effective_from=date(2026, 11, 12))

    result = reprice(engine, pricer=_pricer(engine), since=datetime(2026, 11, 11, tzinfo=UTC))

    assert result == RepriceResult(examined=3, changed=2, newly_priced=2, still_unpriced=1)
    costs = _costs(engine)
    assert [costs[f"api:evt-acme-llm-7b-{i}"] for i in range(4)] == [
        (0, "unpriced"),  # before --since: not examined
        (0, "unpriced"),  # before the override's window
        (370_000_000, "priced"),
        (370_000_000, "priced"),
    ]
    assert _total(engine) == (Decimal("0.74"), 2)


def test_repricing_follows_a_changed_override(engine: Engine) -> None:
    _write(engine, [_record(i, "gpt-4o-mini") for i in range(2)])
    assert _total(engine) == (Decimal("0.57"), 0)  # 2 × $0.285 at catalogue prices
    with engine.begin() as conn:
        add_override(
            conn, provider="openai", model_pattern="gpt-4o-mini", prices={"input": "0.1"}, note="deal"
        )

    result = reprice(engine, pricer=_pricer(engine), batch_size=1)

    assert result == RepriceResult(examined=2, changed=2)
    # only input is priced: all 1M input tokens at $0.1/M (cached reads at the input rate) = $0.10 each
    assert _total(engine) == (Decimal("0.2"), 0)
    # back to the catalogue once the override is gone
    assert reprice(engine, pricer=Pricer()) == RepriceResult(examined=2, changed=2)
    assert _total(engine) == (Decimal("0.57"), 0)
