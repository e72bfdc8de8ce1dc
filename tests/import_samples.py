"""Files to import, written from the documented columns (imports/generic.py, consoles.py).

`thousand_rows` is the acceptance file: 1 000 generic rows at $1.25 each, three of them
bad, whose lines, columns and figures the tests state by hand.
"""

from __future__ import annotations

from pathlib import Path

FILES = Path(__file__).parent / "import_files"
GENERIC_HEADER = "timestamp,provider,model,project,input_tokens,cached_input_tokens,output_tokens,cost"
# data row i sits on line i + 2 (the header is line 1)
BAD_ROWS = {
    100: ("cost", "twelve"),  # a cost that is not a number
    500: ("timestamp", "2026-11-01T09:00:00"),  # a time with no zone
    901: ("cached_input_tokens", "5000"),  # more cached tokens than input tokens (1 000)
}
BAD_LINES = {index + 2: column for index, (column, _) in BAD_ROWS.items()}


def thousand_rows(path: Path) -> Path:
    """1 000 rows: even ones openai, odd ones anthropic; rows 0-499 in October 2026, the
    rest in November; each costs $1.25; rows 100, 500 and 901 are bad (BAD_ROWS)."""
    lines = [GENERIC_HEADER]
    for i in range(1000):
        provider, model = ("openai", "gpt-4o-mini") if i % 2 == 0 else ("anthropic", "claude-sonnet-4-5")
        month, day = (10, 1 + i % 28) if i < 500 else (11, 1 + i % 28)
        cells = {
            "timestamp": f"2026-{month:02d}-{day:02d}T{i % 24:02d}:{i % 60:02d}:00Z",
            "provider": provider,
            "model": model,
            "project": f"p{i % 3}",
            "input_tokens": "1000",
            "cached_input_tokens": "0",
            "output_tokens": str(i),  # tells the rows apart
            "cost": "1.25",
        }
        if i in BAD_ROWS:
            column, value = BAD_ROWS[i]
            cells[column] = value
        lines.append(",".join(cells[c] for c in GENERIC_HEADER.split(",")))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write(path: Path, text: str | Path) -> Path:
    """`text` (or a sample file's) written at `path`, a leading newline dropped."""
    content = text.read_text(encoding="utf-8") if isinstance(text, Path) else text.lstrip("\n")
    path.write_text(content, encoding="utf-8")
    return path


# OpenAI's usage dashboard export (completions_usage_*.csv): an empty bucket is times only
OPENAI_USAGE = FILES / "openai_completions_usage.csv"
# gpt-4o-mini: 800k uncached × $0.15/M + 200k cached × $0.075/M + 100k out × $0.60/M
#            = 0.12 + 0.015 + 0.06 = $0.195
# gpt-4o:     400k × $2.50/M + 20k × $10/M = 1.00 + 0.20 = $1.20
OPENAI_USAGE_COST = "1.395"

OPENAI_COSTS = FILES / "openai_costs.csv"
# 0.895874 + 0.56177125 + 0.072054 = $1.52969925
OPENAI_COSTS_TOTAL = "1.52969925"

ANTHROPIC_USAGE = FILES / "anthropic_usage.csv"
# Sonnet 4.5 below 200k a call: 100k × $3/M + 20k × $3.75/M + 10k × $6/M + 500k × $0.30/M
# + 30k × $15/M = 0.30 + 0.075 + 0.06 + 0.15 + 0.45 = $1.035 (630k input: 4 calls at most
# 200k each, so never the long-context rate); the second day is all zeros, $0
ANTHROPIC_USAGE_COST = "1.035"

ANTHROPIC_COSTS = FILES / "anthropic_costs.csv"
ANTHROPIC_COSTS_TOTAL = "0.90"  # 0.30 + 0.45 + 0.15

OPENROUTER = FILES / "openrouter_activity.csv"
OPENROUTER_TOTAL = "0.2623"  # 0.0123 + 0.25

# Mistral publishes no columns: a file renamed with --map onto the generic fields
MISTRAL = FILES / "mistral_usage.csv"
MISTRAL_MAP = ["--map", "Date=date", "--map", "Amount=cost"]
MISTRAL_TOTAL = "0.24"  # 0.21 + 0.03, in EUR
