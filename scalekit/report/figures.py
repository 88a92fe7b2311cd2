"""Figures for reports. Imported lazily: matplotlib is slow to import.

Every function returns a matplotlib Figure and draws only what the analysis computed. Report
figures use matplotlib alone: seaborn's import (it loads scipy.stats) costs 1.2 s in every report
kernel, a quarter of a batch's render time; seaborn draws the cross-batch comparison only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import numpy as np
import numpy.typing as npt
from matplotlib.colors import LogNorm, Normalize

from ..analyses.grid import Grid
from ..analyses.metric import MetricAnalysis
from ..analyses.optimal import OptimalLaw, data_scale
from ..analyses.profiles import flops_factor, profile_curve
from ..checks.base import Finding
from ..data.batch import Batch
from ..laws.result import FitResult

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

plt.style.use("seaborn-v0_8-whitegrid" if "seaborn-v0_8-whitegrid" in plt.style.available else "default")

# Plain-text log ticks: mathtext labels and constrained layout triple the time a report spends drawing.
_EXP = mticker.FuncFormatter(lambda v, _: f"{v:.0e}".replace("e+0", "e").replace("e+", "e").replace("e-0", "e-"))
_SIG = mticker.FuncFormatter(lambda v, _: f"{v:.3g}")


def _log(ax: Axes, x: bool = True, y: bool = True) -> None:
    """Log axes with plain tick labels: powers of ten as 1e14, narrow ranges as plain numbers."""
    for on, axis, setter in ((x, ax.xaxis, ax.set_xscale), (y, ax.yaxis, ax.set_yscale)):
        if not on:
            continue
        setter("log")
        lo, hi = (ax.get_xlim() if axis is ax.xaxis else ax.get_ylim())
        wide = hi / max(lo, 1e-300) > 30
        axis.set_major_formatter(_EXP if wide else _SIG)
        axis.set_minor_formatter(mticker.NullFormatter() if wide else _SIG)
        if not wide:
            axis.set_minor_locator(mticker.LogLocator(subs=(2, 5)))


APPROACH_COLORS = {"envelope": "#1f77b4", "isoflop": "#ff7f0e", "parametric": "#2ca02c"}


def _size_norm(N: npt.ArrayLike) -> LogNorm:
    return LogNorm(vmin=float(np.min(N)), vmax=float(np.max(N)) * 1.0001)


def fit_diagnostics(fit: FitResult) -> Figure:
    """Observed against fitted, and log residuals against each variable."""
    nv = len(fit.form.variables)
    fig, axes = plt.subplots(1, 1 + nv, figsize=(4.2 * (1 + nv), 3.6))
    fig.subplots_adjust(wspace=0.32)
    pred = fit.predict(*[fit.x[:, j] for j in range(nv)])
    ax = axes[0]
    ax.scatter(fit.y, pred, s=12, alpha=0.7)
    lo, hi = np.nanmin([fit.y.min(), pred.min()]), np.nanmax([fit.y.max(), pred.max()])
    ax.plot([lo, hi], [lo, hi], "k--", lw=1)
    ax.set(xlabel=f"observed {fit.metric}", ylabel="fitted", title="observed vs fitted")
    for j, v in enumerate(fit.form.variables):
        ax = axes[1 + j]
        ax.scatter(fit.x[:, j], fit.residuals, s=12, alpha=0.7)
        ax.axhline(0, color="k", lw=1)
        ax.set(xlabel=v, ylabel="log residual (fit - obs)", title=f"residuals vs {v}")
        _log(ax, y=False)
    return fig


def law_contour(ma: MetricAnalysis, batch: Batch) -> Figure:
    """L(N, D) as filled contours, the runs on it, the profile curve at the target and its cheapest point."""
    fit = ma.fit
    assert fit is not None  # drawn only for a metric with a fitted law
    f = batch.finals()
    n_lo, n_hi = f["N"].min() / 3, f["N"].max() * 10
    d_lo, d_hi = batch.frame["D"].min() / 3, f["D"].max() * 10
    N, D = np.meshgrid(np.geomspace(n_lo, n_hi, 120), np.geomspace(d_lo, d_hi, 120))
    Z = fit.predict(N, D)
    fig, ax = plt.subplots(figsize=(7.5, 5.6))
    cs = ax.contourf(N, D, Z, levels=18, cmap="viridis_r" if ma.spec.direction == "min" else "viridis")
    fig.colorbar(cs, ax=ax, label=f"predicted {ma.name}")
    ax.contour(N, D, Z, levels=np.asarray(cs.levels)[::3], colors="white", linewidths=0.5, alpha=0.6)
    norm = cs.norm
    assert isinstance(norm, Normalize)  # a filled contour of one variable has a scalar norm
    ax.scatter(f["N"], f["D"], c=f[ma.name], cmap=cs.cmap, norm=norm, edgecolor="k", s=45, zorder=3, label="runs (final)")
    k = flops_factor(batch)
    for C in np.geomspace(f["C"].min(), f["C"].max() * 10, 4):
        ax.plot(N[0], C / (k * N[0]), color="grey", lw=0.8, ls=":", zorder=2)
    t = ma.target
    if t is not None and t.reachable and t.N is not None and t.D is not None:  # a reachable target has its N and D
        Ns = np.geomspace(n_lo, n_hi, 300)
        ax.plot(Ns, profile_curve(fit, t.value, Ns), color="crimson", lw=2.2,
                label=f"profile: {t.improvement:.0%} better ({t.value:.4g})")
        ax.scatter([t.N], [t.D], marker="*", s=260, color="crimson", edgecolor="white", zorder=4,
                   label=f"cheapest: N={t.N:.3g}, D={t.D:.3g}")
    ax.set(xlim=(n_lo, n_hi), ylim=(d_lo, d_hi), xlabel="model size N",
           ylabel=f"data D ({batch.data_unit})", title=f"{ma.name}: fitted law, runs, and the profile at the target")
    _log(ax)
    ax.legend(loc="lower left", fontsize=8, framealpha=0.9)
    return fig


def envelope_figure(ma: MetricAnalysis, batch: Batch) -> Figure:
    """Every run's curve against C (coloured by N) with the envelope; N_opt(C) and D_opt(C) by approach."""
    f = batch.frame[np.isfinite(batch.frame[ma.name])]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.4))
    ax = axes[0]
    norm = _size_norm(f["N"])
    cmap = plt.get_cmap("plasma")
    for _, g in f.sort_values("C").groupby("run", sort=False):
        ax.plot(g["C"], g[ma.name], color=cmap(norm(g["N"].iloc[0])), lw=1.2, alpha=0.8,
                marker="o" if len(g) == 1 else None, ms=4)
    env = ma.optimal.get("envelope")
    if env is not None and env.points is not None and len(env.points):
        p = env.points.sort_values("C")
        ax.plot(p["C"], p[ma.name], "k--", lw=1.5, marker="x", ms=7, label="envelope")
        ax.legend(fontsize=8, loc="upper right")
    cb = fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, label="N")
    cb.ax.yaxis.set_major_formatter(_EXP)
    cb.ax.yaxis.set_minor_formatter(mticker.NullFormatter())
    ax.set(xlabel="compute C", ylabel=ma.name, title="runs against compute")
    _log(ax)
    Cs = np.geomspace(f["C"].min(), f["C"].max() * 10, 50)
    for j, fn in enumerate(("N_opt", "D_opt")):
        ax = axes[1 + j]
        for name, law in ma.optimal.items():
            if not law.ok:
                continue
            ax.plot(Cs, getattr(law, fn)(Cs), color=APPROACH_COLORS[name], lw=2,
                    label=f"{name}: {'a' if j == 0 else 'b'}={law.a if j == 0 else law.b:.3f}")
            if name == "envelope" and law.points is not None:
                y = law.points["N"] if j == 0 else law.points["D"] / _scale(batch, law)
                ax.scatter(law.points["C"], y, color=APPROACH_COLORS[name], s=18)
            if name == "isoflop" and law.extra.get("minima"):
                mins = [m for m in law.extra["minima"] if m["N_opt"] and not m["note"]]
                if mins:
                    ax.scatter([m["C"] for m in mins], [m["N_opt" if j == 0 else "D_opt"] for m in mins],
                               color=APPROACH_COLORS[name], marker="s", s=18)
        label = "N_opt" if j == 0 else (f"{ma.optimal['parametric'].data_label if 'parametric' in ma.optimal else 'D'}_opt")
        ax.set(xlabel="compute C", ylabel=label, title=f"{label}(C) by approach")
        _log(ax)
        ax.legend(fontsize=8, loc="upper left")
    fig.subplots_adjust(wspace=0.35)
    return fig


def _scale(batch: Batch, law: OptimalLaw) -> float:
    return data_scale(batch)[1] if law.data_label == "S" else 1.0


def isoflop_figure(ma: MetricAnalysis) -> Figure | None:
    law = ma.optimal.get("isoflop")
    if law is None or not law.ok or law.points is None or not len(law.points):
        return None
    p = law.points
    fig, ax = plt.subplots(figsize=(7, 4.4))
    budgets = sorted(p["budget_id"].unique())
    colors = plt.get_cmap("viridis")(np.linspace(0.1, 0.9, len(budgets)))
    for c, bid in zip(colors, budgets):
        g = p[p["budget_id"] == bid].sort_values("N")
        if g["N"].nunique() < 3:
            continue
        ax.scatter(g["N"], g["err"], color=c, s=16)
        xs = np.geomspace(g["N"].min(), g["N"].max(), 50)
        if law.extra.get("method") == "akima":  # the curve the minimum was read from (Porian et al.)
            from scipy.interpolate import Akima1DInterpolator

            gg = g.groupby("N", as_index=False)["err"].min()
            ys = np.exp(Akima1DInterpolator(np.log(gg["N"]), np.log(gg["err"]))(np.log(xs)))
        else:
            ys = np.exp(np.polyval(np.polyfit(np.log(g["N"]), np.log(g["err"]), 2), np.log(xs)))
        ax.plot(xs, ys, color=c, lw=1.3, label=f"C={g['budget'].iloc[0]:.2g}")
    ax.set(xlabel="model size N", ylabel=f"{ma.name}" + (" error (bound - value)" if ma.spec.direction == "max" else ""),
           title="IsoFLOP profiles (parabola in log N per budget)")
    _log(ax)
    ax.legend(fontsize=7, ncol=2, loc="upper right")
    return fig


def grid_figure(grid: Grid) -> Figure:
    """Heatmap of relative change against the baseline cell, and one line per data scale."""
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.6))
    rel = grid.relative * 100
    cmap = "RdYlGn_r" if grid.direction == "min" else "RdYlGn"
    lim = float(np.nanmax(np.abs(rel))) or 1.0
    ax = axes[0]
    im = ax.imshow(rel, cmap=cmap, vmin=-lim, vmax=lim, origin="lower", aspect="auto")
    for i in range(rel.shape[0]):
        for j in range(rel.shape[1]):
            if np.isfinite(rel[i, j]):
                ax.text(j, i, f"{rel[i, j]:.1f}", ha="center", va="center", fontsize=9,
                        color="white" if abs(rel[i, j]) > 0.6 * lim else "black")
    ax.set_xticks(range(len(grid.D)), [f"{d:.3g}" for d in grid.D])
    ax.set_yticks(range(len(grid.N)), [f"{n:.3g}" for n in grid.N])
    ax.grid(False)
    fig.colorbar(im, ax=ax, label="% change vs baseline")
    ax.set(xlabel="data D", ylabel="model size N",
           title=f"{grid.metric}: % change vs baseline (N={grid.baseline[0]:.3g}, D={grid.baseline[1]:.3g}); "
                 f"{grid.better} is better")
    ax = axes[1]
    colors = plt.get_cmap("plasma")(np.linspace(0.1, 0.85, len(grid.D)))
    for j, d in enumerate(grid.D):
        m = np.isfinite(rel[:, j])
        ax.plot(grid.N[m], rel[m, j], marker="o", color=colors[j], label=f"D={d:.3g}")
    ax.axhline(0, color="k", lw=0.8)
    ax.set(xlabel="model size N", ylabel="% change vs baseline", title="by data scale")
    _log(ax, y=False)
    ax.legend(fontsize=8, loc="upper left")
    return fig


def checks_figure(finding: Finding, batch: Batch) -> Figure | None:
    """A picture for the findings where one says it faster (curves of the runs involved)."""
    runs = finding.evidence.get("runs_plotted")
    metric = finding.metric
    if not runs or metric is None:
        return None
    f = batch.frame
    fig, ax = plt.subplots(figsize=(7, 4))
    for r in runs:
        g = f[f["run"] == r].sort_values("D")
        ax.plot(g["D"], g[metric], marker="o", ms=3, label=str(r))
        extra = finding.evidence.get("also_plot")
        if extra and extra in g:
            ax.plot(g["D"], g[extra], ls="--", lw=1, label=f"{r} ({extra})")
    ax.set(xlabel="data D seen", ylabel=metric, title=finding.title)
    _log(ax)
    ax.legend(fontsize=7, loc="upper right")
    return fig


def compare_figure(rows: list[dict[str, Any]]) -> Figure:
    """Exponents with 95% intervals, one row per (batch, metric), coloured by batch."""
    import seaborn as sns  # only here: see the module docstring

    palette = dict(zip(sorted({r["batch"] for r in rows}), sns.color_palette("deep", len({r["batch"] for r in rows}))))
    fig, axes = plt.subplots(1, 3, figsize=(14, 0.5 * len(rows) + 2), sharey=True)
    labels = [f"{r['batch']} / {r['metric']}" for r in rows]
    y = np.arange(len(rows))
    for ax, key in zip(axes, ("alpha", "beta", "a")):
        for i, r in enumerate(rows):
            v, ci = r.get(key), r.get(f"{key}_ci")
            if v is None:
                continue
            err = None if not ci else [[v - ci[0]], [ci[1] - v]]
            ax.errorbar([v], [i], xerr=err, fmt="o", capsize=4, color=palette[r["batch"]])
        ax.set(title=key, xlabel=key)
    axes[0].set_yticks(y, labels)
    return fig
