"""`spendledger serve`'s resident memory on a large ledger, after the explorer's questions.

Starts `spendledger serve --no-sync` in its own process on the ledger at URL (the file or
database bench/query.py built), creates an API token with `spendledger tokens create`,
asks GET /api/v1/spend bench/query.py's 20 questions in JSON and in CSV, three rounds
(120 requests), and reads the server's resident memory (VmRSS) and its peak (VmHWM) from
/proc after start-up and after each round, its folder's child process included, against
the target of 200 MB.

    .venv/bin/python bench/serve_memory.py sqlite:///$TMPDIR/spendledger-bench/query-10000000.db
    .venv/bin/python bench/serve_memory.py postgresql://postgres@127.0.0.1:5432/spendledger_bench_query
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from query import explorer_queries

TARGET_MB = 200


def memory(pid: int) -> tuple[float, float]:
    """(resident, peak resident) in MB of the process `pid` and every process under it
    (`serve` runs the rollups' folder as a child: both are what serving costs)."""
    rss = peak = 0.0
    for each in (pid, *descendants(pid)):
        status = Path(f"/proc/{each}/status").read_text()
        fields = dict(line.split(":", 1) for line in status.splitlines())
        rss += int(fields["VmRSS"].split()[0]) / 1024
        peak += int(fields["VmHWM"].split()[0]) / 1024
    return rss, peak


def descendants(pid: int) -> list[int]:
    """The processes under `pid`, read from /proc (children of children included)."""
    found: list[int] = []
    for tid in Path(f"/proc/{pid}/task").iterdir():
        for child in (tid / "children").read_text().split():
            found += [int(child), *descendants(int(child))]
    return found


def questions() -> list[list[tuple[str, str]]]:
    """bench/query.py's questions as the API's query parameters (explicit dates)."""
    out = []
    for _, q in explorer_queries():
        params = [("start", q.start.isoformat()), ("end", q.end.isoformat())]
        params += [("granularity", str(q.granularity.value)), ("basis", q.basis)]
        if q.by:
            params.append(("by", ",".join(q.by)))
        params += [("filter", f"{dim}:{v}") for dim, values in q.filters.items() for v in values]
        out.append(params)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", help="the ledger's database URL")
    parser.add_argument("--port", type=int, default=8731)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    data = tempfile.mkdtemp(prefix="spendledger-serve-memory-")
    env = {
        **os.environ,
        "SPENDLEDGER_DATABASE_URL": args.url,
        "SPENDLEDGER_DATA_DIR": data,
        "SPENDLEDGER_TIMEZONE": "UTC",  # bench/query.py's ledgers count days in UTC
    }
    cli = [sys.executable, "-m", "spendledger.cli"]
    created = subprocess.run(
        [*cli, "tokens", "create", f"serve-memory-{time.time():.0f}"], env=env, capture_output=True, text=True
    )
    if created.returncode:
        raise SystemExit(created.stderr)
    token = created.stdout.strip().splitlines()[-1]
    server = subprocess.Popen(
        [*cli, "serve", "--port", str(args.port), "--no-sync"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        client = httpx.Client(
            base_url=f"http://127.0.0.1:{args.port}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=120,
        )
        for _ in range(600):
            try:
                if client.get("/api/v1/spend").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        rss, peak = memory(server.pid)
        print(
            f"serve on {args.url.split('@')[-1]}: after start-up {rss:.0f} MB resident (peak {peak:.0f} MB), "
            f"{len(descendants(server.pid))} child process(es) included"
        )
        times: list[float] = []
        for round_ in range(1, args.rounds + 1):
            for params in questions():
                for fmt in ("json", "csv"):
                    t = time.perf_counter()
                    answer = client.get("/api/v1/spend", params=[*params, ("format", fmt)])
                    times.append((time.perf_counter() - t) * 1000)
                    if answer.status_code != 200:
                        raise SystemExit(f"{answer.status_code} for {params}: {answer.text[:300]}")
            rss, peak = memory(server.pid)
            print(
                f"  after round {round_} ({len(times)} requests): {rss:.0f} MB resident (peak {peak:.0f} MB)"
            )
        ordered = sorted(times)
        p95 = ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]
        print(
            f"  requests: p50 {statistics.median(times):.0f} ms, p95 {p95:.0f} ms (nearest rank, over HTTP)"
        )
        print(
            f"target resident <= {TARGET_MB} MB after the questions: {'PASS' if rss <= TARGET_MB else 'FAIL'}"
        )
        return 0 if rss <= TARGET_MB else 1
    finally:
        server.terminate()
        server.wait(30)


if __name__ == "__main__":
    sys.exit(main())
