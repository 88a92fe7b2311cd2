"""Figures for reports. Imported lazily: matplotlib is slow to import.

Every function returns a matplotlib Figure and draws only what the analysis computed. Report
figures use matplotlib alone: seaborn's import (it loads scipy.stats) costs 1.2 s in every report
kernel, a quarter of a batch's render time; seaborn draws the cross-batch comparison only.
"""

from __future__ import annotations

import functools
import textwrap
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import matplotlib.patheffects as patheffects
import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.colors import LogNorm
from matplotlib.patches import Rectangle

from ..analyses.critical_batch import CriticalBatch
from ..analyses.grid import Grid
from ..analyses.hparams_at_scale import HparamsAtScale, cell_D
from ..analyses.metric import MetricAnalysis
from ..analyses.optimal import OptimalLaw, data_scale
from ..analyses.plan import Plan
from ..analyses.profiles import flops_factor, profile_curve
from ..analyses.sweeps import Sweep
from ..checks.base import Finding
from ..data.batch import Batch
from ..data.sweep import run_finals
from ..laws.result import FitResult
from ..laws.schedule_law import ScheduleLawFit
from .svg import RC, tooltips

FloatArray = npt.NDArray[np.float64]
_P = ParamSpec("_P")
_R = TypeVar("_R")

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

_STYLE = "seaborn-v0_8-whitegrid" if "seaborn-v0_8-whitegrid" in plt.style.available else "default"


def _styled(draw: Callable[_P, _R]) -> Callable[_P, _R]:
    """Draw under the report's style and :data:`~scalekit.report.svg.RC`, leaving the user's global settings as they were.

    Artists read the style when they are made (text reads ``text.parse_math`` then), so a context around
    each figure function is enough; :func:`~scalekit.report.svg.figure_html` sets the draw-time keys again.
    """

    @functools.wraps(draw)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with plt.style.context(_STYLE), plt.rc_context(RC):
            return draw(*args, **kwargs)

    return wrapper


# Plain-text log ticks (unicode, no mathtext: mathtext labels and constrained layout triple the drawing time),
# in the formatter every page uses: sizes as 10M, 1B; compute as 10¹⁶; other numbers at 3 significant figures.
_SI_TICK = mticker.FuncFormatter(lambda v, _: _si_short(v))
_EXP = mticker.FuncFormatter(lambda v, _: _pow10(v))
_SIG = mticker.FuncFormatter(lambda v, _: f"{v:.3g}" if 1e-3 <= abs(v) < 1e5 else _pow10(v))


def _pow10(v: float) -> str:
    if v <= 0:
        return f"{v:g}"
    e = int(np.floor(np.log10(v) + 1e-9))
    m = v / 10 ** e
    sup = str(e).translate(str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"))
    return f"10{sup}" if abs(m - 1) < 1e-6 else f"{m:.2g}×10{sup}"


def _si_short(v: float) -> str:
    for div, suf in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= div * 0.9995:
            return f"{v / div:.3g}{suf}"
    return f"{v:.3g}"


def _log(ax: Axes, x: bool = True, y: bool = True, kind: tuple[str, str] = ("si", "si")) -> None:
    """Log axes with labelled ticks: every decade, and 2 and 5 in between when the range is under 30x.

    Minor ticks only at 2 and 5 (unlabelled on a wide range): matplotlib's default of eight per
    decade made tick objects most of a figure's drawing time.

    ``kind`` per axis: "si" (sizes: 10M, 1B), "pow" (compute: 10¹⁶) or "num" (metric values).
    """
    for on, axis, setter, k in ((x, ax.xaxis, ax.set_xscale, kind[0]), (y, ax.yaxis, ax.set_yscale, kind[1])):
        if not on:
            continue
        setter("log")
        lo, hi = (ax.get_xlim() if axis is ax.xaxis else ax.get_ylim())
        wide = hi / max(lo, 1e-300) > 30
        f = {"si": _SI_TICK, "pow": _EXP, "num": _SIG}[k]
        axis.set_major_locator(mticker.LogLocator(subs=(1.0,)))
        axis.set_major_formatter(f)
        axis.set_minor_locator(mticker.LogLocator(subs=(2.0, 5.0)))
        axis.set_minor_formatter(mticker.NullFormatter() if wide else f)


def run_colors(batch: Batch) -> dict[str, tuple[float, float, float, float]]:
    """One colour per run, the same in every figure: plasma by log N, nudged by the run's data so runs differ."""
    fin = batch.finals()
    logn = np.log(fin["N"].to_numpy(dtype=float))
    span = float(np.ptp(logn)) or 1.0
    pos = 0.05 + 0.8 * (logn - logn.min()) / span
    rank = fin.groupby("N")["D"].rank(pct=True).to_numpy()
    pos = np.clip(pos + 0.06 * (rank - 0.5), 0, 0.92)
    cmap = plt.get_cmap("plasma")
    rgba = cmap(pos).tolist()  # one call for every run: a call per run was 1 s per figure at 50,000 runs
    return {str(r): (c[0], c[1], c[2], c[3]) for r, c in zip(fin["run"], rgba)}


# Above this many markers in one scatter, the scatter is drawn as one image without hover tooltips: at
# 50,000 runs a tooltip per run is 50,000 SVG groups (megabytes, and minutes to draw and write).
MAX_TIPS = 2000
# Above this many runs, the runs' curves are one collection drawn as an image, not a line object each.
MAX_RUN_LINES = 300
# Above this many markers, a scatter draws a random sample of them (seeded: the same figure every time) and the
# figure's text says so: Agg draws every marker of a collection on its own (3 s of a 50,000-run report's figures),
# and 50,000 overlapping dots show no more than 10,000 do.
MAX_POINTS = 10_000


def _drawn(n: int) -> npt.NDArray[np.bool_]:
    """Which of ``n`` markers a scatter draws: all of them, or a seeded random sample of :data:`MAX_POINTS`."""
    keep = np.ones(n, dtype=bool)
    if n > MAX_POINTS:
        keep[:] = False
        keep[np.random.default_rng(0).choice(n, MAX_POINTS, replace=False)] = True
    return keep


def _sampled(n: int) -> str:
    """The figure text's note when a scatter of ``n`` markers draws a sample (see :data:`MAX_POINTS`)."""
    return f" A random sample of {MAX_POINTS:,} of the {n:,} points is drawn." if n > MAX_POINTS else ""


def _tips_or_raster(fig: Figure, sc: Any, n: int, texts: Callable[[], list[str]]) -> None:
    """Tooltips on a scatter of ``n`` markers, or (above :data:`MAX_TIPS`) the scatter rasterized and no tooltips."""
    if n > MAX_TIPS:
        sc.set_rasterized(True)
    else:
        tooltips(fig, sc, texts())


def _tip(batch: Batch, row: Any, metric: str) -> str:
    return (f"run {row['run']}: N {_si_short(row['N'])}, D {_si_short(row['D'])} {batch.data_unit}, "
            f"{metric} {row[metric]:.4g}")


def _legend_below(ax: Axes, ncol: int = 2) -> None:
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=ncol, fontsize=8, frameon=False)


APPROACH_COLORS = {"envelope": "#1f77b4", "isoflop": "#ff7f0e", "parametric": "#2ca02c"}


def _size_norm(N: npt.ArrayLike) -> LogNorm:
    return LogNorm(vmin=float(np.min(N)), vmax=float(np.max(N)) * 1.0001)


@_styled
def fit_diagnostics(fit: FitResult, batch: Batch | None = None) -> Figure:
    """Observed against fitted, and log residuals against each variable (each run in its colour, with a tooltip)."""
    nv = len(fit.form.variables)
    fig, axes = plt.subplots(1, 1 + nv, figsize=(4.2 * (1 + nv), 3.6))
    fig.subplots_adjust(wspace=0.32, bottom=0.18)
    pred = fit.predict(*[fit.x[:, j] for j in range(nv)], warn=False)
    colors = run_colors(batch) if batch is not None else {}
    shown = _drawn(fit.ndata)
    c = [colors.get(str(g), "#1f77b4") for g in fit.groups[shown]]
    dense = fit.ndata > 200  # every checkpoint: one image per panel, and the runs' tooltips live in the other figures
    tips = [] if dense else [f"run {g}: " + ", ".join(f"{v} {_si_short(fit.x[i, j])}" for j, v in enumerate(fit.form.variables))
                             + f", {fit.metric} {fit.y[i]:.4g} (fitted {pred[i]:.4g})" for i, g in enumerate(fit.groups)]

    def points(ax: Axes, x: FloatArray, y: FloatArray) -> None:
        sc = ax.scatter(x[shown], y[shown], s=10 if dense else 14, c=c, alpha=0.85, rasterized=dense)
        if not dense:
            tooltips(fig, sc, tips)

    ax = axes[0]
    points(ax, fit.y, pred)
    lo, hi = np.nanmin([fit.y.min(), pred.min()]), np.nanmax([fit.y.max(), pred.max()])
    ax.plot([lo, hi], [lo, hi], "k--", lw=1)
    ax.set(xlabel=f"observed {fit.metric}", ylabel=f"fitted {fit.metric}", title="observed vs fitted")
    for j, v in enumerate(fit.form.variables):
        ax = axes[1 + j]
        points(ax, fit.x[:, j], fit.residuals)
        ax.axhline(0, color="k", lw=1)
        ax.set(xlabel=v if v != "D" else f"D ({batch.data_unit if batch is not None else 'data'})",
               ylabel=f"{'log ' if fit.residual_scale == 'log' else ''}residual (fit − obs)", title=f"residuals vs {v}")
        _log(ax, y=False, kind=("pow" if v == "C" else "si", "num"))
    r = fit.residuals
    fig.set_label(f"Fit diagnostics for {fit.metric}: {fit.ndata} points, fitted against observed values lie near the "
                  f"diagonal; {fit.residual_scale} residuals range from {r.min():.3g} to {r.max():.3g} "
                  f"(RMSE {float(np.sqrt(np.mean(r ** 2))):.3g}), plotted against " + " and ".join(fit.form.variables) + "."
                  + _sampled(fit.ndata))
    return fig


@_styled
def law_contour(ma: MetricAnalysis, batch: Batch) -> Figure:
    """L(N, D) as filled contours, the runs on it, the profile curve at the target and its cheapest point."""
    fit = ma.nd_law  # the law the targets were computed from
    assert fit is not None  # drawn only for a metric with a fitted law
    f = batch.finals()
    n_lo, n_hi = f["N"].min() / 3, f["N"].max() * 10
    d_lo, d_hi = batch.frame["D"].min() / 3, f["D"].max() * 10
    N, D = np.meshgrid(np.geomspace(n_lo, n_hi, 120), np.geomspace(d_lo, d_hi, 120))
    Z = fit.predict(N, D, warn=False)
    fig, ax = plt.subplots(figsize=(7.5, 6.2))
    fig.subplots_adjust(bottom=0.25)
    cs = ax.contourf(N, D, Z, levels=18, cmap="viridis_r" if ma.spec.direction == "min" else "viridis")
    cs.set_rasterized(True)  # thousands of paths: one image in the SVG
    cb = fig.colorbar(cs, ax=ax, label=f"predicted {ma.name}")
    cb.ax.yaxis.set_major_formatter(_SIG)
    ax.contour(N, D, Z, levels=np.asarray(cs.levels)[::3], colors="white", linewidths=0.5, alpha=0.6)
    # the trained range: beyond this box every number is an extrapolation
    r = batch.ranges()
    ax.add_patch(Rectangle((r["N"][0], r["D"][0]), r["N"][1] - r["N"][0], r["D"][1] - r["D"][0], fill=False,
                               ls="--", lw=1.2, ec="black", zorder=2, label="trained range",
                               path_effects=[patheffects.Stroke(linewidth=3, foreground="white"), patheffects.Normal()]))
    colors = run_colors(batch)
    fs = f[_drawn(len(f))]
    sc = ax.scatter(fs["N"], fs["D"], c=[colors[str(x)] for x in fs["run"]], edgecolor="white", linewidths=0.8, s=45, zorder=3,
                    label="runs (final)")
    _tips_or_raster(fig, sc, len(f), lambda: [_tip(batch, row, ma.name) for _, row in f.iterrows()])
    k = flops_factor(batch)
    for C in np.geomspace(f["C"].min(), f["C"].max() * 10, 4):
        ax.plot(N[0], C / (k * N[0]), color="lightgrey", lw=0.8, ls=":", zorder=2)
    t = ma.target
    if t is not None and t.reachable and t.N is not None and t.D is not None:  # a reachable target has its N and D
        Ns = np.geomspace(n_lo, n_hi, 300)
        ax.plot(Ns, profile_curve(fit, t.value, Ns), color="crimson", lw=2.2,
                label=f"profile: {t.improvement:.0%} better ({t.value:.3g})")
        ax.scatter([t.N], [t.D], marker="*", s=260, color="crimson", edgecolor="white", zorder=4,
                   label=f"cheapest: N {_si_short(t.N)}, D {_si_short(t.D)}")
    ax.set(xlim=(n_lo, n_hi), ylim=(d_lo, d_hi), xlabel="model size N (parameters)",
           ylabel=f"data D ({batch.data_unit})", title=f"{ma.name}: fitted law, runs, and the profile at the target")
    _log(ax)
    _legend_below(ax)
    tgt = (f" The red curve is every (N, D) predicted to reach {t.improvement:.0%} better ({t.value:.3g}); its cheapest "
           f"point is N {_si_short(t.N)}, D {_si_short(t.D)}." if t is not None and t.reachable and t.N and t.D else "")
    fig.set_label(f"Contours of the predicted {ma.name} over model size N ({_si_short(n_lo)} to {_si_short(n_hi)}) and data "
                  f"D ({_si_short(d_lo)} to {_si_short(d_hi)} {batch.data_unit}), with the {len(f)} runs' final points, "
                  f"the trained range as a dashed box and dotted lines of constant compute.{tgt}{_sampled(len(f))}")
    return fig


@_styled
def envelope_figure(ma: MetricAnalysis, batch: Batch) -> Figure:
    """Every run's curve against C (one colour per run, by N) with the envelope; N_opt(C) and D_opt(C) by approach."""
    f = batch.frame[np.isfinite(batch.frame[ma.name])]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.8))
    fig.subplots_adjust(wspace=0.38, bottom=0.27)
    ax = axes[0]
    norm = _size_norm(f["N"])
    cmap = plt.get_cmap("plasma")
    colors = run_colors(batch)
    if f["run"].nunique() <= MAX_RUN_LINES:
        for run, g in f.sort_values("C").groupby("run", sort=False):
            line = ax.plot(g["C"], g[ma.name], color=colors.get(str(run), "grey"), lw=1.2, alpha=0.85)
            line[0].set_rasterized(len(f) > 2000)
    else:  # one collection, one image: a line object per run costs seconds per thousand runs
        from matplotlib.collections import LineCollection

        # each run's rows in order of C, cut where the run changes (a groupby loop took seconds at 50,000 runs)
        s = f.sort_values(["run", "C"], kind="stable")
        run = s["run"].astype(str).to_numpy()
        xy = s[["C", ma.name]].to_numpy(dtype=float)
        cut = np.flatnonzero(run[1:] != run[:-1]) + 1
        lo, hi = np.r_[0, cut], np.r_[cut, len(s)]
        long = hi - lo > 1
        segs = [xy[a:b] for a, b in zip(lo[long], hi[long])]
        cols = [colors.get(run[a], "grey") for a in lo[long]]
        if segs:
            ax.add_collection(LineCollection(segs, colors=cols, linewidths=1.2, alpha=0.85, rasterized=True))
    last = f.loc[f.groupby("run", sort=False)["C"].idxmax()]
    ls = last[_drawn(len(last))]
    sc = ax.scatter(ls["C"], ls[ma.name], c=[colors.get(str(x), "grey") for x in ls["run"]], s=16, zorder=3,
                    edgecolor="k", linewidths=0.4)
    _tips_or_raster(fig, sc, len(last), lambda: [_tip(batch, row, ma.name) + f", C {_pow10(row['C'])} FLOP"
                                                 for _, row in last.iterrows()])
    env = ma.optimal.get("envelope")
    if env is not None and env.points is not None and len(env.points):
        p = env.points.sort_values("C")
        ax.plot(p["C"], p[ma.name], "k--", lw=1.5, marker="x", ms=7, label="envelope")
        _legend_below(ax, 1)
    cb = fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, label="model size N (run colour)")
    cb.ax.yaxis.set_major_formatter(_SI_TICK)
    cb.ax.yaxis.set_minor_formatter(mticker.NullFormatter())
    ax.set(xlabel="compute C (FLOP)", ylabel=ma.name, title="runs against compute")
    _log(ax, kind=("pow", "num"))
    Cs = np.geomspace(f["C"].min(), f["C"].max() * 10, 50)
    k = flops_factor(batch)
    for j in range(2):
        ax = axes[1 + j]
        for name, law in ma.optimal.items():
            if not law.ok:
                continue
            Nc = law.N_opt(Cs)
            ax.plot(Cs, Nc if j == 0 else Cs / (k * Nc), color=APPROACH_COLORS[name], lw=2,
                    label=f"{name}: a = {law.a:.3f}" if j == 0 else f"{name}: b = {1 - (law.a or 0):.3f}")
            if name == "envelope" and law.points is not None:
                y = law.points["N"] if j == 0 else law.points["D"]
                ax.scatter(law.points["C"], y, color=APPROACH_COLORS[name], s=18)
            if name == "isoflop" and law.extra.get("minima"):
                mins = [m for m in law.extra["minima"] if m["N_opt"] and not m["note"]]
                if mins:
                    ax.scatter([m["C"] for m in mins], [m["N_opt"] if j == 0 else m["C"] / (k * m["N_opt"]) for m in mins],
                               color=APPROACH_COLORS[name], marker="s", s=18)
        ax.axvline(float(f["C"].max()), color="grey", lw=0.8, ls="--")
        ax.text(float(f["C"].max()), 0.02, " largest run", transform=ax.get_xaxis_transform(), fontsize=7, color="grey")
        label = "N_opt (parameters)" if j == 0 else f"D_opt = C / ({k:.3g} N_opt), {batch.data_unit}"
        ax.set(xlabel="compute C (FLOP)", ylabel=label, title=("N_opt" if j == 0 else "D_opt") + "(C) by approach")
        _log(ax, kind=("pow", "si"))
        _legend_below(ax, 1)
    ok = [f"{n} (a = {law.a:.3f})" for n, law in ma.optimal.items() if law.ok]
    fig.set_label(f"Left: {ma.name} of {f['run'].nunique()} runs against training compute, one colour per run by model size, "
                  f"with the envelope of the best runs. Middle and right: compute-optimal model size N_opt and data size "
                  f"D_opt against compute by approach: {', '.join(ok) or 'none applies'}; the dashed line marks the largest run."
                  + _sampled(len(last)))
    return fig


def _scale(batch: Batch, law: OptimalLaw) -> float:
    return data_scale(batch)[1] if law.data_label == "S" else 1.0


@_styled
def isoflop_figure(ma: MetricAnalysis) -> Figure | None:
    law = ma.optimal.get("isoflop")
    if law is None or not law.ok or law.points is None or not len(law.points):
        return None
    p = law.points
    fig, ax = plt.subplots(figsize=(7.5, 4.6))
    budgets = sorted(p["budget_id"].unique())
    bvals = p.groupby("budget_id")["budget"].first()
    norm = LogNorm(vmin=float(bvals.min()), vmax=float(bvals.max()) * 1.0001)
    cmap = plt.get_cmap("viridis")
    how = "an Akima curve in log N" if law.extra.get("method") == "akima" else "a parabola in log N"
    drawn = 0
    shown = _drawn(len(p))
    curves = {b: (xs, ys) for b, xs, ys in law.curves}  # the curves the analysis read each minimum from
    for bid in budgets:
        on = (p["budget_id"] == bid).to_numpy()
        g = p[on].sort_values("N")
        budget = float(g["budget"].iloc[0])
        if budget not in curves:  # fewer than 3 sizes: no curve
            continue
        c = cmap(norm(budget))
        gs = p[on & shown].sort_values("N")  # the markers (a sample above MAX_POINTS); the curve reads every point
        sc = ax.scatter(gs["N"], gs["err"], color=c, s=16)
        _tips_or_raster(fig, sc, len(p), lambda gs=gs: [  # type: ignore[misc]  # the cap counts every budget's points
            f"run {r['run']}: N {_si_short(r['N'])}, C {_pow10(r['budget'])} FLOP, error {r['err']:.4g}" for _, r in gs.iterrows()])
        ax.plot(*curves[budget], color=c, lw=1.3)
        drawn += 1
    cb = fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, label="compute budget C (FLOP)")
    cb.ax.yaxis.set_major_formatter(_EXP)
    cb.ax.yaxis.set_minor_formatter(mticker.NullFormatter())
    ylabel = f"{ma.name} error (bound − {ma.name})" if ma.spec.direction == "max" else ma.name
    ax.set(xlabel="model size N (parameters)", ylabel=ylabel, title="IsoFLOP profiles (" + how + " per budget)")
    _log(ax, kind=("si", "num"))
    fig.set_label(f"IsoFLOP profiles of {ma.name}: {drawn} compute budgets from {_pow10(float(bvals.min()))} to "
                  f"{_pow10(float(bvals.max()))} FLOP (colour bar), each {how} whose minimum is that budget's "
                  f"optimal model size." + _sampled(len(p)))
    return fig


@_styled
def grid_figure(grid: Grid) -> Figure:
    """Heatmap of relative change against the baseline cell, and one line per data scale."""
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8))
    fig.subplots_adjust(bottom=0.2)
    rel = grid.relative * 100
    cmap = "RdYlGn_r" if grid.direction == "min" else "RdYlGn"
    lim = float(np.nanmax(np.abs(rel))) or 1.0
    ax = axes[0]
    im = ax.imshow(rel, cmap=cmap, vmin=-lim, vmax=lim, origin="lower", aspect="auto")
    if rel.shape[1] <= 12:  # cell labels only while they fit; many checkpoint data sizes make a dense heatmap
        for i in range(rel.shape[0]):
            for j in range(rel.shape[1]):
                if np.isfinite(rel[i, j]):
                    ax.text(j, i, f"{rel[i, j]:.1f}", ha="center", va="center", fontsize=9,
                            color="white" if abs(rel[i, j]) > 0.6 * lim else "black")
    step = -(-len(grid.D) // 8)  # at most 8 data-size labels: the rest overlap
    ax.set_xticks(range(0, len(grid.D), step), [_si_short(d) for d in grid.D[::step]])
    ax.set_yticks(range(len(grid.N)), [_si_short(n) for n in grid.N])
    ax.grid(False)
    fig.colorbar(im, ax=ax, label="% change vs baseline")
    ax.set(xlabel="data D", ylabel="model size N",
           title=f"{grid.metric}: % change vs N {_si_short(grid.baseline[0])}, D {_si_short(grid.baseline[1])}; "
                 f"{grid.better} is better")
    ax = axes[1]
    colors = plt.get_cmap("plasma")(np.linspace(0.1, 0.85, len(grid.D)))
    for j, d in enumerate(grid.D):
        m = np.isfinite(rel[:, j])
        ax.plot(grid.N[m], rel[m, j], marker="o", color=colors[j], label=f"D {_si_short(d)}")
    ax.axhline(0, color="k", lw=0.8)
    ax.set(xlabel="model size N (parameters)", ylabel="% change vs baseline", title="by data scale")
    _log(ax, y=False)
    _legend_below(ax, min(4, len(grid.D)))
    best = float(np.nanmin(rel) if grid.direction == "min" else np.nanmax(rel))
    fig.set_label(f"Relative change of {grid.metric} against the baseline cell over {len(grid.N)} model sizes and "
                  f"{len(grid.D)} data sizes, as a heatmap and as one line per data size; the best cell is {best:+.1f}% "
                  f"({grid.better} is better).")
    return fig


@_styled
def checks_figure(finding: Finding, batch: Batch) -> Figure | None:
    """A picture for the findings where one says it faster (curves of the runs involved)."""
    runs = finding.evidence.get("runs_plotted")
    metric = finding.metric
    if not runs or metric is None:
        return None
    f = batch.frame
    colors = run_colors(batch)
    fig, ax = plt.subplots(figsize=(7, 4.4))
    fig.subplots_adjust(bottom=0.27)
    for r in runs:
        g = f[f["run"] == r].sort_values("D")
        ax.plot(g["D"], g[metric], marker="o", ms=3, color=colors.get(str(r)), label=str(r))
        extra = finding.evidence.get("also_plot")
        if extra and extra in g:
            ax.plot(g["D"], g[extra], ls="--", lw=1, color=colors.get(str(r)), label=f"{r} ({extra})")
    ax.set(xlabel=f"data D seen ({batch.data_unit})", ylabel=metric, title=finding.title)
    _log(ax, kind=("si", "num"))
    _legend_below(ax, 2)
    fig.set_label(f"{finding.title}: {metric} against data seen for run(s) {', '.join(map(str, runs))}.")
    return fig


@_styled
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
    fig.set_label("Exponents alpha, beta and a with 95% intervals, one row per batch and metric: "
                  + "; ".join(f"{lab}: alpha {r.get('alpha') or float('nan'):.3g}, beta {r.get('beta') or float('nan'):.3g}"
                              for lab, r in zip(labels, rows)) + ".")
    return fig


@_styled
def inference_cost_figure(ma: MetricAnalysis) -> Figure | None:
    """Total (training + inference) FLOPs against N along the target's profile curve, one line per inference demand."""
    curve = ma.cost_curve
    if curve is None:
        return None
    fig, ax = plt.subplots(figsize=(7, 4.4))
    colors = plt.get_cmap("viridis")(np.linspace(0.1, 0.85, len(curve.inference_tokens)))
    for i, (demand, opt) in enumerate(zip(curve.inference_tokens, curve.optima)):
        ax.plot(curve.N, curve.total_flops[i], color=colors[i], lw=1.8, label=f"{demand:.2g} inference tokens")
        ax.scatter([opt.N], [opt.total_flops], color=colors[i], edgecolor="k", zorder=3, s=40)
    ax.set(xlabel="model size N", ylabel="training + inference FLOP",
           title=f"{ma.name}: total cost of reaching {curve.target:.4g} (dots: the cheapest)")
    _log(ax)
    ax.legend(fontsize=8, loc="upper right")
    return fig


@_styled
def sweep_figure(sw: Sweep) -> Figure:
    """Per numeric hyperparameter: the metric against its value, one line per model size (at the largest D of each)."""
    hs = [h for h in sw.hparams if _positive_numbers(sw.sensitivity.loc[sw.sensitivity["hparam"] == h, "value"])]
    fig, axes = plt.subplots(1, max(len(hs), 1), figsize=(5.5 * max(len(hs), 1), 4), squeeze=False)
    s = sw.sensitivity
    norm = _size_norm(s["N"]) if len(s) else None
    cmap = plt.get_cmap("plasma")
    for ax, h in zip(axes[0], hs):
        g = s[s["hparam"] == h]
        for N, gn in g.groupby("N"):
            gd = gn[gn["D"] == gn["D"].max()].sort_values("value")
            ax.plot(gd["value"].astype(float), gd[sw.metric], marker="o", ms=3, color=cmap(norm(N)) if norm else None,
                    label=f"N={N:.3g}")
        ax.set(xlabel=h, ylabel=sw.metric, title=f"{sw.metric} against {h} (largest D per size)")
        _log(ax, y=False)
        ax.legend(fontsize=7)
    return fig


def _positive_numbers(values: Any) -> bool:
    """Whether every value is a positive number (a hyperparameter that can go on a log axis)."""
    try:
        v = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        return False
    return bool(v.size and np.all(np.isfinite(v)) and np.all(v > 0))


@_styled
def schedule_law_figure(law: ScheduleLawFit, batch: Batch, max_sizes: int = 4) -> Figure:
    """Each run's curve (points) and the schedule law through it (lines), one panel per model size."""
    sizes = list(law.laws.values())[:max_sizes]
    fig, axes = plt.subplots(1, len(sizes), figsize=(4.6 * len(sizes), 3.8), squeeze=False)
    f = batch.frame
    for ax, c in zip(axes[0], sizes):
        for i, run in enumerate(c.runs):
            g = f[(f["run"] == run) & np.isfinite(f[law.metric])].sort_values("step")
            color = plt.get_cmap("tab10")(i % 10)
            ax.plot(g["step"], g[law.metric], "o", ms=2.5, color=color, alpha=0.7)
            steps = np.unique(np.geomspace(max(1.0, float(g["step"].min())), float(g["step"].max()), 80).round())
            ax.plot(steps, law.predict(run, steps), "-", color=color, lw=1.2)
        ax.set(xlabel="step", ylabel=law.metric, title=f"N={c.N:.3g}: lambda {c.decay:g}")
        _log(ax, y=False)
    return fig


@_styled
def two_step_figure(ts: Any, ax: Axes | None = None) -> Figure | None:
    """Step 2 of a two-step prediction: the target against the intermediate at every fitted point (one colour per
    run, with a tooltip), the fitted map, and each prediction (the intermediate by the step-1 law, the target by
    the map) with its 95% prediction interval. ``ts`` is a :class:`scalekit.pipeline.two_step.TwoStep`."""
    fit = ts.fit
    if fit is None:
        return None
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 4.4))
    else:
        fig = ax.figure  # type: ignore[assignment]
    runs = np.asarray(fit.groups)
    cmap = plt.get_cmap("plasma")
    names = list(dict.fromkeys(runs.tolist()))
    col = {r: cmap(0.05 + 0.8 * i / max(len(names) - 1, 1)) for i, r in enumerate(names)}
    dense = fit.x.size > 400
    sc = ax.scatter(fit.x, fit.y, s=6 if dense else 18, c=[col[r] for r in runs], alpha=0.5 if dense else 0.9,
                    linewidths=0, rasterized=dense, label="fitted points (one colour per run)")
    if not dense:
        tooltips(fig, sc, [f"run {r}: {fit.intermediate} {x:.4g}, {fit.target} {y:.4g}" for r, x, y in zip(runs, fit.x, fit.y)])
    px = np.array([p["intermediate"] for p in ts.predictions], dtype=float)
    lo_x = float(min(fit.x.min(), *(px if px.size else [fit.x.min()])))
    hi_x = float(max(fit.x.max(), *(px if px.size else [fit.x.max()])))
    grid = np.linspace(lo_x - 0.05 * (hi_x - lo_x), hi_x + 0.05 * (hi_x - lo_x), 200)
    ax.plot(grid, fit.map_value(grid), color="k", lw=1.5, label=f"step 2: {fit.map.formula}")
    for p in ts.predictions:
        lo, hi = p.get("lo"), p.get("hi")
        yerr = None if lo is None or hi is None else [[p["value"] - lo], [hi - p["value"]]]
        where = ("the declared point" if p["where"] == "declared" else f"the optimum at {_pow10(p['C'])} FLOP"
                 if p["where"] == "optimum" and p.get("C") else str(p["where"]))
        ax.errorbar([p["intermediate"]], [p["value"]], yerr=yerr, fmt="D", color="#2ca02c", ms=6, capsize=3,
                    label=f"predicted at {where} (95% interval)")
    ax.set(xlabel=f"{fit.intermediate} (intermediate)", ylabel=fit.target,
           title=textwrap.fill(f"{fit.target} from {fit.intermediate}: the step-2 map and the predictions", 60))
    _log(ax, y=False, kind=("num", "num"))
    _legend_below(ax, ncol=1)
    fig.set_label(f"Two-step prediction of {fit.target}: {fit.x.size} points of {len(names)} runs, {fit.target} against "
                  f"{fit.intermediate}, the fitted {fit.step2} map, and {len(ts.predictions)} prediction(s) with their "
                  "95% prediction intervals.")
    return fig


@_styled
def hparam_bowls_figure(h: HparamsAtScale, batch: Batch, max_panels: int = 4) -> Figure:
    """Loss against learning rate per model size, one panel per data size: each lr's best run over batch sizes
    (points), the cell's fitted bowl at its optimal batch size (line) and its optimum (star)."""
    laws = h.laws
    Ds = sorted({b.D for b in laws.bowls})
    if len(Ds) > max_panels:  # the smallest, the largest and evenly between
        Ds = [Ds[i] for i in np.linspace(0, len(Ds) - 1, max_panels).round().astype(int)]
    ncol = min(len(Ds), 2)
    nrow = -(-len(Ds) // ncol)
    fig, grid_axes = plt.subplots(nrow, ncol, figsize=(5.2 * ncol, 3.6 * nrow), squeeze=False)
    axes = grid_axes.reshape(1, -1)
    for ax in axes[0][len(Ds):]:
        ax.set_visible(False)
    sweep = batch.sweep if batch.sweep is not None else batch.frame
    sweep = run_finals(sweep) if "step" in sweep else sweep  # the bowls are fitted on the runs' final values
    cell_Ds = sweep["D"].map(cell_D) if "D" in sweep and batch.has_data_size else pd.Series(np.nan, index=sweep.index)
    norm = _size_norm([b.N for b in laws.bowls])
    cmap = plt.get_cmap("viridis")
    for ax, D in zip(axes[0], Ds):
        for b in (b for b in laws.bowls if b.D == D):
            color = cmap(norm(b.N) * 0.9)
            cell = sweep[(sweep["N"] == b.N) & ((cell_Ds == b.D) | (cell_Ds.isna() & np.isnan(b.D)))]
            pts = cell.groupby(h.lr_column)[h.metric].min()
            ax.plot(pts.index.astype(float), pts.to_numpy(), "o", ms=3.5, color=color, alpha=0.8)
            grid = np.geomspace(float(pts.index.min()) / 1.5, float(pts.index.max()) * 1.5, 80)
            curve = [_bowl_profile(b, x, cell, h.batch_column) for x in grid]
            lo, hi = float(np.min(pts)), float(np.max(pts))
            keep = np.asarray(curve) <= hi + 0.5 * (hi - lo)
            ax.plot(grid[keep], np.asarray(curve)[keep], "-", color=color, lw=1.3, label=f"N={b.N:.3g}")
            ax.plot([b.lr_opt], [b.loss_opt], "*", ms=11, color=color, mec="black", mew=0.6,
                    alpha=1.0 if b.bracketed else 0.35)
        ax.set(xlabel=h.lr_column, ylabel=h.metric, title=f"D = {D:.3g}")
        _log(ax, y=False)
        ax.legend(fontsize=7, loc="upper center", ncol=2)
    fig.suptitle(f"{h.metric} against {h.lr_column} per model size: points, the best run at each {h.lr_column}; lines, the "
                 "fitted bowl at the best swept batch size; stars, the optimum (faded: not bracketed)", fontsize=9)
    fig.subplots_adjust(hspace=0.45)
    return fig


def _bowl_profile(b: Any, lr: float, cell: Any, batch: str | None) -> float:
    """The bowl's loss at ``lr`` and the best batch size within the cell's swept range (what the points show)."""
    if b.B_opt is None or batch is None:
        return float(b.loss_at(lr))
    c = b.coef
    x = np.log(lr)
    y = -(c[3] + c[5] * x) / (2 * c[4]) if c[4] > 0 else np.log(b.B_opt)
    lo, hi = np.log(float(cell[batch].min())), np.log(float(cell[batch].max()))
    return float(b.loss_at(lr, float(np.exp(np.clip(y, lo, hi)))))


@_styled
def hparam_trend_figure(h: HparamsAtScale, unit: str = "tokens") -> Figure:
    """lr* and B* against D (N when D is fixed), one colour per model size: each cell's bowl optimum (points), the
    bowls' law with its 95% band and the surface's law (dashed), and the answers where the user will train (stars)."""
    laws = h.laws
    two = laws.B is not None
    vary_D = len({b.D for b in laws.bowls}) > 1
    fig, axes = plt.subplots(1, 2 if two else 1, figsize=(11 if two else 5.5, 4.2), squeeze=False)
    Ns = sorted({b.N for b in laws.bowls})
    norm = _size_norm(Ns)
    cmap = plt.get_cmap("viridis")
    xs_all = [b.D if vary_D else b.N for b in laws.bowls] + [a.D if vary_D else a.N for a in h.answers]
    xg = np.geomspace(min(xs_all) / 1.3, max(xs_all) * 1.3, 60)
    panels = [("lr", h.lr_column, laws.lr)] + ([("B", f"batch size ({unit})", laws.B)] if two else [])
    for ax, (which, label, law) in zip(axes[0], panels):
        sizes = Ns if vary_D else [None]
        for N in sizes:
            color = cmap(norm(N) * 0.9) if N is not None else "C0"
            cells = [b for b in laws.bowls if N is None or b.N == N]
            x = [b.D if vary_D else b.N for b in cells]
            y = [b.lr_opt if which == "lr" else b.B_opt for b in cells]
            ax.plot(x, y, "o", color=color, ms=5, label=f"N={N:.3g}" if N is not None else "cells")
            Ds_ = xg if vary_D else np.full_like(xg, np.nan)
            Nn = np.full_like(xg, N) if N is not None else xg
            if law is not None:
                line = [law.predict(n, d) for n, d in zip(Nn, Ds_)]
                ax.plot(xg, line, "-", color=color, lw=1.2)
                if law.draws.size:
                    band = np.array([law.interval(n, d) for n, d in zip(Nn, Ds_)])
                    ax.fill_between(xg, band[:, 0], band[:, 1], color=color, alpha=0.12, lw=0)
            if laws.surface is not None and (which == "lr" or laws.surface.form.vary_B):
                ax.plot(xg, [laws.surface.optimum(n, d, which) for n, d in zip(Nn, Ds_)], "--", color=color, lw=1)
        for a in h.answers:
            est = (a.lr if which == "lr" else a.B).get("bowls")
            if est is None:
                continue
            v, (lo, hi) = est
            xa = a.D if vary_D else a.N
            ax.errorbar([xa], [v], yerr=[[max(v - lo, 0)], [max(hi - v, 0)]] if np.isfinite(lo) else None, fmt="*",
                        ms=11, color="crimson", mec="black", mew=0.5, capsize=3,
                        label="where you will train" if a is h.answers[0] else None)
            if vary_D:  # the lines are per swept N: say at which N each answer stands
                ax.annotate(f"N={_si_short(a.N)}", (xa, v), textcoords="offset points", xytext=(6, -3), fontsize=7,
                            color="crimson")
        ax.set(xlabel="D" if vary_D else "N", ylabel=label,
               title=f"optimal {'learning rate' if which == 'lr' else 'batch size'} lr*" if which == "lr"
               else "optimal batch size B*")
        _log(ax)
        ax.legend(fontsize=7, loc="upper left")
    fig.suptitle("Points: each cell's bowl optimum; solid: the bowls' law with its 95% band; dashed: the loss surface's "
                 "law; stars: the answers with 95% intervals", fontsize=9)
    fig.subplots_adjust(top=0.85, wspace=0.3)
    return fig


@_styled
def critical_batch_figure(crit: CriticalBatch, max_cells: int = 9) -> Figure:
    """Steps to the target loss against batch size per cell (points), McCandlish's S = S_min (1 + B_crit / B)
    fitted (line), and B_crit (dotted)."""
    cells = crit.cells[:max_cells]
    fig, ax = plt.subplots(figsize=(6.5, 4.3))
    norm = _size_norm([c.N for c in cells])
    cmap = plt.get_cmap("viridis")
    for i, c in enumerate(cells):
        color = plt.get_cmap("tab10")(i % 10) if len({c.N for c in cells}) == 1 else cmap(norm(c.N) * 0.9)
        B = np.asarray(c.batch_sizes)
        ax.plot(B, c.steps, "o", ms=3.5, color=color, alpha=0.8)
        g = np.geomspace(B.min() / 1.5, B.max() * 1.5, 60)
        ax.plot(g, c.S_min * (1 + c.B_crit / g), "-", color=color, lw=1.2, label=f"N={c.N:.3g}, D={c.D:.3g}")
        ax.axvline(c.B_crit, color=color, ls=":", lw=0.9)
    ax.set(xlabel="batch size", ylabel="steps to the target loss", title="Critical batch: S = S_min (1 + B_crit / B)")
    _log(ax)
    ax.legend(fontsize=7)
    return fig


@_styled
def plan_figure(plan: Plan, batch: Batch, ax: Axes | None = None) -> Figure:
    """Existing runs (final points) and the proposed ones in (N, D), log axes: the proposed as diamonds numbered in the
    order picked, with dotted lines of constant compute through the largest run and the decision's budget."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(7.5, 5.6))
        fig.subplots_adjust(bottom=0.24)
    else:
        fig = ax.figure  # type: ignore[assignment]
    f = batch.finals()
    fs = f[_drawn(len(f))]
    ax.scatter(fs["N"], fs["D"], s=28, color="#4c72b0", alpha=0.8, linewidths=0, zorder=3, label="runs trained (final)")
    N = np.array([r.N for r in plan.runs])
    D = np.array([r.D for r in plan.runs])
    if N.size:
        ax.scatter(N, D, marker="D", s=70, facecolor="#dd8452", edgecolor="black", linewidths=0.8, zorder=4,
                   label="proposed runs (numbered in order)")
        # runs proposed at one point (or very near) share one label: "1,3"
        labels: dict[tuple[float, float], tuple[tuple[float, float], list[str]]] = {}
        for i, (n, dd) in enumerate(zip(N, D), 1):
            key = (round(float(np.log10(n)), 1), round(float(np.log10(dd)), 1))
            labels.setdefault(key, ((float(n), float(dd)), []))[1].append(str(i))
        for at, names in labels.values():
            ax.annotate(",".join(names), at, xytext=(7, 6), textcoords="offset points", fontsize=9,
                        fontweight="bold", zorder=5,
                        path_effects=[patheffects.Stroke(linewidth=3, foreground="white"), patheffects.Normal()])
    opt = ((plan.estimate, plan.decision.budget / (plan.k * plan.estimate))
           if plan.decision.kind == "optimum" and plan.decision.budget and plan.estimate > 0 else None)
    allN = np.concatenate([f["N"].to_numpy(dtype=float), N, [opt[0]] if opt else []])
    allD = np.concatenate([f["D"].to_numpy(dtype=float), D, [opt[1]] if opt else []])
    n_lo, n_hi = allN.min() / 2, allN.max() * 2
    d_lo, d_hi = allD.min() / 2, allD.max() * 2
    grid = np.geomspace(n_lo, n_hi, 50)
    budgets = [(float(f["C"].max()), "largest run")]
    if plan.decision.kind == "optimum" and plan.decision.budget:
        budgets.append((float(plan.decision.budget), "decision's budget"))
    for C, what in budgets:
        ax.plot(grid, C / (plan.k * grid), color="grey", lw=0.9, ls=":", zorder=2, label=f"C = {_pow10(C)} ({what})")
    if opt is not None:
        ax.scatter([opt[0]], [opt[1]], marker="*", s=220, color="crimson", edgecolor="white", zorder=4,
                   label=f"predicted optimum at the budget (N {_si_short(opt[0])})")
    what = (f"compute-optimal N at C = {_pow10(float(plan.decision.budget))} FLOP"
            if plan.decision.kind == "optimum" and plan.decision.budget else plan.decision.label())
    ax.set(xlim=(n_lo, n_hi), ylim=(d_lo, d_hi), xlabel="model size N (parameters)", ylabel=f"data D ({batch.data_unit})",
           title=textwrap.fill(f"What to train next: {what}", 60))
    _log(ax)
    _legend_below(ax)
    fig.set_label(f"The {len(f)} runs trained (final points) and the {N.size} proposed runs in model size N and data D, "
                  f"numbered in the order the plan picks them; dotted lines are constant compute.{_sampled(len(f))}")
    return fig


@_styled
def variable_slices(fit: FitResult | None, batch: Batch, axes: Sequence[Axes] | None = None,
                    max_slices: int = 5) -> Figure | None:
    """The law along each of its variables: one panel per variable, the runs' final values against it (one colour per
    run, with a tooltip) and the law's curve through the trained range and 2x beyond it, at up to ``max_slices`` of the
    batch's combinations of the other variables (a slice per combination, in the colour of its runs).

    Drawn for batches that declare variables beyond N and D (U, experts E, vocabulary V, ...) or have no data size
    (:func:`scalekit.analyses.variables.shows_variables`); None otherwise. ``axes``: one Axes per variable to draw into.
    """
    from ..analyses.variables import law_columns_of, shows_variables

    if fit is None or not shows_variables(fit, batch):
        return None
    cols = law_columns_of(fit)
    nv = len(cols)
    if axes is None:
        fig, ax_arr = plt.subplots(1, nv, figsize=(4.4 * nv, 5.0), squeeze=False)
        axs = list(ax_arr[0])
        fig.subplots_adjust(wspace=0.3, bottom=0.36)
    else:
        axs = list(axes)
        fig = axs[0].figure
    fin = batch.finals()
    fin = fin[np.isfinite(fin[fit.metric].to_numpy(dtype=float))]
    colors = run_colors(batch)
    cmap = plt.get_cmap("viridis")
    for ax, v in zip(axs, cols):
        others = [c for c in cols if c != v]
        groups = [g for _, g in fin.groupby(others, sort=True)] if others else [fin]
        pick = np.unique(np.linspace(0, len(groups) - 1, min(max_slices, len(groups))).round().astype(int))
        lo, hi = float(fin[v].min()), float(fin[v].max())
        grid = np.geomspace(lo, hi * 2.0, 80)
        sc = ax.scatter(fin[v], fin[fit.metric], s=12, c=[colors.get(str(r), "#888888") for r in fin["run"]], alpha=0.45,
                        linewidths=0, label="runs (final)")
        tooltips(fig, sc, [f"run {r['run']}: " + ", ".join(f"{c} {_si_short(r[c])}" for c in cols)
                           + f", {fit.metric} {r[fit.metric]:.4g}" for _, r in fin.iterrows()])
        for i, gi in enumerate(pick):
            g = groups[int(gi)]
            at = {c: float(g[c].median()) for c in others}
            x = [grid if c == v else np.full(grid.size, at[c]) for c in cols]
            y = fit.predict(*x, warn=False)
            col = cmap(0.1 + 0.75 * i / max(len(pick) - 1, 1))
            label = ", ".join(f"{c} {_si_short(at[c])}" for c in others) or "law"
            ax.plot(grid, y, color=col, lw=1.4, label=label)
            ax.scatter(g[v], g[fit.metric], s=22, color=col, edgecolor="white", linewidths=0.6, zorder=3)
        ax.axvspan(hi, hi * 2.0, color="#dddddd", alpha=0.5, lw=0, label="beyond the trained range")
        ax.set(xlabel=v, ylabel=fit.metric, title=textwrap.fill(f"{fit.metric} along {v}" + (
            f" at the batch's {', '.join(others)}" if others else ""), 40))
        _log(ax, y=False, kind=("pow" if v == "C" else "si", "num"))
        _legend_below(ax, ncol=2)
    fig.set_label(f"The {fit.form.name} law for {fit.metric} along each of its variables ({', '.join(cols)}): the runs' "
                  f"final values and the law's slices at up to {max_slices} of the batch's values of the other variables, "
                  "through the trained range and 2x beyond it.")
    return fig
