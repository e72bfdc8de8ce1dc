"""One configuration's delivery: a bounded in-memory queue, the thread that empties it
into a sink in batches, and the spill folder for what the sink cannot take.

`put()` is all the application's thread runs: it appends to a deque (thread-safe, O(1))
and wakes the thread when a batch is full, well under a microsecond. Everything else
(configured defaults, JSON, HTTP, files) runs on the daemon thread `spendledger-sender`,
which takes up to `batch_size` events at a time, at least every `flush_interval` seconds.

Invariants:
- every event ends delivered, refused by the ledger (counted as rejected, never retried:
  it would be refused again), kept in a spill file, or counted as dropped;
- spilled events go before newer ones, oldest file first; after a failure the next try
  waits 1 s, doubling up to 60 s, or as long as the server's Retry-After asks; `flush()`
  tries at once (but honours Retry-After);
- the thread catches everything; should it end anyway, the next event starts another.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections import deque
from typing import Any

from spendledger.sdk._config import Config
from spendledger.sdk._context import Attribution
from spendledger.sdk._events import Event
from spendledger.sdk._sinks import Delivery, Sink
from spendledger.sdk._spill import Spill
from spendledger.sdk._stats import LOG_EVERY, Tally

log = logging.getLogger("spendledger")

FIRST_BACKOFF = 1.0
MAX_BACKOFF = 60.0


class _Flush(threading.Event):
    """A marker in the queue: set once every event before it is handled."""

    delivered = False


class Sender(Tally):
    """The queue, its thread, the sink and the spill folder of one configuration."""

    def __init__(self, config: Config, sink: Sink) -> None:
        super().__init__()
        self.config = config
        self.sink = sink
        self.spill = Spill(config.spill_folder)
        self._defaults = config.defaults
        self._max = config.max_queue
        self._batch = config.batch_size
        self._interval = config.flush_interval
        self._queue: deque[Event | _Flush] = deque()
        self._wake = threading.Event()
        self._start_lock = threading.Lock()
        self._cycle_lock = threading.Lock()
        self._running = False
        self._stopping = False
        self._closed = False
        self._inflight: tuple[list[Event], list[_Flush]] = ([], [])
        self._failures = 0
        self._retry_at = 0.0  # monotonic: our backoff; flush() does not wait for it
        self._server_retry_at = 0.0  # monotonic: the server's Retry-After; everyone waits
        self._spill_waiting = True  # unknown until the folder is looked at
        self._encode = json.JSONEncoder(separators=(",", ":"), allow_nan=False, default=str).encode

    # -- the application's side -------------------------------------------------------

    def put(self, event: Event) -> None:
        if self._closed:  # configure() replaced this sender while the caller held it
            from spendledger.sdk._sender import emit

            emit(event)  # to the sender that replaced this one
            return
        queue = self._queue
        if len(queue) >= self._max:
            self._overflow(event)
        else:
            queue.append(event)
            if len(queue) >= self._batch and not self._wake.is_set():
                self._wake.set()
        if not self._running:
            self._start()

    def flush(self, timeout: float) -> bool:
        marker = _Flush()
        self._queue.append(marker)
        deadline = time.monotonic() + max(timeout, 0.0)
        if not self._start():  # no new thread at interpreter shutdown: do the work here
            self._cycle()
        self._wake.set()
        while not marker.wait(max(min(0.05, deadline - time.monotonic()), 0.0)):
            if time.monotonic() >= deadline:
                return False
            if not self._running:  # the thread died while we waited
                self._start()
        return marker.delivered

    def close(self, timeout: float) -> None:
        """Deliver or spill everything, then stop: configure() replaced this sender."""
        self.flush(timeout)
        self._closed = self._stopping = True
        self._wake.set()
        self.spill_leftovers()
        self.spill.close()
        self.sink.close()

    def spill_leftovers(self) -> None:
        """Spill what is still queued or in the thread's hands (a stuck send): at exit."""
        events = list(self._inflight[0])
        while True:
            try:
                item = self._queue.popleft()
            except IndexError:
                break
            if isinstance(item, _Flush):
                item.set()
            else:
                events.append(item)
        self._keep(self._lines(events))

    def queued(self) -> int:
        return len(self._queue) + len(self._inflight[0])

    def after_fork(self) -> None:
        super().after_fork()
        self._queue.clear()
        self._inflight = ([], [])
        self._wake = threading.Event()
        self._start_lock = threading.Lock()
        self._cycle_lock = threading.Lock()
        self._running = False
        self._logged_at = {}
        self.spill.forget_after_fork()
        self.sink.after_fork()

    def _start(self) -> bool:
        """Start the thread unless it runs; False when Python refuses (at shutdown)."""
        with self._start_lock:
            if self._running or self._stopping:
                return True
            thread = threading.Thread(target=self._run, name="spendledger-sender", daemon=True)
            self._running = True
            try:
                thread.start()
            except RuntimeError:
                self._running = False
                return False
            return True

    def _overflow(self, event: Event) -> None:
        self.warn(
            "overflow",
            f"the queue holds {self._max:,} events (max_queue) and the ledger is not keeping up: "
            f"more events go straight to the spill folder {self.spill.folder}",
        )
        self._keep(self._lines([event]))

    # -- the thread's side -----------------------------------------------------------

    def _run(self) -> None:
        try:
            while not self._stopping:
                self._wake.wait(self._interval)
                self._wake.clear()
                self._cycle()
        except BaseException as exc:  # noqa: BLE001 - the thread ends; the next event restarts it
            events, flushes = self._inflight
            self._inflight = ([], [])
            self.drop(
                len(events),
                f"the sender thread stopped ({exc.__class__.__name__}: {exc}) holding "
                f"{len(events)} events, which are lost; it restarts with the next event",
            )
            for marker in flushes:
                marker.set()
        finally:
            self._running = False

    def _cycle(self) -> None:
        with self._cycle_lock:
            while True:
                events, flushes = self._take()
                self._inflight = (events, flushes)
                if events:
                    self._handle(events, force=bool(flushes))
                elif (flushes or self._spill_waiting) and self._may_try(force=bool(flushes)):
                    self._replay()
                for marker in flushes:
                    marker.delivered = not self._spill_waiting and self._failures == 0
                    marker.set()
                self._inflight = ([], [])
                if not events and not flushes:
                    break
            self.report_drops()

    def _take(self) -> tuple[list[Event], list[_Flush]]:
        """Up to a batch of events, stopping after a flush marker."""
        queue, events = self._queue, list[Event]()
        while len(events) < self._batch:
            try:
                item = queue.popleft()
            except IndexError:
                break
            if isinstance(item, _Flush):
                return events, [item]
            events.append(item)
        return events, []

    def _may_try(self, *, force: bool) -> bool:
        now = time.monotonic()
        return now >= self._server_retry_at and (force or now >= self._retry_at)

    def _handle(self, events: list[Event], *, force: bool) -> None:
        lines = self._lines(events)
        if not lines:
            return
        if not self._may_try(force=force) or (self._spill_waiting and not self._replay()):
            self._keep(lines)
            return
        if self._send(lines).retry:
            self._keep(lines)

    def _replay(self) -> bool:
        """Send the spilled events, oldest first; True when none is left."""
        while True:
            try:
                claim = self.spill.claim_next()
                if claim is None:
                    self._spill_waiting = False
                    return True
                lines, torn = self.spill.read(claim)
            except OSError as exc:
                self.error(f"cannot read the spill folder {self.spill.folder} ({exc})", kind="spill")
                return False
            if torn:
                self.drop(
                    torn, f"{torn} lines of the spill file {claim.path.name} were not JSON (cut short?)"
                )
            for start in range(0, len(lines), self._batch):
                if self._send(lines[start : start + self._batch], replay=True).retry:
                    try:
                        self.spill.give_back(claim, lines[start:])
                    except OSError as exc:  # the claimed file stays; it is claimed again next time
                        self.error(f"cannot rewrite the spill file {claim.path} ({exc})", kind="spill")
                    return False
            try:
                self.spill.done(claim)
            except OSError as exc:
                self.error(f"cannot delete the replayed spill file {claim.path} ({exc})", kind="spill")

    def _send(self, lines: list[str], *, replay: bool = False) -> Delivery:
        try:
            delivery = self.sink.send(lines)
        except Exception as exc:  # noqa: BLE001 - a sink's bug keeps the batch for later
            delivery = Delivery(
                retry=True,
                kind="sink",
                error=f"sending to {self.config.destination} failed ({exc.__class__.__name__}: {exc}); "
                "the events are kept in the spill folder: is the destination right?",
            )
        self.count(
            sent=delivery.stored, replayed=delivery.stored if replay else 0, rejected=delivery.rejected
        )
        if delivery.rejected:
            self.error(
                f"the ledger refused {delivery.rejected} events (they are not retried): "
                + "; ".join(delivery.reasons),
                kind="rejected",
            )
        if delivery.retry:
            self._back_off(delivery)
        elif self._failures:
            log.info("spendledger: delivery to %s works again", self.config.destination)
            self._failures, self._retry_at = 0, 0.0
        return delivery

    def _back_off(self, delivery: Delivery) -> None:
        self._failures += 1
        now = time.monotonic()
        delay = min(MAX_BACKOFF, FIRST_BACKOFF * 2 ** min(self._failures - 1, 10))
        delay *= random.uniform(0.8, 1.0)  # spread the retries of many processes
        if delivery.retry_after is not None:
            self._server_retry_at = now + delivery.retry_after
            delay = max(delay, delivery.retry_after)
        self._retry_at = now + delay
        message = delivery.error or "the batch was not delivered"
        self.error(
            message, kind=delivery.kind or "delivery", every=None if delivery.kind == "auth" else LOG_EVERY
        )

    def _keep(self, lines: list[str]) -> None:
        """Spill `lines`; drop (and count) them when the spill folder cannot be written."""
        if not lines:
            return
        try:
            self.spill.write(lines)
        except OSError as exc:
            self.drop(
                len(lines),
                f"the spill folder {self.spill.folder} cannot be written ({exc}): set "
                "configure(spill_dir=...) or SPENDLEDGER_SPILL_DIR to a writable folder",
            )
            return
        self._spill_waiting = True
        self.count(spilled=len(lines))

    def _lines(self, events: list[Event]) -> list[str]:
        """The events as JSON texts, the configured defaults filled in."""
        encode, defaults = self._encode, self._defaults
        fill = bool(
            defaults.project
            or defaults.account
            or defaults.user
            or defaults.feature
            or defaults.customer
            or defaults.tags
        )
        lines: list[str] = []
        for event in events:
            if fill:
                event = _with_defaults(event, defaults)
            try:
                lines.append(encode(event))
            except Exception:  # noqa: BLE001 - a tag JSON cannot hold: send the tags as text
                try:
                    lines.append(encode(_tags_as_text(event)))
                except Exception as exc:  # noqa: BLE001
                    self.drop(1, f"an event could not be written as JSON ({exc.__class__.__name__}: {exc})")
        return lines


def _with_defaults(event: Event, defaults: Attribution) -> Event:
    event = dict(event)
    for name, value in (
        ("project", defaults.project),
        ("account", defaults.account),
        ("user", defaults.user),
        ("feature", defaults.feature),
        ("customer", defaults.customer),
    ):
        if value is not None and event.get(name) is None:
            event[name] = value
    if defaults.tags:
        event["tags"] = {**defaults.tags, **(event.get("tags") or {})}
    return event


def _tags_as_text(event: Event) -> Event:
    def text(value: Any) -> str | int | bool | None:
        if value is None or isinstance(value, str | bool | int):
            return value
        try:
            return str(value)
        except Exception:  # noqa: BLE001
            return f"<{type(value).__name__}>"

    tags = event.get("tags")
    items = tags.items() if isinstance(tags, dict) else ()
    return {**event, "tags": {str(k): text(v) for k, v in items}}
