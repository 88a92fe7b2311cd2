"""Hyperparameter sweeps: the best run per cell, how sensitive the metric is to each hyperparameter, and
how the best value moves with model size.

A cell is one model size N and one final data size D (for a fixed N, one compute budget). Per cell
and numeric hyperparameter, the best value is the vertex of a parabola in log(value) through the
best point and its neighbours (the grid value when the best is at the edge of the sweep), as IsoFLOP
parabolas do for N; ``log h_opt = c + k log N`` is then fitted over the cells, with a bootstrap over
cells for k's interval.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from .. import display
from ..data.batch import Batch
from ..data.sweep import cell_keys, run_finals
from ..jsonsafe import jsonable
from .intervals import percentile_ci

__all__ = ["Sweep", "sweep_analysis"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class Sweep:
    """A hyperparameter sweep's reduction and sensitivity, for one metric.

    ``best`` has one row per cell (N, D, run, value and each hyperparameter's best grid value);
    ``sensitivity`` one row per (cell, hyperparameter, value): the best metric among the cell's runs
    with that value and how much worse than the cell's best it is; ``moves`` per numeric
    hyperparameter the exponent k of h_opt ~ N^k with its 95% interval.
    """

    metric: str
    hparams: tuple[str, ...]
    best: pd.DataFrame = field(repr=False)
    sensitivity: pd.DataFrame = field(repr=False)
    moves: dict[str, dict[str, Any]]
    runs: int
    cells: int

    def sentence(self) -> str:
        parts = []
        for h, m in self.moves.items():
            if m.get("k") is None:
                continue
            ci = m.get("k_ci")
            moves = ci is not None and (ci[0] > 0 or ci[1] < 0)
            parts.append(f"the best {h} {'moves' if moves else 'does not move clearly'} with model size as N^{m['k']:.2f}"
                         + (f" (95% [{ci[0]:.2f}, {ci[1]:.2f}])" if ci else ""))
        return (f"{self.runs} runs in {self.cells} cells; " + ("; ".join(parts) if parts else "no numeric hyperparameter")
                + f". The laws use the best run per cell by the final {self.metric}.")

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = jsonable({
            "metric": self.metric, "hparams": list(self.hparams), "runs": self.runs, "cells": self.cells,
            "best": self.best.to_dict(orient="records"), "sensitivity": self.sensitivity.to_dict(orient="records"),
            "moves": self.moves, "sentence": self.sentence()})
        return out

    def _repr_html_(self) -> str:
        return display.html(self)


def _vertex(x: FloatArray, e: FloatArray) -> tuple[float, bool]:
    """Best log-value: the parabola vertex through the best point and its neighbours, or the best point at an edge."""
    order = np.argsort(x)
    x, e = x[order], e[order]
    i = int(np.argmin(e))
    if i == 0 or i == x.size - 1 or x.size < 3:
        return float(x[i]), False
    xs, ys = x[i - 1:i + 2], np.log(e[i - 1:i + 2])
    c2, c1, _ = np.polyfit(xs, ys, 2)
    if c2 <= 0:
        return float(x[i]), False
    return float(np.clip(-c1 / (2 * c2), xs[0], xs[-1])), True


def sweep_analysis(batch: Batch, metric: str | None = None, *, n_boot: int = 200, seed: int = 0) -> Sweep | None:
    """The sweep's best runs, sensitivity and moving optimum (None when the batch declares no ``hparams``)."""
    if not batch.hparams or batch.sweep is None:
        return None
    spec = batch.metric(metric)
    fin = run_finals(batch.sweep)
    fin = fin[np.isfinite(fin[spec.name])].copy()
    fin["_err"] = spec.to_error(fin[spec.name].to_numpy(dtype=float))
    fin["_cell"] = cell_keys(fin).to_numpy()
    best_rows: list[dict[str, Any]] = []
    sens: list[dict[str, Any]] = []
    opt: dict[str, list[tuple[float, float, float]]] = {h: [] for h in batch.hparams}
    for _, g in fin.groupby("_cell", sort=False):
        b = g.loc[g["_err"].idxmin()]
        row = {"N": float(b["N"]), "D": float(b["D"]), "run": str(b["run"]), "value": float(b[spec.name]), "runs": len(g)}
        for h in batch.hparams:
            row[h] = b[h]
            prof = g.groupby(h)["_err"].min()
            for v, e in prof.items():
                sens.append({"N": row["N"], "D": row["D"], "hparam": h, "value": v,
                             spec.name: float(spec.from_error(np.asarray(e, dtype=float))),
                             "worse_by": float(e / b["_err"] - 1)})
            num = pd.to_numeric(prof.index.to_series(), errors="coerce")
            if num.notna().all() and (num > 0).all() and prof.size >= 2:
                lx, interior = _vertex(np.log(num.to_numpy(dtype=float)), prof.to_numpy(dtype=float))
                row[f"{h}_opt"] = float(np.exp(lx))
                row[f"{h}_interior"] = interior
                opt[h].append((float(b["N"]), float(b["D"]), lx))
        best_rows.append(row)
    moves: dict[str, dict[str, Any]] = {}
    rng = np.random.default_rng(seed)
    for h, pts in opt.items():
        arr = np.asarray(pts, dtype=float)
        if arr.shape[0] < 3 or np.unique(arr[:, 0]).size < 2:
            moves[h] = {"k": None, "note": "fewer than 3 cells or a single model size"}
            continue
        logN = np.log(arr[:, 0])
        varies_D = np.unique(arr[:, 1]).size > 1
        X = np.column_stack([np.ones_like(logN), logN] + ([np.log(arr[:, 1])] if varies_D else []))
        coef = np.linalg.lstsq(X, arr[:, 2], rcond=None)[0]
        draws = []
        for _ in range(n_boot):
            i = rng.integers(0, arr.shape[0], arr.shape[0])
            if np.unique(logN[i]).size < 2:
                continue
            draws.append(np.linalg.lstsq(X[i], arr[i, 2], rcond=None)[0][1])
        d_term = coef[2] * np.mean(np.log(arr[:, 1])) if varies_D else 0.0
        at_N = {f"{n:.3g}": float(np.exp(coef[0] + coef[1] * np.log(n) + d_term)) for n in np.unique(arr[:, 0])}
        moves[h] = {"k": float(coef[1]), "k_ci": percentile_ci(draws), "at_N": at_N,
                    "k_D": float(coef[2]) if varies_D else None, "cells": int(arr.shape[0])}
    return Sweep(spec.name, batch.hparams, pd.DataFrame(best_rows), pd.DataFrame(sens), moves, int(fin["run"].nunique()),
                 int(fin["_cell"].nunique()))
