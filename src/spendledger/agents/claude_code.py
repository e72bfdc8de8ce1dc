"""Claude Code's session logs → calls.

Claude Code appends one JSON object per line to `projects/<project>/<session>.jsonl`
(sub-agents and sidechains in folders below it). An `assistant` line carries the API
response's `message` (`id`, `model`, `usage`) and the line's `requestId`, `sessionId`,
`cwd` and `isSidechain`. One response is written as several lines, one per content block,
each repeating its message id and usage; a later line may carry the larger output count,
so while following a file (`--watch`) its last message is kept back until the file moves
on. Claude Code stopped writing `costUSD` in v1.0.9: every call is priced from its tokens.

Usage counts are Anthropic's disjoint ones (`input_tokens` excludes cache reads and
writes); `cache_creation` splits the writes by TTL, and a line without it (older
versions) has its writes counted as 5-minute ones. De-duplication: see the package's
docstring. A line of the placeholder model `<synthetic>` (an error Claude Code shows in
the chat, no API call) and a line of no tokens are not calls.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import AwareDatetime, Field

from spendledger.agents.calls import COUNT, AgentCall, Count, LogModel, LogReader, short_id
from spendledger.records import TokenCounts

TOOL = "claude-code"
SYNTHETIC_MODEL = "<synthetic>"


class _CacheCreation(LogModel):
    ephemeral_5m_input_tokens: Count = COUNT
    ephemeral_1h_input_tokens: Count = COUNT


class _Usage(LogModel):
    input_tokens: Count = COUNT
    output_tokens: Count = COUNT
    cache_creation_input_tokens: Count = COUNT
    cache_read_input_tokens: Count = COUNT
    cache_creation: _CacheCreation | None = None
    speed: str | None = Field(default=None, max_length=32)


class _Message(LogModel):
    id: str | None = None
    model: str | None = None
    usage: _Usage


class _Line(LogModel):
    timestamp: AwareDatetime
    message: _Message
    session_id: str = Field(default="", alias="sessionId")
    cwd: str = ""
    is_sidechain: bool = Field(default=False, alias="isSidechain")
    request_id: str | None = Field(default=None, alias="requestId")
    uuid: str | None = None


@dataclass(slots=True)
class _Seen:
    call: AgentCall
    sidechain: bool
    speed: bool

    def rank(self) -> tuple[bool, int, bool]:
        return (not self.sidechain, self.call.total_tokens, self.speed)


def tokens_of(usage: _Usage) -> TokenCounts:
    """Anthropic's disjoint counts in the ledger's contract, 1-hour cache writes apart."""
    written = usage.cache_creation_input_tokens or 0
    split = usage.cache_creation
    write_1h = (split.ephemeral_1h_input_tokens or 0) if split else 0
    write_5m = (split.ephemeral_5m_input_tokens or 0) if split else 0
    write_5m += max(written - write_5m - write_1h, 0)  # unsplit writes (older logs) are 5-minute ones
    return TokenCounts.from_disjoint(
        uncached_input=usage.input_tokens or 0,
        cache_read=usage.cache_read_input_tokens or 0,
        cache_write_5m=write_5m,
        cache_write_1h=write_1h,
        output=usage.output_tokens or 0,
    )


def provider_of(model: str) -> str:
    """Claude Code also runs on Bedrock (`us.anthropic.…`, an ARN) and Vertex (`…@date`)."""
    name = model.lower()
    if "anthropic." in name or name.startswith("arn:aws:"):
        return "aws"
    if "@" in name:
        return "google"
    return "anthropic"


class ClaudeCodeReader(LogReader):
    tool = TOOL

    def __init__(self) -> None:
        super().__init__()
        self._pending: dict[str, _Seen] = {}  # event id → the best line seen for it
        self._taken: set[str] = set()
        self._last: dict[str, str] = {}  # file → the event id of its last assistant line

    def read_line(self, path: str, lineno: int, text: str) -> None:
        value = self.parse(path, lineno, text)
        if value is None or value.get("type") != "assistant":
            return
        message = value.get("message")
        if not isinstance(message, dict) or message.get("usage") is None:
            return  # an assistant line without usage bills nothing
        line = self.validate(_Line, value, path, lineno)
        if line is None or not self.timestamp_ok(line.timestamp, path, lineno):
            return
        model = (line.message.model or "").strip()
        tokens = tokens_of(line.message.usage)
        if model == SYNTHETIC_MODEL or (tokens.input == 0 and tokens.output == 0):
            return
        if not model:
            self.problem(path, lineno, "message.model: missing; the call cannot be priced")
            return
        identity = line.message.id or line.uuid
        if not identity:
            self.problem(path, lineno, "message.id: missing (and no uuid): the call cannot be told apart")
            return
        event_id = f"{TOOL}:{short_id(identity)}"
        self._last[path] = event_id
        if event_id in self._taken:
            return
        speed = line.message.usage.speed
        call = AgentCall(
            tool=TOOL,
            event_id=event_id,
            timestamp=line.timestamp,
            provider=provider_of(model),
            model=model[:200],
            tokens=tokens,
            session=line.session_id[:200],
            cwd=line.cwd,
            request_id=line.request_id[:200] if line.request_id else None,
            path=path,
            line=lineno,
            tags={"speed": speed} if speed and speed != "standard" else {},
        )
        seen = _Seen(call, line.is_sidechain, speed is not None)
        old = self._pending.get(event_id)
        if old is not None:
            winner = seen if seen.rank() > old.rank() else old
            if old.sidechain == seen.sidechain:  # the same response: stamped when it began
                winner.call.timestamp = min(old.call.timestamp, seen.call.timestamp)
            seen = winner
        self._pending[event_id] = seen

    def take(self, *, final: bool, growing: frozenset[str] = frozenset()) -> list[AgentCall]:
        held = set() if final else {self._last[p] for p in growing if p in self._last}
        done = [event_id for event_id in self._pending if event_id not in held]
        calls = [self._pending.pop(event_id).call for event_id in done]
        self._taken.update(done)
        return sorted(calls, key=lambda c: c.timestamp)
