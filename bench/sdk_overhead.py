"""SDK overhead: an instrumented OpenAI client against a bare one, per call, on the local fake.

Starts the fake chat server of the tests (tests/fakes/chat.py) in its own process, so it
does not share this process's GIL, and a ledger for the SDK to send to: `--sink http`
(default) runs the spendledger server under uvicorn in a subprocess on a fresh SQLite
file (bench/ingest.py's `Server`), `--sink database` gives the SDK `database_url=` on a
fresh SQLite file (the background thread then prices and writes in this process). Then
it makes `--calls` chat completions with each client, a bare `openai.OpenAI` and an
instrumented one, in alternating blocks of 20 calls (which client goes first alternates
too) after a warm-up, each call timed with `perf_counter_ns` (and `thread_time_ns`, the
calling thread's CPU, a figure less shaken by other processes), while the background
sender delivers the instrumented calls' events. Then `--stream-calls` streamed calls of
`--chunks` content chunks each, twice: the caller asking for usage itself (what the
proxy costs: judged on the ratio, as a per-chunk cost adds up with a stream's length)
and not asking (the SDK then asks, and the openai client parses one more chunk: shown,
not judged).

    .venv/bin/python bench/sdk_overhead.py                     # 20 000 calls per client (~95 s)
    .venv/bin/python bench/sdk_overhead.py --calls 5000        # a quick run
    .venv/bin/python bench/sdk_overhead.py --sink database     # the SDK writing into SQLite itself

It prints the median (and quartiles) per call of each client, the median overhead in µs
and as a % of the bare call, PASS/FAIL against ≤ 50 µs and ≤ 3 %, checks that the ledger
holds one event per instrumented call with its tokens, then measures the events/s the
background sender sustains: `--events` events queued at once, timed until `flush()`
returns with all of them delivered, and this process's CPU per event meanwhile.
Medians of wall time need a quiet machine: on a busy one, read the CPU figures.
"""

from __future__ import annotations

import argparse
import gc
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openai

import spendledger
from spendledger.sdk import _sender
from spendledger.sdk._events import make_event

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import Server, fresh_ledger  # noqa: E402

FAKE = Path(__file__).resolve().parent.parent / "tests" / "fakes" / "chat.py"
BLOCK = 20  # small blocks: drift and the sender's wake-ups fall on both clients alike
WARMUP = 300
TARGET_US, TARGET_RATIO = 50.0, 0.03
MESSAGES: list[Any] = [{"role": "user", "content": "Summarise the ledger."}]


class FakeChat:
    """tests/fakes/chat.py in a subprocess; `url` is its base URL."""

    def __init__(self, chunks: int) -> None:
        command = [sys.executable, str(FAKE), "--chunks", str(chunks)]
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()
        if not self.url.startswith("http://"):
            self.stop()
            raise SystemExit("the fake chat server did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def timed(call: Callable[[], Any], n: int, wall: list[int], cpu: list[int]) -> None:
    """Call `n` times; each call's wall time and this thread's CPU time, in ns."""
    clock, thread_clock = time.perf_counter_ns, time.thread_time_ns
    for _ in range(n):
        start, start_cpu = clock(), thread_clock()
        call()
        cpu.append(thread_clock() - start_cpu)
        wall.append(clock() - start)


def compare(
    bare: Callable[[], Any], inst: Callable[[], Any], calls: int, warmup: int
) -> dict[str, list[int]]:
    """`calls` of each, alternating blocks of BLOCK (which goes first alternates too)."""
    out: dict[str, list[int]] = {"bare": [], "bare_cpu": [], "inst": [], "inst_cpu": []}
    timed(bare, warmup, [], [])
    timed(inst, warmup, [], [])
    gc.collect()
    done = 0
    while done < calls:
        n = min(BLOCK, calls - done)
        pair = [(bare, "bare"), (inst, "inst")]
        for call, name in pair if (done // BLOCK) % 2 == 0 else reversed(pair):
            timed(call, n, out[name], out[f"{name}_cpu"])
        done += n
    return out


def quartiles(samples: list[int]) -> tuple[float, float, float]:
    q1, q2, q3 = statistics.quantiles(samples, n=4)
    return q1 / 1000, q2 / 1000, q3 / 1000


def report(label: str, samples: dict[str, list[int]], *, judge_us: bool = True, judged: bool = True) -> bool:
    """Print the medians and the overhead; True when within the targets (the ratio only,
    for streams: their per-chunk cost adds up with their length)."""
    b1, b2, b3 = quartiles(samples["bare"])
    i1, i2, i3 = quartiles(samples["inst"])
    cpu_bare = statistics.median(samples["bare_cpu"]) / 1000
    cpu_inst = statistics.median(samples["inst_cpu"]) / 1000
    overhead, ratio = i2 - b2, (i2 - b2) / b2
    passed = (overhead <= TARGET_US or not judge_us) and ratio <= TARGET_RATIO
    targets = f"≤ {TARGET_US:.0f} µs and ≤ {TARGET_RATIO:.0%}" if judge_us else f"≤ {TARGET_RATIO:.0%}"
    print(f"{label}, {len(samples['bare']):,} calls per client:")
    for name, (q1, q2, q3), cpu in (
        ("bare client", (b1, b2, b3), cpu_bare),
        ("instrumented client", (i1, i2, i3), cpu_inst),
    ):
        print(
            f"  {name:<21}median {q2:8.1f} µs  (p25 {q1:7.1f}, p75 {q3:7.1f}; this thread's CPU {cpu:7.1f})"
        )
    print(
        f"  overhead: {overhead:+.1f} µs per call = {ratio:+.2%} of a bare call "
        f"(CPU {cpu_inst - cpu_bare:+.1f} µs; target {targets}): "
        + (("PASS" if passed else "FAIL") if judged else "not judged")
    )
    return passed


def stored(db: Path) -> tuple[int, int, int]:
    """(events, input tokens, output tokens) in the ledger file."""
    with sqlite3.connect(db) as conn:
        count, inp, out = conn.execute(
            "SELECT count(*), coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0) FROM usage"
        ).fetchone()
    return int(count), int(inp), int(out)


def sender_rate(n: int) -> tuple[float, float, bool]:
    """Queue `n` events at once (made beforehand), then flush(): events/s until all were
    delivered, and this process's CPU per event meanwhile (the sender thread's, mostly)."""
    tokens = {"input_tokens": 1000, "cached_input_tokens": 200, "output_tokens": 500}
    events = [make_event(provider="openai", model="gpt-4o-mini", tokens=tokens) for _ in range(n)]
    emit = _sender.emit
    start, start_cpu = time.perf_counter(), time.process_time()
    for event in events:
        emit(event)
    delivered = spendledger.flush(300)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    return n / elapsed, cpu / n * 1e6, delivered


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=20_000, help="timed calls per client")
    parser.add_argument(
        "--stream-calls", type=int, default=1_000, help="timed streamed calls per client (0: none)"
    )
    parser.add_argument("--chunks", type=int, default=10, help="content chunks per streamed answer")
    parser.add_argument("--events", type=int, default=20_000, help="events queued for the sender's rate")
    parser.add_argument("--sink", choices=("http", "database"), default="http")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="spendledger-sdk-"))
    db = workdir / "ledger.db"
    url, token = fresh_ledger(db)
    fake = FakeChat(args.chunks)
    server = Server(url, workdir) if args.sink == "http" else None
    try:
        if server is not None:
            spendledger.configure(url=server.base, token=token, spill_dir=workdir / "spill", max_queue=10**6)
            sink = f"the spendledger server (uvicorn subprocess) at {server.base}"
        else:
            spendledger.configure(database_url=url, spill_dir=workdir / "spill", max_queue=10**6)
            sink = f"database_url={url}"
        print(
            f"spendledger SDK overhead: bare vs instrumented openai client, blocks of {BLOCK} calls "
            f"alternating, fake chat server {fake.url} (own process), events to {sink}"
        )
        return run(args, fake.url, db)
    finally:
        _sender.reset(30)
        if server is not None:
            server.stop()
        fake.stop()


def run(args: argparse.Namespace, fake_url: str, db: Path) -> int:
    bare = openai.OpenAI(base_url=f"{fake_url}/v1", api_key="sk-bench", max_retries=0)
    inst = spendledger.instrument(
        openai.OpenAI(base_url=f"{fake_url}/v1", api_key="sk-bench", max_retries=0), project="bench"
    )

    def chat(client: openai.OpenAI) -> Callable[[], Any]:
        return lambda: client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    def stream(client: openai.OpenAI, **options: Any) -> Callable[[], Any]:
        def call() -> Any:
            return list(
                client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True, **options)
            )

        return call

    start = time.perf_counter()
    passed = report("chat.completions.create", compare(chat(bare), chat(inst), args.calls, WARMUP))
    if args.stream_calls:
        asked: Any = {"include_usage": True}
        passed &= report(
            f"streamed ({args.chunks} chunks), the caller asking for usage: the proxy's own cost",
            compare(
                stream(bare, stream_options=asked), stream(inst, stream_options=asked), args.stream_calls, 100
            ),
            judge_us=False,
        )
        report(
            "streamed, the caller not asking for usage: the SDK asks, one more chunk to parse",
            compare(stream(bare), stream(inst), args.stream_calls, 100),
            judge_us=False,
            judged=False,
        )
    elapsed = time.perf_counter() - start
    delivered = spendledger.flush(120)
    count, inp, out = stored(db)
    expected = args.calls + WARMUP + (2 * (args.stream_calls + 100) if args.stream_calls else 0)
    ok = delivered and (count, inp, out) == (expected, 1000 * expected, 500 * expected)
    print(
        f"ledger: {count:,} events stored for {expected:,} instrumented calls ({elapsed:.0f} s of calls), "
        f"{inp:,} input and {out:,} output tokens: {'OK' if ok else 'MISMATCH'}"
    )
    rate, cpu_per_event, flushed = sender_rate(args.events)
    count_after, _, _ = stored(db)
    all_there = flushed and count_after == count + args.events
    print(
        f"background sender: {args.events:,} events queued at once, delivered by flush() at {rate:,.0f} "
        f"events/s, {cpu_per_event:.0f} µs of this process's CPU per event: "
        f"{'OK' if all_there else 'MISMATCH'} ({count_after - count:,} stored; {spendledger.stats()})"
    )
    bare.close()
    inst.close()
    return 0 if passed and ok and all_there else 1


if __name__ == "__main__":
    sys.exit(main())
