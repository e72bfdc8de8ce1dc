"""The only package that imports SQLAlchemy: tables, engine, idempotent writes, rollups."""

from spendledger.store.engine import make_engine, upgrade
from spendledger.store.ledger import WriteResult, write_records

__all__ = ["WriteResult", "make_engine", "upgrade", "write_records"]
