"""Parameters the data cannot pin down (95% interval over 10x), and runs far off the law (robust residuals)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..options import Thresholds
from .base import Context, Finding, fitted

__all__ = ["check_outliers", "check_wide_intervals"]


def check_wide_intervals(ctx: Context, o: Thresholds) -> list[Finding]:
    """A positive parameter whose 95% interval spans more than ``param_ci_ratio`` (e.g. B in [1.9e3, 2.8e5]).

    The exponents and E are left to the identifiability check when their interval is already
    wider than the estimate, so one cause is reported once.
    """
    out: list[Finding] = []
    for ma in fitted(ctx):
        f = ma.law or ma.fit  # the law the report is about (the form chosen by backtest)
        assert f is not None  # fitted() yields only metrics with a law
        if not f.ci:
            continue
        wide: dict[str, Any] = {}
        for k, (lo, hi) in f.ci.items():
            if k in ("alpha", "beta", "E") and hi - lo > abs(f.params[k]):
                continue  # the identifiability check reports it
            if lo > 0 and hi / lo > o.param_ci_ratio:
                wide[k] = {"estimate": f.params[k], "ci": [lo, hi], "ratio": hi / lo}
        if not wide:
            continue
        out.append(Finding(
            "identifiability", "warning", ma.name, "Parameters poorly identified (95% interval over "
            f"{o.param_ci_ratio:g}x)",
            "; ".join(f"{k} = {v['estimate']:.3g}, 95% interval [{v['ci'][0]:.3g}, {v['ci'][1]:.3g}] spans {v['ratio']:.3g}x"
                      for k, v in wide.items()) + ".",
            "A parameter the data cannot pin down within an order of magnitude makes every number derived from it "
            "(the optimum's constant, the cost of a target) as uncertain.",
            "Add runs where the term matters (small N for A, small D for B); quote intervals, not point estimates.",
            {"parameters": wide, "threshold": o.param_ci_ratio}))
    return out


def check_outliers(ctx: Context, o: Thresholds) -> list[Finding]:
    """Runs whose mean log residual lies over ``outlier_z`` robust SDs (1.4826 MAD) and ``outlier_min_error`` off the median."""
    out: list[Finding] = []
    for ma in fitted(ctx):
        f = ma.law or ma.fit
        assert f is not None  # fitted() yields only metrics with a law
        keep = ~np.isin(f.groups, list(ctx.flagged))
        runs, inv = np.unique(f.groups[keep], return_inverse=True)
        if runs.size < 6:
            continue
        r = np.bincount(inv, weights=f.residuals[keep]) / np.bincount(inv)
        med = float(np.median(r))
        scale = max(1.4826 * float(np.median(np.abs(r - med))), 1e-12)
        z = (r - med) / scale
        # Far in robust units and material: noise often grows as data shrinks, so a run can be many
        # robust SDs out and still within a fraction of a percent of the law.
        bad = np.flatnonzero((np.abs(z) > o.outlier_z) & (np.abs(np.expm1(r - med)) > o.outlier_min_error))
        if bad.size == 0:
            continue
        order = bad[np.argsort(-np.abs(z[bad]))]
        items = [{"run": str(runs[i]), "log_residual": float(r[i]), "z": float(z[i]), "error_vs_law": float(np.expm1(-r[i]))}
                 for i in order]
        out.append(Finding(
            "outliers", "warning", ma.name, "Runs far off the fitted law",
            f"{len(items)} run(s) lie more than {o.outlier_z:g} robust standard deviations and {o.outlier_min_error:.0%} "
            "from the law: " + ", ".join(f"{it['run']} (error {it['error_vs_law']:+.1%} against the law)"
                                         for it in items[:6]) + ".",
            "One bad run (a bug, a diverged restart, a different recipe) pulls a least-squares-like fit and every "
            "optimum derived from it.",
            "Check these runs' configuration and logs; exclude them in the batch config if they are not comparable.",
            {"runs": items, "median_log_residual": med, "robust_sd": scale, "threshold": o.outlier_z}))
    return out
