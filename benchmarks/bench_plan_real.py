"""What to train next on real ladders: the plan's picks against random picks of the same FLOPs.

For Chinchilla (Besiroglu et al.'s 240 points) and Gemstones (22 models' curves, every 10B tokens to 350B):
the largest-compute 10% of the points are held out; the smallest third of the rest is the ladder trained so
far; the plan picks k points from the remaining pool to pin down the metric at the held-out points' median
(N, D); random picks draw points from the same pool until they spend the same FLOPs. Each set is added to the
ladder, the additive law refitted, and its median absolute relative error on the held-out points compared.

Prints, per dataset and k: how often (of the seeds) the plan's held-out error is below the random picks', and the
median errors (several k, so that one lucky k is not taken for the answer).

    python benchmarks/bench_plan_real.py [--seeds 20] [--k 4 8 12]
"""

from __future__ import annotations

import argparse
import os
import statistics
from pathlib import Path

import numpy as np
import pandas as pd

import scalekit
from scalekit.analyses.plan import Decision, plan_runs

DATA = Path(os.environ.get("SCALEKIT_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")


def chinchilla() -> pd.DataFrame:
    df = pd.read_csv(DATA / "chinchilla_besiroglu" / "svg_extracted_data.csv")
    df = df[df["loss"] < np.sort(df["loss"].to_numpy())[-5]]  # the paper's 5-outlier exclusion
    N = df["Model Size"].to_numpy(dtype=float)
    D = df["Training FLOP"].to_numpy(dtype=float) / (6 * N)
    return pd.DataFrame({"run": [f"c{i}" for i in range(len(df))], "params": N, "tokens": D, "loss": df["loss"].to_numpy()})


def gemstones() -> pd.DataFrame:
    df = pd.read_json(DATA / "gemstones" / "wandb_dfs" / "wandb_df_for_fitting_hot_100b+.jsonl", lines=True)
    # as floats: 6 N D of the largest runs (4e21) overflows int64, which scrambled the split into ladder, pool and held out
    return pd.DataFrame({"run": [f"{r}@{s}" for r, s in zip(df["run_name"], df["step"])],
                         "params": df["params_active_precise"].astype(float), "tokens": df["tokens"].astype(float),
                         "loss": df["final_loss"].astype(float)})


def err(fit: scalekit.FitResult, held: pd.DataFrame) -> float:
    pred = fit.predict(held["params"].to_numpy(), held["tokens"].to_numpy(), warn=False)
    return float(np.median(np.abs(pred / held["loss"].to_numpy() - 1)))


def trial(df: pd.DataFrame, k: int, seed: int) -> tuple[float, float]:
    C = 6 * df["params"] * df["tokens"]
    held = df[C.quantile(0.9) <= C]
    rest = df[C.quantile(0.9) > C]
    Cr = 6 * rest["params"] * rest["tokens"]
    ladder = rest[Cr <= Cr.quantile(1 / 3)]
    pool = rest[Cr > Cr.quantile(1 / 3)].reset_index(drop=True)
    fit = scalekit.fit_law(ladder, n_boot=0)
    target = Decision("value", N=float(held["params"].median()), D=float(held["tokens"].median()))
    cand = pool[["params", "tokens"]].to_numpy(dtype=float)
    p = plan_runs(fit, target, allowance=1e40, candidates=cand, max_runs=k)
    picked = [int(np.flatnonzero((cand[:, 0] == r.N) & (cand[:, 1] == r.D))[0]) for r in p.runs]
    spend = sum(r.flops for r in p.runs)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(pool))
    cost = (6 * pool["params"] * pool["tokens"]).to_numpy()
    # random runs until the same FLOPs: the last one only if it brings the total nearer the plan's (overshooting
    # every time would hand the random picks more compute than the plan)
    rand, total = [], 0.0
    for i in order:
        if abs(total + cost[i] - spend) >= abs(total - spend):
            break
        rand.append(int(i))
        total += cost[i]
    e_plan = err(scalekit.fit_law(pd.concat([ladder, pool.iloc[picked]]), n_boot=0), held)
    e_rand = err(scalekit.fit_law(pd.concat([ladder, pool.iloc[rand]]), n_boot=0), held)
    return e_plan, e_rand


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--k", type=int, nargs="+", default=[4, 8, 12])
    args = ap.parse_args()
    for name, load in (("chinchilla", chinchilla), ("gemstones", gemstones)):
        df = load()
        for k in args.k:
            res = [trial(df, k, s) for s in range(args.seeds)]
            wins = sum(p < r for p, r in res)
            print(f"{name:10} k={k:2}: plan's held-out error below random picks' (same FLOPs) in {wins} of {args.seeds} "
                  f"seeds; median error plan {statistics.median(p for p, _ in res):.2%}, "
                  f"random {statistics.median(r for _, r in res):.2%}")


if __name__ == "__main__":
    main()
