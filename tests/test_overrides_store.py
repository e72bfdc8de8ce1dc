"""Price overrides in the database: validated on the way in, usable by the Pricer on the way out."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import Engine

from spendledger.pricing import OverrideError, Pricer
from spendledger.records import TokenCounts
from spendledger.store.overrides import add_override, list_overrides, load_overrides, remove_override


def test_overrides_store_round_trip_normalises_names_and_dates(engine: Engine) -> None:
    with engine.begin() as conn:
        first = add_override(
            conn,
            provider="OpenAI",
            model_pattern="OpenAI/GPT-4o-Mini",
            prices={"input": "0.1", "cached_input": "0.025", "output_mtok": "0.4"},
            note="  negotiated rate, contract 2026-07  ",
            effective_from=date(2026, 7, 1),
            effective_to=date(2027, 1, 1),
        )
        second = add_override(
            conn, provider="*", model_pattern="ft:*", prices={"input": "3"}, note="fine-tunes", currency="eur"
        )
    assert second == first + 1
    with engine.connect() as conn:
        stored = list_overrides(conn)
    assert [o.id for o in stored] == [first, second]
    o = stored[0]
    assert (o.provider, o.model_pattern) == ("openai", "gpt-4o-mini")
    assert dict(o.prices) == {"input_mtok": "0.1", "cache_read_mtok": "0.025", "output_mtok": "0.4"}
    assert o.note == "negotiated rate, contract 2026-07"
    assert o.effective_from == datetime(2026, 7, 1, tzinfo=UTC)
    assert o.effective_to == datetime(2027, 1, 1, tzinfo=UTC)
    assert (stored[1].provider, stored[1].currency, stored[1].effective_from) == ("*", "EUR", None)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"note": "  "}, "needs a note"),
        ({"prices": {}}, "at least one price"),
        ({"prices": {"input": "cheap"}}, "not a number"),
        ({"prices": {"input": "-1"}}, "zero or more"),
        ({"prices": {"images": "1"}}, "unknown price kind"),
        ({"model_pattern": " "}, "model name or pattern"),
        ({"effective_from": date(2026, 7, 1), "effective_to": date(2026, 7, 1)}, "on or before it starts"),
        ({"currency": "dollars"}, "3-letter code"),
    ],
)
def test_overrides_store_rejects_bad_input(engine: Engine, kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {
        "provider": "acme",
        "model_pattern": "acme-7b",
        "prices": {"input": "1"},
        "note": "contract",
        **kwargs,
    }
    with engine.begin() as conn, pytest.raises(OverrideError, match=message):
        add_override(conn, **args)  # type: ignore[arg-type]
    with engine.connect() as conn:
        assert list_overrides(conn) == []


def test_overrides_store_remove_says_whether_it_removed(engine: Engine) -> None:
    with engine.begin() as conn:
        override_id = add_override(
            conn, provider="acme", model_pattern="acme-7b", prices={"input": "1"}, note="n"
        )
    with engine.begin() as conn:
        assert remove_override(conn, override_id) is True
    with engine.begin() as conn:
        assert remove_override(conn, override_id) is False
        assert list_overrides(conn) == []


def test_overrides_store_feeds_the_pricer_within_its_window(engine: Engine) -> None:
    with engine.begin() as conn:
        override_id = add_override(
            conn,
            provider="openai",
            model_pattern="gpt-4o-mini",
            prices={"input": "0.1", "output": "0.4"},
            note="negotiated",
            effective_from=date(2026, 7, 1),
            effective_to=date(2026, 8, 1),
        )
    with engine.connect() as conn:
        pricer = Pricer(load_overrides(conn))
    tokens = TokenCounts(input=1_000_000, output=1_000_000)
    inside = pricer.rates_for("openai", "gpt-4o-mini", datetime(2026, 7, 31, 23, 59, tzinfo=UTC))
    assert inside is not None
    assert inside.source == f"override #{override_id}: negotiated"
    # 1M input × $0.1/M + 1M output × $0.4/M = $0.50
    assert inside.cost(tokens) == Decimal("0.5")
    for outside in (datetime(2026, 6, 30, 23, 59, tzinfo=UTC), datetime(2026, 8, 1, tzinfo=UTC)):
        rates = pricer.rates_for("openai", "gpt-4o-mini", outside)
        assert rates is not None and rates.source.startswith("genai-prices")
        # the catalogue's $0.15 / $0.60: 0.15 + 0.60 = $0.75
        assert rates.cost(tokens) == Decimal("0.75")
