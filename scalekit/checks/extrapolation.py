"""Extrapolation backtest and the envelope's bias toward extreme models."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..analyses.metric import MetricAnalysis
from ..data.batch import in_runs
from ..laws.fit import fit_curve
from ..laws.result import FitResult
from ..options import Thresholds
from .base import Context, Finding, error_of, fitted

__all__ = ["check_extrapolation", "check_extreme_bias", "refit_without"]


def refit_without(ctx: Context, ma: MetricAnalysis, drop: set[str], n_boot: int) -> FitResult | None:
    """The metric's law refitted without the runs in ``drop`` (and those already explained), or None if too few remain."""
    fit = ma.fit
    assert fit is not None
    keep = ~in_runs(fit.groups, drop | set(ctx.flagged))
    if keep.sum() < fit.nfree + 3 or np.unique(fit.x[keep, 0]).size < 3 or np.unique(fit.x[keep, 1]).size < 2:
        return None
    return fit_curve(fit.x[keep], fit.y[keep], form=fit.form, metric=fit.metric, direction=fit.direction, bound=fit.bound,
                     groups=fit.groups[keep], n_boot=n_boot, seed=0, loss=fit.method["loss"],
                     delta=fit.method["delta"] or 1e-3)


def check_extrapolation(ctx: Context, o: Thresholds) -> list[Finding]:
    """Refit without the largest-compute or largest-model runs and predict them: a law that misses them does not extrapolate."""
    b = ctx.batch
    out: list[Finding] = []
    fin = b.finals()
    fin = fin[~fin["run"].isin(list(ctx.flagged))]
    if len(fin) < 8:
        return []
    for ma in fitted(ctx):
        results: dict[str, dict[str, Any]] = {}
        k = max(2, round(o.holdout_fraction * len(fin)))
        by_c = set(fin.sort_values("C")["run"].iloc[-k:].astype(str))
        by_n = set(fin.loc[np.isclose(fin["N"], fin["N"].max(), rtol=0.02), "run"].astype(str))
        for label, held in (("largest compute", by_c), ("largest model", by_n)):
            if len(held) >= len(fin) - 5:
                continue
            refit = refit_without(ctx, ma, held, o.n_boot_checks)
            if refit is None:
                continue
            h = fin[fin["run"].isin(held)]
            pr = refit.predict(h["N"].to_numpy(), h["D"].to_numpy(), interval="prediction", warn=False)
            obs = h[ma.name].to_numpy()
            rel = (pr.value - obs) / obs
            inside = (obs >= pr.lo) & (obs <= pr.hi) if pr.lo is not None else np.ones_like(obs, dtype=bool)
            results[label] = {"runs": list(map(str, h["run"])), "relative_error": rel.tolist(),
                              "mean_abs_error": float(np.mean(np.abs(rel))), "inside_interval": inside.tolist(),
                              "coverage": float(inside.mean())}
        bad = {k_: v for k_, v in results.items()
               if v["mean_abs_error"] > max(o.noise_k * ctx.sigma[ma.name], o.extrapolation_min_error)
               and v["coverage"] < o.extrapolation_min_coverage}
        if not bad:
            continue
        worst = max(v["mean_abs_error"] for v in bad.values())
        out.append(Finding(
            "extrapolation", "critical" if worst > o.extrapolation_critical else "warning", ma.name,
            "The law does not extrapolate to held-out larger runs",
            "; ".join(f"refitted without the {k_} runs ({', '.join(v['runs'][:4])}), it misses them by "
                      f"{v['mean_abs_error']:.1%} on average, "
                      f"{sum(v['inside_interval'])} of {len(v['runs'])} inside the 95% prediction interval"
                      for k_, v in bad.items()) + ".",
            "Scaling laws are used to extrapolate; a law that cannot predict the runs it already has beyond its fitting range "
            "will not predict the next size.",
            "Fit a form that bends (see broken_law), narrow the claim to the range fitted, or add runs between the largest ones.",
            {"backtests": results, "noise": ctx.sigma[ma.name], "excluded_as_explained": sorted(ctx.flagged)}))
    return out


def check_extreme_bias(ctx: Context, o: Thresholds) -> list[Finding]:
    """Runs much smaller or cheaper than the best run and nearly as good: the envelope's bias toward extreme models."""
    b = ctx.batch
    out: list[Finding] = []
    for ma in ctx.metrics.values():
        env = ma.optimal.get("envelope")
        fin = b.finals()
        fin = fin[np.isfinite(fin[ma.name]) & ~fin["run"].isin(list(ctx.flagged))]  # flagged runs mislead both ways
        if env is None or not env.ok or len(fin) < 4:
            continue
        best = b.best_run(ma.name, exclude=ctx.flagged)
        e_best = float(error_of(ma.spec, best["value"]))
        # vectorised over runs (iterrows took 4.7 s at 50,000 runs); the same arithmetic, element by element
        ns, cs = fin["N"].to_numpy(dtype=float), fin["C"].to_numpy(dtype=float)
        n_max, c_max = best["N"] / o.extreme_factor, best["C"] / o.extreme_factor
        e = np.asarray(error_of(ma.spec, fin[ma.name].to_numpy(dtype=float)), dtype=float)
        keep = ((fin["run"] != best["run"]).to_numpy() & (e <= e_best * (1 + o.envelope_tol))
                & ((ns <= n_max) | (cs <= c_max)))
        idx = np.flatnonzero(keep)
        runs, vals = fin["run"].to_numpy()[idx], fin[ma.name].to_numpy(dtype=float)[idx]
        cand: list[dict[str, Any]] = [
            {"run": str(run), "value": float(v), "N": float(n), "C": float(c), "worse_by": float(ei) / e_best - 1,
             "N_ratio": best["N"] / float(n), "C_ratio": best["C"] / float(c)}
            for run, v, n, c, ei in zip(runs, vals, ns[idx], cs[idx], e[idx])]
        if not cand:
            continue
        cand.sort(key=lambda c: c["C"])
        both = [c for c in cand if c["N_ratio"] >= o.extreme_factor and c["C_ratio"] >= o.extreme_factor]
        out.append(Finding(
            "extreme_bias", "warning" if both else "info", ma.name, "Cheaper models nearly as good as the envelope's choice",
            f"The best run {best['run']} (N={best['N']:.3g}, C={best['C']:.3g}) is matched within {o.envelope_tol:.0%} by "
            + "; ".join(f"{c['run']} ({c['N_ratio']:.1f}x smaller, {c['C_ratio']:.1f}x less compute, {c['worse_by']:+.2%})"
                        for c in cand[:5]) + ".",
            "The envelope keeps only the extreme model at each budget, so a law fitted to it recommends sizes that cost more "
            "than a nearly-as-good alternative already trained.",
            "Weigh these runs against the law's recommendation where inference cost or latency matters.",
            {"best": best, "candidates": cand, "tolerance": o.envelope_tol}))
    return out
