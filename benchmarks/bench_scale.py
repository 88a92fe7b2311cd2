"""Scale benchmark: large batches through `scalekit fit` and `scalekit report`, each in a fresh process.

Prints wall time, rows/s and peak memory (``ru_maxrss`` of the process and of its children,
the notebook kernels) for:

* 50,000 runs (one row each), 1000 bootstrap resamples: ``scalekit fit`` (target 15 s, 1 GB);
* the same file through ``scalekit report`` (target 60 s);
* 1,000 runs x 1,000 checkpoints (1M rows) fitted on every row, resamples in chunks (at most 2 GB);
* ``scalekit fit`` at 12.5k, 25k and 50k rows: seconds per million (row x resample), which is
  flat when the cost is linear in rows.

    python benchmarks/bench_scale.py [--quick] [--repeats 1]

Targets are read off these figures, never asserted (the machine's load varies: on a shared machine
the CPU seconds, process and kernels together, say more than the wall time).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

LAW = {"E": 1.7, "A": 400.0, "B": 410.0, "alpha": 0.34, "beta": 0.28}


def finals(n_rows: int, seed: int = 0) -> pd.DataFrame:
    """``n_rows`` runs, one row each: 50 model sizes, data sizes spread log-uniformly, 1% noise."""
    rng = np.random.default_rng(seed)
    N = np.geomspace(1e7, 1e9, 50)[rng.integers(0, 50, n_rows)]
    D = np.exp(rng.uniform(np.log(1e9), np.log(1e11), n_rows))
    L = (LAW["E"] + LAW["A"] / N ** LAW["alpha"] + LAW["B"] / D ** LAW["beta"]) * np.exp(0.01 * rng.standard_normal(n_rows))
    return pd.DataFrame({"run": [f"r{i}" for i in range(n_rows)], "params": N, "tokens": D, "loss": L})


def curves(n_runs: int, n_ckpt: int, seed: int = 0) -> pd.DataFrame:
    """``n_runs`` runs with ``n_ckpt`` checkpoints each (loss along the law as D grows)."""
    rng = np.random.default_rng(seed)
    N = np.repeat(np.geomspace(1e7, 1e9, n_runs), n_ckpt)
    Dt = np.repeat(np.exp(rng.uniform(np.log(1e10), np.log(1e11), n_runs)), n_ckpt)
    t = np.tile(np.linspace(0.02, 1.0, n_ckpt), n_runs)
    D = t * Dt
    L = (LAW["E"] + LAW["A"] / N ** LAW["alpha"] + LAW["B"] / D ** LAW["beta"]) * np.exp(0.005 * rng.standard_normal(N.size))
    return pd.DataFrame({"run": np.repeat([f"r{i}" for i in range(n_runs)], n_ckpt), "params": N, "tokens": D,
                         "step": np.tile(np.arange(1, n_ckpt + 1), n_runs), "loss": L})


def measure(argv: list[str]) -> dict[str, float]:
    """Run ``python -m scalekit ARGV`` in a child that reports its own and its children's peak memory."""
    code = ("import resource, sys, time; from scalekit.cli import main; t = time.perf_counter(); rc = main(sys.argv[1:]); "
            "s = time.perf_counter() - t; r = resource.getrusage; "
            "u = r(resource.RUSAGE_SELF); c = r(resource.RUSAGE_CHILDREN); "
            "print('BENCH', rc, s, u.ru_maxrss, c.ru_maxrss, u.ru_utime + u.ru_stime + c.ru_utime + c.ru_stime, file=sys.stderr)")
    p = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True)
    line = [ln for ln in p.stderr.splitlines() if ln.startswith("BENCH")]
    if not line:
        raise SystemExit(f"benchmark run failed:\n{p.stderr[-3000:]}")
    _, rc, secs, self_kb, child_kb, cpu = line[-1].split()
    progress = [ln for ln in p.stderr.splitlines() if ln.startswith("scalekit: bootstrap")]
    return {"rc": int(rc), "seconds": float(secs), "cpu_seconds": float(cpu), "peak_mb": int(self_kb) / 1024, "children_peak_mb": int(child_kb) / 1024,
            "progress_lines": len(progress)}


def median_of(argv: list[str], repeats: int) -> dict[str, float]:
    runs = [measure(argv) for _ in range(repeats)]
    out = dict(runs[0])
    for k in ("seconds", "cpu_seconds", "peak_mb", "children_peak_mb"):
        out[k] = statistics.median(r[k] for r in runs)
    return out


def row(label: str, rows: int, m: dict[str, float], target: str) -> None:
    print(f"{label:<46} {rows:>9,} rows {m['seconds']:>8.1f} s (CPU {m['cpu_seconds']:.1f} s) "
          f"{rows / m['seconds']:>10,.0f} rows/s "
          f"peak {m['peak_mb']:>7.0f} MB (kernels {m['children_peak_mb']:>5.0f} MB)  exit {m['rc']}  {target}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="skip the 1M-row fit and the linearity rows")
    ap.add_argument("--repeats", type=int, default=1, help="runs per figure (median)")
    ap.add_argument("--million-boot", type=int, default=100, help="resamples for the 1M-row fit (default 100)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        big = d / "big50k.csv"
        finals(50_000).to_csv(big, index=False)
        t = time.perf_counter()
        m = median_of(["fit", str(big), "--n-boot", "1000", "--json"], args.repeats)
        row("scalekit fit, 1000 resamples", 50_000, m, "target 15 s, 1024 MB")
        m = median_of(["report", str(big), "--out", str(d / "site"), "--jobs", "1", "--force", "--quiet"], args.repeats)
        row("scalekit report (defaults: 1000 resamples)", 50_000, m, "target 60 s")
        if not args.quick:
            for n in (12_500, 25_000, 50_000):
                f = d / f"lin{n}.csv"
                finals(n, seed=1).to_csv(f, index=False)
                m = median_of(["fit", str(f), "--n-boot", "1000", "--json"], args.repeats)
                print(f"  linearity: {n:>6,} rows x 1000 resamples: {m['seconds']:6.1f} s, "
                      f"{m['seconds'] / (n * 1000) * 1e6:.2f} s per million row-resamples, peak {m['peak_mb']:.0f} MB",
                      flush=True)
            million = d / "million.csv"
            curves(1000, 1000).to_csv(million, index=False)
            m = median_of(["fit", str(million), "--points", "all", "--n-boot", str(args.million_boot), "--json"], 1)
            row(f"scalekit fit --points all, {args.million_boot} resamples", 1_000_000, m,
                f"target at most 2048 MB; {m['progress_lines']} progress line(s) on stderr")
        print(f"(benchmark total {time.perf_counter() - t:.0f} s)")


if __name__ == "__main__":
    main()
