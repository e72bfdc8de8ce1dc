"""Big answers through the HTTP API: `GET /api/v1/spend` on 1 M events over two years.

Builds the SQLite ledger of bench/query.py (N metered events over the two years to
2026-11-20, default 1 M) in a temporary folder, adds an API token, serves `create_app`
under uvicorn in a subprocess on 127.0.0.1 (bench/ingest.py's `Server`), and times 20
queries over real HTTP with httpx: small ones (a total, a breakdown by provider) and the
big ones that list thousands of rows (two years by model and project per month, 90 days by
project per day), as JSON and as CSV. Every query names its dates (the data end on
2026-11-20, whatever today is), so a run always asks the same questions.

Prints per query: the rows and bytes of the answer, a short digest of the body (equal
digests across two runs: byte-for-byte the same answer), p50/p95 of the warm runs; then
p50/p95 over every timed request against the target (p95 <= 50 ms). `--against SRC` serves
a second copy of the app from another source tree (the code before a change) on the same
file, checks both give the same bytes, and alternates the requests between the two, so a
busy machine slows both alike. `--breakdown` then times each query in process, split into
the store's read (and within it the SQL: its one statement executed and fetched), the
rows and the encoding, and names the rollup that answered.

    .venv/bin/python bench/api_query.py                    # 1 M events, built in a temp dir
    .venv/bin/python bench/api_query.py --events 200000    # a quick run
    .venv/bin/python bench/api_query.py --keep             # build once, reuse it (query.py's file)
    .venv/bin/python bench/api_query.py --against ../main/src   # before and after, side by side
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import httpx  # noqa: E402

import spendledger  # noqa: E402
from ingest import Server  # noqa: E402
from query import BUILD_VERSION, FIRST_DAY, TODAY, build_sqlite, get_sqlite_meta, percentile  # noqa: E402
from spendledger.store.engine import make_engine  # noqa: E402
from spendledger.store.tokens import create_token  # noqa: E402

TARGET_MS = 50.0
START_WAIT = 180.0  # seconds a server may take to start on a busy machine
Params = list[tuple[str, str]]


def days(n: int) -> Params:
    """The last `n` days of the data (what `period=Nd` asks on its last day)."""
    return [("from", (TODAY - timedelta(days=n - 1)).isoformat()), ("to", TODAY.isoformat())]


TWO_YEARS: Params = [("from", FIRST_DAY.isoformat()), ("to", TODAY.isoformat())]
MONTH: Params = [("from", TODAY.replace(day=1).isoformat()), ("to", TODAY.isoformat())]
LAST_MONTH: Params = [("from", "2026-10-01"), ("to", "2026-10-31")]
YEAR: Params = [("from", TODAY.replace(month=1, day=1).isoformat()), ("to", TODAY.isoformat())]

QUERIES: list[tuple[str, Params]] = [
    ("7d total", days(7)),
    ("30d by provider", [*days(30), ("by", "provider")]),
    ("30d by model", [*days(30), ("by", "model")]),
    ("90d by project+model", [*days(90), ("by", "project,model")]),
    ("mtd by user", [*MONTH, ("by", "user")]),
    ("last-month by feature", [*LAST_MONTH, ("by", "feature")]),
    ("ytd by provider, monthly", [*YEAR, ("by", "provider"), ("granularity", "month")]),
    ("2y total, monthly", [*TWO_YEARS, ("granularity", "month")]),
    (
        "2y by provider, monthly, all",
        [*TWO_YEARS, ("by", "provider"), ("granularity", "month"), ("basis", "all")],
    ),
    ("30d openai, daily", [*days(30), ("filter", "provider:openai"), ("granularity", "day")]),
    ("90d by provider, weekly", [*days(90), ("by", "provider"), ("granularity", "week")]),
    ("2y by user", [*TWO_YEARS, ("by", "user")]),
    ("ytd by feature, weekly", [*YEAR, ("by", "feature"), ("granularity", "week")]),
    ("30d by model, daily", [*days(30), ("by", "model"), ("granularity", "day")]),
    ("2y by model+project, monthly", [*TWO_YEARS, ("by", "model,project"), ("granularity", "month")]),
    ("  the same, CSV", [*TWO_YEARS, ("by", "model,project"), ("granularity", "month"), ("format", "csv")]),
    ("90d by project, daily", [*days(90), ("by", "project"), ("granularity", "day")]),
    ("  the same, CSV", [*days(90), ("by", "project"), ("granularity", "day"), ("format", "csv")]),
    ("90d by user, weekly", [*days(90), ("by", "user"), ("granularity", "week")]),
    (
        "ytd by model+project, monthly, CSV",
        [*YEAR, ("by", "model,project"), ("granularity", "month"), ("format", "csv")],
    ),
]


def rows_of(body: bytes, csv: bool) -> int:
    return body.count(b"\n") - 1 if csv else len(json.loads(body)["rows"])


def get(client: httpx.Client, url: str) -> tuple[float, bytes]:
    t = time.perf_counter()
    response = client.get(url)
    elapsed = (time.perf_counter() - t) * 1000
    if response.status_code != 200:
        raise SystemExit(f"{url}: {response.status_code} {response.text[:200]}")
    return elapsed, response.content


def summary(name: str, times: list[float]) -> str:
    p50, p95 = percentile(times, 0.5), percentile(times, 0.95)
    return (
        f"{name}: p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {max(times):.1f} ms (nearest rank over "
        f"{len(times)} warm requests, client-side wall time); target p95 <= {TARGET_MS:.0f} ms: "
        + ("PASS" if p95 <= TARGET_MS else "FAIL")
    )


def run(clients: dict[str, httpx.Client], runs: int) -> bool:
    """Each query on every server in turn (one warm-up each, then `runs` rounds alternating
    between the servers, so the machine's load weighs on both alike); a table and summaries."""
    names = list(clients)
    everything: dict[str, list[float]] = {name: [] for name in names}
    columns = "".join(f"{name + ' p50':>12}{'p95':>7}" for name in names)
    print(f"{'#':>2}  {'query':<36}{'rows':>6}{'bytes':>10}  {'digest':<9}{columns}")
    for i, (label, params) in enumerate(QUERIES, 1):
        url = "/api/v1/spend?" + urlencode(params, safe=":,")
        bodies = {name: get(client, url)[1] for name, client in clients.items()}  # warm-up
        first = bodies[names[0]]
        if any(body != first for body in bodies.values()):
            raise SystemExit(f"{url}: the servers gave different answers")
        times: dict[str, list[float]] = {name: [] for name in names}
        for _ in range(runs):
            for name, client in clients.items():
                elapsed, body = get(client, url)
                if body != first:
                    raise SystemExit(f"{url}: two runs gave different answers")
                times[name].append(elapsed)
        digest = hashlib.sha256(first).hexdigest()[:8]
        line = f"{i:>2}  {label:<36}{rows_of(first, 'csv' in url):>6}{len(first):>10,}  {digest:<9}"
        for name in names:
            everything[name].extend(times[name])
            line += f"{statistics.median(times[name]):>12.1f}{percentile(times[name], 0.95):>7.1f}"
        print(line, flush=True)
    for name in names:
        print(summary(name, everything[name]))
    if len(names) == 2:
        print("the answers of both servers are byte-for-byte the same")
    return percentile(everything[names[0]], 0.95) <= TARGET_MS


def breakdown(url: str, runs: int) -> None:
    """Where a request's time goes, in process (this tree's code, no HTTP), in CPU time (what
    the process itself spent, so less at the mercy of the machine's load): the store's read
    (`reads.spend_sums`), and of it the SQL (its statement executed and fetched, SQLite's
    work and the rows' Python objects), the report's rows (`queries.spend` less that read)
    and the encoding; each the fastest of `runs` runs after a warm-up."""
    from spendledger import queries
    from spendledger.exports.spend import report_json, report_to_csv
    from spendledger.store import reads

    print(
        f"\n{'#':>2}  {'in process, CPU ms, fastest run':<36}{'table':<16}{'sql':>7}{'read':>8}"
        f"{'rows':>8}{'encode':>8}{'sum':>8}"
    )
    engine = make_engine(url)
    stages = {"sql": 0.0, "read": 0.0, "rows": 0.0, "encode": 0.0}
    with engine.connect() as conn:
        for i, (label, params) in enumerate(QUERIES, 1):
            given = dict(params)
            query = queries.build_query(
                today=TODAY,
                start=given["from"],
                end=given["to"],
                by=[v for k, v in params if k == "by"],
                filters=[v for k, v in params if k == "filter"],
                granularity=given.get("granularity", "total"),
                basis=given.get("basis", "best"),
            )
            encode = report_to_csv if given.get("format") == "csv" else report_json
            table, statement = reads.spend_statement(conn, queries.question(query))
            sql, read, spend, written = [], [], [], []
            for _ in range(runs + 1):
                t0 = time.process_time()
                conn.execute(statement).fetchall()
                t1 = time.process_time()
                reads.spend_sums(conn, queries.question(query))
                t2 = time.process_time()
                report = queries.spend(conn, query)
                t3 = time.process_time()
                encode(report)
                t4 = time.process_time()
                sql.append((t1 - t0) * 1000)
                read.append((t2 - t1) * 1000)
                spend.append((t3 - t2) * 1000)
                written.append((t4 - t3) * 1000)
            q, r, w = min(sql[1:]), min(read[1:]), min(written[1:])
            rows = max(min(spend[1:]) - r, 0.0)
            stages["sql"] += q
            stages["read"] += r
            stages["rows"] += rows
            stages["encode"] += w
            figures = f"{q:>7.1f}{r:>8.1f}{rows:>8.1f}{w:>8.1f}{r + rows + w:>8.1f}"
            print(f"{i:>2}  {label:<36}{table.name:<16}{figures}")
    engine.dispose()
    totals = ", ".join(f"{k} {v:.0f} ms" for k, v in stages.items())
    print(f"over the 20 queries: {totals} (the sql is part of the read)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="metered events (default 1 M)")
    parser.add_argument("--runs", type=int, default=5, help="timed warm requests per query")
    parser.add_argument(
        "--keep", action="store_true", help="build into query.py's file and keep it; reuse it if there"
    )
    parser.add_argument(
        "--against",
        metavar="SRC",
        type=Path,
        help="also serve the spendledger package under SRC (e.g. another checkout's src/, the code "
        "before a change) and alternate the requests between both servers",
    )
    parser.add_argument(
        "--breakdown", action="store_true", help="then time each query's read, rows and encoding in process"
    )
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="spendledger-api-query-"))
    if args.keep:
        path = Path(tempfile.gettempdir()) / "spendledger-bench" / f"query-{args.events}.db"
    else:
        path = workdir / "ledger.db"
    print(f"spendledger API query benchmark: {args.events:,} events {FIRST_DAY}..{TODAY}, {path}")
    servers: dict[str, Server] = {}
    try:
        if args.keep and get_sqlite_meta(path) == f"{BUILD_VERSION}:{args.events}":
            print("  reusing it")
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            build_sqlite(path, args.events)
        url = f"sqlite:///{path}"
        engine = make_engine(url)
        with engine.begin() as conn:
            token = create_token(conn, name="bench-api-query", replace=True)
        engine.dispose()
        servers["this"] = Server(url, workdir, wait=START_WAIT)
        if args.against:
            servers["against"] = against_server(url, workdir, args.against)
            print(f"  this: {spendledger.__file__}; against: {args.against}")
        headers = {"Authorization": f"Bearer {token}"}
        clients = {n: httpx.Client(base_url=s.base, headers=headers, timeout=60) for n, s in servers.items()}
        try:
            ok = run(clients, args.runs)
        finally:
            for client in clients.values():
                client.close()
        for server in servers.values():
            server.stop()
        servers.clear()
        if args.breakdown:
            breakdown(url, args.runs)
        return 0 if ok else 1
    finally:
        for server in servers.values():
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def against_server(url: str, workdir: Path, src: Path) -> Server:
    """bench/ingest.py's server, importing spendledger from `src` (its subprocess inherits the path)."""
    before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([str(src.resolve()), *([before] if before else [])])
    try:
        return Server(url, workdir, wait=START_WAIT)
    finally:
        if before is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = before


if __name__ == "__main__":
    sys.exit(main())
