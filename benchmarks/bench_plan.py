"""What to train next: does the plan pin N_opt down for less compute than the habitual ladder extension?

For each truth (the additive law and Kaplan's), each seed:
1. a small ladder (4 sizes, factor 2 apart, x 3 token multipliers 5, 20, 80), 1% noise, fitted;
2. the standard extension: the next two sizes at the same multipliers (6 runs); its expected 95% interval width
   for N_opt at 100x the largest trained compute, by the same delta method the plan uses;
3. the plan: greedy picks until its expected width reaches that of the standard extension; its cost / the
   standard's cost;
4. both sets of runs simulated from the truth (1% noise), the law refitted with 400 resamples each: the actual
   bootstrap interval widths compared, and whether the true N_opt lies inside the plan's final interval.

Prints per truth: the median cost ratio over the seeds, the median ratio of the actual interval widths (plan /
standard; at most 1 means the plan's cheaper runs pinned N_opt down at least as well), and how many of the
plan's final intervals hold the truth.

    python benchmarks/bench_plan.py [--seeds 20]
"""

from __future__ import annotations

import argparse
import statistics

import numpy as np
import pandas as pd

import scalekit
from scalekit.analyses.plan import Decision, plan_runs
from scalekit.laws.evaluate import form_error
from scalekit.laws.forms import get_form

TRUTHS = {
    "two_var": {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28},
    "kaplan": {"N_c": 8.8e13, "D_c": 5.4e13, "alpha_N": 0.076, "alpha_D": 0.095},
}
SIZES = 5e7 * 2.0 ** np.arange(4)
MULT = (5, 20, 80)


def truth_loss(form: str, N: np.ndarray, D: np.ndarray) -> np.ndarray:
    return np.asarray(form_error(get_form(form), TRUTHS[form], N, D), dtype=float)


def true_n_opt(form: str, C: float) -> float:
    logN = 0.5 * np.log(C / 6) + np.linspace(-12, 12, 48001)
    N = np.exp(logN)
    return float(N[np.argmin(truth_loss(form, N, C / (6 * N)))])


def runs(form: str, pairs: list[tuple[float, float]], rng: np.random.Generator, tag: str) -> pd.DataFrame:
    N = np.array([p[0] for p in pairs])
    D = np.array([p[1] for p in pairs])
    L = truth_loss(form, N, D) * np.exp(0.01 * rng.standard_normal(N.size))
    return pd.DataFrame({"run": [f"{tag}{i}" for i in range(N.size)], "params": N, "tokens": D, "loss": L})


def width(fit: scalekit.FitResult, d: Decision) -> tuple[float, float, float]:
    after = plan_runs(fit, d, allowance=1.0)
    lo, hi = after.now_bootstrap or after.now
    return lo, hi, float(np.log(hi / lo))


def one(form: str, seed: int) -> tuple[float, float, bool]:
    rng = np.random.default_rng(seed)
    ladder = runs(form, [(n, m * n) for n in SIZES for m in MULT], rng, "l")
    fit = scalekit.fit_law(ladder, form=form, n_boot=0)
    C = 100 * float((6 * ladder.params * ladder.tokens).max())
    d = Decision("optimum", budget=C)
    std = np.array([(n, m * n) for n in SIZES[-1] * np.array([2.0, 4.0]) for m in MULT])
    std_cost = float((6 * std[:, 0] * std[:, 1]).sum())
    std_plan = plan_runs(fit, d, allowance=std_cost * 1.0001, candidates=std, max_runs=len(std))
    target = np.log(std_plan.runs[-1].hi / std_plan.runs[-1].lo)
    p = plan_runs(fit, d, allowance=1e30, until_width=target, max_runs=60)
    cost = p.runs[-1].cumulative_flops if p.runs else 0.0
    extra = runs(form, [(r.N, r.D) for r in p.runs], rng, "p")
    final = scalekit.fit_law(pd.concat([ladder, extra], ignore_index=True), form=form, n_boot=400, seed=seed)
    lo, hi, w_plan = width(final, d)
    std_runs = runs(form, [tuple(r) for r in std], rng, "s")
    std_fit = scalekit.fit_law(pd.concat([ladder, std_runs], ignore_index=True), form=form, n_boot=400, seed=seed)
    w_std = width(std_fit, d)[2]
    return cost / std_cost, w_plan / w_std, bool(lo <= true_n_opt(form, C) <= hi)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=20)
    args = ap.parse_args()
    for form in TRUTHS:
        res = [one(form, s) for s in range(args.seeds)]
        ratios = [r for r, _, _ in res]
        widths = [w for _, w, _ in res]
        held = sum(h for _, _, h in res)
        print(f"{form:8}: plan cost / standard extension cost, median {statistics.median(ratios):.2f} "
              f"(quartiles {np.quantile(ratios, 0.25):.2f}-{np.quantile(ratios, 0.75):.2f}); actual interval width "
              f"plan / standard, median {statistics.median(widths):.2f}; truth inside the plan's final 95% interval in "
              f"{held} of {args.seeds}")


if __name__ == "__main__":
    main()
