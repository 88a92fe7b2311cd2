"""Bootstrap-speed benchmark of the maps and curve laws: loss-to-loss, two-step and schedule law.

Synthetic batches with known parameters (the shapes of the tests' fixtures); prints the median
time of several fits, point fit and bootstrap, and the fitted parameters (to compare checkouts).

    python benchmarks/bench_maps.py [--repeats 5] [--n-boot 200]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

import scalekit
from scalekit.data.schedule import Schedule
from scalekit.laws.loss_to_loss import fit_loss_to_loss
from scalekit.laws.schedule_law import annealing_areas
from scalekit.laws.two_step import fit_two_step


def loss_pairs(seed: int = 0) -> pd.DataFrame:
    """24 runs x 10 checkpoints: L_B = 0.8 (L_A - 1.7)^1.4 + 1.2, 0.2% noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for N in np.geomspace(1e7, 1e9, 6):
        for Dt in np.geomspace(2e9, 1e11, 4):
            for i, t in enumerate(np.geomspace(0.05, 1.0, 10)):
                la = 1.7 + 400 / N ** 0.34 + 410 / (t * Dt) ** 0.28
                lb = 0.8 * (la - 1.7) ** 1.4 + 1.2
                rows.append({"run": f"N{N:.3g}-D{Dt:.3g}", "step": i + 1, "params": N, "tokens": t * Dt,
                             "a_loss": la * np.exp(0.002 * rng.standard_normal()),
                             "b_loss": lb * np.exp(0.002 * rng.standard_normal())})
    return pd.DataFrame(rows)


def ladder(seed: int = 0) -> pd.DataFrame:
    """16 runs x 16 checkpoints: a two_var law for bpb, a sigmoid accuracy and an exponential error of it."""
    rng = np.random.default_rng(seed)
    rows = []
    for N in np.geomspace(5e7, 6e8, 4):
        for mult in (20, 40, 100, 200):
            for i, fr in enumerate(np.linspace(0.1, 1.0, 16)):
                D = fr * mult * N
                x = (0.7 + 10 / N ** 0.22 + 20 / D ** 0.2) * np.exp(0.004 * rng.standard_normal())
                rows.append({"run": f"{N:.3g}-{mult}", "step": i + 1, "params": N, "tokens": D, "task_bpb": x,
                             "task_acc": -0.7 / (1 + np.exp(-7 * (x - 1.05))) + 0.95 + 0.006 * rng.standard_normal(),
                             "task_err": 0.8 - 2 * np.exp(-2 * x) + 0.006 * rng.standard_normal()})
    return pd.DataFrame(rows)


def schedule_runs(seed: int = 0) -> tuple[pd.DataFrame, dict[str, Schedule]]:
    """Per size, a constant-LR curve and six WSD cooldowns from the law L0 + 25 S1^-0.5 - 2e-4 S2, 0.3% noise."""
    rng = np.random.default_rng(seed)
    rows, sch = [], {}
    for N, L0 in ((1e8, 2.2), (2e8, 2.0)):
        hot = Schedule("constant")
        S1, S2 = annealing_areas(hot.lr(np.arange(20001), 20000))
        for s in range(250, 20001, 250):
            rows.append({"run": f"{N:.0e}/hot", "params": N, "step": s, "tokens": s * 1e6,
                         "loss": (L0 + 25 * S1[s] ** -0.5 - 2e-4 * S2[s]) * np.exp(0.003 * rng.standard_normal())})
        sch[f"{N:.0e}/hot"] = hot
        for start in (2000, 3000, 4000, 6000, 8000, 12000):
            end = int(start * 1.2)
            s_ = Schedule("wsd", decay_start=float(start), total=float(end))
            S1, S2 = annealing_areas(s_.lr(np.arange(end + 1)))
            for st in range(250, end + 1, 250):
                rows.append({"run": f"{N:.0e}/cool{start}", "params": N, "step": st, "tokens": st * 1e6,
                             "loss": (L0 + 25 * S1[st] ** -0.5 - 2e-4 * S2[st]) * np.exp(0.003 * rng.standard_normal())})
            sch[f"{N:.0e}/cool{start}"] = s_
    return pd.DataFrame(rows), sch


def timed(label: str, fn: Callable[[], Any], repeats: int, show: Callable[[Any], str]) -> None:
    fn()  # warm-up (imports)
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    print(f"{label:<44} {statistics.median(times):8.3f} s  (median of {repeats}; min {min(times):.3f})  {show(out)}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--n-boot", type=int, default=200)
    args = ap.parse_args()
    nb, rep = args.n_boot, args.repeats
    pairs = loss_pairs()
    lad = ladder()
    sched, sch = schedule_runs()
    sbatch = scalekit.load_batch(sched)

    def params(d: dict[str, float]) -> str:
        return ", ".join(f"{k}={v:.6g}" for k, v in d.items())

    def ci(c: dict[str, tuple[float, float]] | None) -> str:
        return "" if not c else "ci " + ", ".join(f"{k}=[{a:.4g}, {b:.4g}]" for k, (a, b) in c.items())

    timed("loss-to-loss, point fit", lambda: fit_loss_to_loss(pairs, "a_loss", "b_loss", n_boot=0), rep,
          lambda r: params(r.params))
    timed(f"loss-to-loss, {nb} resamples", lambda: fit_loss_to_loss(pairs, "a_loss", "b_loss", n_boot=nb, seed=1), rep,
          lambda r: ci(r.ci))
    for m, tgt in (("sigmoid", "task_acc"), ("exponential", "task_err")):
        timed(f"two-step {m}, point fit", lambda m=m, tgt=tgt: fit_two_step(lad, "task_bpb", tgt, step2=m, n_boot=0),
              rep, lambda r: params(r.params))
        timed(f"two-step {m}, {nb} resamples",
              lambda m=m, tgt=tgt: fit_two_step(lad, "task_bpb", tgt, step2=m, n_boot=nb, seed=0), rep, lambda r: ci(r.ci))
    timed("schedule law, decay=fit, point fit", lambda: scalekit.fit_schedule_law(sbatch, schedules=sch, n_boot=0), rep,
          lambda r: params(r.laws["1e+08"].params) + f", decay={r.laws['1e+08'].decay}")
    timed(f"schedule law, decay=0.999, {nb} resamples",
          lambda: scalekit.fit_schedule_law(sbatch, schedules=sch, decay=0.999, n_boot=nb, seed=0), rep,
          lambda r: ci(r.laws["1e+08"].ci))


if __name__ == "__main__":
    main()
