"""The only package that speaks SQL: tables, engine, idempotent writes, rollups, reads.

Other packages hold a `Connection` or an `Engine` (the types named here) and call the
store's functions with it; they never build a statement.
"""

from sqlalchemy import Connection, Engine

from spendledger.store.engine import make_engine, upgrade
from spendledger.store.ledger import WriteResult, write_event_rows, write_records

__all__ = [
    "Connection",
    "Engine",
    "WriteResult",
    "make_engine",
    "upgrade",
    "write_event_rows",
    "write_records",
]
