"""Where each tool writes its logs, and reading a log file as it grows.

Default folders (each tool's own, as ccusage reads them):
- claude-code: `$CLAUDE_CONFIG_DIR/projects` for each folder of that comma list, else
  `~/.config/claude/projects` and `~/.claude/projects`; `*.jsonl`, at any depth;
- codex: `${CODEX_HOME:-~/.codex}/sessions` and `archived_sessions`; `*.jsonl`;
- gemini-cli: `${GEMINI_DATA_DIR:-~/.gemini}/tmp`; `*.json` and `*.jsonl` in `chats` folders.

A `Tail` reads a file from where its last read stopped and hands the reader complete
lines with their numbers; a line still being written (no newline yet) waits for the next
read unless the read is the last. A file that shrank was replaced: it is read again
from the start (the event ids make that harmless). A `.json` file is one document,
read again whole whenever it changes.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from spendledger.agents.calls import LogReader

CHUNK = 4 * 1024 * 1024  # bytes read at a time: memory stays flat however large a log


def default_roots(tool: str, *, env: Mapping[str, str] | None = None, home: Path | None = None) -> list[Path]:
    env = os.environ if env is None else env
    home = Path.home() if home is None else home
    if tool == "claude-code":
        configured = [p.strip() for p in env.get("CLAUDE_CONFIG_DIR", "").split(",") if p.strip()]
        bases = [Path(p).expanduser() for p in configured] or [home / ".config" / "claude", home / ".claude"]
        return [base / "projects" for base in bases]
    if tool == "codex":
        base = Path(env["CODEX_HOME"]).expanduser() if env.get("CODEX_HOME") else home / ".codex"
        return [base / "sessions", base / "archived_sessions"]
    base = Path(env["GEMINI_DATA_DIR"]).expanduser() if env.get("GEMINI_DATA_DIR") else home / ".gemini"
    return [base / "tmp"]


def log_files(tool: str, roots: Iterable[Path]) -> list[Path]:
    """The log files under `roots` (a file named directly is taken as it is), sorted."""
    found: set[Path] = set()
    for root in roots:
        if root.is_file():
            found.add(root)
        elif root.is_dir():
            found.update(p for p in root.rglob("*.json*") if _is_log(tool, p, root))
    return sorted(p for p in found if p.is_file())


def _is_log(tool: str, path: Path, root: Path) -> bool:
    if tool != "gemini-cli":
        return path.suffix == ".jsonl"
    # Gemini CLI's temp folder holds other JSON (logs, checkpoints): only its chats are sessions
    return path.suffix in (".json", ".jsonl") and "chats" in path.relative_to(root.parent).parts[:-1]


class Tail:
    """One log file, read as it grows."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = str(path)
        self.offset = 0
        self.lineno = 0
        self.partial = b""
        self.document = path.suffix == ".json"
        self._stamp: tuple[int, int] | None = None

    def read(self, reader: LogReader, *, final: bool) -> bool:
        """Feed `reader` what was written since the last read; True when there was something."""
        try:
            stat = self.path.stat()
        except OSError:
            return False
        if self.document:
            return self._read_document(reader, (stat.st_size, stat.st_mtime_ns))
        if stat.st_size < self.offset:
            self.offset, self.lineno, self.partial = 0, 0, b""
        grew = False
        if stat.st_size > self.offset:
            with self.path.open("rb") as file:
                file.seek(self.offset)
                while chunk := file.read(CHUNK):
                    self.offset += len(chunk)
                    grew = True
                    *lines, self.partial = (self.partial + chunk).split(b"\n")
                    self._feed(reader, lines)
        if final and self.partial:
            self._feed(reader, [self.partial])
            self.partial = b""
        return grew

    def _feed(self, reader: LogReader, lines: list[bytes]) -> None:
        for raw in lines:
            self.lineno += 1
            reader.read_line(self.name, self.lineno, raw.decode("utf-8", "replace"))

    def _read_document(self, reader: LogReader, stamp: tuple[int, int]) -> bool:
        if stamp == self._stamp:
            return False
        try:
            text = self.path.read_bytes().decode("utf-8", "replace")
        except OSError:
            return False
        self._stamp = stamp
        reader.read_document(self.name, text)
        return True
