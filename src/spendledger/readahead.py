"""Iterate on a thread, a step ahead of the consumer: a sync reads page k + 1 while it writes page k.

Why: a billing sync alternates between reading a page (HTTP, JSON, validation,
translation: Python holding the GIL) and writing it (mostly inside SQLite or the
PostgreSQL driver, which release it), so the two overlap on a second core.

Invariants:
- the items arrive in their order, and an exception the iterator raises is raised to
  the consumer at its place: after the items before it, never instead of them;
- the iterator runs on its own thread only and is at most `depth` items ahead: a
  provider still sees one request at a time (sequential paging), only sooner;
- leaving the `with` block stops the thread at its next item and waits for it (up to
  `grace` seconds: a thread in a long provider back-off is left to finish on its own,
  its items dropped), so a closed connector is never read again.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Generic, Self, TypeVar

T = TypeVar("T")

_ITEM, _END, _ERROR = range(3)


class ReadAhead(Generic[T]):
    """`items`, iterated on a thread up to `depth` items ahead; a context manager."""

    def __init__(
        self, items: Iterable[T], *, depth: int = 1, grace: float = 5.0, name: str = "readahead"
    ) -> None:
        self._queue: queue.Queue[tuple[int, object]] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._grace = grace
        self._thread = threading.Thread(target=self._run, args=(items,), name=name, daemon=True)
        self._thread.start()

    def _run(self, items: Iterable[T]) -> None:
        iterator = iter(items)
        try:
            for item in iterator:
                if not self._put(_ITEM, item):
                    return
            self._put(_END, None)
        except BaseException as exc:  # handed to the consumer, raised there in its place
            self._put(_ERROR, exc)
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:  # a generator left early runs its `finally` blocks here, on its thread
                close()

    def _put(self, kind: int, value: object) -> bool:
        """Queue one entry, unless the consumer left first (then False)."""
        while not self._stop.is_set():
            try:
                self._queue.put((kind, value), timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator[T]:
        while True:
            kind, value = self._queue.get()
            if kind == _END:
                return
            if kind == _ERROR:
                assert isinstance(value, BaseException)
                raise value
            yield value  # type: ignore[misc]

    def ready(self) -> bool:
        """Whether the next item (or the end, or an error) is waiting: the consumer would
        not block for it."""
        return not self._queue.empty()

    def wait(self, timeout: float) -> bool:
        """Whether the next item (or the end, or an error) is waiting within `timeout` seconds."""
        waiting = self._queue.not_empty  # a Condition on the queue's own lock
        with waiting:
            return waiting.wait_for(lambda: len(self._queue.queue) > 0, timeout)

    def close(self) -> None:
        """Stop the thread at its next item and wait for it (up to `grace` seconds)."""
        self._stop.set()
        self._thread.join(self._grace)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
