"""What a billed line charges for: tokens, or something the metering never sees.

A provider's bill holds token money (OpenAI's "gpt-4o, input", Anthropic's cost_type
"tokens", a Cloud SKU "Gemini 2.5 Flash Input") and line items that are not tokens:
tool calls (web search, file search), storage (vector stores), fine-tuning training,
code execution (OpenAI's code interpreter, Anthropic's code execution), seats. The
metering records calls and their tokens, so the second kind is a gap it cannot close;
the reconciliation names it by kind (`line_item_kind`). The words are read from what
each source keeps of the line in its tags (OpenAI `line_item`, Anthropic `cost_type`
and `description`, Google `sku`, GitHub `sku`) and from the key's endpoint (`seats|…`).
"""

from __future__ import annotations

from spendledger.records import UsageRecord

# the kinds, in the order pages and reports list them
KINDS: tuple[str, ...] = (
    "web_search",
    "file_search",
    "storage",
    "fine_tuning",
    "code_execution",
    "seats",
    "other",
)
KIND_LABELS: dict[str, str] = {
    "web_search": "web search",
    "file_search": "file search",
    "storage": "storage",
    "fine_tuning": "fine-tuning",
    "code_execution": "code execution",
    "seats": "seats",
    "other": "other non-token items",
}

# (kind, words any of which marks it), first match wins: "file search" before "storage"
_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("seats", ("seat",)),
    ("fine_tuning", ("fine-tun", "fine tun", "fine_tun", "training")),
    ("web_search", ("web search", "web_search", "web fetch", "web_fetch")),
    ("file_search", ("file search", "file_search")),
    ("storage", ("storage", "vector store", "vector_store")),
    (
        "code_execution",
        ("code interpreter", "code_interpreter", "code execution", "code_execution", "container"),
    ),
)
_TAGS = ("line_item", "cost_type", "description", "sku")


def line_item_kind(record: UsageRecord) -> str | None:
    """The kind of non-token line a billed record is (one of KINDS), or None for token money.

    A line that names none of the kinds is token money when it names a model or counts
    tokens, else "other".
    """
    words = " ".join(str(record.tags.get(tag, "")) for tag in _TAGS).lower()
    endpoint = record.key.split("|", 1)[0].lower()
    for kind, marks in _WORDS:
        if any(mark in words or mark in endpoint for mark in marks):
            return kind
    tokens = record.tokens
    if record.model or tokens.input or tokens.output:
        return None
    return "other"
