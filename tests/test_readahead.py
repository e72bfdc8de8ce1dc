"""ReadAhead: a sync's pages read on a thread, delivered in order, failures in their place."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from spendledger.readahead import ReadAhead


def test_readahead_delivers_every_item_in_order() -> None:
    with ReadAhead(iter(range(100))) as items:
        assert list(items) == list(range(100))


def test_readahead_raises_a_failure_after_the_items_before_it() -> None:
    def pages() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("page 3 is malformed")

    seen: list[int] = []
    with ReadAhead(pages()) as items, pytest.raises(ValueError, match="page 3"):
        for item in items:
            seen.append(item)
    assert seen == [1, 2]


def test_readahead_runs_the_iterator_on_another_thread_at_most_depth_ahead() -> None:
    produced: list[int] = []
    threads: set[str] = set()
    taken = threading.Event()

    def pages() -> Iterator[int]:
        for n in range(10):
            threads.add(threading.current_thread().name)
            produced.append(n)
            yield n

    with ReadAhead(pages(), depth=1, name="pages") as items:
        first = next(iter(items))
        taken.wait(0.3)  # time for the thread to run as far ahead as it may
        # item 0 taken, item 1 queued, item 2 made and waiting for room: never further
        assert first == 0 and len(produced) <= 3
    assert threads == {"pages"}


def test_readahead_left_early_stops_the_iterator_and_runs_its_cleanup() -> None:
    closed = threading.Event()
    produced: list[int] = []

    def pages() -> Iterator[int]:
        try:
            for n in range(1_000):
                produced.append(n)
                yield n
        finally:
            closed.set()

    with ReadAhead(pages()) as items:
        for item in items:
            if item == 2:
                break
    assert closed.is_set()  # the thread was joined after closing the generator on its own thread
    assert len(produced) < 10


def test_readahead_is_ready_once_the_next_item_waits() -> None:
    release = threading.Event()

    def pages() -> Iterator[int]:
        yield 1
        release.wait(5)
        yield 2

    with ReadAhead(pages()) as items:
        iterator = iter(items)
        assert next(iterator) == 1
        assert not items.ready()  # the thread waits to read the second
        release.set()
        for _ in range(500):
            if items.ready():
                break
            threading.Event().wait(0.01)
        assert items.ready()
        assert list(iterator) == [2]


def test_readahead_wait_answers_whether_the_next_item_came_in_time() -> None:
    release = threading.Event()

    def pages() -> Iterator[int]:
        release.wait(10)
        yield 1

    with ReadAhead(pages()) as items:
        assert items.wait(0.05) is False  # not read yet
        release.set()
        assert items.wait(10) is True
        assert list(items) == [1]
        assert items.wait(0.05) is False  # nothing more (the end was taken)
