"""One import of a tool's logs: read, de-duplicate, build events, send them in batches.

`Importer.poll()` is one pass over the log files: files that appeared are added, each
file is read from where the last pass stopped, and the calls the reader has completed
are sent. `run_once` makes one final pass; `follow` (`--watch`) passes again every
`interval` seconds until Ctrl-C or `duration` (a destination that cannot be reached for
now is tried again at the next pass), then a final pass sends what was held
back (a Claude Code response whose last line may not be written yet); Ctrl-C is heard
between passes, so what was read is sent before the command ends. A call the
ledger would refuse is reported with its file and line, like a malformed line; the
others of its batch are stored.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from types import FrameType

from spendledger.agents.attribution import Attribution
from spendledger.agents.calls import AgentCall, LogProblem, LogReader
from spendledger.agents.claude_code import ClaudeCodeReader
from spendledger.agents.codex import CodexReader
from spendledger.agents.delivery import Sink
from spendledger.agents.events import EventBuilder, Priced
from spendledger.agents.gemini_cli import GeminiCliReader
from spendledger.agents.logfiles import Tail, log_files
from spendledger.ingest.records import EventError
from spendledger.sources.errors import SourceError

READERS: dict[str, type[LogReader]] = {
    "claude-code": ClaudeCodeReader,
    "codex": CodexReader,
    "gemini-cli": GeminiCliReader,
}
TOOLS: tuple[str, ...] = tuple(READERS)
BATCH = 500  # events per request: well under the events API's limits


@dataclass
class ImportSummary:
    tool: str
    where: str  # the ledger or server written to
    covered_by: str | None = None
    files: int = 0
    lines: int = 0
    calls: int = 0  # distinct calls read
    stored: int = 0  # new to the ledger
    duplicates: int = 0  # already in it (an earlier import)
    rejected: list[str] = field(default_factory=list)  # refused by the ledger, with the reason
    problems: list[LogProblem] = field(default_factory=list)  # lines skipped
    spend: dict[str, Decimal] = field(default_factory=dict)  # list-price value counted as spend
    covered: dict[str, Decimal] = field(default_factory=dict)  # list-price value a subscription covers
    unpriced: int = 0  # calls of a model without a known price


class Importer:
    def __init__(
        self,
        tool: str,
        *,
        roots: Sequence[Path],
        sink: Sink,
        attribution: Attribution,
        covered_by: str | None = None,
        batch_size: int = BATCH,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        self.reader = READERS[tool]()
        self.roots = list(roots)
        self.sink = sink
        self.builder = EventBuilder(attribution=attribution, pricer=sink.pricer(), covered_by=covered_by)
        self.batch_size = batch_size
        self.progress = progress
        self.tails: dict[Path, Tail] = {}
        self.summary = ImportSummary(tool=tool, where=sink.where, covered_by=covered_by)
        self._refused: list[LogProblem] = []
        self._unsent: list[Priced] = []  # built, not yet taken by the destination
        self.waiting: str | None = None  # why the last pass could not send everything

    def poll(self, *, final: bool) -> int:
        """One pass; returns the number of calls sent. Unless `final`, a batch the destination
        cannot take for now (unreachable, busy) waits for the next pass (`waiting` says why)."""
        tool = self.summary.tool
        for path in log_files(tool, self.roots):
            self.tails.setdefault(path, Tail(path))
        growing = set()
        tails = list(self.tails.values())
        for done, tail in enumerate(tails, 1):
            if tail.read(self.reader, final=final):
                growing.add(tail.name)
            if self.progress is not None:
                self.progress(done, len(tails))
        built = [*self._unsent, *self._build(self.reader.take(final=final, growing=frozenset(growing)))]
        self._unsent, self.waiting = [], None
        sent = 0
        for start in range(0, len(built), self.batch_size):
            batch = built[start : start + self.batch_size]
            try:
                self._deliver(batch)
            except SourceError as exc:
                if final or exc.stops_source:
                    raise
                self._unsent, self.waiting = built[start:], str(exc)
                break
            sent += len(batch)
        summary = self.summary
        summary.files, summary.lines = len(self.tails), self.reader.lines
        summary.problems = sorted([*self.reader.problems, *self._refused], key=lambda p: (p.path, p.line))
        return sent

    def _build(self, calls: Sequence[AgentCall]) -> list[Priced]:
        built: list[Priced] = []
        for call in calls:
            try:
                built.append(self.builder.build(call))
            except EventError as exc:
                self._refused.append(LogProblem(call.path, call.line, f"{exc.field}: {exc}"))
        return built

    def _deliver(self, built: Sequence[Priced]) -> None:
        delivered = self.sink.send([p.event for p in built])
        summary = self.summary
        summary.calls += len(built)
        summary.stored += delivered.stored
        summary.duplicates += delivered.duplicates
        summary.rejected.extend(delivered.rejected)
        for priced in built:
            if priced.value is None:
                summary.unpriced += 1
                continue
            into = summary.covered if priced.covered else summary.spend
            into[priced.currency] = into.get(priced.currency, Decimal(0)) + priced.value


def run_once(importer: Importer) -> ImportSummary:
    importer.poll(final=True)
    return importer.summary


def follow(
    importer: Importer,
    *,
    interval: float,
    duration: float | None = None,
    on_poll: Callable[[Importer, int], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> ImportSummary:
    """Pass again every `interval` seconds until Ctrl-C (or `duration` seconds), then a final pass.

    Ctrl-C is heard between passes, never inside one: a batch is never cut off halfway
    through its sending. A second Ctrl-C interrupts at once."""
    deadline = None if duration is None else clock() + duration
    stop = threading.Event()
    with _ctrl_c_sets(stop):
        while not stop.is_set():
            sent = importer.poll(final=False)
            if on_poll is not None:
                on_poll(importer, sent)
            left = None if deadline is None else deadline - clock()
            if left is not None and left <= 0:
                break
            stop.wait(interval if left is None else min(interval, left))
        importer.poll(final=True)
    return importer.summary


@contextmanager
def _ctrl_c_sets(stop: threading.Event) -> Iterator[None]:
    """While the block runs, Ctrl-C (SIGINT) sets `stop`; a second one raises KeyboardInterrupt."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may handle signals: Ctrl-C interrupts as usual
        return

    def heard(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    previous = signal.signal(signal.SIGINT, heard)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
