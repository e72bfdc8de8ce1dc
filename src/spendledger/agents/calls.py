"""One model call read from a coding agent's log, what a log reader owes, and a bad line.

A reader is fed a file's lines (or a whole JSON document) in order and hands back the
calls it has completed with `take()`. Bad input never raises: each malformed line becomes
a `LogProblem` naming its file and line, and reading goes on with the next.
"""

from __future__ import annotations

import abc
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from spendledger.ingest.model import MAX_COUNT
from spendledger.records import TokenCounts, timestamp_problem

# A token count as the logs write it: absent or null is 0 (`or 0` at use), never negative.
Count = int | None
COUNT = Field(default=None, ge=0, le=MAX_COUNT)
MAX_ID = 300  # the longest id a log may give us (event ids must stay under 396 characters)


class LogModel(BaseModel):
    """A log's JSON, read leniently: unknown fields are ignored, as newer versions add them."""

    model_config = ConfigDict(extra="ignore")


M = TypeVar("M", bound=LogModel)


@dataclass(slots=True)
class AgentCall:
    """One billed call. `event_id` is the ledger's id for it, taken from the log itself."""

    tool: str  # claude-code | codex | gemini-cli
    event_id: str
    timestamp: datetime  # aware
    provider: str
    model: str
    tokens: TokenCounts  # the ledger's contract: cached reads and writes inside input
    session: str = ""
    cwd: str = ""  # the session's working directory, for the user and project
    request_id: str | None = None
    path: str = ""  # the file and line it was read from
    line: int = 0
    tags: dict[str, Any] = field(default_factory=dict)  # what the log adds (speed, a guessed model)

    @property
    def total_tokens(self) -> int:
        return self.tokens.input + self.tokens.output


@dataclass(frozen=True, slots=True)
class LogProblem:
    path: str
    line: int
    reason: str  # what is wrong with the line; it was skipped

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}"


class LogReader(abc.ABC):
    """Turns one tool's log lines into calls; keeps what de-duplication needs across files."""

    tool: ClassVar[str]

    def __init__(self) -> None:
        self.problems: list[LogProblem] = []
        self.lines = 0  # lines read, blank ones aside

    @abc.abstractmethod
    def read_line(self, path: str, lineno: int, text: str) -> None:
        """Read one line of `path` (1-based `lineno`)."""

    def read_document(self, path: str, text: str) -> None:
        """Read a whole file that is one JSON document (Gemini CLI's older sessions)."""
        for lineno, line in enumerate(text.splitlines(), 1):
            self.read_line(path, lineno, line)

    @abc.abstractmethod
    def take(self, *, final: bool, growing: frozenset[str] = frozenset()) -> list[AgentCall]:
        """The calls completed since the last take. Unless `final`, a call that the next
        lines of a file in `growing` may still complete is kept back."""

    def problem(self, path: str, lineno: int, reason: str) -> None:
        self.problems.append(LogProblem(path, lineno, reason[:500]))

    def parse(self, path: str, lineno: int, text: str) -> dict[str, Any] | None:
        """A line's JSON object, or None (blank, or reported as malformed)."""
        if not text.strip():
            return None
        self.lines += 1
        try:
            value = json.loads(text)
        except ValueError as exc:
            self.problem(path, lineno, f"not JSON ({exc})")
            return None
        except RecursionError:
            self.problem(path, lineno, "not JSON (nested too deep)")
            return None
        if not isinstance(value, dict):
            self.problem(path, lineno, f"not a JSON object but {type(value).__name__}")
            return None
        return value

    def validate(self, model: type[M], value: Any, path: str, lineno: int) -> M | None:
        """`value` as `model`, or None with the problem (the field at fault) reported."""
        try:
            return model.model_validate(value)
        except ValidationError as exc:
            first = exc.errors()[0]
            at = ".".join(str(p) for p in first["loc"]) or "line"
            self.problem(path, lineno, f"{at}: {first['msg']}")
        except RecursionError:
            self.problem(path, lineno, "nested too deep")
        return None

    def timestamp_ok(self, at: datetime, path: str, lineno: int) -> bool:
        if problem := timestamp_problem("timestamp", at):
            self.problem(path, lineno, problem)
            return False
        return True


def short_id(value: str) -> str:
    """An id from a log, bounded: a longer one is cut (ids are hex or uuids; never that long)."""
    return value[:MAX_ID]
