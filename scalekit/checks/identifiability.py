"""Poorly identified exponents: too few sizes, a narrow data range, wide or correlated intervals."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..analyses.grid import levels
from ..options import Thresholds
from .base import Context, Finding, error_of, fitted

__all__ = ["check_identifiability"]


def check_identifiability(ctx: Context, o: Thresholds) -> list[Finding]:
    """A law the data do not identify (critical: see :func:`scalekit.laws.result.identification_problems`); too few
    sizes, a narrow data range, intervals wider than the estimate, or strongly correlated parameters."""
    out: list[Finding] = []
    for ma in ctx.metrics.values():
        # the law the report uses (the chosen form), and the additive law the closed-form optima come from
        fits = {id(f): f for f in (ma.law, ma.fit) if f is not None}
        for fit in fits.values():
            if fit.problems:
                out.append(Finding(
                    "identifiability", "critical", ma.name, f"The data do not identify the {fit.form.name} law",
                    f"The {fit.form.name} fit is not a success: {'; '.join(fit.problems)}.",
                    "A law whose parameters sit at a bound, leave their sane range or trade off exactly fits the points "
                    "without being determined by them: its intervals, predictions and optima are not evidence.",
                    "Check the metric's direction and that it improves with N and D; add sizes and data scales that "
                    "vary the term in question, or fit a form with fewer parameters.",
                    {"form": fit.form.name, "problems": list(fit.problems), "params": fit.params}))
    for ma in fitted(ctx):
        f = ma.fit
        assert f is not None  # fitted() yields only metrics with a law
        if ma.law is not None and ma.law.form.name != "two_var":
            continue  # the backtest chose another form: the additive law is expected to fit poorly
        problems: list[str] = []
        ev: dict[str, Any] = {}
        nN, nD = levels(f.x[:, 0]).size, levels(f.x[:, 1]).size
        rngD = float(f.x[:, 1].max() / f.x[:, 1].min())
        ev.update({"distinct_N": nN, "distinct_D": nD, "D_range": rngD})
        if nN < o.min_sizes:
            problems.append(f"only {nN} distinct model sizes")
        if nD < o.min_data_scales:
            problems.append(f"only {nD} distinct data scales")
        if rngD < o.min_data_range:
            problems.append(f"data spans only {rngD:.1f}x")
        for k in ("alpha", "beta", "E"):
            if f.ci and f.ci[k][1] - f.ci[k][0] > abs(f.params[k]):
                problems.append(f"the 95% interval of {k} ({f.ci[k][0]:.3g} to {f.ci[k][1]:.3g}) "
                                f"is wider than the estimate {f.params[k]:.3g}")
        for k in ("alpha", "beta"):
            if f.params[k] < 0.02 or f.params[k] > o.exponent_range:
                problems.append(f"{k} = {f.params[k]:.3g} is at the edge of plausible values")
        # (on linear residuals the floor may be negative: a metric below zero has no bound at zero)
        if f.residual_scale == "log" and f.params["E"] < 1e-3 * float(np.min(error_of(ma.spec, f.y))):
            problems.append(f"E = {f.params['E']:.3g} is at its bound (zero)")
        d = f.draws
        if d is not None and len(d) > 10:
            names = list(f.form.param_names)
            sub = np.log(np.abs(d[:, [names.index("E"), names.index("alpha"), names.index("beta")]]) + 1e-300)
            sub = sub[np.all(np.isfinite(sub), axis=1)]
            with np.errstate(all="ignore"):
                corr = np.nan_to_num(np.corrcoef(sub, rowvar=False))
            ev["correlation_E_alpha_beta"] = corr.tolist()
            for (i, j), lab in (((0, 1), "E and alpha"), ((0, 2), "E and beta"), ((1, 2), "alpha and beta")):
                if abs(corr[i, j]) > o.max_corr:
                    problems.append(f"{lab} are correlated {corr[i, j]:+.3f} across resamples")
        if problems:
            ev["problems"] = problems
            out.append(Finding(
                "identifiability", "warning", ma.name, "Exponents poorly identified",
                "; ".join(problems) + ".",
                "With too few sizes or too narrow a data range, many parameter sets fit equally well and the exponents "
                "(and every optimum derived from them) are not pinned down.",
                "Add model sizes and data scales spanning at least 10x each; quote the intervals, not the point estimates.",
                ev))
    return out
