"""OpenAI Codex CLI's rollout logs → calls.

Codex appends `{"timestamp", "type", "payload"}` lines to
`sessions/YYYY/MM/DD/rollout-<time>-<session id>.jsonl`: a `session_meta` first (the
session's `id`, `cwd`, `model_provider`, and for a fork or sub-agent its parent), a
`turn_context` per turn (its `model`), and `event_msg` lines whose payload of type
`token_count` carries `info.last_token_usage` (this turn) and `info.total_token_usage`
(the session so far); `info` is null before the first response.

A turn's tokens are its `last_token_usage`. The running total only tells a new turn from
a re-emitted event: Codex writes `token_count` again with an unchanged running total on
rate-limit refreshes, and adding those up overstates usage by 30–70 % (ccusage #876,
#1288). Only when `last_token_usage` is missing is a turn's usage the running total's
step. A forked or sub-agent session begins by replaying its parent's token counts in a
burst stamped within one second; when two or more counts share the first count's
second, they are that replay (already counted in the parent's file) and are dropped.
`input_tokens` includes `cached_input_tokens` and `output_tokens` includes
`reasoning_output_tokens`, as the ledger counts them. A turn of no known model is kept
under the model "unknown", unpriced, never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from pydantic import AwareDatetime

from spendledger.agents.calls import COUNT, AgentCall, Count, LogModel, LogReader, short_id
from spendledger.records import TokenCounts

TOOL = "codex"
UNKNOWN_MODEL = "unknown"


class _Usage(LogModel):
    input_tokens: Count = COUNT
    cached_input_tokens: Count = COUNT
    output_tokens: Count = COUNT
    reasoning_output_tokens: Count = COUNT
    total_tokens: Count = COUNT

    def counts(self) -> tuple[int, int, int, int, int]:
        return (
            self.input_tokens or 0,
            self.cached_input_tokens or 0,
            self.output_tokens or 0,
            self.reasoning_output_tokens or 0,
            self.total_tokens or 0,
        )


class _Info(LogModel):
    total_token_usage: _Usage | None = None
    last_token_usage: _Usage | None = None
    model: str | None = None


class _TokenCount(LogModel):
    timestamp: AwareDatetime
    info: _Info | None = None
    model: str | None = None


class _Meta(LogModel):
    id: str | None = None
    cwd: str | None = None
    model_provider: str | None = None
    forked_from_id: str | None = None
    source: Any = None


class _TurnContext(LogModel):
    model: str | None = None
    cwd: str | None = None


Counts = tuple[int, int, int, int, int]  # input, cached, output, reasoning, total


@dataclass(slots=True)
class _Session:
    id: str
    cwd: str = ""
    model: str | None = None
    provider: str = "openai"
    previous: Counts | None = None  # the last running total seen
    forked: bool = False
    burst_second: str | None = None  # a fork's first token count's second, until decided
    burst: list[AgentCall] = field(default_factory=list)
    decided: bool = False


def _parent(meta: _Meta) -> str | None:
    if meta.forked_from_id:
        return meta.forked_from_id
    source = meta.source
    for key in ("subagent", "thread_spawn", "parent_thread_id"):
        source = source.get(key) if isinstance(source, dict) else None
    return source if isinstance(source, str) and source else None


def _step(total: Counts, previous: Counts | None) -> Counts:
    """The running total's step since `previous` (all of it after a reset)."""
    if previous is None or any(t < p for t, p in zip(total, previous, strict=True)):
        return total
    return tuple(t - p for t, p in zip(total, previous, strict=True))  # type: ignore[return-value]


class CodexReader(LogReader):
    tool = TOOL

    def __init__(self) -> None:
        super().__init__()
        self._sessions: dict[str, _Session] = {}
        self._ready: list[AgentCall] = []

    def _session(self, path: str) -> _Session:
        session = self._sessions.get(path)
        if session is None:  # a file without session_meta: its name ends with the session id
            session = self._sessions[path] = _Session(id=short_id(PurePath(path).stem[-36:]))
        return session

    def read_line(self, path: str, lineno: int, text: str) -> None:
        value = self.parse(path, lineno, text)
        if value is None:
            return
        kind, payload = value.get("type"), value.get("payload")
        if kind == "session_meta":
            meta = self.validate(_Meta, payload, path, lineno)
            if meta is not None:
                session = self._session(path)
                session.id = short_id(meta.id) if meta.id else session.id
                session.cwd = meta.cwd or session.cwd
                session.provider = (meta.model_provider or "openai").strip().lower()[:200] or "openai"
                session.forked = _parent(meta) is not None
        elif kind == "turn_context":
            context = self.validate(_TurnContext, payload, path, lineno)
            if context is not None:
                session = self._session(path)
                session.model = (context.model or "").strip()[:200] or session.model
                session.cwd = context.cwd or session.cwd
        elif kind == "event_msg" and isinstance(payload, dict) and payload.get("type") == "token_count":
            line = self.validate(_TokenCount, {**payload, "timestamp": value.get("timestamp")}, path, lineno)
            if line is not None and self.timestamp_ok(line.timestamp, path, lineno):
                self._token_count(path, lineno, str(value["timestamp"]), line)

    def _token_count(self, path: str, lineno: int, stamp: str, line: _TokenCount) -> None:
        info = line.info
        if info is None:
            return  # before the first response, or a rate-limit update alone
        session = self._session(path)
        total = info.total_token_usage.counts() if info.total_token_usage else None
        previous = session.previous
        if total is not None:
            if total == previous:
                return  # re-emitted: the running total did not move, no call was made
            session.previous = total
        if info.last_token_usage is not None:
            used = info.last_token_usage.counts()
        elif total is not None:
            used = _step(total, previous)
        else:
            return
        uncached_and_cached, cached, output, reasoning, _ = used
        if uncached_and_cached == 0 and output == 0:
            return
        model = (info.model or line.model or "").strip()[:200] or session.model
        call = AgentCall(
            tool=TOOL,
            event_id=f"{TOOL}:{session.id}:{stamp[:60]}",
            timestamp=line.timestamp,
            provider=session.provider,
            model=model or UNKNOWN_MODEL,
            tokens=TokenCounts(
                input=uncached_and_cached,
                cached_input=min(cached, uncached_and_cached),
                output=output,
                reasoning=min(reasoning, output),
            ),
            session=session.id,
            cwd=session.cwd,
            path=path,
            line=lineno,
        )
        if session.forked and not session.decided:
            second = stamp[:19]
            if session.burst_second is None or session.burst_second == second:
                session.burst_second = second
                session.burst.append(call)
                return
            self._decide(session)
        self._ready.append(call)

    def _decide(self, session: _Session) -> None:
        """A fork's first-second burst: two or more counts are the parent's, replayed."""
        if len(session.burst) < 2:
            self._ready.extend(session.burst)
        session.burst = []
        session.decided = True

    def take(self, *, final: bool, growing: frozenset[str] = frozenset()) -> list[AgentCall]:
        if final:
            for session in self._sessions.values():
                if session.forked and not session.decided and session.burst:
                    self._decide(session)
        calls, self._ready = self._ready, []
        return calls
