"""One cell of a hyperparameter sweep: a quadratic bowl in (log lr, log B) whose vertex is the cell's optimum.

The bowls feed both the power laws of :mod:`scalekit.analyses.hparam_laws` and the starts of the loss surface
(:mod:`scalekit.analyses.hparam_surface`), so they sit below both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = ["Bowl", "design", "fit_bowl", "fit_quadratic", "vertex"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Bowl:
    """One cell's fitted bowl: loss = quadratic in (log lr, log B), its vertex and the cell's best run."""

    N: float
    D: float
    runs: int
    lr_opt: float
    B_opt: float | None  # None when the cell sweeps one batch size
    loss_opt: float
    coef: tuple[float, ...]  # 1, x, x^2 (and y, y^2, x y) with x = log lr, y = log B
    best_run: str
    best_value: float
    best_lr: float
    best_B: float
    bracketed: bool
    note: str

    def loss_at(self, lr: float, B: float | None = None) -> float:
        """The bowl's loss at (lr, B)."""
        return float(design(np.log([lr]), None if self.B_opt is None else np.log([B if B is not None else self.B_opt]))[0]
                     @ np.asarray(self.coef))

    def penalty(self, factor: float = 2.0) -> dict[str, float]:
        """Relative loss increase with lr (and B) off by ``factor`` either way, the worse side."""
        out = {"lr": max(self.loss_at(self.lr_opt * f, self.B_opt) for f in (factor, 1 / factor)) / self.loss_opt - 1}
        if self.B_opt is not None:
            out["B"] = max(self.loss_at(self.lr_opt, self.B_opt * f) for f in (factor, 1 / factor)) / self.loss_opt - 1
        return out


def design(x: FloatArray, y: FloatArray | None) -> FloatArray:
    cols = [np.ones_like(x), x, x * x]
    if y is not None:
        cols += [y, y * y, x * y]
    return np.stack(cols, axis=1)


def vertex(coef: FloatArray, two: bool) -> tuple[float, float | None] | None:
    """The minimum of the quadratic, or None when it has none (not convex)."""
    if not two:
        return (-coef[1] / (2 * coef[2]), None) if coef[2] > 0 else None
    H = np.array([[2 * coef[2], coef[5]], [coef[5], 2 * coef[4]]])
    if np.any(np.linalg.eigvalsh(H) <= 0):
        return None
    x, y = np.linalg.solve(H, -np.array([coef[1], coef[3]]))
    return float(x), float(y)


def fit_quadratic(x: FloatArray, y: FloatArray | None, L: FloatArray, band: float) -> tuple[FloatArray, FloatArray]:
    """Least squares on the runs within ``band`` of the best (at least enough to determine the bowl)."""
    k = 6 if y is not None else 3
    near = L.min() * (1 + band) >= L
    if near.sum() < k + 2:
        near = np.sort(L)[min(len(L), k + 2) - 1] >= L
    X = design(x[near], None if y is None else y[near])
    coef = np.linalg.lstsq(X, L[near], rcond=None)[0]
    return coef, near


def fit_bowl(cell: pd.DataFrame, metric: str, lr: str = "lr", batch: str = "batch_size", run: str = "run",
             band: float = 0.02) -> Bowl:
    """The bowl of one cell (see the module docstring)."""
    x = np.log(cell[lr].to_numpy(dtype=float))
    two = batch in cell and cell[batch].nunique() > 1
    y = np.log(cell[batch].to_numpy(dtype=float)) if two else None
    L = cell[metric].to_numpy(dtype=float)
    coef, _ = fit_quadratic(x, y, L, band)
    i = int(np.argmin(L))
    best_B = float(cell[batch].iloc[i]) if batch in cell else float("nan")
    v = vertex(coef, two)
    edge = [n for n, col in (("learning rate", x),) + ((("batch size", y),) if y is not None else ())
            if col is not None and (col[i] <= col.min() + 1e-12 or col[i] >= col.max() - 1e-12)]
    if v is None:
        x_opt, y_opt = float(x[i]), (float(y[i]) if y is not None else None)
        note = "the bowl has no minimum (not convex): the best run stands in for the optimum"
        if edge:
            note = f"the grid does not bracket the optimum in {' and '.join(edge)}; " + note
        bracketed = False
    else:
        x_opt, y_opt = v
        outside = [n for n, col, val in (("learning rate", x, x_opt),) + ((("batch size", y, y_opt),) if y is not None else ())
                   if col is not None and val is not None and not (col.min() <= val <= col.max())]
        bad = sorted(set(edge) | set(outside))
        bracketed = not bad
        note = "" if bracketed else f"the grid does not bracket the optimum in {' and '.join(bad)}"
    loss_opt = float(design(np.array([x_opt]), None if y_opt is None else np.array([y_opt]))[0] @ coef)
    N = float(cell["N"].iloc[0])
    D = float(cell["D"].iloc[0]) if "D" in cell else float("nan")
    return Bowl(N=N, D=D, runs=len(cell), lr_opt=float(np.exp(x_opt)), B_opt=None if y_opt is None else float(np.exp(y_opt)),
                loss_opt=loss_opt, coef=tuple(float(c) for c in coef), best_run=str(cell[run].iloc[i]),
                best_value=float(L[i]), best_lr=float(cell[lr].iloc[i]), best_B=best_B, bracketed=bracketed, note=note)
