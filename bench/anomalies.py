"""Anomaly detection on the demo ledger: what it finds, what it should, what it should not.

Builds the demo ledger (180 days to 2026-11-20, UTC, for each seed) in a temp SQLite file
through `demo.load_demo`, then stands on every day after the first four weeks (the
baseline needs them) and runs `anomalies.find_anomalies` as the alerts do. The demo data
holds three spikes on purpose (`demo.demo_spikes`: one stream's calls ×6-10 for 1-3
days); everything else is a normal weekly pattern with growth and streams that start
during the period. A flag is

- a hit when its day is a spike's day and its subject is the spike's (its provider,
  project, model, user or API key) — and the driver it names is counted when it is
  part of the spike too (its user, model, key...);
- a step when a stream of its subject started (`demo.demo_starts`: a user taking up a
  model) in the two weeks before: a real change in use, counted apart;
- a false positive otherwise.

Prints every flag, then per seed: spikes found / spikes, false positives over the days
checked × 5 dimensions, and how many alerts the flags make (`anomalies.incidents`: one
jump seen in several dimensions is one alert).

    .venv/bin/python bench/anomalies.py
    .venv/bin/python bench/anomalies.py --seeds 7,8,9,10
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from spendledger.alerts.anomalies import LABELS, Anomaly, find_anomalies, incidents
from spendledger.demo import DemoSpike, demo_spikes, demo_starts, load_demo
from spendledger.store.engine import make_engine, upgrade

END = date(2026, 11, 20)
DAYS = 180
BASELINE_DAYS = 28
STEP_DAYS = 14  # a flag this soon after a stream of its subject started is that step
UTC_ZONE = ZoneInfo("UTC")


def subject_of(spike: DemoSpike) -> dict[str, str]:
    return {
        "provider": spike.provider,
        "project": spike.project,
        "model": spike.model,
        "user": spike.user,
        "api_key_id": spike.api_key_id,
    }


def explains(flag: Anomaly, spikes: list[DemoSpike]) -> DemoSpike | None:
    """The spike a flag is about, or None (a false positive)."""
    for spike in spikes:
        if spike.first <= flag.day <= spike.last and subject_of(spike).get(flag.dimension) == flag.value:
            return spike
    return None


def new_stream(flag: Anomaly, starts: list[DemoSpike]) -> DemoSpike | None:
    """The stream of the flag's subject that started in the two weeks before, if any."""
    for start in starts:
        recent = start.first <= flag.day <= start.first + timedelta(days=STEP_DAYS)
        if recent and subject_of(start).get(flag.dimension) == flag.value:
            return start
    return None


def names_driver(flag: Anomaly, spike: DemoSpike) -> bool:
    """Whether the driver a flag names is part of the spike (its user, model, key...)."""
    if flag.driver is None:
        return False
    return any(flag.driver == f"{LABELS[d]} {v or '(none)'}" for d, v in subject_of(spike).items())


def run(seed: int, work: Path) -> tuple[int, int, int, int, int, int, int]:
    engine = make_engine(f"sqlite:///{work / f'anomalies-{seed}.db'}")
    upgrade(engine)
    load_demo(engine, tz=UTC_ZONE, end=END, days=DAYS, seed=seed)
    spikes = demo_spikes(end=END, days=DAYS, seed=seed)
    starts = demo_starts(end=END, days=DAYS, seed=seed)
    first = END - timedelta(days=DAYS - 1)
    checked = [first + timedelta(days=i) for i in range(BASELINE_DAYS, DAYS)]
    found: set[DemoSpike] = set()
    false_positives = drivers = hits = steps = alerts = 0
    with engine.connect() as conn:
        for day in checked:
            flags = find_anomalies(conn, day=day)
            alerts += len(incidents(flags))
            for flag in flags:
                spike = explains(flag, spikes)
                if spike is None and new_stream(flag, starts):
                    steps += 1
                    print(f"  seed {seed} step   {flag.describe()}")
                    continue
                if spike is None:
                    false_positives += 1
                    print(f"  seed {seed} FALSE  {flag.describe()}")
                    continue
                hits += 1
                found.add(spike)
                drivers += names_driver(flag, spike)
                print(f"  seed {seed} hit    {flag.describe()}")
    engine.dispose()
    checkable = [s for s in spikes if s.last >= checked[0]]
    for spike in checkable:
        if spike not in found:
            print(f"  seed {seed} MISSED {spike}")
    return len(found), len(checkable), false_positives, hits, drivers, steps, alerts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="7,8,9,10", help="demo seeds, comma-separated")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    started = time.perf_counter()
    totals = [0, 0, 0, 0, 0, 0, 0]
    lines = []
    with tempfile.TemporaryDirectory(prefix="spendledger-anomalies-") as tmp:
        for seed in seeds:
            result = run(seed, Path(tmp))
            totals = [a + b for a, b in zip(totals, result, strict=True)]
            found, spikes, fp, hits, drivers, steps, alerts = result
            lines.append(
                f"seed {seed}: spikes found {found}/{spikes}, false positives {fp} "
                f"over {DAYS - BASELINE_DAYS} days × 5 dimensions, driver named in {drivers}/{hits} hits, "
                f"{steps} flags of streams that started; {hits + steps + fp} flags make {alerts} alerts"
            )
    print()
    print("\n".join(lines))
    found, spikes, fp, hits, drivers, steps, alerts = totals
    print(
        f"all: spikes found {found}/{spikes}, false positives {fp}, driver named in {drivers}/{hits} hits, "
        f"{steps} flags of streams that started; {hits + steps + fp} flags make {alerts} alerts "
        f"(one per incident) ({time.perf_counter() - started:.0f} s)"
    )
    return 0 if found == spikes and fp == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
