"""What became of the events: the counters and rate-limited warnings every sender keeps,
and `Nowhere`, the sender of a process with no destination (or disabled).

The counters are updated under a lock (from the application's threads and the sender's);
a warning of one kind is logged at most once a minute, or once, so that a ledger that is
down for an hour fills no log.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from spendledger.sdk._events import Event

log = logging.getLogger("spendledger")

LOG_EVERY = 60.0
UNCONFIGURED = (
    "spendledger: LLM calls are not recorded: no destination is configured; call "
    "spendledger.configure(url=..., token=...) or set SPENDLEDGER_URL and SPENDLEDGER_TOKEN "
    "(or SPENDLEDGER_DATABASE_URL). Events are counted in spendledger.stats().unconfigured."
)


@dataclass(frozen=True, slots=True)
class Stats:
    """What became of the events since the last `configure()` (or process start)."""

    queued: int = 0  # waiting in memory
    sent: int = 0  # stored by the ledger, or already held by it (replayed ones included)
    spilled: int = 0  # written to a spill file (then counted in sent/replayed once delivered)
    replayed: int = 0  # spilled events delivered since
    rejected: int = 0  # refused by the ledger (malformed); logged, never retried
    dropped: int = 0  # lost: queue full and no writable spill folder, not JSON, a torn spill line
    unconfigured: int = 0  # recorded while no destination was configured (not kept)
    last_error: str | None = None


class Tally:
    """Counters, the last error and rate-limited warnings; the base of every sender."""

    def __init__(self) -> None:
        self._counts_lock = threading.Lock()
        self._counts: dict[str, int] = dict.fromkeys(
            ("sent", "spilled", "replayed", "rejected", "dropped", "unconfigured"), 0
        )
        self._last_error: str | None = None
        self._logged_at: dict[str, float] = {}
        self._dropped_logged = 0

    def put(self, event: Event) -> None:
        raise NotImplementedError

    def flush(self, timeout: float) -> bool:
        return True

    def close(self, timeout: float) -> None:
        return None

    def after_fork(self) -> None:
        self._counts_lock = threading.Lock()
        self._counts = dict.fromkeys(self._counts, 0)

    def queued(self) -> int:
        return 0

    def stats(self) -> Stats:
        with self._counts_lock:
            return Stats(queued=self.queued(), last_error=self._last_error, **self._counts)

    def count(self, **deltas: int) -> None:
        with self._counts_lock:
            for name, delta in deltas.items():
                self._counts[name] += delta

    def error(self, message: str, *, kind: str | None = None, every: float | None = LOG_EVERY) -> None:
        """Keep `message` as the last error; log it (once per `every` seconds per kind)."""
        self._last_error = message
        if kind is not None:
            self.warn(kind, message, every=every)

    def warn(self, kind: str, message: str, *, every: float | None = LOG_EVERY) -> bool:
        now = time.monotonic()
        last = self._logged_at.get(kind)
        if last is not None and (every is None or now - last < every):
            return False
        self._logged_at[kind] = now
        log.warning(message if message.startswith("spendledger") else f"spendledger: {message}")
        return True

    def drop(self, n: int, why: str) -> None:
        self.count(dropped=n)
        self._last_error = why
        self.report_drops()

    def report_drops(self) -> None:
        dropped = self._counts["dropped"]
        if dropped > self._dropped_logged and self.warn(
            "dropped", f"events dropped so far: {dropped}; the last because {self._last_error}"
        ):
            self._dropped_logged = dropped


class Nowhere(Tally):
    """No destination (events counted as unconfigured, one warning), or disabled."""

    def __init__(self, *, disabled: bool) -> None:
        super().__init__()
        self.disabled = disabled

    def put(self, event: Event) -> None:
        if self.disabled:
            return
        self.count(unconfigured=1)
        if self._last_error is None:
            self._last_error = UNCONFIGURED
        self.warn("unconfigured", UNCONFIGURED, every=None)
