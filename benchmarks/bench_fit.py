"""Fit-speed benchmark on the Chinchilla data (Besiroglu et al. 2024's 240 points).

Prints medians of several runs for: the point fit; 1000 and 4000 bootstrap resamples; and,
in the same process, the published recipe (scipy L-BFGS-B from Hoffmann's 4500-point grid),
timed on a random subset of starts and scaled per start, with its best objective.

    python benchmarks/bench_fit.py [--starts 100] [--full]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import huber, logsumexp

import scalekit
from scalekit.laws.engine import hoffmann_grid
from scalekit.laws.forms import TWO_VAR

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "chinchilla_besiroglu" / "svg_extracted_data.csv"


def median_time(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--starts", type=int, default=100, help="grid starts timed for the reference")
    ap.add_argument("--full", action="store_true", help="run the reference from all 4500 starts")
    args = ap.parse_args()
    df = pd.read_csv(DATA)
    df = df[df["loss"] < np.sort(df["loss"].to_numpy())[-5]].reset_index(drop=True)
    batch = scalekit.load_batch(df, metrics=["loss"])
    scalekit.fit_law(batch, n_boot=0, form="two_var")  # warm-up

    t_point, r = median_time(lambda: scalekit.fit_law(batch, n_boot=0, form="two_var"), 15)
    t_b1, _ = median_time(lambda: scalekit.fit_law(batch, n_boot=1000, seed=0, form="two_var"), 5)
    t_b4, r4 = median_time(lambda: scalekit.fit_law(batch, n_boot=4000, seed=0, form="two_var"), 5)

    N = df["Model Size"].to_numpy()
    logN, logD, logL = np.log(N), np.log(df["Training FLOP"].to_numpy() / (6 * N)), np.log(df["loss"].to_numpy())

    def obj(th):
        a, b, e, al, be = th
        return huber(1e-3, logsumexp([a - al * logN, b - be * logD, np.full_like(logN, e)], axis=0) - logL).sum()

    grid = hoffmann_grid(TWO_VAR)
    idx = np.arange(len(grid)) if args.full else np.random.default_rng(0).choice(len(grid), args.starts, replace=False)
    t = time.perf_counter()
    best = np.inf
    for i in idx:
        best = min(best, minimize(obj, grid[i], method="L-BFGS-B").fun)
    per_start = (time.perf_counter() - t) / len(idx)
    ref_time = per_start * len(grid)

    print(f"point fit (n_boot=0), median of 15:            {t_point * 1e3:8.2f} ms   (target <= 30 ms)")
    print(f"fit + 1000 bootstrap resamples, median of 5:   {t_b1:8.3f} s")
    print(f"fit + 4000 bootstrap resamples, median of 5:   {t_b4:8.3f} s    (target <= 2 s)")
    print(f"reference L-BFGS-B: {per_start * 1e3:.1f} ms/start x 4500 starts = {ref_time:.1f} s "
          f"({'all' if args.full else len(idx)} starts timed)")
    print(f"ratio reference / point fit: {ref_time / t_point:,.0f}x")
    print(f"objective: scalekit {r.objective:.10g}, reference best {best:.10g} "
          f"({'matched or beaten' if r.objective <= best * (1 + 1e-9) else 'NOT matched'})")
    print("params: " + ", ".join(f"{k}={v:.5g}" for k, v in r.params.items()))
    print("4000-resample 95% CI: " + ", ".join(f"{k}=[{lo:.4g}, {hi:.4g}]" for k, (lo, hi) in r4.ci.items()))


if __name__ == "__main__":
    main()
