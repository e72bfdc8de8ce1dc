"""Spill files: where events wait while the ledger cannot be reached, and where a replay
takes them from, oldest first.

One folder per destination (`Config.spill_folder`), JSON lines (one event per line), in
files named `<creation time ns>-<pid>-<instance>` so that sorting names sorts by age:

- `<stem>.part`      the file its process appends to; no other live process touches it;
- `<stem>.jsonl`     complete: any process may claim it;
- `<stem>.<claimant>.sending`  claimed (renamed, which is atomic: one claimant wins) and
  being replayed by `<claimant>` (`<pid>-<instance>`).

A replay deletes the file once its events are delivered. When it fails half way, the
undelivered lines go back under the `.jsonl` name (written aside, then renamed over), so
no event is lost; a crash between a send and the delete re-sends events the ledger
already holds, which their ids make harmless. `.part` and `.sending` files of a process
that died are claimed by the next replay (a process is taken for dead when its pid does
not run or is our own pid with another instance, as after a container restart; on
Windows, where that test does not exist, when the file is an hour old).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

ROTATE_LINES = 10_000  # a `.part` file is completed at this size, so a replay reads it in one go
ORPHAN_AGE = 3600.0  # seconds; only where a pid cannot be tested (Windows)

_instance = secrets.token_hex(4)  # this process; renewed in a forked child (see renew_instance)


def renew_instance() -> None:
    """A forked child is another process: its files must not pass for its parent's."""
    global _instance
    _instance = secrets.token_hex(4)


@dataclass(frozen=True, slots=True)
class Claim:
    path: Path  # the `.sending` file
    stem: str


class Spill:
    """The spill folder of one destination; thread-safe within the process."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.Lock()
        self._part: Path | None = None
        self._file: IO[str] | None = None
        self._part_lines = 0

    def write(self, lines: Sequence[str]) -> None:
        """Append events (JSON texts) to this process's `.part` file; raises OSError."""
        if not lines:
            return
        with self._lock:
            if self._file is None or self._part is None or not self._part.exists():
                self._open_part()
            assert self._file is not None
            self._file.write("\n".join(lines) + "\n")
            self._file.flush()
            self._part_lines += len(lines)
            if self._part_lines >= ROTATE_LINES:
                self._complete_part()

    def claim_next(self) -> Claim | None:
        """The oldest file this process may replay, claimed; None when there is none."""
        with self._lock:
            self._complete_part()
            for name in self._names():
                stem, _, state = name.partition(".")
                if not (state == "jsonl" or self._orphaned(stem, state)):
                    continue
                claimed = self.folder / f"{stem}.{os.getpid()}-{_instance}.sending"
                try:
                    os.rename(self.folder / name, claimed)
                except FileNotFoundError:  # another process claimed it first
                    continue
                return Claim(claimed, stem)
        return None

    @staticmethod
    def read(claim: Claim) -> tuple[list[str], int]:
        """The events of a claimed file, and how many lines were not JSON (a torn write)."""
        good: list[str] = []
        bad = 0
        with open(claim.path, encoding="utf-8", errors="replace") as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                try:
                    json.loads(line)
                except ValueError:
                    bad += 1
                    continue
                good.append(line)
        return good, bad

    def done(self, claim: Claim) -> None:
        """The claimed file's events are delivered: delete it."""
        claim.path.unlink(missing_ok=True)

    def give_back(self, claim: Claim, lines: Sequence[str]) -> None:
        """Put the undelivered `lines` back under the file's `.jsonl` name (raises OSError)."""
        if not lines:
            self.done(claim)
            return
        aside = self.folder / f"{claim.stem}.{os.getpid()}-{_instance}.tmp"
        with open(aside, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        os.replace(aside, self.folder / f"{claim.stem}.jsonl")
        claim.path.unlink(missing_ok=True)

    def close(self) -> None:
        """Complete this process's `.part` file, so that any process may replay it."""
        with self._lock:
            self._complete_part()

    def forget_after_fork(self) -> None:
        """In a forked child: the parent's open file and lock are the parent's."""
        self._lock = threading.Lock()
        if self._file is not None:  # the child's copy; its buffer is empty (flushed after each write)
            with contextlib.suppress(OSError):
                self._file.close()
        self._file = None
        self._part = None
        self._part_lines = 0

    def _open_part(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)  # events name users: keep them private
        self._part = self.folder / f"{time.time_ns():020d}-{os.getpid()}-{_instance}.part"
        self._file = open(self._part, "a", encoding="utf-8")  # noqa: SIM115 - kept open between writes
        self._part_lines = 0

    def _complete_part(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None
        if self._part is not None:
            part, self._part = self._part, None
            with contextlib.suppress(FileNotFoundError):
                os.rename(part, part.with_suffix(".jsonl"))
        self._part_lines = 0

    def _names(self) -> Iterator[str]:
        try:
            names = sorted(e.name for e in os.scandir(self.folder) if e.is_file())
        except OSError:  # no folder yet, or not readable
            return iter(())
        return (n for n in names if n.endswith((".jsonl", ".part", ".sending")))

    def _orphaned(self, stem: str, state: str) -> bool:
        """A `.part` or `.sending` file whose process is gone."""
        if state == "part":
            owner = stem.split("-", 1)[1] if "-" in stem else ""
        elif state.endswith(".sending"):
            owner = state.removesuffix(".sending")
        else:
            return False
        pid_text, _, instance = owner.partition("-")
        if instance == _instance or not pid_text.isdigit():
            return instance == _instance and state.endswith(".sending")  # a replay of ours that failed
        pid = int(pid_text)
        if pid == os.getpid():
            return True  # our pid, another instance: an earlier process (e.g. a restarted container)
        return not _running(pid, self.folder / f"{stem}.{state}")


def _running(pid: int, path: Path) -> bool:
    if os.name == "nt":  # os.kill(pid, 0) would terminate the process there
        try:
            return time.time() - path.stat().st_mtime < ORPHAN_AGE
        except OSError:
            return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it runs, as another user
        return True
    return True
