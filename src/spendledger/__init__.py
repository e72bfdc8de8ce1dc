"""spendledger: a self-hosted ledger of LLM spend.

The package imports nothing heavy at import time, so applications can import it cheaply:
`spendledger.configure`, `instrument`, `context`, `record`, `flush` and `stats` are the
tracker's public API (`spendledger.sdk`, standard library only), loaded on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from spendledger.sdk import configure, context, flush, instrument, record, stats

__version__ = "0.1.0"
__all__ = ["__version__", "configure", "context", "flush", "instrument", "record", "stats"]

_SDK_NAMES = frozenset(("configure", "context", "flush", "instrument", "record", "stats"))


def __getattr__(name: str) -> Any:
    if name in _SDK_NAMES:
        from spendledger import sdk

        value = getattr(sdk, name)
        globals()[name] = value  # once: later lookups do not come here
        return value
    raise AttributeError(f"module 'spendledger' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_SDK_NAMES})
