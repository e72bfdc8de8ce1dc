"""The process's sender: `emit()`, called by the instrumentations and `record()`, hands
each event to the sender of the current configuration (`_queue.Sender`), read from the
environment on the first event when `configure()` was not called.

Invariants:
- nothing here raises into the application: `emit()` and the public functions catch
  everything, count it and keep the last error for `stats()`;
- `configure()` again swaps the sender at once and then flushes the old one, so its
  events reach its own destination;
- at exit, a flush of up to EXIT_TIMEOUT seconds, then what is left is spilled;
- a forked child starts its own thread with its first event; what the parent had queued
  stays the parent's to deliver.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading

from spendledger.sdk._config import Config, resolve
from spendledger.sdk._events import Event
from spendledger.sdk._queue import Sender
from spendledger.sdk._sinks import DatabaseSink, HttpSink
from spendledger.sdk._spill import renew_instance
from spendledger.sdk._stats import Nowhere, Stats, Tally

__all__ = ["Stats", "current", "emit", "install", "internal_error", "reset"]

log = logging.getLogger("spendledger")

EXIT_TIMEOUT = 2.0  # seconds the atexit hook waits for a flush before spilling the rest
CLOSE_TIMEOUT = 2.0  # the same when configure() replaces a sender

_lock = threading.Lock()
_sender: Tally | None = None
_hooks_installed = False
_no_sender = Tally()  # keeps errors raised before any sender exists


def emit(event: Event) -> None:
    """Queue one event (made by `_events.make_event`) for delivery; never raises."""
    try:
        (_sender or _from_environment()).put(event)
    except Exception as exc:  # noqa: BLE001 - never in the application's way
        internal_error("emit", exc)


def install(config: Config, problems: list[str]) -> None:
    """Make `config` the process's configuration; the previous sender is flushed first
    (for up to CLOSE_TIMEOUT seconds, the rest spilled) so its events reach its destination."""
    global _sender
    with _lock:
        old, _sender = _sender, _build(config, problems)
    if old is not None:
        old.close(CLOSE_TIMEOUT)


def current() -> Tally | None:
    return _sender


def reset(timeout: float = CLOSE_TIMEOUT) -> None:
    """Forget the configuration (the next event reads the environment again); for tests."""
    global _sender
    with _lock:
        old, _sender = _sender, None
    if old is not None:
        old.close(timeout)


def internal_error(where: str, exc: BaseException) -> None:
    """A bug of ours, or an input we did not foresee: kept and logged, never raised."""
    target = _sender or _no_sender
    target.error(f"{where}() failed: {exc.__class__.__name__}: {exc}", kind=f"internal:{where}")


def _from_environment() -> Tally:
    global _sender
    with _lock:
        if _sender is None:
            config, problems = resolve(
                url=None,
                token=None,
                database_url=None,
                project=None,
                user=None,
                feature=None,
                tags=None,
                spill_dir=None,
                max_queue=None,
                batch_size=None,
                flush_interval=None,
                enabled=True,
                tz=None,
            )
            _sender = _build(config, problems)
        return _sender


def _build(config: Config, problems: list[str]) -> Tally:
    sender: Tally
    if not config.enabled:
        sender = Nowhere(disabled=True)
    elif config.endpoint:
        sender = Sender(config, HttpSink(config.endpoint, config.token))
    elif config.database_url:
        sink = DatabaseSink(config.database_url, timezone=config.timezone, shown_as=config.destination or "")
        sender = Sender(config, sink)
    else:
        sender = Nowhere(disabled=False)
    for problem in problems:
        sender.error(problem)
        log.warning("spendledger: %s", problem)
    if isinstance(sender, Sender):
        _install_hooks()
    return sender


def _install_hooks() -> None:
    global _hooks_installed
    if _hooks_installed:
        return
    _hooks_installed = True
    atexit.register(_at_exit)
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_after_fork_in_child)


def _at_exit() -> None:
    sender = _sender
    if not isinstance(sender, Sender):
        return
    try:
        if not sender.flush(EXIT_TIMEOUT):
            sender.spill_leftovers()
        sender.spill.close()  # complete our `.part` file: any process may replay it now
    except Exception:  # noqa: BLE001, S110 - the process is ending; nothing left to tell
        pass


def _after_fork_in_child() -> None:
    global _lock
    _lock = threading.Lock()
    renew_instance()
    if _sender is not None:
        _sender.after_fork()
