"""Gemini CLI's chat recordings → calls.

Gemini CLI records each session under `~/.gemini/tmp/<project>/chats/`
(`<project>` is a slug of the project folder, named in `~/.gemini/projects.json` and in
the folder's `.project_root`; older versions used the SHA-256 of the project's path).
Older versions wrote one JSON document per session (`session-….json`: `sessionId`,
`messages[]`); newer ones append JSON lines (`session-….jsonl`): a metadata line
(`sessionId`, `projectHash`), each message as it is recorded and again each time it
changes (the same `id`), `{"$set": {...}}` updates (which may carry `messages`) and
`{"$rewindTo": id}`. A message of `type` "gemini" is one model response; its `tokens`
(`input`, `output`, `cached`, `thoughts`, `tool`, `total`) are the API's usage metadata:
`input` (promptTokenCount) includes `cached`, `output` (candidatesTokenCount) excludes
`thoughts`, and `tool` (toolUsePromptTokenCount) is prompt apart from `input`. A message
is recorded before its tokens arrive; it is a call once it has them. A rewind hides
messages from the chat, not from the bill: rewound calls still count.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from pydantic import AwareDatetime

from spendledger.agents.calls import COUNT, AgentCall, Count, LogModel, LogReader, short_id
from spendledger.records import TokenCounts

TOOL = "gemini-cli"
UNKNOWN_MODEL = "unknown"
_HASH = re.compile(r"[0-9a-f]{64}")


class _Tokens(LogModel):
    input: Count = COUNT
    output: Count = COUNT
    cached: Count = COUNT
    thoughts: Count = COUNT
    tool: Count = COUNT


class _Message(LogModel):
    id: str
    timestamp: AwareDatetime
    model: str | None = None
    tokens: _Tokens


def tokens_of(tokens: _Tokens) -> TokenCounts:
    prompt, thoughts = tokens.input or 0, tokens.thoughts or 0
    return TokenCounts(
        input=prompt + (tokens.tool or 0),
        cached_input=min(tokens.cached or 0, prompt),
        output=(tokens.output or 0) + thoughts,
        reasoning=thoughts,
    )


def project_root(chat_file: str, project_hash: str = "") -> str:
    """The project folder a chat file belongs to: named by `.project_root` or projects.json,
    else the folder's slug (a name, not a path), else "" (an old hash-named folder)."""
    path = Path(chat_file)
    temp = next((p.parent for p in path.parents if p.name == "chats"), None)
    if temp is None:
        return ""
    try:
        marker = temp / ".project_root"
        if marker.is_file():
            return marker.read_text(encoding="utf-8", errors="replace").strip()
        registry = json.loads((temp.parent.parent / "projects.json").read_text(encoding="utf-8"))
        projects = registry.get("projects") if isinstance(registry, dict) else None
    except (OSError, ValueError, RecursionError):
        return ""
    for root, slug in (projects or {}).items():
        if isinstance(root, str) and (
            slug == temp.name or hashlib.sha256(root.encode()).hexdigest() in (temp.name, project_hash)
        ):
            return root
    return "" if _HASH.fullmatch(temp.name) else temp.name


class GeminiCliReader(LogReader):
    tool = TOOL

    def __init__(self) -> None:
        super().__init__()
        self._ready: list[AgentCall] = []
        self._seen: set[str] = set()  # event ids read, taken or not
        self._sessions: dict[str, str] = {}  # file → session id
        self._roots: dict[str, str] = {}  # file → project folder
        self._models: dict[str, str] = {}  # file → the last model named

    def read_document(self, path: str, text: str) -> None:
        if not text.strip():
            return
        self.lines += 1
        try:
            value = json.loads(text)
        except ValueError as exc:
            self.problem(path, getattr(exc, "lineno", 1), f"not JSON ({exc})")
            return
        except RecursionError:
            self.problem(path, 1, "not JSON (nested too deep)")
            return
        if not isinstance(value, dict):
            self.problem(path, 1, f"not a JSON object but {type(value).__name__}")
            return
        self._record(path, 1, value)

    def read_line(self, path: str, lineno: int, text: str) -> None:
        value = self.parse(path, lineno, text)
        if value is not None:
            self._record(path, lineno, value)

    def _record(self, path: str, lineno: int, value: dict[str, Any]) -> None:
        if isinstance(value.get("sessionId"), str):
            self._sessions[path] = short_id(value["sessionId"])
            if path not in self._roots:
                project_hash = value.get("projectHash")
                self._roots[path] = project_root(path, project_hash if isinstance(project_hash, str) else "")
        updates = value.get("$set")
        messages = value.get("messages", updates.get("messages") if isinstance(updates, dict) else None)
        if isinstance(messages, list):
            for message in messages:
                if isinstance(message, dict):
                    self._message(path, lineno, message)
        elif "id" in value and "type" in value:
            self._message(path, lineno, value)

    def _message(self, path: str, lineno: int, value: dict[str, Any]) -> None:
        if isinstance(value.get("model"), str) and value["model"].strip():
            self._models[path] = value["model"].strip()[:200]
        if value.get("type") != "gemini" or value.get("tokens") is None:
            return  # not a model response, or one whose usage is not recorded yet
        message = self.validate(_Message, value, path, lineno)
        if message is None or not self.timestamp_ok(message.timestamp, path, lineno):
            return
        event_id = f"{TOOL}:{short_id(message.id)}"
        tokens = tokens_of(message.tokens)
        if event_id in self._seen or (tokens.input == 0 and tokens.output == 0):
            return
        self._seen.add(event_id)
        if path not in self._roots:
            self._roots[path] = project_root(path)
        self._ready.append(
            AgentCall(
                tool=TOOL,
                event_id=event_id,
                timestamp=message.timestamp,
                provider="google",
                model=(message.model or "").strip()[:200] or self._models.get(path, UNKNOWN_MODEL),
                tokens=tokens,
                session=self._sessions.get(path, ""),
                cwd=self._roots[path],
                path=path,
                line=lineno,
            )
        )

    def take(self, *, final: bool, growing: frozenset[str] = frozenset()) -> list[AgentCall]:
        calls, self._ready = self._ready, []
        return calls
