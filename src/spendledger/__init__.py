"""spendledger: a self-hosted ledger of LLM spend.

The package imports nothing heavy at import time, so applications can import it cheaply.
"""

__version__ = "0.1.0"
