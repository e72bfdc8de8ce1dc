"""File imports: a generic CSV of 1 GB through `spendledger import`'s code, memory flat.

For each size asked (default 1 024 MB) a child process writes a generic CSV of about that
size in a temporary folder (a year of calls, each with its id: 4 providers, 12 models,
6 accounts, 40 projects, 300 users, 20 features; half the rows with a cost, half priced
from the catalogue), imports it into a fresh SQLite ledger there with
`imports.importer.run_import` (5 000 rows a batch and transaction, as the CLI does),
checks the ledger holds every row and the file's stated costs to the nano-unit, and
deletes the folder. The parent prints one line per size: rows, seconds, rows/s, MB/s and
the child's peak RSS (`resource.getrusage`), which must not grow with the file.

    .venv/bin/python bench/import.py                      # 1 GB (~40 min on 2 shared cores)
    .venv/bin/python bench/import.py --size-mb 32 128     # quick runs, RSS compared

Measured on 2 cores shared with other work (load ~6), 2026-12-03: 64 MB, 419 803 rows in
165 s (2 545 rows/s, 0.39 MB/s); 1 024 MB, 6 670 645 rows in 3 393 s (1 966 rows/s,
0.30 MB/s); peak RSS 102.4 MB for both (68.6 MB before the import). The writes dominate:
the file alone reads at ~37 000 rows/s, reading and pricing at ~11 000.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from spendledger.imports.base import ImportOptions
from spendledger.imports.importer import Counted, run_import
from spendledger.pricing import Pricer
from spendledger.records import from_nanos
from spendledger.store.engine import make_engine, upgrade
from spendledger.store.tables import usage

HEADER = (
    "id,timestamp,provider,model,account,project,user,feature,requests,"
    "input_tokens,cached_input_tokens,output_tokens,cost,basis"
)
MODELS = (
    ("openai", "gpt-4o-mini"), ("openai", "gpt-4o"), ("openai", "o3-mini"), ("openai", "gpt-4.1"),
    ("anthropic", "claude-sonnet-4-5"), ("anthropic", "claude-haiku-4-5"), ("anthropic", "claude-opus-4-1"),
    ("google", "gemini-2.5-flash"), ("google", "gemini-2.5-pro"), ("mistral", "mistral-small-latest"),
    ("mistral", "mistral-large-latest"), ("openai", "gpt-4.1-mini"),
)  # fmt: skip
START = datetime(2025, 11, 20, tzinfo=UTC)


def write_csv(path: Path, size: int, seed: int = 7) -> tuple[int, Decimal]:
    """A generic CSV of about `size` bytes; returns (rows, the sum of the costs it states)."""
    rng = random.Random(seed)
    rows, stated, written = 0, Decimal(0), 0
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(HEADER + "\n")
        chunk: list[str] = []
        while written < size:
            at = START + timedelta(seconds=rng.randrange(365 * 86400), microseconds=rows % 1_000_000)
            provider, model = MODELS[rng.randrange(len(MODELS))]
            tokens = rng.randrange(100, 200_000)
            cached = rng.randrange(0, tokens // 2)
            cost = ""
            if rows % 2 == 0:
                cents = rng.randrange(1, 500_000)
                stated += Decimal(cents).scaleb(-6)
                cost = f"{Decimal(cents).scaleb(-6):f}"
            line = (
                f"call-{rng.getrandbits(64):016x}-{rows},{at:%Y-%m-%dT%H:%M:%S.%fZ},{provider},{model},"
                f"acct-{rng.randrange(6)},"
                f"project-{rng.randrange(40)},user-{rng.randrange(300)}@example.com,"
                f"feature-{rng.randrange(20)},1,{tokens},{cached},{rng.randrange(1, 8000)},{cost},metered\n"
            )
            chunk.append(line)
            written += len(line)
            rows += 1
            if len(chunk) == 10_000:
                out.write("".join(chunk))
                chunk.clear()
        out.write("".join(chunk))
    return rows, stated


def one(size_mb: int) -> dict[str, object]:
    """Write, import and check one file in a temporary folder (this process: a child)."""
    with tempfile.TemporaryDirectory(prefix="spendledger-import-") as folder:
        path = Path(folder) / "spend.csv"
        started = time.perf_counter()
        rows, stated = write_csv(path, size_mb * 1024 * 1024)
        generated_s = time.perf_counter() - started
        size = path.stat().st_size
        url = f"sqlite:///{Path(folder) / 'ledger.db'}"
        engine = make_engine(url)
        upgrade(engine)
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        with path.open("rb") as raw:
            summary = run_import(
                io.BufferedReader(Counted(raw)),
                format_name="generic",
                options=ImportOptions(),
                pricer=Pricer(),
                tz=ZoneInfo("UTC"),
                engine=engine,
            )
        seconds = time.perf_counter() - started
        peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        with engine.connect() as conn:
            stored = conn.execute(select(func.count()).select_from(usage)).scalar_one()
            provider_costs = conn.execute(
                select(func.sum(usage.c.cost_nanos)).where(usage.c.pricing_status == "provider")
            ).scalar_one()
        engine.dispose()
    return {
        "size_mb": round(size / 1024 / 1024, 1),
        "rows": rows,
        "stored": stored,
        "rejected": summary.rejected_count,
        "costs_equal": from_nanos(int(provider_costs or 0)) == stated,
        "generate_s": round(generated_s, 1),
        "import_s": round(seconds, 1),
        "rows_per_s": round(rows / seconds),
        "mb_per_s": round(size / 1024 / 1024 / seconds, 2),
        "rss_before_mb": round(rss_before / 1024, 1),
        "peak_rss_mb": round(peak_kb / 1024, 1),
    }


def main() -> None:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--size-mb", type=int, nargs="+", default=[1024], help="file sizes, in MB")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # the child's run
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(one(args.one)))
        return
    print(f"{'file MB':>8} {'rows':>11} {'stored':>11} {'import s':>9} {'rows/s':>8} {'MB/s':>6} "
          f"{'RSS before':>10} {'peak RSS':>9}  check")  # fmt: skip
    for size_mb in args.size_mb:
        child = subprocess.run(
            [sys.executable, __file__, "--one", str(size_mb)], capture_output=True, text=True, check=True
        )
        r = json.loads(child.stdout.strip().splitlines()[-1])
        ok = r["stored"] == r["rows"] and not r["rejected"] and r["costs_equal"]
        print(
            f"{r['size_mb']:>8} {r['rows']:>11,} {r['stored']:>11,} {r['import_s']:>9} {r['rows_per_s']:>8,} "
            f"{r['mb_per_s']:>6} {r['rss_before_mb']:>8} MB {r['peak_rss_mb']:>6} MB  "
            f"{'PASS' if ok else 'FAIL'}"
        )


if __name__ == "__main__":
    main()
