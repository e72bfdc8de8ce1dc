"""Batches written straight into a ledger database (the tracker's database mode), as the
events API writes them: the same parser, pricing and idempotent writes. The tracker
reaches the store only through here, so it imports neither the store nor SQLAlchemy."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from spendledger.ingest.batch import parse_batch
from spendledger.ingest.records import IngestResult, PricerCache, ingest_events
from spendledger.store import Engine
from spendledger.store.engine import make_engine


class DirectWriter:
    """One ledger database, its engine opened on the first batch."""

    def __init__(self, database_url: str, *, timezone: str) -> None:
        self.database_url = database_url
        self.tz = ZoneInfo(timezone)
        self._engine: Engine | None = None
        self._pricers = PricerCache()

    def write(self, body: bytes, *, max_events: int) -> IngestResult:
        """Parse, price and store one batch body (the events API's JSON) in one transaction."""
        if self._engine is None:
            self._engine = make_engine(self.database_url)
        pairs, refused = parse_batch(body, max_events=max_events)
        with self._engine.begin() as conn:
            return ingest_events(conn, pairs, pricer=self._pricers.get(conn), tz=self.tz, rejected=refused)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def after_fork(self) -> None:
        if self._engine is not None:
            self._engine.dispose(close=False)  # the pool's connections are the parent's
