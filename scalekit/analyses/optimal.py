"""Compute-optimal model and data size: three approaches and their comparison.

* Approach 1 (``envelope``): the lower envelope of the metric against compute over all
  checkpoints of all runs (upper envelope for higher-is-better metrics; we work with the
  error), as the lower convex hull in log-log like Gemstones (McLeish et al. 2025); N_opt(C)
  and D_opt(C) (or S_opt(C), in steps) are power laws fitted to the envelope points.
* Approach 2 (``isoflop``): runs grouped by compute budget (or curves interpolated at shared
  budgets); per budget, log loss interpolated over log N with an Akima spline and its interior
  minimum taken (Porian et al. 2024; the default), or a parabola in log N (Hoffmann et al. 2022,
  ``method="parabola"``); the minima give N_opt(C).
* Approach 3 (``parametric``): closed form from L(N, D) = E + A/N^alpha + B/D^beta:
  N_opt = G (C/k)^a with a = beta/(alpha+beta), G = (alpha A / (beta B))^(1/(alpha+beta)).

Intervals come from bootstraps over runs (Approach 1, Approach 2 with parabolas), from seed noise
measured on the batch (Approach 2 with Akima: see :func:`seed_noise`) or from the law's bootstrap
draws (Approach 3).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from .. import display
from ..data.batch import Batch
from ..exceptions import ConfigError
from ..jsonsafe import jsonable
from ..laws.core import run_counts
from ..laws.evaluate import frontier_nd, optimal_N
from ..laws.result import FitResult
from .intervals import percentile_ci
from .profiles import flops_factor

__all__ = ["ISOFLOP_METHODS", "Comparison", "OptimalLaw", "compare", "data_scale", "envelope", "isoflop", "lower_hull",
           "parametric", "pareto_front", "seed_noise"]

FloatArray = npt.NDArray[np.float64]
IndexArray = npt.NDArray[np.intp]


@dataclass(frozen=True)
class OptimalLaw:
    """N_opt(C) = G C^a and D_opt(C) = H C^b from one approach, with 95% intervals.

    ``points`` holds what the law was fitted to (C, N, D, value, run) for plotting; ``curves`` (IsoFLOP only)
    the curve each budget's minimum was read from, ``(budget, N, error)`` on a grid over its sizes, for the figure.
    """

    approach: str
    a: float | None
    a_ci: list[float] | None
    b: float | None
    b_ci: list[float] | None
    G: float | None
    H: float | None
    data_label: str  # "D" or "S" (steps)
    n_points: int
    notes: tuple[str, ...] = ()
    points: pd.DataFrame | None = field(default=None, repr=False)
    extra: dict[str, Any] = field(default_factory=dict)
    curves: tuple[tuple[float, FloatArray, FloatArray], ...] = field(default=(), repr=False)

    @property
    def ok(self) -> bool:
        return self.a is not None

    def N_opt(self, C: npt.ArrayLike) -> FloatArray:
        """N_opt at compute ``C`` (a law that does not apply, ``not ok``, has none: ValueError)."""
        if self.G is None or self.a is None:
            raise ValueError(f"the {self.approach} approach gives no N_opt(C) law for this batch")
        n_opt: FloatArray = self.G * np.power(np.asarray(C, dtype=float), self.a)
        return n_opt

    def D_opt(self, C: npt.ArrayLike) -> FloatArray:
        """D_opt (or S_opt, in steps) at compute ``C`` (ValueError when the law does not apply)."""
        if self.H is None or self.b is None:
            raise ValueError(f"the {self.approach} approach gives no D_opt(C) law for this batch")
        d_opt: FloatArray = self.H * np.power(np.asarray(C, dtype=float), self.b)
        return d_opt

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = jsonable({
            "a": self.a, "a_ci": self.a_ci, "b": self.b, "b_ci": self.b_ci, "G": self.G, "H": self.H,
            "data": self.data_label, "n_points": self.n_points, "notes": list(self.notes), **self.extra,
        })
        return out

    def _repr_html_(self) -> str:
        return display.html(self)


def _loglinear(x: FloatArray, y: FloatArray) -> tuple[float, float]:
    """Slope and intercept of log y on log x (ordinary least squares, as the published recipes)."""
    A = np.column_stack([np.log(x), np.ones_like(x)])
    s, c = np.linalg.lstsq(A, np.log(y), rcond=None)[0]
    return float(s), float(c)


def _error(batch: Batch, metric: str) -> pd.DataFrame:
    """Rows with a finite metric, plus ``err`` (lower is better, positive)."""
    spec = batch.metric(metric)
    f = batch.frame[np.isfinite(batch.frame[spec.name])].copy()
    f["err"] = spec.to_error(f[spec.name].to_numpy())
    return f[f["err"] > 0]


def data_scale(batch: Batch) -> tuple[str, float]:
    """Label and divisor for the data axis: steps when the batch counts steps with a fixed batch size."""
    if "batch_size" in batch.columns and "step" in batch.data_unit:
        bs = batch.frame["D"] / batch.frame["step"].where(batch.frame["step"] > 0)
        bs = bs[np.isfinite(bs)]
        if len(bs) and np.allclose(bs, bs.iloc[0]):
            return "S", float(bs.iloc[0])
    return "D", 1.0


def pareto_front(x: FloatArray, y: FloatArray, order: IndexArray | None = None) -> IndexArray:
    """Indices of points that beat every point of lower x (the running minimum), left to right.

    ``order``, when given, is the points to consider sorted by x then y (``np.lexsort((y, x))``, or a
    subset of it: a bootstrap resample's points, without sorting each resample again).
    """
    if order is None:
        order = np.lexsort((y, x))
    ys = y[order]
    prev = np.minimum.accumulate(np.r_[np.inf, ys[:-1]])
    return order[ys < prev]


def lower_hull(x: FloatArray, y: FloatArray, order: IndexArray | None = None) -> IndexArray:
    """Indices of the lower convex hull of (x, y), left to right, with y strictly decreasing (``order``: as for
    :func:`pareto_front`)."""
    front = pareto_front(x, y, order)  # hull vertices with falling y all lie on the Pareto front
    hull: list[int] = []
    for i in front:
        while len(hull) >= 2:
            i1, i2 = hull[-2], hull[-1]
            if (x[i2] - x[i1]) * (y[i] - y[i1]) - (y[i2] - y[i1]) * (x[i] - x[i1]) <= 0:
                hull.pop()
            else:
                break
        hull.append(int(i))
    return np.asarray(hull, dtype=int)


def envelope(batch: Batch, metric: str | None = None, *, method: str = "hull", n_boot: int = 200,
             seed: int = 0, trim_edges: bool = True, rows: str = "all", why: str | None = None) -> OptimalLaw:
    """Approach 1 from every checkpoint (or final points only, when that is all there is).

    ``rows="final"`` uses each run's endpoint only: when every run's schedule decays to its own end,
    intermediate checkpoints are not annealed and sit above what that data size reaches; ``why`` is
    the note saying so.
    """
    if method not in ("hull", "pareto"):
        raise ConfigError(f"option 'method': got {method!r}; allowed: 'hull' or 'pareto'", key="method")
    if rows not in ("all", "final"):
        raise ConfigError(f"option 'rows': got {rows!r}; allowed: 'all' or 'final'", key="rows")
    f = _error(batch, metric or batch.metric().name)
    if rows == "final" and batch.has_checkpoints:
        f = f.loc[f.index.isin(batch.finals().index)]
    label, scale = data_scale(batch)
    pick = lower_hull if method == "hull" else pareto_front
    x, y = np.log(f["C"].to_numpy()), np.log(f["err"].to_numpy())
    idx = pick(x, y)
    pts = f.iloc[idx]
    notes: list[str] = [why] if why and rows == "final" else []
    if pts["N"].nunique() < 2 or len(pts) < 3:
        return OptimalLaw("envelope", None, None, None, None, None, None, label, len(pts),
                          (*notes, "the envelope has fewer than 3 points or a single model size: no N_opt(C) law"), pts)
    nmin, nmax = f["N"].min(), f["N"].max()

    def trim(sel: IndexArray) -> IndexArray:
        # Where the envelope sits on the smallest or largest size trained, the true optimum may lie
        # beyond it: those points say only "at least" or "at most", so they stay out of the fit.
        if not trim_edges:
            return sel
        inner = sel[(N_all[sel] > nmin) & (N_all[sel] < nmax)]
        return inner if inner.size >= 3 and np.unique(N_all[inner]).size >= 2 else sel

    C_all, N_all, D_all = f["C"].to_numpy(), f["N"].to_numpy(), f["D"].to_numpy() / scale
    used = trim(idx)
    if used.size < idx.size:
        notes.append(f"{idx.size - used.size} envelope point(s) at the smallest or largest size trained left out of the fit")
    a, ca = _loglinear(C_all[used], N_all[used])
    b, cb = _loglinear(C_all[used], D_all[used])
    # Runs as integer codes: a resample is a boolean per run, gathered per row in O(rows)
    # (np.isin on string ids sorted strings every resample: 16 s per resample at 50k rows).
    uniq, codes = np.unique(f["run"].to_numpy(), return_inverse=True)
    rng = np.random.default_rng(seed)
    A_s: list[float] = []
    B_s: list[float] = []
    # every point sorted once; a resample's points in that order are its own sorted order (lexsort is stable)
    order = np.lexsort((y, x))
    for _ in range(n_boot):
        chosen = run_counts(rng, uniq.size, 1)[0] > 0
        sel = trim(pick(x, y, order[chosen[codes][order]]))
        if np.unique(N_all[sel]).size < 2 or sel.size < 3:
            continue
        A_s.append(_loglinear(C_all[sel], N_all[sel])[0])
        B_s.append(_loglinear(C_all[sel], D_all[sel])[0])
    if not batch.has_checkpoints:
        notes.append("final points only: the envelope is over runs, not curves")
    return OptimalLaw("envelope", a, percentile_ci(A_s), b, percentile_ci(B_s), float(np.exp(ca)), float(np.exp(cb)), label,
                      len(pts), tuple(notes), pts.assign(value=pts[batch.metric(metric).name]),
                      {"method": method, "points_fitted": int(used.size), "rows": rows,
                       "runs_on_envelope": sorted(map(str, pts["run"].unique())), "n_boot": n_boot})


def _isoflop_points(f: pd.DataFrame, has_ckpt: bool, tol: float, n_budgets: int) -> pd.DataFrame:
    if f.empty:  # no positive error to model: no budget, and isoflop says so
        return f.assign(budget_id=[], budget=[])
    if not has_ckpt:
        logc = np.log(f["C"].to_numpy())
        order = np.argsort(logc)
        groups = np.zeros(len(f), dtype=int)
        g, start = 0, logc[order[0]]
        for i in order:
            if logc[i] - start > np.log1p(tol):
                g, start = g + 1, logc[i]
            groups[i] = g
        out = f.assign(budget_id=groups)
        out["budget"] = out.groupby("budget_id")["C"].transform(lambda c: float(np.exp(np.log(c).mean())))
        return out
    # Curves: read every run at shared budgets (log-log interpolation within its range), as Porian et al. do.
    lo, hi = np.log(f["C"].min()), np.log(f["C"].max())
    budgets = np.exp(np.linspace(lo, hi, n_budgets + 2)[1:-1])
    rows: list[dict[str, Any]] = []
    for run, g in f.sort_values("C").groupby("run", sort=False):
        c = np.log(g["C"].to_numpy())
        e = np.log(g["err"].to_numpy())
        for j, B in enumerate(budgets):
            lb = np.log(B)
            if c[0] <= lb <= c[-1] and len(c) >= 2:
                rows.append({"run": run, "N": float(g["N"].iloc[0]), "budget": B, "budget_id": j,
                             "err": float(np.exp(np.interp(lb, c, e))), "C": B})
    return pd.DataFrame(rows, columns=["run", "N", "budget", "budget_id", "err", "C"])  # columns even when no budget is shared


def _parabola_minima(pts: pd.DataFrame, weights: FloatArray | None = None,
                     min_sizes: int = 3) -> list[tuple[float, float | None, str]]:
    """Per budget: (C, N at the parabola's minimum or None, why it is not interior or "")."""
    res: list[tuple[float, float | None, str]] = []
    logn_all = np.log(pts["N"].to_numpy())
    loge_all = np.log(pts["err"].to_numpy())
    w_all = np.ones(len(pts)) if weights is None else weights
    for idx in pts.groupby("budget_id").indices.values():
        w = w_all[idx]
        keep = w > 0
        n, e, w = logn_all[idx][keep], loge_all[idx][keep], w[keep]
        if np.unique(n).size < min_sizes:
            continue
        c2, c1, _ = np.polyfit(n, e, 2, w=np.sqrt(w))
        B = float(pts["budget"].iat[idx[0]])
        if c2 <= 0:
            res.append((B, None, "no minimum (curvature <= 0)"))
            continue
        xm = -c1 / (2 * c2)
        if xm < n.min() or xm > n.max():
            res.append((B, float(np.exp(xm)), "minimum outside the sizes trained"))
        else:
            res.append((B, float(np.exp(xm)), ""))
    return res


ISOFLOP_METHODS = ("akima", "parabola")


def isoflop(batch: Batch, metric: str | None = None, *, method: str = "akima", tol: float = 0.1, n_budgets: int = 8,
            n_boot: int = 200, seed: int = 0, noise: float | None = None) -> OptimalLaw:
    """Approach 2: N_opt(C) from the minimum of each IsoFLOP curve, and N_opt = G C^a fitted through them.

    ``method="akima"`` (the default, what reports use): Porian et al. (2024), Akima interpolation of log
    loss over log N per budget, interior minima, intervals from seed noise (``noise``, relative; None:
    measured on the batch by :func:`seed_noise`). ``method="parabola"``: Hoffmann et al. (2022), a
    parabola in log N per budget, intervals from a bootstrap over runs.
    """
    if method not in ISOFLOP_METHODS:
        raise ConfigError(f"unknown IsoFLOP method {method!r}; expected one of {list(ISOFLOP_METHODS)}", key="method")
    f = _error(batch, metric or batch.metric().name)
    label, scale = data_scale(batch)
    k = flops_factor(batch)
    pts = _isoflop_points(f, batch.has_checkpoints, tol, n_budgets)
    pts["design"] = pts["run"].map(batch.frame.groupby("run")["D"].max()).to_numpy(dtype=float)
    if method == "parabola":
        law = _isoflop_parabolas(pts, k, label, scale, n_boot, seed, bool(batch.has_checkpoints))
    else:
        law = _isoflop_akima(pts, k, label, scale, n_boot, seed, noise, bool(batch.has_checkpoints))
    return replace(law, curves=isoflop_curves(law.points, method)) if law.ok and law.points is not None else law


def isoflop_curves(pts: pd.DataFrame, method: str) -> tuple[tuple[float, FloatArray, FloatArray], ...]:
    """Per budget with 3 or more sizes, the curve its minimum is read from on 50 sizes across them: the Akima
    interpolant of log error over log N (of the best point per size), or the parabola in log N."""
    from scipy.interpolate import Akima1DInterpolator

    out = []
    for bid in sorted(pts["budget_id"].unique()):
        g = pts[pts["budget_id"] == bid].sort_values("N")
        if g["N"].nunique() < 3:
            continue
        xs = np.geomspace(g["N"].min(), g["N"].max(), 50)
        if method == "akima":
            gg = g.groupby("N", as_index=False)["err"].min()
            ys = np.exp(Akima1DInterpolator(np.log(gg["N"]), np.log(gg["err"]))(np.log(xs)))
        else:
            ys = np.exp(np.polyval(np.polyfit(np.log(g["N"]), np.log(g["err"]), 2), np.log(xs)))
        out.append((float(g["budget"].iloc[0]), xs, np.asarray(ys, dtype=float)))
    return tuple(out)


def _isoflop_parabolas(pts: pd.DataFrame, k: float, label: str, scale: float, n_boot: int, seed: int,
                       interpolated: bool) -> OptimalLaw:
    """Approach 2 with a parabola in log N per budget; intervals from a bootstrap over runs."""
    minima = _parabola_minima(pts) if len(pts) else []
    interior = [(B, n) for B, n, why in minima if not why]
    notes = [f"budget {B:.3g}: {why}" for B, n, why in minima if why]
    if len(interior) < 3:
        msg = (f"only {len(interior)} budget(s) with an interior optimum (3 needed)" if minima
               else "no compute budget is shared by 3 or more model sizes")
        return OptimalLaw("isoflop", None, None, None, None, None, None, label, len(interior), (msg, *notes), pts,
                          {"method": "parabola", "budgets": len(minima)})
    Cs = np.array([B for B, _ in interior])
    Ns = np.array([n for _, n in interior])
    Ds = Cs / (k * Ns) / scale
    a, ca = _loglinear(Cs, Ns)
    b, cb = _loglinear(Cs, Ds)
    rng = np.random.default_rng(seed)
    runs = pts["run"].to_numpy()
    uniq = np.unique(runs)
    A_s: list[float] = []
    B_s: list[float] = []
    inv = np.unique(runs, return_inverse=True)[1]
    for _ in range(n_boot):
        w = run_counts(rng, uniq.size, 1)[0][inv]
        mins = [(B, n) for B, n, why in _parabola_minima(pts, w) if not why]
        if len(mins) < 3:
            continue
        c_, n_ = np.array([m[0] for m in mins]), np.array([m[1] for m in mins])
        A_s.append(_loglinear(c_, n_)[0])
        B_s.append(_loglinear(c_, c_ / (k * n_) / scale)[0])
    minima_tab = [{"C": B, "N_opt": n, "D_opt": None if n is None else B / (k * n) / scale, "note": why}
                  for B, n, why in minima]
    return OptimalLaw("isoflop", a, percentile_ci(A_s), b, percentile_ci(B_s), float(np.exp(ca)), float(np.exp(cb)), label,
                      len(interior), tuple(notes), pts, {"method": "parabola", "minima": minima_tab, "interpolated": interpolated})


# --- Approach 2 as Porian et al. (2024) do it --------------------------------------------------------------
# Per budget, log loss is interpolated over log N with an Akima spline on a geometric grid of (sizes - 1) x 25
# points; the budget counts only if the minimum is interior to the sizes trained. Uncertainty: every log loss
# gets seed noise (normal, the batch's own: seed_noise) and the minimum is found again, n_boot times; a budget's
# N* is the minimum of the data as measured (Porian et al. take the median of the noisy minima: the same with
# their small noise, but it drifts on an asymmetric curve as the noise grows, and varies with the draws), its
# spread the standard deviation of the noisy log N* (floored at a third of a grid step, scaled up by the share
# of noisy minima that fell on an edge). The exponent a is the least-squares
# slope of log N* on log C weighted by 1 / spread^2; its 95% interval is the 2.5%-97.5% range of the same
# weighted fit on each noisy draw.
_GRID_PER_GAP = 25
_MIN_STD_FACTOR = 0.33
_MIN_REPEATS = 3  # repeated (size, budget) cells needed to measure seed noise directly


def _sizes(g: pd.DataFrame) -> pd.DataFrame:
    """One point per size on an IsoFLOP curve: the best, as Porian et al. keep."""
    return g.groupby("N", as_index=False)["err"].min().sort_values("N")


def seed_noise(pts: pd.DataFrame) -> tuple[float | None, str]:
    """The relative seed noise of a batch's IsoFLOP points (standard deviation of log loss), and where it comes from.

    Repeated runs (seeds: one size and total data size, ``design``) at one budget measure it directly: the
    pooled within-cell scatter.
    Otherwise, the residual scatter around each IsoFLOP curve: a cubic in log N through every five
    consecutive sizes (a quadratic through four when no budget has five), pooled over budgets. A smooth
    curve's shape is absorbed by the local polynomial; what is left is run-to-run noise (and any roughness
    of the curve finer than the size grid, which moves the minimum all the same). None: nothing to measure.
    """
    if pts.empty:
        return None, "no IsoFLOP points"
    loge = np.log(pts["err"].to_numpy())
    # a repeat is another run of the same design (size and total data) at the same budget: a seed, not a schedule
    design = pts["design"].to_numpy() if "design" in pts else np.arange(len(pts))
    cells = pd.DataFrame({"b": pts["budget_id"].to_numpy(), "n": pts["N"].to_numpy(), "d": design,
                          "y": loge}).groupby(["b", "n", "d"])["y"]
    sizes = cells.size()
    if int((sizes > 1).sum()) >= _MIN_REPEATS:
        var = cells.var(ddof=1)[sizes > 1]
        dof = sizes[sizes > 1] - 1
        sigma = float(np.sqrt((var * dof).sum() / dof.sum()))
        return sigma, f"repeated runs at {int((sizes > 1).sum())} (size, budget) cells"
    curves = [_sizes(g) for _, g in pts.groupby("budget_id")]
    longest = max((len(g) for g in curves), default=0)
    if longest < 4:
        return None, "no IsoFLOP curve has 4 sizes, and no size was repeated"
    deg = 3 if longest >= 5 else 2
    w = deg + 2
    ss, dof_total = 0.0, 0
    for g in curves:
        x, y = np.log(g["N"].to_numpy()), np.log(g["err"].to_numpy())
        j = int(np.argmin(y))
        for i in range(max(0, j - w + 1), min(j, len(x) - w) + 1):  # windows around the minimum: the noise that moves it
            xx, yy = x[i:i + w] - x[i:i + w].mean(), y[i:i + w]
            r = yy - np.polyval(np.polyfit(xx, yy, deg), xx)
            ss += float(r @ r)
            dof_total += w - deg - 1
    return float(np.sqrt(ss / dof_total)), (f"residual scatter around each IsoFLOP curve (a {'cubic' if deg == 3 else 'quadratic'} "
                                            f"in log N through every {w} consecutive sizes)")


def _akima_minimum(logn: FloatArray, logl: FloatArray, grid: FloatArray) -> float | None:
    from scipy.interpolate import Akima1DInterpolator

    v = Akima1DInterpolator(logn, logl, axis=0)(grid)
    v = np.where(np.isfinite(v), v, np.inf)
    i = np.argmin(v, axis=0)
    return None if i == 0 or i == grid.size - 1 else float(grid[i])


def _weighted_slope(x: FloatArray, y: FloatArray, w: FloatArray) -> tuple[float, float]:
    W = w / w.sum()
    xm, ym = float(W @ x), float(W @ y)
    s = float(W @ ((x - xm) * (y - ym)) / (W @ (x - xm) ** 2))
    return s, ym - s * xm


def _isoflop_akima(pts: pd.DataFrame, k: float, label: str, scale: float, n_boot: int, seed: int, noise: float | None,
                   interpolated: bool) -> OptimalLaw:
    """Approach 2 with Akima interpolation per budget and a seed-noise bootstrap (see the comment above)."""
    from scipy.interpolate import Akima1DInterpolator

    source = "given"
    if noise is None:
        noise, source = seed_noise(pts)
    sigma = float(noise or 0.0)
    rng = np.random.default_rng(seed)
    budgets: list[dict[str, Any]] = []
    for _, g0 in pts.groupby("budget_id"):
        g = _sizes(g0)
        if len(g) < 3:
            continue
        logn, logl = np.log(g["N"].to_numpy()), np.log(g["err"].to_numpy())
        grid = np.linspace(logn[0], logn[-1], (len(g) - 1) * _GRID_PER_GAP)
        stars: FloatArray = np.empty(0)
        if n_boot and sigma > 0:
            noisy = logl[:, None] + sigma * rng.standard_normal((logl.size, n_boot))
            v = Akima1DInterpolator(logn, noisy, axis=0)(grid)  # (grid, n_boot): all draws at once
            idx = np.argmin(np.where(np.isfinite(v), v, np.inf), axis=0)
            stars = grid[idx[(idx > 0) & (idx < grid.size - 1)]]
        budgets.append({"C": float(g0["budget"].iloc[0]), "best": _akima_minimum(logn, logl, grid), "stars": stars,
                        "grid_step": float(grid[1] - grid[0])})
    rows: list[dict[str, Any]] = []
    minima: list[dict[str, Any]] = []
    notes: list[str] = []
    draws_needed = max(n_boot // 2, 1) if n_boot and sigma > 0 else 0
    for b in budgets:
        C = b["C"]
        ok = b["best"] is not None and b["stars"].size >= draws_needed
        n_opt = None if b["best"] is None else float(np.exp(b["best"]))  # the noise only spreads it: no drift with noise
        why = "" if ok else "minimum at the edge of the sizes trained"
        minima.append({"C": C, "N_opt": n_opt, "D_opt": None if n_opt is None else C / (k * n_opt) / scale, "note": why})
        if not ok or n_opt is None:
            notes.append(f"budget {C:.3g}: {why}")
            continue
        floor = _MIN_STD_FACTOR * _GRID_PER_GAP * b["grid_step"]
        spread = float(np.std(b["stars"])) * n_boot / b["stars"].size if b["stars"].size else 0.0
        rows.append({"C": C, "logN": float(np.log(n_opt)), "std": max(spread, floor), "stars": b["stars"]})
    extra: dict[str, Any] = {"method": "akima", "minima": minima, "n_boot": n_boot, "noise": noise, "noise_source": source,
                             "interpolated": interpolated}
    notes.insert(0, "Akima interpolation per budget (Porian et al. 2024), " + (
        f"intervals from seed noise of {sigma:.2g} in log loss ({source})" if noise is not None else
        f"no interval: no seed noise could be measured ({source})"))
    if len(rows) < 3:
        return OptimalLaw("isoflop", None, None, None, None, None, None, label, len(rows),
                          (f"only {len(rows)} budget(s) with an interior optimum (3 needed)", *notes), pts, extra)
    lc = np.log([r["C"] for r in rows])
    w = 1.0 / np.array([r["std"] for r in rows]) ** 2
    a, ca = _weighted_slope(lc, np.array([r["logN"] for r in rows]), w)
    m = min(r["stars"].size for r in rows)
    draws = [_weighted_slope(lc, np.array([r["stars"][i] for r in rows]), w)[0] for i in range(m)]
    G = float(np.exp(ca))
    extra["log_std"] = [r["std"] for r in rows]
    return OptimalLaw("isoflop", float(a), percentile_ci(draws), float(1.0 - a), percentile_ci([1 - d for d in draws]), G,
                      float(1.0 / (k * G) / scale), label, len(rows), tuple(notes), pts, extra)


def parametric(fit: FitResult, *, k: float = 6.0, data_scale: float = 1.0, data_label: str = "D") -> OptimalLaw:
    """Approach 3: closed form from the fitted performance law, intervals from its bootstrap draws.

    For another law in (N, D) (chosen by backtest) N_opt is found numerically at budgets from the
    smallest trained compute to 100x the largest, and ``a`` is the slope of log N_opt on log C there.
    """
    if fit.form.name != "two_var":
        return _parametric_numeric(fit, k, data_scale, data_label)
    p = fit.params
    a = p["beta"] / (p["alpha"] + p["beta"])
    G = float(optimal_N(p, 1.0, k))  # N_opt = G C^a
    H = 1.0 / (k * G) / data_scale  # D_opt = C / (k N_opt), in the batch's data unit
    a_ci = b_ci = None
    d = fit.draws
    if d is not None:
        names = list(fit.form.param_names)
        al, be = d[:, names.index("alpha")], d[:, names.index("beta")]
        a_ci, b_ci = percentile_ci(be / (al + be)), percentile_ci(al / (al + be))
    b = 1.0 - a
    return OptimalLaw("parametric", float(a), a_ci, float(b), b_ci, G, float(H), data_label, fit.ndata,
                      (), None, {"from": "L(N, D) fit", "k": k})


def _parametric_numeric(fit: FitResult, k: float, data_scale: float, data_label: str) -> OptimalLaw:
    C_tr = k * fit.x[:, 0] * fit.x[:, 1]
    Cs = np.geomspace(C_tr.min(), 100 * C_tr.max(), 9)
    lc = np.log(Cs)

    def slope(draws: bool) -> tuple[FloatArray, FloatArray]:
        lN = np.log(np.column_stack([frontier_nd(fit, float(c), k, draws=draws)[0] for c in Cs]))  # (B, 9)
        ok = np.all(np.isfinite(lN), axis=1)
        X = np.column_stack([np.ones_like(lc), lc])
        coef = np.linalg.lstsq(X, np.where(ok[:, None], lN, 0.0).T, rcond=None)[0]  # (2, B)
        return np.where(ok, coef[1], np.nan), np.where(ok, coef[0], np.nan)

    a_arr, c_arr = slope(False)
    a, G = float(a_arr[0]), float(np.exp(c_arr[0]))
    if not np.isfinite(a):
        return OptimalLaw("parametric", None, None, None, None, None, None, data_label, fit.ndata,
                          (f"the {fit.form.name} law has no interior optimum over the budgets trained",), None,
                          {"from": f"{fit.form.name} fit", "k": k})
    a_ci = b_ci = None
    if fit.boot_theta is not None:
        ad, _ = slope(True)
        a_ci, b_ci = percentile_ci(ad), percentile_ci(1 - ad)
    H = 1.0 / (k * G) / data_scale
    return OptimalLaw("parametric", a, a_ci, 1.0 - a, b_ci, G, float(H), data_label, fit.ndata, (), None,
                      {"from": f"{fit.form.name} fit (N_opt found numerically; a is its slope in log C over "
                               f"{Cs[0]:.3g} to {Cs[-1]:.3g})", "k": k})


@dataclass(frozen=True)
class Comparison:
    """The approaches side by side, and whether they agree."""

    laws: dict[str, OptimalLaw]
    C_ref: float
    agree_intervals: bool | None
    agree_order: bool | None
    sentence: str

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = jsonable({
            "C_ref": self.C_ref, "agree_intervals": self.agree_intervals, "agree_order": self.agree_order,
            "sentence": self.sentence,
            "not_applicable": {k: list(v.notes) for k, v in self.laws.items() if not v.ok},
            "N_opt_at_C_ref": {k: float(v.N_opt(self.C_ref)) for k, v in self.laws.items() if v.ok},
        })
        return out

    def _repr_html_(self) -> str:
        return display.html(self)


def compare(laws: dict[str, OptimalLaw], C_ref: float) -> Comparison:
    ok = {k: v for k, v in laws.items() if v.ok}
    if len(ok) < 2:
        return Comparison(laws, C_ref, None, None, f"Only {len(ok)} approach(es) apply to this batch; nothing to compare.")
    with_ci = {k: v.a_ci for k, v in ok.items() if v.a_ci}
    overlap = None
    if len(with_ci) >= 2:
        lo = max(c[0] for c in with_ci.values())
        hi = min(c[1] for c in with_ci.values())
        overlap = bool(lo <= hi)
    n = {k: float(v.N_opt(C_ref)) for k, v in ok.items()}
    ratio = max(n.values()) / min(n.values())
    order = bool(ratio < 3.0)  # same order of magnitude of N_opt at the reference budget
    a_vals = ", ".join(f"{k} {v.a:.3f}" for k, v in ok.items())
    if overlap and order:
        s = (f"The approaches agree: exponent a is {a_vals}, with overlapping 95% intervals, "
             f"and N_opt at C={C_ref:.3g} is within {ratio:.2g}x across them.")
    else:
        parts = []
        if overlap is False:
            parts.append("their 95% intervals on a do not overlap")
        if not order:
            parts.append(f"N_opt at C={C_ref:.3g} differs by {ratio:.2g}x")
        s = (f"The approaches disagree: exponent a is {a_vals}; " + " and ".join(parts or ["intervals are missing"])
             + ". Trust the optimum only as far as the approaches agree.")
    return Comparison(laws, C_ref, overlap, order, s)


