"""Dashboard pages on a large ledger: the server time of `/`, `/explore` and `/api/v1/spend`.

Builds or reuses the SQLite ledger of bench/query.py (N metered events over two years,
default 10 M), adds the tables an older build of that file lacks (users, sessions, ...),
serves `create_app` in process through Starlette's TestClient (server time, no network),
logs in as an admin through the login form, and times each URL: one warm-up request, then
N timed ones. Prints, per URL, the status, the rows and size of the answer, the SQL
statements it ran, p50/p95/max and the median CPU time; then p50/p95 over every timed
request against the target (p95 <= 100 ms). `--profile` then shows where each slow URL's
time goes: its `queries.spend` calls timed one by one, and a pyinstrument call tree.

    .venv/bin/python bench/pages.py                    # 10 M events: reuses query.py's file
    .venv/bin/python bench/pages.py --events 300000    # a quick run
    .venv/bin/python bench/pages.py --profile          # then where the slow URLs' time goes
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent / "tests"))
sys.path.insert(0, str(BENCH))

from fastapi import FastAPI  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import Engine, event, inspect, select  # noqa: E402
from starlette.requests import Request  # noqa: E402

from logins import ADMIN_EMAIL, ADMIN_PASSWORD, add_user, login  # noqa: E402
from query import BUILD_VERSION, FIRST_DAY, build_sqlite, get_sqlite_meta, percentile  # noqa: E402
from query import TODAY as DATA_END  # noqa: E402
from spendledger import queries  # noqa: E402
from spendledger.config import Settings  # noqa: E402
from spendledger.store.ledger import get_meta, set_meta  # noqa: E402
from spendledger.store.tables import metadata, usage  # noqa: E402
from spendledger.store.users import find_user  # noqa: E402
from spendledger.web import create_app  # noqa: E402
from spendledger.web.api import spend  # noqa: E402
from spendledger.web.app import freeze_startup_objects  # noqa: E402
from spendledger.web.auth import SESSION_COOKIE, api_reader, optional_viewer, page_viewer  # noqa: E402
from spendledger.web.pages import explore, overview  # noqa: E402

Params = list[tuple[str, str]]
TARGET_MS = 100.0


# --- the ledger ---------------------------------------------------------------------------


def ensure_ledger(path: Path, events: int, rebuild: bool) -> None:
    """query.py's file for `events`: reused when a run built it, else built (as `query.py`)."""
    if not rebuild and get_sqlite_meta(path) == f"{BUILD_VERSION}:{events}":
        print(f"  reusing {path}")
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    build_sqlite(path, events)


def add_missing_tables(engine: Engine) -> list[str]:
    """Create the tables a file built by an older schema lacks; the existing ones stay as they are."""
    inspector = inspect(engine)
    present = set(inspector.get_table_names())
    for table in metadata.sorted_tables:
        if table.name in present:
            have = {c["name"] for c in inspector.get_columns(table.name)}
            if lacking := [c.name for c in table.columns if c.name not in have]:
                raise SystemExit(
                    f"{table.name} lacks columns {', '.join(lacking)}: rebuild the file "
                    "(bench/pages.py --rebuild, or delete it)"
                )
    missing = [t for t in metadata.sorted_tables if t.name not in present]
    if missing:
        metadata.create_all(engine, tables=missing, checkfirst=True)
    return [t.name for t in missing]


def ensure_last_write(engine: Engine) -> str | None:
    """query.py writes `usage` with SQL, so its file has no `last_write_at`, and `/` then shows
    "no spend recorded yet" (skipping the figures it queried): set it to the last row's time."""
    with engine.begin() as conn:
        if get_meta(conn, "last_write_at") is not None:
            return None
        written = conn.execute(select(usage.c.written_at).order_by(usage.c.id.desc()).limit(1)).scalar()
        if written is None:
            return None
        value = written.replace(tzinfo=written.tzinfo or UTC).isoformat()
        set_meta(conn, "last_write_at", value)
        return value


# --- what is timed ------------------------------------------------------------------------


@dataclass(frozen=True)
class State:
    label: str
    params: Params  # the explorer's query string; [] is a bare /explore


def explorer_states(today: date) -> tuple[list[State], bool]:
    """The explorer states timed, and whether they are relative to today.

    The pages count periods back from today; when the data ends before today (it ends on
    query.py's fixed TODAY), the states use explicit ranges ending on the data's last day
    so that they read full periods. The bare /explore stays relative to today.
    """
    relative = FIRST_DAY <= today <= DATA_END
    end = today if relative else DATA_END
    two_years = [("from", (end - timedelta(days=729)).isoformat()), ("to", end.isoformat())]

    def period(preset: str, start: date) -> Params:
        return [("period", preset)] if relative else [("from", start.isoformat()), ("to", end.isoformat())]

    return [
        State("default (30d by provider, daily)", []),
        State(
            "7d by model, daily",
            [*period("7d", end - timedelta(days=6)), ("by", "model"), ("granularity", "day")],
        ),
        State(
            "ytd by project+model, monthly",
            [
                *period("ytd", end.replace(month=1, day=1)),
                ("by", "project"),
                ("by", "model"),
                ("granularity", "month"),
            ],
        ),
        State("2 years by user, total", [*two_years, ("by", "user"), ("granularity", "total")]),
        State(
            "90d by provider, weekly, openai",
            [
                *period("90d", end - timedelta(days=89)),
                ("by", "provider"),
                ("granularity", "week"),
                ("filter", "provider:openai"),
            ],
        ),
    ], relative


@dataclass
class Target:
    kind: str  # page | partial | api
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 0
    rows: int = 0
    size: int = 0
    statements: list[int] = field(default_factory=list)
    times: list[float] = field(default_factory=list)  # wall, ms
    cpu: list[float] = field(default_factory=list)  # the process's CPU time (every thread), ms
    gc: list[float] = field(default_factory=list)  # full garbage collections inside the request, ms


def url_of(path: str, params: Params) -> str:
    return f"{path}?{urlencode(params, safe=':,')}" if params else path


def targets(states: Sequence[State]) -> list[Target]:
    out = [Target("page", "/")]
    out += [Target("page", url_of("/explore", s.params)) for s in states]
    htmx = states[2]  # the heaviest table: two group-bys by month
    out.append(Target("partial", url_of("/explore", htmx.params), {"HX-Request": "true"}))
    out += [Target("api", url_of("/api/v1/spend", s.params or list(explore.DEFAULT_VIEW))) for s in states]
    return out


class StatementCounter:
    """Counts the statements the app's engine sends (a `before_cursor_execute` listener)."""

    def __init__(self, engine: Engine) -> None:
        self.count = 0
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, *_args: Any) -> None:
        self.count += 1


class FullCollections:
    """Times Python's full (generation 2) garbage collections: they land inside requests."""

    def __init__(self) -> None:
        self.count, self.ms, self._t0 = 0, 0.0, 0.0
        gc.callbacks.append(self._seen)

    def _seen(self, phase: str, info: dict[str, int]) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self._t0 = time.perf_counter()
        else:
            self.count += 1
            self.ms += (time.perf_counter() - self._t0) * 1000


def rows_of(response: Any) -> int:
    """JSON: the report's rows; HTML: its table rows (<tr>, header and totals included)."""
    if response.headers.get("content-type", "").startswith("application/json"):
        return len(response.json().get("rows", []))
    return response.text.count("<tr")


def time_target(
    client: TestClient, counter: StatementCounter, collections: FullCollections, target: Target, runs: int
) -> None:
    client.get(target.url, headers=target.headers)  # warm-up: templates, statement cache, pages
    for _ in range(runs):
        counter.count, gc_ms = 0, collections.ms
        c0, t0 = time.process_time(), time.perf_counter()
        response = client.get(target.url, headers=target.headers)
        target.times.append((time.perf_counter() - t0) * 1000)
        target.cpu.append((time.process_time() - c0) * 1000)
        target.gc.append(collections.ms - gc_ms)
        target.statements.append(counter.count)
    target.status, target.size, target.rows = response.status_code, len(response.content), rows_of(response)


# --- profiling ----------------------------------------------------------------------------


def handler_call(app: FastAPI, client: TestClient, target: Target) -> Callable[[], Any]:
    """The target's route function, called directly in this thread with what its dependencies
    give it (the session's viewer included): pyinstrument samples the thread that starts it,
    and FastAPI runs these sync routes in a worker thread. The ASGI plumbing is left out."""
    parts = urlsplit(target.url)
    headers = [(k.lower().encode(), v.encode()) for k, v in target.headers.items()]
    headers.append((b"cookie", f"{SESSION_COOKIE}={client.cookies.get(SESSION_COOKIE)}".encode()))
    request = Request(
        {
            "type": "http",
            "method": "GET",
            "scheme": "http",
            "server": ("testserver", 80),
            "client": ("testclient", 50000),
            "root_path": "",
            "path": parts.path,
            "raw_path": parts.path.encode(),
            "query_string": parts.query.encode(),
            "headers": headers,
            "app": app,
        }
    )
    settings, engine, templates = app.state.settings, app.state.engine, app.state.templates
    pages = {"/": overview.overview_page, "/explore": explore.explore_page}

    def call() -> Any:
        viewer = optional_viewer(request, engine)
        if parts.path in pages:
            return pages[parts.path](
                request, settings, engine, templates, page_viewer(request, engine, viewer)
            )
        q = request.query_params
        return spend.get_spend(
            settings,
            engine,
            api_reader(engine, viewer, None),
            start=q.get("from"),
            end=q.get("to"),
            period=q.get("period"),
            by=q.getlist("by") or None,
            filters=q.getlist("filter") or None,
            granularity=q.get("granularity", "total"),
            basis=q.get("basis", "best"),
            fmt="json",
        )

    return call


@dataclass
class SpendCall:
    caller: str
    query: queries.SpendQuery
    table: str
    statements: int
    rows: int
    times: list[float] = field(default_factory=list)


@contextmanager
def spend_timer(counter: StatementCounter) -> Iterator[list[SpendCall]]:
    """Time every `queries.spend` call (the pages' and the API's one query function) by
    swapping the module attribute they call for a timed wrapper while the block runs."""
    calls: list[SpendCall] = []
    original = queries.spend

    def timed_spend(conn: Any, query: queries.SpendQuery) -> queries.SpendReport:
        caller, before = sys._getframe(1).f_code.co_name, counter.count
        t0 = time.perf_counter()
        report = original(conn, query)
        ms = (time.perf_counter() - t0) * 1000
        calls.append(SpendCall(caller, query, report.table, counter.count - before, len(report.rows), [ms]))
        return report

    queries.spend = timed_spend
    try:
        yield calls
    finally:
        queries.spend = original


def describe_query(q: queries.SpendQuery) -> str:
    filters = " ".join(f"{d}={','.join(v)}" for d, v in q.filters.items())
    by = f"by {','.join(q.by)} " if q.by else ""
    return f"{q.start}..{q.end} {by}{q.granularity} {q.basis} {filters}".rstrip()


def profile(app: FastAPI, client: TestClient, target: Target, counter: StatementCounter, runs: int) -> None:
    """Where one URL's time goes: its `spend` calls timed one by one, then a pyinstrument tree."""
    call = handler_call(app, client, target)
    status = call().status_code  # warm
    totals, per_run = [], []
    for _ in range(runs):
        with spend_timer(counter) as calls:
            t0 = time.perf_counter()
            call()
            totals.append((time.perf_counter() - t0) * 1000)
        per_run.append(calls)
    merged = per_run[0]
    for calls in per_run[1:]:
        for acc, c in zip(merged, calls, strict=True):
            acc.times.extend(c.times)
    total = statistics.median(totals)
    print(f"\n--- {target.kind} {target.url}")
    print(f"direct call of its route function (status {status}): median {total:.1f} ms of {runs}")
    print(f"  {'caller':<16}{'table':<22}{'SQL':>4}{'rows':>6}{'ms':>7}  query")
    in_spend = 0.0
    for c in merged:
        ms = statistics.median(c.times)
        in_spend += ms
        print(
            f"  {c.caller:<16}{c.table:<22}{c.statements:>4}{c.rows:>6}{ms:>7.1f}  {describe_query(c.query)}"
        )
    print(
        f"  queries.spend: {in_spend:.1f} ms in {len(merged)} calls; the rest (rendering, session, ...): "
        f"{total - in_spend:.1f} ms"
    )
    try:
        from pyinstrument import Profiler
    except ImportError:
        print("  pyinstrument is not installed (.venv/bin/pip install pyinstrument): no call tree")
        return
    profiler = Profiler(interval=0.0005)
    with profiler:
        for _ in range(runs):
            call()
    print(f"pyinstrument, {runs} direct calls:")
    print(profiler.output_text(unicode=True, color=False))


# --- output -------------------------------------------------------------------------------


def print_table(timed: Sequence[Target]) -> None:
    width = max(len(t.url) for t in timed) + 2
    print(
        f"{'kind':<8}{'URL':<{width}}{'status':>6}{'rows':>6}{'KB':>7}{'SQL':>6}"
        f"{'p50 ms':>8}{'p95 ms':>8}{'max ms':>8}{'cpu p50':>9}{'full GC':>9}"
    )
    for t in timed:
        low, high = min(t.statements), max(t.statements)
        sql = str(low) if low == high else f"{low}-{high}"
        print(
            f"{t.kind:<8}{t.url:<{width}}{t.status:>6}{t.rows:>6}{t.size / 1024:>7.1f}{sql:>6}"
            f"{percentile(t.times, 0.5):>8.1f}{percentile(t.times, 0.95):>8.1f}{max(t.times):>8.1f}"
            f"{percentile(t.cpu, 0.5):>9.1f}{gc_cell(t.gc):>9}"
        )


def gc_cell(gc_ms: list[float]) -> str:
    """The requests a full collection ran in, and its mean time: '2x88' (ms)."""
    hit = [ms for ms in gc_ms if ms > 0]
    return f"{len(hit)}x{sum(hit) / len(hit):.0f}" if hit else "-"


def summary(name: str, times: list[float]) -> str:
    return (
        f"{name}: p50 {percentile(times, 0.5):.1f} ms, p95 {percentile(times, 0.95):.1f} ms, "
        f"max {max(times):.1f} ms over {len(times)} requests"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "path", nargs="?", type=Path, help="SQLite file (default: query.py's in the temp dir)"
    )
    parser.add_argument("--events", type=int, default=10_000_000, help="metered events (default 10 M)")
    parser.add_argument(
        "--rebuild", action="store_true", help="build the file even when a run with --events built it"
    )
    parser.add_argument("--runs", type=int, default=10, help="timed requests per URL, after one warm-up")
    parser.add_argument(
        "--profile",
        action="store_true",
        help=f"then show where the time of each URL over {TARGET_MS:.0f} ms at p95 (else the slowest) goes",
    )
    args = parser.parse_args()
    path = args.path or Path(tempfile.gettempdir()) / "spendledger-bench" / f"query-{args.events}.db"
    print(f"spendledger pages benchmark: {args.events:,} events {FIRST_DAY}..{DATA_END}")
    ensure_ledger(path, args.events, args.rebuild)
    print(f"  {path} ({path.stat().st_size / 1e9:.2f} GB)")

    today = datetime.now(UTC).date()  # the app's today: Settings(timezone="UTC")
    states, relative = explorer_states(today)
    if relative:
        print(f"  today {today} is inside the data ({FIRST_DAY}..{DATA_END}): states use the presets")
    else:
        print(
            f"  today {today} is outside the data ({FIRST_DAY}..{DATA_END}): explorer and API states "
            f"use explicit ranges ending {DATA_END};\n  `/` and the bare /explore show periods relative "
            f"to today ({(today - DATA_END).days} days after the data's last day)"
        )
    with tempfile.TemporaryDirectory(prefix="spendledger-pages-") as tmp:
        settings = Settings(database_url=f"sqlite:///{path}", data_dir=Path(tmp), timezone="UTC")
        app = create_app(settings)
        freeze_startup_objects()  # as `spendledger serve` does once its app is built
        engine: Engine = app.state.engine
        if added := add_missing_tables(engine):
            print(f"  created the tables the file lacked: {', '.join(added)}")
        if last_write := ensure_last_write(engine):
            print(f"  set the ledger's last_write_at (query.py's file has none) to {last_write}")
        with engine.connect() as conn:
            user = find_user(conn, ADMIN_EMAIL)
        if user is None:
            add_user(engine, ADMIN_EMAIL, ADMIN_PASSWORD, "admin")
        elif user.role != "admin":
            raise SystemExit(f"{ADMIN_EMAIL} exists with the role {user.role}, not admin")
        with TestClient(app) as client:
            response = login(client, ADMIN_EMAIL, ADMIN_PASSWORD)
            if response.status_code != 303:
                raise SystemExit(f"login failed: {response.status_code} {response.text[:200]}")
            counter, collections = StatementCounter(engine), FullCollections()
            timed = targets(states)
            print(f"  logged in as {ADMIN_EMAIL} (admin); 1 warm-up + {args.runs} timed requests per URL\n")
            t0 = time.perf_counter()
            for target in timed:
                time_target(client, counter, collections, target, args.runs)
            print_table(timed)
            every = [ms for t in timed for ms in t.times]
            print(f"\n{summary('pages (HTML)', [ms for t in timed if t.kind != 'api' for ms in t.times])}")
            print(summary("API (JSON)", [ms for t in timed if t.kind == "api" for ms in t.times]))
            print(summary("overall", every) + " (nearest rank)")
            cpu = [ms for t in timed for ms in t.cpu]
            print(
                f"CPU per request (process time, every thread): p50 {percentile(cpu, 0.5):.1f} ms, "
                f"p95 {percentile(cpu, 0.95):.1f} ms (wall well above it: the process waited for a core)"
            )
            gcs = [ms for t in timed for ms in t.gc if ms > 0]
            if gcs:
                clean = [ms for t in timed for ms, g in zip(t.times, t.gc, strict=True) if not g]
                print(
                    f"full garbage collections: in {len(gcs)} of {len(every)} requests, "
                    f"{statistics.mean(gcs):.0f} ms each on average ({len(gc.get_objects()):,} objects "
                    f"tracked); {summary('requests without one', clean)}"
                )
            slow = [t for t in timed if percentile(t.times, 0.95) > TARGET_MS]
            ok = percentile(every, 0.95) <= TARGET_MS
            print(
                f"target overall p95 <= {TARGET_MS:.0f} ms: {'PASS' if ok else 'FAIL'} "
                f"({time.perf_counter() - t0:.0f} s); URLs over it at their own p95: "
                f"{len(slow)} of {len(timed)}"
            )
            for t in slow:
                print(f"  {t.kind:<8}{t.url}  p95 {percentile(t.times, 0.95):.1f} ms")
            if args.profile:
                worst = max(timed, key=lambda t: percentile(t.times, 0.95))
                for target in slow or [worst]:
                    profile(app, client, target, counter, runs=5)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
