"""The learning rate and batch size to use at scale, from a sweep.

Two estimates of the optimal learning rate lr*(N, D) and batch size B*(N, D):

* **bowls**: in each cell of equal (N, D), a quadratic bowl in (log lr, log B) fitted to the runs near the
  cell's best (within ``band`` of it), whose vertex is the cell's optimum: it can fall between grid points,
  and says how much a setting off by 2x costs. Then power laws lr* = c N^a D^b and B* = c' N^a' D^b' are
  fitted by the fitting core on the vertices; their intervals come from a cluster bootstrap over runs (each
  resample redraws every cell's runs, refits its bowl and the laws).
* **near-optimal region** (DeepSeek LLM 2024, StepLaw 2025): every run within ``tolerance`` of its cell's best,
  regressed on N and D by the core, with its bootstrap over runs.

Where the sweep's grid does not bracket a cell's optimum (the best run at the edge of the grid, or the
vertex outside it), the cell says so: its optimum is a bound, not an estimate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..exceptions import FitError
from ..laws.curve import fit_curve
from ..laws.formula import Law
from ..laws.result import FitResult

__all__ = ["Bowl", "HyperparamLaws", "PowerLaw", "fit_bowl", "hyperparam_laws"]

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
        return float(_design(np.log([lr]), None if self.B_opt is None else np.log([B if B is not None else self.B_opt]))[0]
                     @ np.asarray(self.coef))

    def penalty(self, factor: float = 2.0) -> dict[str, float]:
        """Relative loss increase with lr (and B) off by ``factor`` either way, the worse side."""
        out = {"lr": max(self.loss_at(self.lr_opt * f, self.B_opt) for f in (factor, 1 / factor)) / self.loss_opt - 1}
        if self.B_opt is not None:
            out["B"] = max(self.loss_at(self.lr_opt, self.B_opt * f) for f in (factor, 1 / factor)) / self.loss_opt - 1
        return out


@dataclass(frozen=True)
class PowerLaw:
    """value = c N^a D^b (b absent when D does not vary), the core's fit and the bootstrap draws of (c, a, b)."""

    name: str
    fit: FitResult
    draws: FloatArray  # (n_boot, k) in the fit's parameter order
    ci: dict[str, tuple[float, float]]

    def predict(self, N: float, D: float) -> float:
        args = [np.array([N])] + ([np.array([D])] if "D" in self.fit.form.variables else [])
        return float(self.fit.predict(*args, warn=False)[0])

    def interval(self, N: float, D: float, level: float = 0.95) -> tuple[float, float]:
        """Interval of the prediction at (N, D) from the bootstrap draws."""
        if self.draws.size == 0:
            return (float("nan"), float("nan"))
        names = self.fit.form.param_names
        d = dict(zip(names, self.draws.T))
        v = d["c"] * N ** d["a"] * (D ** d["b"] if "b" in d else 1.0)
        q = (1 - level) / 2
        return (float(np.quantile(v, q)), float(np.quantile(v, 1 - q)))


@dataclass(frozen=True)
class HyperparamLaws:
    """The bowls per cell and the laws of both estimates (``*_near``: the near-optimal-region method)."""

    bowls: tuple[Bowl, ...]
    lr: PowerLaw
    B: PowerLaw | None
    lr_near: PowerLaw | None
    B_near: PowerLaw | None
    tolerance: float
    unbracketed: tuple[str, ...]
    notes: tuple[str, ...] = ()

    def answer(self, N: float, D: float) -> dict[str, float | tuple[float, float] | None]:
        """lr* and B* at (N, D) from both estimates, with 95% intervals."""
        out: dict[str, float | tuple[float, float] | None] = {"lr": self.lr.predict(N, D), "lr_ci": self.lr.interval(N, D)}
        if self.B is not None:
            out.update(B=self.B.predict(N, D), B_ci=self.B.interval(N, D))
        for key, law in (("lr_near", self.lr_near), ("B_near", self.B_near)):
            out[key] = None if law is None else law.predict(N, D)
            out[f"{key}_ci"] = None if law is None else law.interval(N, D)
        return out


def _design(x: FloatArray, y: FloatArray | None) -> FloatArray:
    cols = [np.ones_like(x), x, x * x]
    if y is not None:
        cols += [y, y * y, x * y]
    return np.stack(cols, axis=1)


def _vertex(coef: FloatArray, two: bool) -> tuple[float, float | None] | None:
    """The minimum of the quadratic, or None when it has none (not convex)."""
    if not two:
        return (-coef[1] / (2 * coef[2]), None) if coef[2] > 0 else None
    H = np.array([[2 * coef[2], coef[5]], [coef[5], 2 * coef[4]]])
    if np.any(np.linalg.eigvalsh(H) <= 0):
        return None
    x, y = np.linalg.solve(H, -np.array([coef[1], coef[3]]))
    return float(x), float(y)


def _fit_quadratic(x: FloatArray, y: FloatArray | None, L: FloatArray, band: float) -> tuple[FloatArray, FloatArray]:
    """Least squares on the runs within ``band`` of the best (at least enough to determine the bowl)."""
    k = 6 if y is not None else 3
    near = L.min() * (1 + band) >= L
    if near.sum() < k + 2:
        near = np.sort(L)[min(len(L), k + 2) - 1] >= L
    X = _design(x[near], None if y is None else y[near])
    coef = np.linalg.lstsq(X, L[near], rcond=None)[0]
    return coef, near


def fit_bowl(cell: pd.DataFrame, metric: str, lr: str = "lr", batch: str = "batch_size", run: str = "run",
             band: float = 0.02) -> Bowl:
    """The bowl of one cell (see the module docstring)."""
    x = np.log(cell[lr].to_numpy(dtype=float))
    two = batch in cell and cell[batch].nunique() > 1
    y = np.log(cell[batch].to_numpy(dtype=float)) if two else None
    L = cell[metric].to_numpy(dtype=float)
    coef, _ = _fit_quadratic(x, y, L, band)
    i = int(np.argmin(L))
    best_B = float(cell[batch].iloc[i]) if batch in cell else float("nan")
    v = _vertex(coef, two)
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
    loss_opt = float(_design(np.array([x_opt]), None if y_opt is None else np.array([y_opt]))[0] @ coef)
    N = float(cell["N"].iloc[0])
    D = float(cell["D"].iloc[0]) if "D" in cell else float("nan")
    return Bowl(N=N, D=D, runs=len(cell), lr_opt=float(np.exp(x_opt)), B_opt=None if y_opt is None else float(np.exp(y_opt)),
                loss_opt=loss_opt, coef=tuple(float(c) for c in coef), best_run=str(cell[run].iloc[i]),
                best_value=float(L[i]), best_lr=float(cell[lr].iloc[i]), best_B=best_B, bracketed=bracketed, note=note)


def _law(vary_D: bool) -> Law:
    return Law("c * N^a * D^b", variables=["N", "D"]) if vary_D else Law("c * N^a", variables=["N"])


def _loglinear(X: FloatArray, logv: FloatArray) -> FloatArray:
    """(log c, a[, b]) of log v = log c + a log N (+ b log D) by least squares: the core's squared-loss optimum."""
    A = np.column_stack([np.ones(len(X)), np.log(X)])
    out: FloatArray = np.linalg.lstsq(A, logv, rcond=None)[0]
    return out


def _power_law(name: str, X: FloatArray, v: FloatArray, draws_log: FloatArray, groups: FloatArray | None = None,
               n_boot: int = 0, seed: int = 0) -> PowerLaw:
    vary_D = X.shape[1] == 2
    law = _law(vary_D)
    fit = fit_curve(X, v, form=law, metric=name, loss="squared", n_boot=n_boot, seed=seed, groups=groups)
    if n_boot and fit.boot_theta is not None:  # the core's own bootstrap (near-optimal runs: resampled by run)
        draws = law.natural(fit.boot_theta)
    elif draws_log.size:
        draws = draws_log.copy()
        draws[:, 0] = np.exp(draws[:, 0])
    else:
        draws = np.empty((0, len(law.param_names)))
    ci = {p: (float(np.quantile(draws[:, j], 0.025)), float(np.quantile(draws[:, j], 0.975)))
          for j, p in enumerate(law.param_names)} if draws.size else {}
    return PowerLaw(name=name, fit=fit, draws=draws, ci=ci)


def hyperparam_laws(frame: pd.DataFrame, metric: str, *, lr: str = "lr", batch: str = "batch_size", run: str = "run",
                    band: float = 0.02, tolerance: float = 0.0025, n_boot: int = 200, seed: int = 0) -> HyperparamLaws:
    """Both estimates of lr*(N, D) and B*(N, D) from a sweep: one row per run with N (and D), lr, batch size, metric."""
    cols = ["N", "D"] if "D" in frame and frame["D"].nunique() > 1 else ["N"]
    if frame["N"].nunique() < 2 and "D" not in cols:
        raise FitError("a sweep needs two or more model sizes (or data sizes) to give a law for the optimum", metric=metric)
    groups = list(frame.groupby(cols, sort=True))
    if len(groups) < 3:
        raise FitError(f"{len(groups)} cells: laws for the optimum need 3 or more", metric=metric)
    bowls = tuple(fit_bowl(g, metric, lr, batch, run, band) for _, g in groups)
    two = all(b.B_opt is not None for b in bowls)
    X = np.array([[b.N, b.D][: len(cols)] for b in bowls])

    # cluster bootstrap over runs: every cell's runs redrawn, its bowl refitted, the laws refitted (log-linear)
    rng = np.random.default_rng(seed)
    d_lr = np.empty((n_boot, 1 + len(cols)))
    d_B = np.empty((n_boot, 1 + len(cols)))
    cells = [(np.log(g[lr].to_numpy(dtype=float)), np.log(g[batch].to_numpy(dtype=float)) if two else None,
              g[metric].to_numpy(dtype=float)) for _, g in groups]
    kept = 0
    for _ in range(n_boot):
        opt_x, opt_y = [], []
        for x, y, L in cells:
            pick = rng.integers(0, len(L), len(L))
            coef, _ = _fit_quadratic(x[pick], None if y is None else y[pick], L[pick], band)
            v = _vertex(coef, two)
            if v is None:  # no bowl in this resample: its best run stands in, as in the point estimate
                j = int(np.argmin(L[pick]))
                v = (float(x[pick][j]), float(y[pick][j]) if y is not None else None)
            opt_x.append(v[0])
            opt_y.append(v[1])
        d_lr[kept] = _loglinear(X, np.array(opt_x))
        if two:
            d_B[kept] = _loglinear(X, np.array(opt_y, dtype=float))
        kept += 1
    lr_law = _power_law("lr_opt", X, np.array([b.lr_opt for b in bowls]), d_lr[:kept])
    B_law = _power_law("B_opt", X, np.array([b.B_opt for b in bowls], dtype=float), d_B[:kept]) if two else None

    # near-optimal region: every run within `tolerance` of its cell's best
    near = pd.concat([g[g[metric] <= g[metric].min() * (1 + tolerance)] for _, g in groups])
    Xn = near[cols].to_numpy(dtype=float)
    runs = near[run].astype(str).to_numpy()
    notes: list[str] = []

    def near_law(name: str, col: str) -> PowerLaw | None:
        try:
            return _power_law(name, Xn, near[col].to_numpy(dtype=float), np.empty((0, 0)), groups=runs, n_boot=n_boot, seed=seed)
        except FitError as exc:  # e.g. every near-optimal run at one grid value: no trend to read
            notes.append(f"near-optimal region, {col}: {exc}")
            return None

    lr_near = near_law("lr_near", lr)
    B_near = near_law("B_near", batch) if two else None
    unbracketed = tuple(f"N={b.N:.3g}, D={b.D:.3g}: {b.note}" for b in bowls if not b.bracketed)
    return HyperparamLaws(bowls=bowls, lr=lr_law, B=B_law, lr_near=lr_near, B_near=B_near, tolerance=tolerance,
                          unbracketed=unbracketed, notes=tuple(notes))
