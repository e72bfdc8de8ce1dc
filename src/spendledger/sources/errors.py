"""What a source's failure is: `SourceError.kind` tells the sync whether to stop the source.

Apart from base.py so that the shared HTTP path (_http.py) and the declarations (base.py)
both use it without importing each other in a circle.
"""

from __future__ import annotations

from typing import Literal

from spendledger.errors import SpendledgerError

ErrorKind = Literal[
    "auth", "permission", "not_found", "rate_limited", "server", "network", "malformed", "config"
]


class SourceError(SpendledgerError):
    """A failure of one source, with a message that names it and says what to do."""

    def __init__(
        self, kind: ErrorKind, message: str, *, endpoint: str | None = None, page: int | None = None
    ):
        super().__init__(message)
        self.kind = kind
        self.endpoint = endpoint
        self.page = page

    @property
    def stops_source(self) -> bool:
        """Retrying will not help: the key, its permissions or the data are wrong."""
        return self.kind in ("auth", "permission", "not_found", "malformed", "config")
