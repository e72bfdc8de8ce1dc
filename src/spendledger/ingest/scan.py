"""Where each event of a raw ingest batch lies, and which ones the JSON parser cannot read.

pydantic-core's JSON parser refuses a whole document for one value past its limits: a
value nested more than MAX_NESTING levels deep, an integer of more than 4 300 digits,
a string with half a UTF-16 surrogate pair (all valid JSON). A recursive parser (the
standard library's) crashes on the first. Either way one event's odd field would sink
the batch. `scan_events` walks the body's strings, brackets and commas with one regular
expression, no recursion, and returns each event's byte span; `unreadable_events`
names the events the parser refuses and their field, so the caller rejects them alone
and parses the rest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pydantic_core import from_json

from spendledger.errors import SpendledgerError
from spendledger.records import TAGS_RULE

# pydantic-core (jiter) parses at most 201 nested levels: the body's object, its events
# list and an event are three of them.
MAX_NESTING = 201
# a JSON string (escapes included), with the colon that makes it a key; a bracket; a comma
_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"(\s*:)?|[\[\]{},]')
_EMPTY = re.compile(rb"\s*\]")
_OPEN, _CLOSE = frozenset(b"[{"), frozenset(b"]}")
_AT = re.compile(r" at line (\d+) column (\d+)$")
# the parser's refusals of valid JSON, and what the sender should do instead
LIMITS = {
    "number out of range": ("holds a number too large to read", "send it as a string"),
    "surrogate": ("holds half of a UTF-16 surrogate pair (\\ud800-\\udfff)", "send whole characters"),
    "hex escape": ("holds half of a UTF-16 surrogate pair (\\ud800-\\udfff)", "send whole characters"),
}


class LayoutError(SpendledgerError, ValueError):
    """A body whose events cannot be told apart (it nests too deep outside its events)."""


@dataclass(slots=True)
class EventsLayout:
    count: int = 0  # items in the events list
    spans: dict[int, tuple[int, int]] = field(default_factory=dict)  # index → bytes of a {...} or [...] item
    too_deep: dict[int, str] = field(default_factory=dict)  # index → the field nesting too deep

    def flattened(self, body: bytes, indexes: set[int]) -> bytes:
        """`body` with the events at `indexes` replaced by `{}`: every other byte, and index, kept."""
        parts: list[bytes] = []
        at = 0
        for index in sorted(indexes):
            start, end = self.spans[index]
            parts += [body[at:start], b"{}"]
            at = end
        parts.append(body[at:])
        return b"".join(parts)


def scan_events(body: bytes) -> EventsLayout:
    """The layout of the body's root `events` list (the last one, as JSON parsers keep)."""
    layout = EventsLayout()
    depth = 0  # containers open at this point
    in_events = False  # inside the root object's "events" list (depth 2)
    root_key = event_key = ""
    start = 0
    for match in _TOKEN.finditer(body):
        char = body[match.start()]
        if char == 0x22:  # a string
            if match.group(1) is not None:  # a key
                if depth == 1:
                    root_key = _key(match.group(0))
                elif depth == 3 and in_events:
                    event_key = _key(match.group(0))
        elif char == 0x2C:  # a comma
            if depth == 2 and in_events:
                layout.count += 1
        elif char in _OPEN:
            depth += 1
            if depth == 2 and root_key == "events" and char == 0x5B:
                in_events, layout = True, EventsLayout(count=0 if _EMPTY.match(body, match.end()) else 1)
            elif depth == 3 and in_events:
                start, event_key = match.start(), ""
            if depth > MAX_NESTING:
                if not (in_events and depth > 3):
                    raise LayoutError(
                        f"the body nests more than {MAX_NESTING} levels deep outside its events"
                    )
                layout.too_deep.setdefault(layout.count - 1, event_key)
        else:  # a closing bracket
            if depth == 3 and in_events:
                layout.spans[layout.count - 1] = (start, match.end())
            elif depth == 2 and in_events:
                in_events = False
            depth -= 1
    return layout


def unreadable_events(body: bytes, layout: EventsLayout) -> dict[int, tuple[str, str]]:
    """index → (field, reason) of each event the parser cannot read: too deep (found by the
    scan), or holding a value past its limits (found by parsing each event alone)."""
    found = {
        index: _reason(name, f"nests more than {MAX_NESTING - 3} levels deep", "flatten it")
        for index, name in layout.too_deep.items()
    }
    for index, (start, end) in layout.spans.items():
        if index in found:
            continue
        try:
            from_json(body[start:end])
        except ValueError as exc:
            message = str(exc)
            limit = next((v for k, v in LIMITS.items() if k in message), None)
            if limit is not None:  # a syntax error is left to the whole body's parse: a 422
                found[index] = _reason(_field_at(body[start:end], message), *limit)
    return found


def _reason(name: str, problem: str, fix: str) -> tuple[str, str]:
    if not name:
        return "", f"the event {problem}: {fix}"
    if name == "tags":
        return name, f"{TAGS_RULE}; these {problem.replace('nests', 'nest').replace('holds', 'hold')}"
    return name, f"{name} {problem}; the server reads every field, even one it ignores: {fix} or leave it out"


def _field_at(event: bytes, message: str) -> str:
    """The event's top-level field at the position a parser's error message names."""
    at = _AT.search(message)
    if at is None:
        return ""
    line, column = int(at.group(1)), int(at.group(2))
    offset = sum(len(text) + 1 for text in event.split(b"\n")[: line - 1]) + column - 1
    depth, name = 0, ""
    for match in _TOKEN.finditer(event, 0, offset):
        char = event[match.start()]
        if char == 0x22 and match.group(1) is not None and depth == 1:
            name = _key(match.group(0))
        elif char in _OPEN:
            depth += 1
        elif char in _CLOSE:
            depth -= 1
    return name


def _key(token: bytes) -> str:
    """A key token (`"name" :`) as text; '' when it does not decode."""
    try:
        value = from_json(token.rpartition(b'"')[0] + b'"')
    except ValueError:
        return ""
    return value if isinstance(value, str) else ""
