"""The critical batch size: how large a batch before more data parallelism stops paying.

McCandlish et al. (2018) show that the optimisation steps S and the examples E = S B needed to reach a
given loss trade off as S = S_min (1 + B_noise / B) and E = E_min (1 + B / B_noise): below B_noise a
larger batch saves steps almost for free, above it each halving of the steps costs twice the data. The
critical batch B_crit = E_min / S_min = B_noise.

From runs that differ in batch size (several per cell of equal N and training data D), with in-training
curves: the steps each run needs to reach the cell's target loss, the law S(B) fitted per cell by the
fitting core (a formula law, log residuals, bootstrap over runs), and the trend B_crit = k N^a D^b across
cells, fitted by the same core with a bootstrap over cells (Zhang et al. 2024 report B_crit growing with
D and hardly with N).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..exceptions import FitError
from ..laws.curve import fit_curve
from ..laws.formula import Law
from ..laws.result import FitResult

__all__ = ["CriticalBatch", "CriticalBatchCell", "critical_batch", "steps_to_target"]

STEPS_LAW = Law("S_min * (1 + B_noise / B)", variables=["B"], name="steps_vs_batch")
TREND_LAW = Law("k * N^a * D^b", variables=["N", "D"], name="critical_batch_trend")


@dataclass(frozen=True)
class CriticalBatchCell:
    """One cell's fit: the target loss, the steps each batch size needed, S_min, E_min and B_crit with 95% intervals."""

    N: float
    D: float
    target: float
    batch_sizes: tuple[float, ...]
    steps: tuple[float, ...]
    S_min: float
    E_min: float
    B_crit: float
    B_crit_ci: tuple[float, float] | None
    fit: FitResult


@dataclass(frozen=True)
class CriticalBatch:
    """Every cell's critical batch and the trend B_crit = k N^a D^b (``trend`` is None with fewer than 4 cells)."""

    cells: tuple[CriticalBatchCell, ...]
    trend: FitResult | None
    skipped: tuple[str, ...]

    def predict(self, N: float, D: float) -> float:
        """B_crit at (N, D) from the trend."""
        if self.trend is None:
            raise FitError("no trend: fewer than 4 cells with a critical batch")
        return float(self.trend.predict(np.array([N]), np.array([D]), warn=False)[0])


def steps_to_target(step: npt.ArrayLike, loss: npt.ArrayLike, target: float) -> float:
    """The first step at which the running minimum of ``loss`` reaches ``target``, interpolated in log step and
    log loss between the points around the crossing; NaN when the curve never gets there."""
    s = np.asarray(step, dtype=float)
    v = np.minimum.accumulate(np.asarray(loss, dtype=float)[np.argsort(s)])
    s = np.sort(s)
    hit = np.flatnonzero(v <= target)
    if hit.size == 0:
        return float("nan")
    i = int(hit[0])
    if i == 0 or v[i - 1] == v[i] or s[i - 1] <= 0:
        return float(s[i])
    t = (np.log(v[i - 1]) - np.log(target)) / (np.log(v[i - 1]) - np.log(v[i]))
    return float(np.exp(np.log(s[i - 1]) + t * (np.log(s[i]) - np.log(s[i - 1]))))


def critical_batch(frame: pd.DataFrame, *, metric: str = "loss", batch: str = "batch_size", step: str = "step",
                   run: str = "run", cell: Sequence[str] = ("N", "D"), target: float | None = None,
                   n_boot: int = 200, seed: int = 0) -> CriticalBatch:
    """Critical batch per cell and its trend in N and D (see the module docstring).

    ``frame`` has one row per (run, step): the cell's columns (N and D), the batch size (tokens or sequences per
    step; B_crit comes back in the same unit), the step and the metric. ``target`` defaults, per cell, to the
    worst final loss among its runs (every run reaches it).
    """
    cells: list[CriticalBatchCell] = []
    skipped: list[str] = []
    for key, g in frame.groupby(list(cell), sort=True):
        N, D = (float(k) for k in (key if isinstance(key, tuple) else (key, float("nan"))))
        finals = g.sort_values(step).groupby(run)[metric].min()
        tgt = float(finals.max()) if target is None else float(target)
        rows = []
        for r, h in g.groupby(run, sort=True):
            s_hit = steps_to_target(h[step].to_numpy(), h[metric].to_numpy(), tgt)
            if np.isfinite(s_hit) and s_hit > 0:
                rows.append((str(r), float(h[batch].iloc[0]), s_hit))
        sizes = {b for _, b, _ in rows}
        label = f"N={N:.3g}, D={D:.3g}"
        if len(sizes) < 3:
            skipped.append(f"{label}: {len(sizes)} batch size(s) reach the target {tgt:.4g}; the trade-off needs 3 or more")
            continue
        runs = np.array([r for r, _, _ in rows])
        B = np.array([b for _, b, _ in rows], dtype=float)
        S = np.array([x for _, _, x in rows], dtype=float)
        try:
            fit = fit_curve(B, S, form=STEPS_LAW, metric="steps", groups=runs, n_boot=n_boot,
                            seed=seed)
        except FitError as exc:
            skipped.append(f"{label}: {exc}")
            continue
        S_min, B_noise = fit.params["S_min"], fit.params["B_noise"]
        cells.append(CriticalBatchCell(N=N, D=D, target=tgt, batch_sizes=tuple(float(b) for b in B),
                                       steps=tuple(float(x) for x in S), S_min=S_min, E_min=S_min * B_noise,
                                       B_crit=B_noise, B_crit_ci=fit.ci["B_noise"] if fit.ci else None, fit=fit))
    trend = None
    if len(cells) >= 4:
        X = np.array([[c.N, c.D] for c in cells])
        y = np.array([c.B_crit for c in cells])
        trend = fit_curve(X, y, form=TREND_LAW, metric="B_crit", n_boot=n_boot, seed=seed)
    return CriticalBatch(cells=tuple(cells), trend=trend, skipped=tuple(skipped))
