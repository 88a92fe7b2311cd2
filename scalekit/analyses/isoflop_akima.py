"""Approach 2 as Porian et al. (2024) do it: Akima interpolation per budget, interior minima, seed-noise bootstrap.

Per compute budget (runs grouped as :func:`scalekit.analyses.optimal.isoflop` groups them), log
loss is interpolated over log N with an Akima spline on a geometric grid of (sizes - 1) x 25
points; the budget counts only if the minimum is interior to the sizes trained. Uncertainty: every
loss gets seed noise (normal, ``noise`` in absolute loss, 0.005 by default as in their code) and
the minimum is found again, ``n_boot`` times; a budget's N* is the median over the noisy minima,
its spread the standard deviation of log N* (floored at a third of a grid step, scaled up by the
share of noisy minima that fell on an edge). The exponent a in N* = G C^a is the least-squares
slope of log N* on log C weighted by 1 / spread^2; its 95% interval is the 2.5%-97.5% range of the
same weighted fit on each noisy draw.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from ..data.batch import Batch
from .intervals import percentile_ci
from .optimal import OptimalLaw, data_scale, error_table, isoflop_points
from .profiles import flops_factor

__all__ = ["isoflop_akima"]

FloatArray = npt.NDArray[np.float64]
_GRID_PER_GAP = 25
_MIN_STD_FACTOR = 0.33


def _minimum(logn: FloatArray, logl: FloatArray, grid: FloatArray) -> tuple[float | None, float]:
    from scipy.interpolate import Akima1DInterpolator

    v = Akima1DInterpolator(logn, logl)(grid)
    i = int(np.argmin(v))
    if i == 0 or i == grid.size - 1:
        return None, float(v[i])
    return float(grid[i]), float(v[i])


def _weighted_slope(x: FloatArray, y: FloatArray, w: FloatArray) -> tuple[float, float]:
    W = w / w.sum()
    xm, ym = float(W @ x), float(W @ y)
    s = float(W @ ((x - xm) * (y - ym)) / (W @ (x - xm) ** 2))
    return s, ym - s * xm


def isoflop_akima(batch: Batch, metric: str | None = None, *, n_boot: int = 200, seed: int = 0, noise: float = 0.005,
                  tol: float = 0.1, n_budgets: int = 8) -> OptimalLaw:
    """N_opt(C) from Akima-interpolated IsoFLOP curves with a seed-noise bootstrap (see the module docstring)."""
    f = error_table(batch, metric or batch.metric().name)
    label, scale = data_scale(batch)
    k = flops_factor(batch)
    pts = isoflop_points(f, batch.has_checkpoints, tol, n_budgets)
    rng = np.random.default_rng(seed)
    budgets: list[dict[str, Any]] = []
    notes: list[str] = []
    for _, g0 in pts.groupby("budget_id"):
        C = float(g0["budget"].iloc[0])
        g = g0.groupby("N", as_index=False)["err"].min().sort_values("N")  # one point per size: the best, as they keep
        if len(g) < 3:
            continue
        logn = np.log(g["N"].to_numpy())
        loss = g["err"].to_numpy()
        grid = np.linspace(logn[0], logn[-1], (len(g) - 1) * _GRID_PER_GAP)
        best, _ = _minimum(logn, np.log(loss), grid)
        noisy = loss[None, :] + noise * rng.standard_normal((n_boot, loss.size))
        stars: FloatArray = np.empty(0)
        if n_boot:
            from scipy.interpolate import Akima1DInterpolator

            with np.errstate(invalid="ignore"):
                v = Akima1DInterpolator(logn, np.log(noisy.T), axis=0)(grid)  # (grid, n_boot): all draws at once
            idx = np.argmin(np.where(np.isfinite(v), v, np.inf), axis=0)
            good = (idx > 0) & (idx < grid.size - 1) & np.all(noisy > 0, axis=1)
            stars = grid[idx[good]]
        budgets.append({"C": C, "best": best, "stars": np.asarray(stars), "grid_step": float(grid[1] - grid[0])})
    rows = []
    minima: list[dict[str, Any]] = []
    for b in budgets:
        C = b["C"]
        ok = b["best"] is not None and b["stars"].size >= max(n_boot // 2, 1)
        n_opt = None if b["best"] is None else float(np.exp(np.median(b["stars"]) if ok else b["best"]))
        why = "" if ok else "minimum at the edge of the sizes trained"
        minima.append({"C": C, "N_opt": n_opt, "D_opt": None if n_opt is None else C / (k * n_opt) / scale, "note": why})
        if not ok:
            notes.append(f"budget {C:.3g}: {why}")
            continue
        std = max(float(np.std(b["stars"])), _MIN_STD_FACTOR * _GRID_PER_GAP * b["grid_step"]) * n_boot / b["stars"].size
        rows.append({"C": C, "logN": float(np.median(b["stars"])), "std": std, "stars": b["stars"]})
    if len(rows) < 3:
        return OptimalLaw("isoflop", None, None, None, None, None, None, label, len(rows),
                          (f"only {len(rows)} budget(s) with an interior optimum (3 needed)", *notes), pts,
                          {"method": "akima"})
    lc = np.log([r["C"] for r in rows])
    w = 1.0 / np.array([r["std"] for r in rows]) ** 2
    a, ca = _weighted_slope(lc, np.array([r["logN"] for r in rows]), w)
    draws = []
    m = min(r["stars"].size for r in rows)
    for i in range(m):
        draws.append(_weighted_slope(lc, np.array([r["stars"][i] for r in rows]), w)[0])
    b_exp = 1.0 - a
    G = float(np.exp(ca))
    H = 1.0 / (k * G) / scale
    return OptimalLaw("isoflop", float(a), percentile_ci(draws), float(b_exp), percentile_ci([1 - d for d in draws]), G, float(H),
                      label, len(rows), tuple(notes), pts,
                      {"method": "akima", "minima": minima, "log_std": [r["std"] for r in rows], "n_boot": n_boot,
                       "noise": noise, "interpolated": bool(batch.has_checkpoints)})
