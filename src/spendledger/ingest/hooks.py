"""How the rest of the app hears that ingest stored new data, without ingest knowing who listens.

The web app passes a `NewDataHook` (it evaluates the alerts and sends their notifications);
a route calls it after the response, at most once a minute (web/api/intake.py). Ingest
imports neither the scheduler nor alerts: the arrow points from the app to both.
"""

from __future__ import annotations

from typing import Protocol


class NewDataHook(Protocol):
    """Called, outside any request and transaction, after a batch stored new records."""

    def __call__(self) -> None: ...


def nothing() -> None:
    """The hook of an app that wires none."""
