"""Backtest of month-end forecasts on the demo ledger.

Builds the demo ledger (180 days to 2026-11-20, UTC, for each of seeds 7-10) in a temp SQLite file
through `demo.load_demo`, then, for each calendar month the data covers whole, stands on
day 7, 14 and 21, reads the daily series as the app does (`forecast.daily_series`, so
through `queries.spend`), forecasts the month-end total with each method and compares
it with the month's actual total. Prints every forecast, then the mean absolute
percentage error (MAPE) at day 7, 14 and 21 per method and how often the 80 % band held
the actual total.

    .venv/bin/python bench/forecast.py
    .venv/bin/python bench/forecast.py --seeds 11,12,13,14   # other ledgers, one per seed

Methods: `flat` (month to date / days elapsed × days in month, the overview's old KPI),
`weekday` (`forecast.forecast_period`, the default), and `ets` (statsmodels'
Holt-Winters, additive damped trend and multiplicative weekly season) when statsmodels
can be imported; it is not a dependency of spendledger, so install it by hand (e.g.
`pip install --target /tmp/smlib statsmodels` and PYTHONPATH=/tmp/smlib) to compare.
"""

from __future__ import annotations

import argparse
import calendar
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from spendledger.alerts import forecast
from spendledger.demo import load_demo
from spendledger.store.engine import make_engine, upgrade

END = date(2026, 11, 20)
DAYS = 180
UTC_ZONE = ZoneInfo("UTC")
CHECKPOINTS = (7, 14, 21)

# method(series up to today, month start, month end, today) → (projected, low, high)
Method = Callable[[dict[date, Decimal], date, date, date], tuple[float, float, float]]


def flat(series: dict[date, Decimal], start: date, end: date, today: date) -> tuple[float, float, float]:
    spent = float(sum(v for d, v in series.items() if start <= d <= today))
    projected = spent / ((today - start).days + 1) * ((end - start).days + 1)
    return projected, projected, projected


def weekday(series: dict[date, Decimal], start: date, end: date, today: date) -> tuple[float, float, float]:
    f = forecast.forecast_period(series, start=start, end=end, today=today)
    return float(f.projected_total), float(f.low), float(f.high)


def ets(series: dict[date, Decimal], start: date, end: date, today: date) -> tuple[float, float, float]:
    import numpy as np
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    days = sorted(d for d in series if d <= today)[-forecast.HISTORY_DAYS :]
    y = np.array([float(series[d]) for d in days])
    y = np.maximum(y, 1e-6)  # a multiplicative season needs positive values
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter on short series
        fit = ExponentialSmoothing(
            y, trend="add", damped_trend=True, seasonal="mul", seasonal_periods=7
        ).fit()
        h = (end - today).days
        spent = float(sum(v for d, v in series.items() if start <= d <= today))
        if h == 0:
            return spent, spent, spent
        sims = fit.simulate(h, repetitions=400, error="mul", random_state=1)
    totals = np.sum(np.maximum(sims, 0), axis=0)
    low, high = np.percentile(totals, [10, 90])
    projected = float(np.sum(np.maximum(fit.forecast(h), 0)))
    return spent + projected, spent + float(low), spent + float(high)


def methods() -> dict[str, Method]:
    found: dict[str, Method] = {"flat": flat, "weekday": weekday}
    try:
        import statsmodels  # noqa: F401
    except ImportError:
        print("statsmodels not importable: the ets method is skipped")
    else:
        found["ets"] = ets
    return found


def whole_months(first: date, last: date) -> list[tuple[date, date]]:
    months = []
    day = first if first.day == 1 else (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    while True:
        end = day.replace(day=calendar.monthrange(day.year, day.month)[1])
        if end > last:
            return months
        months.append((day, end))
        day = end + timedelta(days=1)


def run(
    seed: int,
    found: dict[str, Method],
    errors: dict[tuple[str, int], list[float]],
    held: dict[str, list[bool]],
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'demo.db'}")
        upgrade(engine)
        t = time.perf_counter()
        result = load_demo(engine, tz=UTC_ZONE, end=END, days=DAYS, seed=seed)
        took = time.perf_counter() - t
        print(f"seed {seed}: {result.records:,} demo records, ${result.total_cost:,.2f}, {took:.1f} s")
        first = END - timedelta(days=DAYS - 1)
        with engine.connect() as conn:
            for start, end in whole_months(first, END):
                actual = float(sum(forecast.daily_series(conn, start=start, end=end).values()))
                line = f"  {start:%Y-%m} actual {actual:>10,.2f}"
                for day in CHECKPOINTS:
                    today = start.replace(day=day)
                    history = forecast.history_start(start=start, today=today)
                    series = forecast.daily_series(conn, start=max(history, first), end=today)
                    line += f" | d{day}"
                    for name, method in found.items():
                        projected, low, high = method(series, start, end, today)
                        errors[name, day].append(abs(projected - actual) / actual * 100)
                        if name != "flat":
                            held[name].append(low <= actual <= high)
                        line += f" {name} {projected:,.0f}"
                print(line)
        engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="7,8,9,10", help="comma-separated demo seeds (default 7,8,9,10)")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    print(f"month-end forecast backtest: demo data, {DAYS} days to {END}, UTC, seeds {seeds}")
    found = methods()
    errors: dict[tuple[str, int], list[float]] = {(n, d): [] for n in found for d in CHECKPOINTS}
    held: dict[str, list[bool]] = {n: [] for n in found if n != "flat"}
    t = time.perf_counter()
    for seed in seeds:
        run(seed, found, errors, held)
    count = len(errors[next(iter(found)), CHECKPOINTS[0]])
    print(f"\nMAPE of the month-end total ({count} months per checkpoint):")
    print(
        f"{'method':<10}" + "".join(f"{'day ' + str(d):>9}" for d in CHECKPOINTS) + f"{'80% band held':>16}"
    )
    for name in found:
        line = f"{name:<10}" + "".join(f"{statistics.fmean(errors[name, d]):>8.1f}%" for d in CHECKPOINTS)
        if name in held:
            line += f"{sum(held[name]):>10}/{len(held[name])}"
        print(line)
    print(f"default: weekday ({forecast.WEEKDAY_METHOD}); {time.perf_counter() - t:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
