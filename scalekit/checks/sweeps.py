"""Hyperparameter checks: sweeps that were not declared, and what a declared sweep says about the best values."""

from __future__ import annotations

from ..analyses.hparam_bowls import fit_bowl
from ..analyses.hparams_at_scale import hparam_columns
from ..analyses.sweeps import sweep_analysis
from ..data.sweep import run_finals
from ..options import Thresholds
from .base import Context, Finding

__all__ = ["check_hparams"]


def check_hparams(ctx: Context, o: Thresholds) -> list[Finding]:
    """Runs at one (N, D) differing in an undeclared hyperparameter column; a declared sweep whose best value moves with N."""
    b = ctx.batch
    out: list[Finding] = []
    for u in b.undeclared_hparams:
        ex = u["examples"][0]
        out.append(Finding(
            "hparams", "warning", None, f"Runs at one (N, D) differ in {u['column']!r}: a sweep that was not declared",
            f"{u['cells']} (N, D) cell(s) hold several runs that differ in {u['column']!r}, e.g. at N={ex['N']:.3g}, "
            f"D={ex['D']:.3g}: runs {', '.join(ex['runs'][:4])} with {u['column']} = "
            f"{', '.join('–' if v is None else f'{v:g}' if isinstance(v, float) else str(v) for v in ex['values'][:4])}. "
            "Every one of them is fitted as if it were a separate point of the law.",
            "A sweep's worse settings sit above the law and bend its exponents; an inversion they cause reads as overfitting "
            "or a broken eval.",
            f"Declare it: `hparams: [{u['column']}]` in the batch config (or `--set hparams=[{u['column']}]`); the laws then "
            "use the best run per (N, D) and the report shows the sweep's sensitivity.",
            {"column": u["column"], "cells": u["cells"], "examples": u["examples"]}))
    if b.hparams:
        # the sweep analyze() reports, when given: the finding and summary.json then state one interval
        sw = next(iter(ctx.sweeps.values())) if ctx.sweeps else sweep_analysis(b, n_boot=o.n_boot_checks)
        if sw is not None:
            for h, m in sw.moves.items():
                ci = m.get("k_ci")
                if m.get("k") is None or ci is None or not (ci[0] > 0 or ci[1] < 0):
                    continue
                out.append(Finding(
                    "hparams", "info", sw.metric, f"The best {h} moves with model size",
                    f"Across {m['cells']} (N, D) cells the best {h} scales as N^{m['k']:.2f} (95% [{ci[0]:.2f}, {ci[1]:.2f}]); "
                    + ", ".join(f"{v:.3g} at N={n}" for n, v in list(m["at_N"].items())[:6]) + ".",
                    f"A {h} tuned at one size is off at the others: a law fitted to runs sharing one {h} mixes scaling with "
                    "mistuning (the best run per cell is used here).",
                    f"Set {h} per size along this trend when extrapolating; sweep it around the trend at the next size.",
                    {"hparam": h, **m}))
        out += _bracketing(ctx)
    return out


def _bracketing(ctx: Context) -> list[Finding]:
    """A warning per metric when the sweep's grid does not bracket the optimum in some cell (best at the grid's edge,
    or the fitted bowl's vertex outside it): that cell's optimum is a bound, and the laws through it lean."""
    b = ctx.batch
    lr, bs = hparam_columns(b)
    if lr is None or b.sweep is None:
        return []
    fin = run_finals(b.sweep) if "step" in b.sweep else b.sweep
    out: list[Finding] = []
    for name, ma in ctx.metrics.items():
        if ma.spec.direction != "min" or name not in fin:
            continue
        bad = []
        for _, cell in fin[fin[name].notna()].groupby(["N", "D"], sort=True):
            if len(cell) < 4:
                continue
            bowl = fit_bowl(cell, name, lr, bs or "batch_size")
            if not bowl.bracketed:
                bad.append({"N": bowl.N, "D": bowl.D, "best_run": bowl.best_run, "note": bowl.note})
        if not bad:
            continue
        ex = bad[0]
        out.append(Finding(
            "hparams", "warning", name, "The sweep's grid does not bracket the optimum in some cells",
            f"In {len(bad)} (N, D) cell(s) the best {lr}{' or batch size' if bs else ''} lies at the edge of the grid or "
            f"the fitted bowl's minimum lies outside it, e.g. at N={ex['N']:.3g}, D={ex['D']:.3g}: {ex['note']}.",
            "Where the optimum is not bracketed the cell gives a bound, not an estimate: the laws for the optimal "
            "learning rate and batch size lean toward the grid's edge there, and so do their predictions at scale.",
            "Extend the sweep past the edge in those cells (a factor 2 beyond the best value) before trusting the trend.",
            {"cells": bad, "lr_column": lr, "batch_column": bs}))
    return out
