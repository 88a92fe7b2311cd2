"""Two-step prediction of a downstream metric: a law for a loss, then a map from the loss to the metric.

Step 1 fits a law in N and D to an *intermediate* loss (a task's bits-per-byte, or C4 loss) with
the same engine as :func:`scalekit.fit_law` (any form; default the additive ``two_var``). Step 2
maps the intermediate to the *target* (accuracy, or an average error). Chained, they predict the
target at an (N, D) nobody trained (Bhagia et al. 2024, "Establishing Task Scaling Laws via
Compute-Efficient Model Ladders"; Gadre et al. 2024, "Language models scale reliably with
over-training and on downstream tasks").

Step-2 maps, fitted by least squares on the target's error quantity (``bound - metric`` for a
higher-is-better metric, the metric itself otherwise) in its own units, with bounds:

* ``sigmoid`` (Bhagia et al. 2024, eq. 2): ``y = a / (1 + exp(-k (x - x0))) + b`` on the metric's
  own scale, ``k >= 0``, ``x0 >= 0``; for a metric bounded by B (accuracy) ``-B <= a <= 0`` and
  ``0 <= b <= B``, and the ideal point (x = 0, y = B) is added to the fit (``anchor``), as the
  OLMo ladder code does. It saturates at both ends: the choice for accuracy of a multiple-choice
  task, which sits near chance until the loss falls far enough, then climbs towards a ceiling.
  It needs points on the rising part; fitted on checkpoints of several runs it has them.
* ``exponential`` (Gadre et al. 2024, eq. 4): ``Err = eps - k exp(-gamma L)`` on the error
  quantity, all three parameters >= 0. It is monotone with one bend: the choice for an error
  averaged over many tasks (which moves smoothly off chance as the loss falls) and for few points
  (three parameters; Gadre et al. fit it on six models).

Points: step 1 on each run's last ``window`` evaluations averaged, with D at the last one
(``step1_points="final"``, the OLMo protocol) or on every checkpoint after the first ``skip``
fraction of each run, smoothed by a trailing mean over ``window`` evaluations (``"all"``);
step 2 on the smoothed checkpoints (``step2_points="all"``, the OLMo protocol) or final points.
A batch of final points only (one row per run) uses them for both.

Uncertainty: a joint bootstrap over runs. Each resample draws run counts once and refits both
steps with those counts as row weights, so the two steps' errors are resampled together. A
prediction interval adds each step's lack of fit: a resampled step-1 log residual (scaled by
sqrt(n/(n-p)) as :meth:`FitResult.predict` does) to the intermediate, and a resampled step-2
residual (scaled likewise) to the target.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, overload

import numpy as np
import numpy.typing as npt
import pandas as pd

from .. import display
from ..data.batch import Batch
from ..data.metric import from_error, to_error
from ..data.ranges import beyond
from ..exceptions import ConfigError, FitError
from ..jsonsafe import jsonable
from ..options import Options
from . import core
from .core import run_counts
from .fit import fit_curve, law_columns
from .forms import AnyForm, get_form
from .result import FitResult, Prediction
from .vocabulary import as_batch, check_interval, fit_options, frozen

__all__ = ["STEP2_MAPS", "Step2Map", "TwoStepFit", "fit_two_step", "smoothed_points"]

FloatArray = npt.NDArray[np.float64]


# --- step-2 maps ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Step2Map:
    """A map from the intermediate ``x`` to the target's error quantity ``e``, linear-space least squares.

    Internal parameters are those of the error quantity; :meth:`published` turns them into the
    reference's parameterisation on the target's own scale.
    """

    name: str
    formula: str
    param_names: tuple[str, ...]
    reference: str
    suits: str

    @property
    def n_params(self) -> int:
        return len(self.param_names)

    def error(self, theta: FloatArray, x: FloatArray) -> FloatArray:
        """Error quantity for internal ``theta`` (..., P) at ``x`` (m,) -> (..., m)."""
        t = np.asarray(theta, dtype=float)
        c = [t[..., i, None] for i in range(t.shape[-1])]
        with np.errstate(over="ignore"):
            if self.name == "sigmoid":
                E, R, k, x0 = c
                out: FloatArray = E + R * 0.5 * (1.0 + np.tanh(0.5 * k * (x - x0)))
            else:
                eps, kk, g = c
                out = eps - kk * np.exp(-g * x)
        return out

    def error_jac(self, theta: FloatArray, x: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Error quantity (B, m) and its Jacobian (B, m, P) for ``theta`` (B, P) at ``x`` (m,): the model
        :class:`~scalekit.laws.core.GaussNewton` fits."""
        c = [theta[:, i, None] for i in range(theta.shape[1])]
        with np.errstate(over="ignore"):
            if self.name == "sigmoid":
                E, R, k, x0 = c
                s = 0.5 * (1.0 + np.tanh(0.5 * k * (x - x0)))
                ds = R * s * (1.0 - s)
                return E + R * s, np.stack([np.broadcast_to(1.0, s.shape), s, ds * (x - x0), -ds * k], axis=-1)
            eps, kk, g = c
            ex = np.exp(-g * x)
            return eps - kk * ex, np.stack([np.broadcast_to(1.0, ex.shape), -ex, kk * x * ex], axis=-1)

    def bounds(self, bound: float | None) -> tuple[FloatArray, FloatArray]:
        if self.name == "sigmoid":
            hi = np.inf if bound is None else float(bound)
            return np.array([0.0, 0.0, 0.0, 0.0]), np.array([hi, hi, np.inf, np.inf])
        return np.zeros(3), np.full(3, np.inf)

    def starts(self, x: FloatArray, e: FloatArray, w: FloatArray, bound: float | None) -> FloatArray:
        """Starting vectors by variable projection: the map is linear in its first two parameters."""
        lo, hi = self.bounds(bound)
        sd = float(np.std(x)) or 1.0
        if self.name == "sigmoid":
            grid = [(k / sd, float(np.quantile(x, q))) for k in (0.5, 1.0, 2.0, 4.0, 8.0) for q in (0.0, 0.25, 0.5, 0.75, 1.0)]
            grid += [(k / sd, float(x.max()) + sd * m) for k in (0.5, 1.0, 2.0) for m in (1.0, 3.0)]
        else:
            grid = [(g / sd, 0.0) for g in (0.05, 0.1, 0.2, 0.4, 0.7, 1.0, 1.5, 2.5, 4.0)]
        out = []
        for a, b in grid:
            if self.name == "sigmoid":
                basis = 0.5 * (1.0 + np.tanh(0.5 * a * (x - max(b, 0.0))))
                M = np.column_stack([np.ones_like(x), basis])
            else:
                M = np.column_stack([np.ones_like(x), -np.exp(-a * x)])
            sw = np.sqrt(w)
            c = np.linalg.lstsq(M * sw[:, None], e * sw, rcond=None)[0]
            th = np.r_[c, a, max(b, 0.0)] if self.name == "sigmoid" else np.r_[c, a]
            th = np.clip(th, lo, np.minimum(hi, np.where(np.isfinite(hi), hi, np.inf)))
            out.append(th)
        return np.asarray(out)

    def published(self, theta: FloatArray, direction: str, bound: float | None) -> dict[str, float]:
        """The reference's parameters on the target's scale (``a, x0, k, b``; or ``eps, k, gamma``)."""
        t = [float(v) for v in theta]
        if self.name == "sigmoid":
            E, R, k, x0 = t
            if direction == "max":
                ref = float(bound) if bound is not None else 0.0
                return {"a": -R, "x0": x0, "k": k, "b": ref - E}
            return {"a": R, "x0": x0, "k": k, "b": E}
        return {"eps": t[0], "k": t[1], "gamma": t[2]}


STEP2_MAPS: dict[str, Step2Map] = {
    "sigmoid": Step2Map(
        "sigmoid", "y = a / (1 + exp(-k (x - x0))) + b", ("a", "x0", "k", "b"), "Bhagia et al. 2024, eq. 2",
        "accuracy of one task: flat near chance, then rising to a ceiling (needs checkpoints on the rise)"),
    "exponential": Step2Map(
        "exponential", "Err = eps - k exp(-gamma x)", ("eps", "k", "gamma"), "Gadre et al. 2024, eq. 4",
        "an error averaged over many tasks, or few points (three parameters)"),
}


def _fit_map(m: Step2Map, x: FloatArray, e: FloatArray, bound: float | None, w: FloatArray | None = None,
             theta0: FloatArray | None = None) -> core.Solution:
    """Least squares of the error quantity within the map's bounds, by the core solver.

    Without ``theta0``: the point fit, refined from the best few of the map's starts (the best
    solution first). With ``theta0`` (P,): one problem per row of ``w`` (B, m) (bootstrap
    resamples as row weights), all from ``theta0`` in one solve.
    """
    curv = core.GaussNewton(m.error_jac, x, e, np.inf)
    if theta0 is None:
        cand = m.starts(x, e, np.ones(x.size), bound)
        starts = cand[np.argsort(curv.objective(cand, np.ones(x.size)))[:4]]
        sol = core.minimize(curv, starts, bounds=m.bounds(bound), max_iter=1000)
        order = np.argsort(np.where(np.isfinite(sol.f), sol.f, np.inf))
        return core.Solution(sol.theta[order], sol.f[order], sol.converged[order], sol.iterations)
    assert w is not None
    # resamples need 6-7 digits, not 13: a looser stop saves iterations
    return core.minimize(curv, np.repeat(theta0[None], w.shape[0], axis=0), w, bounds=m.bounds(bound), max_iter=500,
                         ftol=1e-10)


# --- points -----------------------------------------------------------------------------------
def _trailing_mean(v: FloatArray, window: int) -> FloatArray:
    """Mean of the last ``window`` values at each position (fewer at the start), as the OLMo ladder code smooths."""
    c = np.cumsum(v, dtype=float)
    out = c.copy()
    out[window:] = c[window:] - c[:-window]
    return out / np.minimum(np.arange(1, v.size + 1), window)


def smoothed_points(frame: pd.DataFrame, columns: Sequence[str], kind: str, *, skip: float = 0.1,
                    window: int = 5) -> pd.DataFrame:
    """Per run, the points a step is fitted on: ``run``, ``N``, ``D`` and the ``columns``.

    ``kind="final"``: one point per run, the mean of its last ``window`` evaluations, with N and
    D at the last. ``kind="all"``: every evaluation after the first ``skip`` fraction of the run,
    each the trailing mean of ``window`` evaluations (D its own). Rows are in step order within a
    run when the frame has a ``step`` column.

    Examples
    --------
    >>> f = pd.DataFrame({"run": ["r"] * 4, "N": 1.0, "D": [1.0, 2, 3, 4], "step": [1, 2, 3, 4], "y": [4.0, 3, 2, 1]})
    >>> smoothed_points(f, ["y"], "final", window=2)["y"].tolist()
    [1.5]
    >>> smoothed_points(f, ["y"], "all", skip=0.25, window=2)["y"].tolist()
    [3.0, 2.5, 1.5]
    """
    if kind not in ("final", "all"):
        raise ConfigError(f"points must be 'final' or 'all', not {kind!r}", key="points")
    parts = []
    for run, g in frame.groupby("run", sort=False):
        if "step" in g:
            g = g.sort_values("step", kind="stable")
        if kind == "final":
            tail = g.iloc[-window:]
            row = {"run": run, "N": float(g["N"].iloc[-1]), "D": float(g["D"].iloc[-1])}
            row.update({c: float(tail[c].mean()) for c in columns})
            parts.append(pd.DataFrame([row]))
            continue
        k = int(np.ceil(skip * len(g))) if len(g) > 1 else 0
        g = g.iloc[k:]
        p = pd.DataFrame({"run": run, "N": g["N"].to_numpy(float), "D": g["D"].to_numpy(float)})
        for c in columns:
            p[c] = _trailing_mean(g[c].to_numpy(float), window)
        parts.append(p)
    return pd.concat(parts, ignore_index=True)


# --- result -----------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class TwoStepFit:
    """A two-step fit: the intermediate's law (step 1) and the map to the target (step 2).

    Attributes
    ----------
    intermediate, target : str
        The two columns.
    direction, bound : str, float or None
        The target's direction and bound (step 2 fits the error quantity ``bound - target`` for
        a higher-is-better target, the target itself otherwise).
    step1 : FitResult
        The intermediate's law, with its bootstrap drawn jointly with step 2's.
    step2 : str
        The map: ``sigmoid`` or ``exponential``.
    params, stderr, ci : mapping
        Step 2's parameters in the reference's parameterisation (``a, x0, k, b`` on the target's
        scale; ``eps, k, gamma`` on its error quantity), their bootstrap standard errors and 95%
        intervals as (lo, hi) (None without a bootstrap); read-only.
    residuals : ndarray
        Step 2's predicted - observed target at its points (the anchor excluded), on the target's own
        scale (``residual_scale`` "linear": step 2 is least squares in the target's units).
    ndata, nruns : int
        Step-2 points fitted (the anchor not counted; step 1's are ``step1.ndata``) and runs of both steps.
    objective : float
        Step 2's summed squared error (error quantity, anchor included) at the optimum.
    success, message : bool, str
        Whether step 1 is a success and step 2's solver converged, and how.
    draws : ndarray or None
        Joint-bootstrap draws of step 2's published parameters, (n_boot, P) in ``params`` order (a resample
        that identifies nothing is a NaN row).
    intermediate_range : tuple of float
        The range of the intermediate step 2 was fitted on (beyond it the map extrapolates).
    method : dict
        Everything needed to reproduce the fit: forms, points, skip, window, anchor, resamples, seed.
    """

    intermediate: str
    target: str
    direction: str
    bound: float | None
    step1: FitResult
    step2: str
    params: dict[str, float]
    stderr: dict[str, float] | None
    ci: dict[str, tuple[float, float]] | None
    residuals: FloatArray
    ndata: int
    nruns: int
    objective: float
    success: bool
    message: str
    intermediate_range: tuple[float, float]
    method: dict[str, Any]
    x: FloatArray = field(repr=False)  # step-2 intermediate values (anchor excluded)
    y: FloatArray = field(repr=False)  # step-2 target values, on the target's scale
    groups: npt.NDArray[np.str_] = field(repr=False)  # run of each step-2 point
    theta: FloatArray = field(repr=False)  # step-2 internal parameters (error quantity)
    boot_theta: FloatArray | None = field(repr=False, default=None)  # (B, P) step-2 draws, with step1.boot_theta
    draws: FloatArray | None = field(repr=False, default=None)  # (B, P) the same in published parameters
    form: ClassVar[str] = "two_step"
    residual_scale: ClassVar[str] = "linear"

    def __post_init__(self) -> None:
        for name in ("params", "stderr", "ci"):
            object.__setattr__(self, name, frozen(getattr(self, name)))

    @property
    def map(self) -> Step2Map:
        return STEP2_MAPS[self.step2]

    @property
    def rmse(self) -> float:
        """Root-mean-square step-2 residual, on the target's scale."""
        return float(np.sqrt(np.mean(self.residuals ** 2)))

    def map_value(self, intermediate: npt.ArrayLike) -> FloatArray:
        """Step 2 alone: the target for given intermediate value(s)."""
        xv = np.asarray(intermediate, dtype=float)
        e = self.map.error(self.theta, xv.ravel())
        out: FloatArray = np.asarray(from_error(e, self.direction, self.bound)).reshape(xv.shape)
        return out

    def extrapolation(self, N: npt.ArrayLike, D: npt.ArrayLike) -> dict[str, FloatArray]:
        """How far beyond the fitted ranges: step 1's ``N``, ``D``, ``C`` and step 2's ``intermediate``."""
        out = self.step1.extrapolation(N, D)
        xi = self.step1.predict(N, D, warn=False)
        out["intermediate"] = beyond(xi, *self.intermediate_range)
        return out

    @overload
    def predict(self, N: npt.ArrayLike, D: npt.ArrayLike, *, interval: None = None, level: float = 0.95,
                seed: int = 0) -> FloatArray: ...
    @overload
    def predict(self, N: npt.ArrayLike, D: npt.ArrayLike, *, interval: str, level: float = 0.95,
                seed: int = 0) -> Prediction: ...

    def predict(self, N: npt.ArrayLike, D: npt.ArrayLike, *, interval: str | None = None, level: float = 0.95,
                seed: int = 0) -> FloatArray | Prediction:
        """The target at (N, D) through both steps, on the target's own scale.

        Parameters
        ----------
        N, D : array_like
            Model size and data size (broadcast against each other).
        interval : {None, "confidence", "prediction"}
            None returns an array. "confidence": the joint bootstrap of both steps (the chained
            law itself). "prediction": a new run, adding both steps' lack of fit (resampled
            residuals scaled by sqrt(n / (n - p))). Both return a :class:`Prediction` whose
            ``extrapolation`` has ``N``, ``D``, ``C`` and ``intermediate``.
        level : float
            Interval level.
        seed : int
            Seed of the residual resampling.

        Returns
        -------
        ndarray or Prediction
        """
        check_interval(interval)
        Nv, Dv = np.broadcast_arrays(np.asarray(N, dtype=float), np.asarray(D, dtype=float))
        shape = Nv.shape
        xi = np.asarray(self.step1.predict(Nv.ravel(), Dv.ravel(), warn=False), dtype=float)
        value = self.map_value(xi).reshape(shape)
        if interval is None:
            return value
        dist = {k: np.asarray(v).reshape(shape) for k, v in self.extrapolation(Nv, Dv).items()}
        s1 = self.step1
        if self.boot_theta is None or s1.boot_theta is None:
            return Prediction(value, None, None, level, interval, dist)
        ok = np.all(np.isfinite(self.boot_theta), axis=1) & np.all(np.isfinite(s1.boot_theta), axis=1)
        logx = np.log(np.column_stack([Nv.ravel(), Dv.ravel()]))
        log1 = s1.form.log_predict(s1.boot_theta[ok], logx)  # (B, m) log error quantity of step 1
        rng = np.random.default_rng(seed)
        if interval == "prediction":
            infl1 = np.sqrt(s1.ndata / max(s1.ndata - s1.nfree, 1))
            log1 = log1 - infl1 * rng.choice(s1.residuals, size=log1.shape)
        xb = np.asarray(s1.to_metric(np.exp(log1)), dtype=float)
        draws = np.asarray(from_error(self.map.error(self.boot_theta[ok][:, None, :], xb[..., None])[..., 0],
                                      self.direction, self.bound), dtype=float)
        if interval == "prediction":
            n2, p2 = self.ndata, self.map.n_params
            infl2 = np.sqrt(n2 / max(n2 - p2, 1))
            draws = draws - infl2 * rng.choice(self.residuals, size=draws.shape)
        q = 100 * (1 - level) / 2
        lo, hi = np.nanpercentile(draws, [q, 100 - q], axis=0)
        return Prediction(value, np.asarray(lo).reshape(shape), np.asarray(hi).reshape(shape), level, interval, dist)

    def summary(self) -> dict[str, Any]:
        """JSON-safe dict: one entry of summary.json's ``two_step`` section (without predictions)."""
        s1 = self.step1
        out: dict[str, Any] = jsonable({
            "intermediate": self.intermediate,
            "target": self.target,
            "direction": self.direction,
            "bound": self.bound,
            "step1": {"form": s1.form.name, "formula": s1.form.formula, "params": s1.params,
                      "stderr": s1.stderr, "ci": {k: list(v) for k, v in s1.ci.items()} if s1.ci else None,
                      "objective": s1.objective, "ndata": s1.ndata,
                      "rmse_log": float(np.sqrt(np.mean(s1.residuals ** 2))), "points": self.method["step1_points"]},
            "step2": {"map": self.step2, "formula": self.map.formula, "reference": self.map.reference,
                      "params": self.params, "stderr": self.stderr,
                      "ci": {k: list(v) for k, v in self.ci.items()} if self.ci else None,
                      "ndata": self.ndata, "rmse": self.rmse, "anchor": self.method["anchor"],
                      "points": self.method["step2_points"], "intermediate_range": list(self.intermediate_range)},
            "ndata": {"step1": self.step1.ndata, "step2": self.ndata, "runs": self.nruns},
            "method": self.method,
        })
        return out

    def report(self) -> str:
        """Plain-text report (lmfit style)."""
        return display.text(self)

    def _repr_html_(self) -> str:
        return display.html(self)

    def __repr__(self) -> str:
        ps = ", ".join(f"{k}={v:.4g}" for k, v in self.params.items())
        return (f"<TwoStepFit {self.intermediate} -> {self.target}: step 1 {self.step1.form.name}, "
                f"step 2 {self.step2} ({ps}); ndata={self.ndata}>")


# --- fitting ----------------------------------------------------------------------------------
def _check_column(batch: Batch, col: str, role: str) -> None:
    if col not in batch.frame.columns:
        raise ConfigError(f"{role} column {col!r} is not in the batch; its metrics are {sorted(batch.metrics)}",
                          key=role)


def _select_runs(frame: pd.DataFrame, runs: Sequence[str] | None, role: str) -> pd.DataFrame:
    if runs is None:
        return frame
    want = [str(r) for r in runs]
    missing = sorted(set(want) - set(frame["run"].astype(str)))
    if missing:
        raise ConfigError(f"{role}: run(s) {missing} are not in the batch", key=role)
    return frame[frame["run"].astype(str).isin(want)]


def _finite_or_raise(points: pd.DataFrame, col: str, role: str) -> None:
    v = points[col].to_numpy(float)
    bad = ~np.isfinite(v)
    if bad.any():
        runs = sorted(set(points["run"].astype(str)[bad]))
        raise FitError(f"{role}: column {col!r} has {int(bad.sum())} non-finite value(s) (runs {runs[:5]}"
                       f"{', ...' if len(runs) > 5 else ''}); clean or exclude them", metric=col)


def fit_two_step(
    data: Batch | pd.DataFrame | str | Path,
    intermediate: str,
    target: str,
    *,
    step2: str = "sigmoid",
    step1_form: str | AnyForm = "two_var",
    step1_points: str = "all",
    step2_points: str = "all",
    skip: float = 0.1,
    window: int = 5,
    anchor: bool | None = None,
    step1_runs: Sequence[str] | None = None,
    step2_runs: Sequence[str] | None = None,
    options: Options | None = None,
    **overrides: Any,
) -> TwoStepFit:
    """Fit a law to an intermediate loss (step 1) and a map from it to a downstream target (step 2).

    Parameters
    ----------
    data : Batch, DataFrame or path
        Anything :func:`scalekit.load_batch` accepts; runs with checkpoints (a ``step`` column) or one row per run.
    intermediate, target : str
        Columns of the batch: the loss the law is fitted to (task bits-per-byte, C4 loss) and the
        metric predicted (accuracy, average error).
    step2 : {"sigmoid", "exponential"}
        The map (module docstring): ``sigmoid`` for one task's accuracy (Bhagia et al. 2024),
        ``exponential`` for an error averaged over many tasks or for few points (Gadre et al. 2024).
    step1_form : str or form
        Any form of :func:`scalekit.forms` in N and D (default ``two_var``; ``two_var_tied`` for
        Gadre et al.'s one-exponent law).
    step1_points, step2_points : {"all", "final"}
        Points of each step: every checkpoint after the first ``skip`` fraction of its run,
        smoothed by a trailing mean over ``window`` evaluations (``all``), or one per run, the
        mean of its last ``window`` evaluations (``final``). OLMo's ladder fits step 1 on
        ``final`` and step 2 on ``all``; fitting step 1 on ``all`` too (the default) gives the
        law every D each run passed through, not only its end.
    anchor : bool, optional
        Add the ideal point (intermediate 0, target at its bound or 0) to step 2, as OLMo's code
        does; default: True for ``sigmoid``, False for ``exponential``.
    step1_runs, step2_runs : sequence of str, optional
        Runs each step is fitted on (default: all). Gadre et al. fit the loss law on five runs
        and the map on those plus one more.
    options : Options, optional
        Run options (:mod:`scalekit.options`); the batch config's options fill what they leave unset.
    **overrides
        Any option by name: ``n_boot`` (joint bootstrap resamples over runs, 0 skips it), ``seed``, and
        ``loss``, ``delta`` (step 1's loss on log residuals, as :func:`scalekit.fit_law`).

    Returns
    -------
    TwoStepFit

    Raises
    ------
    ConfigError
        A column or run that is not in the batch, an unknown map or points.
    FitError
        Non-finite values, or too few points for a step.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> N, D = [a.ravel() for a in np.meshgrid(np.geomspace(1e8, 1e9, 4), np.geomspace(2e9, 2e11, 4))]
    >>> bpb = 0.5 + 30 / N ** 0.2 + 60 / D ** 0.2
    >>> acc = 1 - 0.75 / (1 + np.exp(-6 * (bpb - 1.2)))
    >>> df = pd.DataFrame({"params": N, "tokens": D, "task_bpb": bpb, "task_acc": acc})
    >>> r = fit_two_step(df, intermediate="task_bpb", target="task_acc", n_boot=0)
    >>> round(float(r.predict(1e10, 2e11)), 3) == round(float(1 - 0.75 / (1 + np.exp(-6 * (0.5 + 30 / 1e10 ** 0.2
    ...     + 60 / 2e11 ** 0.2 - 1.2)))), 3)
    True
    """
    batch = as_batch(data)
    opts = fit_options(batch, options, overrides)
    n_boot, seed, loss, delta = opts.n_boot, opts.seed, opts.loss, opts.delta
    _check_column(batch, intermediate, "intermediate")
    _check_column(batch, target, "target")
    if intermediate == target:
        raise ConfigError(f"intermediate and target are the same column {target!r}", key="target")
    if step2 not in STEP2_MAPS:
        raise ConfigError(f"step2 must be one of {sorted(STEP2_MAPS)}, not {step2!r}", key="step2")
    if not (0 <= skip < 1) or int(window) < 1:
        raise ConfigError(f"skip must be in [0, 1) and window >= 1; got skip={skip!r}, window={window!r}", key="skip")
    m = STEP2_MAPS[step2]
    form = get_form(step1_form)
    if tuple(form.variables) != ("N", "D"):
        raise ConfigError(f"step 1 needs a law in N and D; {form.name!r} has variables {form.variables}", key="step1_form")
    use_anchor = (step2 == "sigmoid") if anchor is None else bool(anchor)
    spec1, spec2 = batch.metric(intermediate), batch.metric(target)
    frame = batch.frame
    window = int(window)

    f1 = _select_runs(frame, step1_runs, "step1_runs")
    f2 = _select_runs(frame, step2_runs, "step2_runs")
    p1 = smoothed_points(f1, [intermediate], step1_points, skip=skip, window=window)
    p2 = smoothed_points(f2, [intermediate, target], step2_points, skip=skip, window=window)
    _finite_or_raise(p1, intermediate, "step 1")
    _finite_or_raise(p2, intermediate, "step 2")
    _finite_or_raise(p2, target, "step 2")
    cols = law_columns(form, "C")
    if len(p1) < form.n_params + 1:
        raise FitError(f"step 1: {len(p1)} point(s) of {intermediate!r} cannot determine the {form.n_params} "
                       f"parameters of {form.formula}", metric=intermediate)
    if len(p2) < m.n_params + 1 - int(use_anchor):
        raise FitError(f"step 2: {len(p2)} point(s) of ({intermediate!r}, {target!r}) cannot determine the "
                       f"{m.n_params} parameters of {m.formula}", metric=target)

    # joint bootstrap: one draw of run counts per resample, shared by both steps
    runs = np.unique(np.r_[p1["run"].astype(str).to_numpy(), p2["run"].astype(str).to_numpy()])
    boot_counts = None
    if n_boot > 0:
        boot_counts = run_counts(np.random.default_rng(seed), len(runs), n_boot)
    idx1 = np.searchsorted(runs, p1["run"].astype(str).to_numpy())
    idx2 = np.searchsorted(runs, p2["run"].astype(str).to_numpy())

    s1 = fit_curve(
        p1[cols].to_numpy(float), p1[intermediate].to_numpy(float), form=form, metric=intermediate,
        direction=spec1.direction, bound=spec1.bound, groups=p1["run"].astype(str).to_numpy(), n_boot=n_boot,
        seed=seed, loss=loss, delta=delta, boot_weights=None if boot_counts is None else boot_counts[:, idx1],
        extra_method={"points": step1_points, "variables": cols, "joint_bootstrap": True},
    )
    if s1.ndata < len(p1):
        raise FitError(f"step 1: {len(p1) - s1.ndata} value(s) of {intermediate!r} cannot be fitted "
                       f"({s1.excluded[-1]['reason'] if s1.excluded else 'non-positive'})", metric=intermediate)

    x = p2[intermediate].to_numpy(float)
    y = p2[target].to_numpy(float)
    e = np.asarray(to_error(y, spec2.direction, spec2.bound), dtype=float)
    xa, ea = (np.r_[x, 0.0], np.r_[e, 0.0]) if use_anchor else (x, e)
    point = _fit_map(m, xa, ea, spec2.bound)
    theta = point.theta[0]
    boot_theta = stderr = ci = pub = None
    failed = 0
    if boot_counts is not None:
        wb = boot_counts[:, idx2]
        if use_anchor:
            wb = np.column_stack([wb, np.ones(n_boot)])
        bs = _fit_map(m, xa, ea, spec2.bound, wb, theta0=theta)
        boot_theta = np.where(np.isfinite(bs.f)[:, None], bs.theta, np.nan)
        failed = int(np.sum(~np.isfinite(bs.f)))
        # a resample that keeps fewer distinct runs than a step has parameters identifies nothing: left out
        runs1, runs2 = np.unique(idx1), np.unique(idx2)
        enough = ((boot_counts[:, runs1] > 0).sum(axis=1) > form.n_params) & (
            (boot_counts[:, runs2] > 0).sum(axis=1) + int(use_anchor) > m.n_params)
        boot_theta[~enough] = np.nan
        pub = np.array([list(m.published(t, spec2.direction, spec2.bound).values()) for t in boot_theta])
        okb = np.all(np.isfinite(pub), axis=1)
        if okb.sum() < max(2, n_boot // 2):  # too few runs for a bootstrap: no intervals rather than wrong ones
            boot_theta = None
        elif okb.sum() >= 2:
            sd = pub[okb].std(axis=0, ddof=1)
            lo, hi = np.percentile(pub[okb], [2.5, 97.5], axis=0)
            stderr = {k: float(v) for k, v in zip(m.param_names, sd)}
            ci = {k: (float(a), float(b)) for k, a, b in zip(m.param_names, lo, hi)}
    fitted = np.asarray(from_error(m.error(theta, x), spec2.direction, spec2.bound), dtype=float)
    converged = bool(point.converged[0])
    message = f"step 1: {s1.message}; step 2: {'converged' if converged else 'did not converge'}"
    method = {
        "step1_form": form.name, "step1_points": step1_points, "step2": step2, "step2_formula": m.formula,
        "step2_fit": "least squares on the target's error quantity, bounded", "step2_points": step2_points,
        "skip": float(skip), "window": window, "anchor": use_anchor, "n_boot": int(n_boot), "seed": int(seed),
        "bootstrap_unit": "run (joint: both steps refitted with the same run counts)", "loss": loss,
        "delta": None if loss == "squared" else float(delta), "boot_failed": failed,
        "boot_used": 0 if boot_theta is None else int(np.all(np.isfinite(boot_theta), axis=1).sum()),
        "step1_runs": None if step1_runs is None else sorted(str(r) for r in step1_runs),
        "step2_runs": None if step2_runs is None else sorted(str(r) for r in step2_runs),
    }
    return TwoStepFit(
        intermediate=spec1.name, target=spec2.name, direction=spec2.direction, bound=spec2.bound, step1=s1,
        step2=step2, params=m.published(theta, spec2.direction, spec2.bound), stderr=stderr, ci=ci,
        residuals=fitted - y, ndata=len(x), nruns=len(runs), objective=float(point.f[0]),
        success=bool(s1.success and converged), message=message,
        intermediate_range=(float(x.min()), float(x.max())), method=method, x=x, y=y,
        groups=p2["run"].astype(str).to_numpy(), theta=theta, boot_theta=boot_theta,
        draws=None if boot_theta is None else pub,
    )
