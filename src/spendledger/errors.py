"""The base of every error the user can act on.

A `SpendledgerError` carries a `message` meant for the person at the keyboard (what went
wrong and what to do) and, where one input is at fault, the `field` naming it. The CLI
prints the message and exits non-zero; the web layer answers it with a 4xx. Subclasses
keep their standard bases (ValueError, LookupError, RuntimeError) so callers catching
those still do. Stdlib only and imports nothing of ours: every layer, the SDK included,
may depend on it.
"""

from __future__ import annotations


class SpendledgerError(Exception):
    """An error with a user-facing `message` and, when one input is at fault, its `field`."""

    def __init__(self, message: str = "", *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
