"""Where each event of a raw ingest batch lies, found without parsing the batch.

pydantic-core's JSON parser refuses a document nested more than MAX_NESTING levels
deep or holding an integer of more than MAX_DIGITS digits, and a recursive parser (the
standard library's) crashes further down: either way one event's odd field would sink
the batch. `scan_events` walks the body's strings, brackets and commas with one regular
expression, no recursion, and returns each event's byte span and, for the events the
parser cannot read, the field at fault and why; the caller rejects those events alone
and parses the rest.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from spendledger.records import TAGS_RULE

# pydantic-core (jiter) parses at most 201 nested levels (the body's object, its events
# list and an event are three of them) and integers of at most 4 300 digits (Python's).
MAX_NESTING = 201
MAX_DIGITS = 4300
# a JSON string (escapes included), with the colon that makes it a key; a bracket; a
# comma; an integer (or a number's integer part) longer than the parser takes
_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"(\s*:)?|[\[\]{},]|(?<![.\d])\d{%d,}' % (MAX_DIGITS + 1))
_EMPTY = re.compile(rb"\s*\]")
_OPEN, _CLOSE = frozenset(b"[{"), frozenset(b"]}")


class LayoutError(ValueError):
    """A body whose events cannot be told apart (it nests too deep outside its events)."""


@dataclass(slots=True)
class EventsLayout:
    count: int = 0  # items in the events list
    spans: dict[int, tuple[int, int]] = field(default_factory=dict)  # index → bytes of a {...} or [...] item
    unreadable: dict[int, tuple[str, str]] = field(default_factory=dict)  # index → (field, reason)

    def flattened(self, body: bytes) -> bytes:
        """`body` with each unreadable event replaced by `{}`: every other byte, and index, kept."""
        parts: list[bytes] = []
        at = 0
        for index in sorted(self.unreadable):
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
                    root_key = _text(match.group(0).rpartition(b'"')[0] + b'"')
                elif depth == 3 and in_events:
                    event_key = _text(match.group(0).rpartition(b'"')[0] + b'"')
            continue
        if char not in _OPEN and char not in _CLOSE and char != 0x2C:  # a number too long
            if not (in_events and depth >= 2):
                raise LayoutError(
                    f"the body holds a number of more than {MAX_DIGITS:,} digits outside its events"
                )
            if depth == 2:  # the event itself
                layout.spans[layout.count - 1] = match.span()
            layout.unreadable.setdefault(
                layout.count - 1, _unreadable(event_key if depth > 2 else "", "number")
            )
            continue
        if char == 0x2C:  # a comma
            if depth == 2 and in_events:
                layout.count += 1
            continue
        if char in _OPEN:
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
                layout.unreadable.setdefault(layout.count - 1, _unreadable(event_key, "deep"))
        elif char in _CLOSE:
            if depth == 3 and in_events:
                layout.spans[layout.count - 1] = (start, match.end())
            elif depth == 2 and in_events:
                in_events = False
            depth -= 1
    return layout


def _text(quoted: bytes) -> str:
    try:
        value = json.loads(quoted)
    except ValueError:
        return ""
    return value if isinstance(value, str) else ""


def _unreadable(name: str, why: str) -> tuple[str, str]:
    """(field, reason) of an event the parser cannot read; `why` is "deep" or "number"."""
    if not name:
        return "", "each event must be a JSON object with id, timestamp, provider and model"
    if why == "deep":
        problem, fix = f"nests more than {MAX_NESTING - 3} levels deep", "flatten it"
    else:
        problem, fix = f"holds a number of more than {MAX_DIGITS:,} digits", "send it as a string"
    if name == "tags":
        return name, f"{TAGS_RULE}; these {problem.replace('nests', 'nest').replace('holds', 'hold')}"
    return name, f"{name} {problem}; the server reads every field, even one it ignores: {fix} or leave it out"
