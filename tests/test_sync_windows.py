"""A long backfill is read in windows (SourceType.window_days, 31 days), each complete and
kept as synced before the next: a run cut short halfway (a provider's hourly limit, a
kill) is resumed by the next sync after the last complete window, not from the start."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import Engine, func, select

from fakes.openai_admin import ADMIN_KEY, FakeOpenAIAdmin
from spendledger import sources_admin
from spendledger.config import Settings
from spendledger.records import cents, from_nanos
from spendledger.sources._http import RetryPolicy
from spendledger.store.sources import get_source
from spendledger.store.tables import usage
from spendledger.sync import sync_source, windows

NOW = datetime(2025, 3, 12, 9, tzinfo=UTC)  # 70 days of data: 2025-01-01 .. 2025-03-11


def test_windows_cut_a_period_into_consecutive_31_day_windows() -> None:
    start, end = datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 3, 13, tzinfo=UTC)
    assert [(a.date(), b.date()) for a, b in windows(start, end, 31)] == [
        (date(2025, 1, 1), date(2025, 2, 1)),
        (date(2025, 2, 1), date(2025, 3, 4)),
        (date(2025, 3, 4), date(2025, 3, 13)),
    ]
    assert windows(start, end, None) == [(start, end)]
    assert windows(start, start.replace(day=2), 31) == [(start, start.replace(day=2))]


def test_a_backfill_cut_short_resumes_after_its_last_complete_window(
    engine: Engine, settings: Settings
) -> None:
    with FakeOpenAIAdmin(start=date(2025, 1, 1), days=70, projects=2, models=3) as fake:
        sources_admin.add(
            engine, settings, provider="openai", name="Edugami", key=ADMIN_KEY, options={"base_url": fake.url}
        )
        # costs is each window's first endpoint, one page a window: its 3rd request is the third
        # window's; it fails as often as the policy tries (a limit that outlasts the run)
        fake.fail(429, at=3, times=2, path="/costs")
        policy = RetryPolicy(max_attempts=2, backoff=0, sleep=lambda _s: None)
        first = sync_source(
            engine, settings, "Edugami", since=date(2025, 1, 1), now=lambda: NOW, policy=policy
        )
        assert first.error is not None and "429" in first.error
        with engine.connect() as conn:
            # windows 1 and 2 complete: the source is synced up to 2025-03-04
            assert get_source(conn, "Edugami").synced_until == datetime(2025, 3, 4, tzinfo=UTC)
        fake.requests.clear()
        second = sync_source(engine, settings, "Edugami", now=lambda: NOW, policy=policy)
        assert second.error is None
        # the rerun starts 3 days (the revision overlap) before the last complete window's end
        starts = {int(query["start_time"][0]) for path, query in fake.requests if "/costs" in path}
        assert min(starts) == int(datetime(2025, 3, 1, tzinfo=UTC).timestamp())
        with engine.connect() as conn:
            stored = from_nanos(int(conn.execute(select(func.sum(usage.c.cost_nanos))).scalar() or 0))
            assert get_source(conn, "Edugami").synced_until == datetime(2025, 3, 12, tzinfo=UTC)
        assert cents(stored) == cents(sum(fake.expected_costs().values(), Decimal(0)))
