"""File imports: a file of spend or usage (generic CSV, FOCUS, a provider console's export)
→ records → the ledger, streamed in batches, idempotent on each row's natural key.

    base.py      the reader contract (ImportRow = Imported | Rejected), the format registry, natural keys
    generic.py   the generic CSV: columns named like the ingest API's event fields
    consoles.py  provider console exports, each a column mapping onto the generic reader
    focus.py     FOCUS 1.0-1.3 exports (CSV or Parquet)
    importer.py  rows → priced records → the ledger (or a dry run's summary), in batches
"""
