"""The shape of scaling: non-monotonic (inverse or U-shaped) scaling, a broken law, residual trends."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..analyses.optimal import pareto_front
from ..options import Thresholds
from .base import Context, Finding, FloatArray, error_of, fitted
from .runs import inversions, turns_up

__all__ = ["check_broken_law", "check_non_monotonic", "check_residual_structure"]


def check_non_monotonic(ctx: Context, o: Thresholds) -> list[Finding]:
    """More parameters or data making a run worse beyond noise, or curves that turn up late in training."""
    b = ctx.batch
    out: list[Finding] = []
    for name in b.metrics:
        if name not in ctx.sigma:
            continue
        inv = [r for r in inversions(ctx, name, o) if r["larger"] not in ctx.flagged]
        rising: list[dict[str, Any]] = []
        if b.has_checkpoints:
            for run in b.frame["run"].unique():
                if run in ctx.flagged:
                    continue
                r = turns_up(ctx, name, str(run), o)
                if r is not None:
                    rising.append({"run": str(run), "rise_from_best": r})
        data_inv = inversions(ctx, name, o, along="D", skip_flagged=True)  # more data hurting at a fixed size
        if not (inv or rising or data_inv):
            continue
        parts = [f"{r['larger']} (N={r['N_larger']:.3g}) is {r['worse_by']:.1%} worse than the smaller {r['smaller']} "
                 f"at D={r['D']:.3g}" for r in inv[:3]]
        parts += [f"{r['run']} gets {r['rise_from_best']:.1%} worse late in training" for r in rising[:3]]
        parts += [f"{r['larger']} is {r['worse_by']:.1%} worse than {r['smaller']} with more data at N={r['N']:.3g}"
                  for r in data_inv[:3]]
        out.append(Finding(
            "non_monotonic", "warning", name, "Scaling is not monotonic",
            "; ".join(parts) + ".",
            "A power law assumes more parameters, data or compute always help; inverse or U-shaped scaling breaks every "
            "extrapolation made from it.",
            "Look at these runs (overfitting, instability, a broken eval); fit the law only on the monotonic range.",
            {"model_size_inversions": inv, "late_rises": rising, "data_inversions": data_inv, "noise": ctx.sigma[name],
             "runs_plotted": ([r["larger"] for r in inv] + [r["run"] for r in rising]
                              + [r["larger"] for r in data_inv])[:4]}))
    return out


def _bnsl(c: FloatArray, a: float, b: float, c0: float, d1: float, c1: float, f1: float) -> FloatArray:
    """One-break broken power law (Caballero et al. 2022), in log-compute units for stability."""
    with np.errstate(over="ignore", invalid="ignore"):
        out: FloatArray = a + b * np.exp(-c0 * c) * (1 + np.exp((c - d1) / f1)) ** (-c1 * f1)
        return out


def _single(p: FloatArray, xx: FloatArray) -> FloatArray:
    """The single law against log compute (shifted): log(|E| + exp(p1 - p2 x))."""
    out: FloatArray = np.log(np.abs(p[0]) + np.exp(p[1] - p[2] * xx))
    return out


def _single_residuals(p: FloatArray, x: FloatArray, y: FloatArray) -> FloatArray:
    return _single(p, x) - y


def _bnsl_log(p: FloatArray, x: FloatArray) -> FloatArray:
    """log of the broken law at ``x`` for optimiser parameters ``p`` (signs and a floor on the break's sharpness applied)."""
    v = _bnsl(x, abs(p[0]), abs(p[1]), p[2], p[3], p[4], abs(p[5]) + 1e-3)
    out: FloatArray = np.log(np.maximum(v, 1e-300))
    return out


def _bnsl_residuals(p: FloatArray, x: FloatArray, y: FloatArray) -> FloatArray:
    return _bnsl_log(p, x) - y


def check_broken_law(ctx: Context, o: Thresholds) -> list[Finding]:
    """A one-break broken power law (Caballero et al.) predicting held-out frontier points clearly better than one law."""
    from scipy.optimize import least_squares  # heavy: only when the check runs

    b = ctx.batch
    out: list[Finding] = []
    if not b.has_checkpoints:  # a grid of final points has a jagged frontier, not a curve to break
        return []
    for name, spec in b.metrics.items():
        if name not in ctx.sigma:
            continue
        f = b.frame[np.isfinite(b.frame[name]) & ~b.frame["run"].isin(list(ctx.flagged))]
        e = error_of(spec, f[name])
        ok = e > 0
        x, y = np.log(f["C"].to_numpy()[ok]), e[ok]
        idx = pareto_front(x, np.log(y))
        if idx.size < 10:
            continue
        xs, ys = x[idx] - x[idx].min(), np.log(y[idx])
        folds = np.arange(idx.size) % 3
        err_single: list[FloatArray] = []
        err_broken: list[FloatArray] = []
        for k in range(3):
            tr, te = folds != k, folds == k
            x_tr, y_tr = xs[tr], ys[tr]
            ym = float(np.exp(y_tr).min())
            r1 = least_squares(_single_residuals, [0.5 * ym, np.log(ym), 0.1], args=(x_tr, y_tr))
            err_single.append(_single(r1.x, xs[te]) - ys[te])
            best = None
            for d1 in np.quantile(xs, [0.35, 0.65]):
                p0 = [0.5 * ym, ym, 0.05, d1, 0.2, 0.5]
                r = least_squares(_bnsl_residuals, p0, max_nfev=600, args=(x_tr, y_tr))
                if best is None or r.cost < best.cost:
                    best = r
            assert best is not None  # two starts were tried
            err_broken.append(_bnsl_log(best.x, xs[te]) - ys[te])
        rs = float(np.sqrt(np.mean(np.concatenate(err_single) ** 2)))
        rb = float(np.sqrt(np.mean(np.concatenate(err_broken) ** 2)))
        if rb < o.broken_gain * rs and rs > max(o.noise_k * ctx.sigma[name], o.broken_min_error):
            out.append(Finding(
                "broken_law", "warning", name, "A broken power law fits the frontier clearly better",
                f"On held-out frontier points a one-break broken power law errs {rb:.2%} (RMS, log) against {rs:.2%} "
                "for the single law in compute.",
                "A break means the exponent changes with scale; a single law fitted across it is wrong on both sides, "
                "worst where it extrapolates.",
                "Fit the law on the range after the break, or use a broken power law (Caballero et al. 2022) for extrapolation.",
                {"rmse_single": rs, "rmse_broken": rb, "points": int(idx.size), "noise": ctx.sigma[name]}))
    return out


def check_residual_structure(ctx: Context, o: Thresholds) -> list[Finding]:
    """Log residuals that trend with N, D or C (an F test against a quadratic trend)."""
    from scipy.special import fdtrc  # the F survival function, without importing scipy.stats (0.6 s)

    out: list[Finding] = []
    for ma in fitted(ctx):
        f = ma.fit
        assert f is not None  # fitted() yields only metrics with a law
        if ma.law is not None and ma.law.form.variables == ("N", "D"):
            f = ma.law  # judge the law the report is about (the form chosen by backtest)
        keep = ~np.isin(f.groups, list(ctx.flagged))
        r = f.residuals[keep]
        if r.size < 12:
            continue
        trends: dict[str, dict[str, float]] = {}
        cols = {"N": f.x[keep, 0], "D": f.x[keep, 1]}
        cols["C"] = 6.0 * cols["N"] * cols["D"]
        for v, xv in cols.items():
            x = np.log(xv)
            x = (x - x.mean()) / (x.std() or 1)
            X = np.column_stack([np.ones_like(x), x, x ** 2])
            beta, *_ = np.linalg.lstsq(X, r, rcond=None)
            trend = X @ beta
            rss1, rss0 = np.sum((r - trend) ** 2), np.sum((r - r.mean()) ** 2)
            n = r.size
            F = ((rss0 - rss1) / 2) / (rss1 / (n - 3)) if rss1 > 0 else np.inf
            pval = float(fdtrc(2, n - 3, F))
            amp = float(np.max(np.abs(trend - r.mean())))
            if pval < o.residual_p and amp > o.residual_trend:
                trends[v] = {"p_value": pval, "amplitude": amp, "linear": float(beta[1]), "quadratic": float(beta[2])}
        if trends:
            out.append(Finding(
                "residual_structure", "warning", ma.name, "Residuals trend with scale",
                "; ".join(f"log residuals trend with {v} by up to {t['amplitude']:.1%} (p={t['p_value']:.1g})"
                          for v, t in trends.items()) + ".",
                "Residuals that trend with N, D or C mean the functional form is wrong where it matters most: at the ends, "
                "where it extrapolates.",
                "Try another form (a broken law, a different irreducible term), or restrict the fit to the range where "
                "residuals are flat.",
                {"trends": trends, "points": int(r.size), "excluded_as_explained": sorted(ctx.flagged)}))
    return out
