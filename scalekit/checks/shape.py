"""The shape of scaling: non-monotonic (inverse or U-shaped) scaling, a broken law, residual trends."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from ..analyses.grid import level_index, levels
from ..analyses.optimal import pareto_front
from ..data.batch import Batch
from ..exceptions import FitError
from ..laws.fit import fit_curve
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
        every = _at_every_data_size(b, inv)
        if every:
            parts.append("larger models are worse at every data size: that points to the models' shape or hyperparameters "
                         "(e.g. a learning rate tuned for the small models), not to overfitting"
                         + (f"; runs at one (N, D) differ in {', '.join(repr(u['column']) for u in b.undeclared_hparams)}"
                            if b.undeclared_hparams else ""))
        parts += [f"{r['run']} gets {r['rise_from_best']:.1%} worse late in training" for r in rising[:3]]
        parts += [f"{r['larger']} is {r['worse_by']:.1%} worse than {r['smaller']} with more data at N={r['N']:.3g}"
                  for r in data_inv[:3]]
        out.append(Finding(
            "non_monotonic", "warning", name, "Scaling is not monotonic",
            "; ".join(parts) + ".",
            "A power law assumes more parameters, data or compute always help; inverse or U-shaped scaling breaks every "
            "extrapolation made from it.",
            ("Check the large models' shape and hyperparameters (tune the learning rate per size, or declare a sweep with "
             "`hparams:`); fit the law only on the monotonic range." if every else
             "Look at these runs (overfitting, instability, a broken eval); fit the law only on the monotonic range."),
            {"model_size_inversions": inv, "every_data_size": every, "late_rises": rising, "data_inversions": data_inv,
             "noise": ctx.sigma[name],
             "runs_plotted": ([r["larger"] for r in inv] + [r["run"] for r in rising]
                              + [r["larger"] for r in data_inv])[:4]}))
    return out


def _at_every_data_size(b: Batch, inv: list[dict[str, Any]]) -> bool:
    """Whether model-size inversions occur at every data scale that has 2 or more sizes."""
    if not inv:
        return False
    f = b.finals()
    lv = levels(f["D"].to_numpy())
    li = level_index(f["D"].to_numpy(), lv)
    multi = [j for j in range(len(lv)) if f["N"][li == j].nunique() >= 2]
    hit = {int(np.argmin(np.abs(np.log(lv) - np.log(r["D"])))) for r in inv}
    return len(multi) >= 2 and set(multi) <= hit


def _heldout_log_error(form: str, C: FloatArray, e: FloatArray, train: npt.NDArray[np.bool_]) -> FloatArray | None:
    """log(predicted / observed) on the held-out points of a fit of ``form`` in compute, or None if it cannot be fitted."""
    try:
        fit = fit_curve(C[train], e[train], form=form, n_boot=0)
    except FitError:
        return None
    out: FloatArray = np.log(fit.predict(C[~train], warn=False) / e[~train])
    return out


def check_broken_law(ctx: Context, o: Thresholds) -> list[Finding]:
    """A one-break broken power law (Caballero et al.) predicting held-out frontier points clearly better than one law.

    Both are forms of the law library (``saturating`` and ``broken`` in compute), fitted by the same engine
    in 3-fold cross-validation over the frontier; the break's position comes from the broken law on all points.
    """
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
        C, y = f["C"].to_numpy()[ok], e[ok]
        idx = pareto_front(np.log(C), np.log(y))
        if idx.size < 10:
            continue
        Cf, yf = C[idx], y[idx]
        folds = np.arange(idx.size) % 3
        err_single: list[FloatArray] = []
        err_broken: list[FloatArray] = []
        for k in range(3):
            es = _heldout_log_error("saturating", Cf, yf, folds != k)
            eb = _heldout_log_error("broken", Cf, yf, folds != k)
            if es is None or eb is None:
                break
            err_single.append(es)
            err_broken.append(eb)
        if len(err_single) < 3:
            continue
        rs = float(np.sqrt(np.mean(np.concatenate(err_single) ** 2)))
        rb = float(np.sqrt(np.mean(np.concatenate(err_broken) ** 2)))
        if rb < o.broken_gain * rs and rs > max(o.noise_k * ctx.sigma[name], o.broken_min_error):
            brk = fit_curve(Cf, yf, form="broken", n_boot=o.n_boot_checks)
            x_ci = brk.ci["x_break"] if brk.ci else None
            where = f" with its break at C = {brk.params['x_break']:.3g}" + (
                f" (95%: {x_ci[0]:.3g} to {x_ci[1]:.3g})" if x_ci else "")
            out.append(Finding(
                "broken_law", "warning", name, "A broken power law fits the frontier clearly better",
                f"On held-out frontier points a one-break broken power law{where} errs {rb:.2%} (RMS, log) against "
                f"{rs:.2%} for the single law in compute.",
                "A break means the exponent changes with scale; a single law fitted across it is wrong on both sides, "
                "worst where it extrapolates.",
                "Fit the law on the range after the break, or use the broken form (form: broken, x: C) for extrapolation.",
                {"rmse_single": rs, "rmse_broken": rb, "points": int(idx.size), "noise": ctx.sigma[name],
                 "break_C": brk.params["x_break"], "break_C_ci": list(x_ci) if x_ci else None,
                 "exponent_before": brk.params["alpha"], "exponent_after": brk.params["alpha"] + brk.params["c1"]}))
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
