"""The loss-curve law with learning-rate annealing (Tissue, Wang and Wang 2024, "Scaling law with learning
rate annealing", arXiv:2408.11029)::

    L(s) = L0 + A * S1(s)^-alpha - C * S2(s)

with, over the optimizer steps i = 1..s and learning rates eta_i,

* S1(s) = sum_i eta_i, the forward area under the learning-rate curve, and
* S2(s) = sum_i m_i with m_i = lambda * m_{i-1} + (eta_{i-1} - eta_i), the annealing area with
  momentum: a drop of the learning rate keeps lowering the loss for a while after it happens, with
  decay factor lambda (0.999 in the paper, per step).

Learning rates are taken relative to the peak of the fitted runs (S1 counts steps at peak rate).
Rises of the learning rate (warmup) add no annealing area. One law per model size is fitted over the
whole curves of its runs (every checkpoint), Huber loss on log residuals as for the other laws, with
a bootstrap over runs; the law then predicts the loss of a run under another or a longer schedule.

Fitted on constant-LR ("hot") curves plus a few annealed endpoints, it predicts annealed losses at
any point, which is what lets one long run serve many data sizes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, overload

import numpy as np
import numpy.typing as npt
import pandas as pd

from .. import display
from ..data.batch import Batch
from ..data.metric import from_error
from ..data.ranges import beyond
from ..data.schedule import Schedule, lr_per_step
from ..exceptions import ConfigError, FitError
from ..jsonsafe import jsonable
from ..options import Options
from . import core
from .core import run_weights
from .result import Prediction
from .vocabulary import FrozenDict, as_batch, check_interval, fit_options, frozen

__all__ = ["DECAY", "CurveLaw", "ScheduleLawFit", "annealing_areas", "fit_schedule_law"]

FloatArray = npt.NDArray[np.float64]
DECAY = 0.999  # lambda of the annealing momentum (Tissue et al. 2024)
FORMULA = "L0 + A*S1^-alpha - C*S2"
# lambda per optimizer step: runs with few, large steps forget a drop within tens of steps, small-batch runs
# within thousands, so "fit" searches both ends.
_DECAY_GRID = (0.9, 0.95, 0.98, 0.99, 0.995, 0.998, 0.999, 0.9995)
_ALPHA_GRID = (0.05, 0.1, 0.2, 0.3, 0.45, 0.6, 0.8, 1.0, 1.4)
LRSpec = str | Schedule | npt.ArrayLike


def annealing_areas(lr: npt.ArrayLike, decay: float = DECAY) -> tuple[FloatArray, FloatArray]:
    """S1 and S2 at every step 0..T of a learning-rate curve given per step (``lr[0]`` is the rate before step 1).

    >>> S1, S2 = annealing_areas([1.0, 1.0, 0.5, 0.0], decay=0.5)
    >>> S1.tolist(), S2.tolist()
    ([0.0, 1.0, 1.5, 1.5], [0.0, 0.0, 0.5, 1.25])
    """
    from scipy.signal import lfilter  # heavy: only when a schedule law is fitted

    eta = np.asarray(lr, dtype=float)
    S1 = np.concatenate([[0.0], np.cumsum(eta[1:])])
    drop = np.maximum(eta[:-1] - eta[1:], 0.0)  # warmup rises are no annealing
    m = lfilter([1.0], [1.0, -decay], drop)
    S2 = np.concatenate([[0.0], np.cumsum(m)])
    return S1, S2


def _predict(theta: FloatArray, S1: FloatArray, S2: FloatArray) -> FloatArray:
    L0, logA, alpha, C = theta[..., 0:1], theta[..., 1:2], theta[..., 2:3], theta[..., 3:4]
    with np.errstate(over="ignore", divide="ignore"):
        out: FloatArray = L0 + np.exp(logA) * np.power(S1, -alpha) - C * S2
    return out


def _log_model(theta: FloatArray, S: FloatArray) -> tuple[FloatArray, FloatArray]:
    """log L (B, n) and its Jacobian (B, n, 4) for ``theta`` (B, 4) at the areas ``S`` (n, 2): the model the core fits."""
    L0, logA, alpha, C = (theta[:, i, None] for i in range(4))
    S1, S2 = S[:, 0], S[:, 1]
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        P1 = np.exp(logA - alpha * np.log(S1))
        p = L0 + P1 - C * S2
        inv = 1.0 / p
        J = np.stack([inv, P1 * inv, -P1 * np.log(S1) * inv, -S2 * inv], axis=-1)
        return np.log(p), J


_LOWER = np.array([0.0, -50.0, 1e-3, 0.0])
_UPPER = np.array([np.inf, 50.0, 5.0, np.inf])  # annealing takes the loss below L0: no cap on it


def _solve(S1: FloatArray, S2: FloatArray, y: FloatArray, delta: float, starts: FloatArray, fit_C: bool,
           w: FloatArray | None = None, ftol: float = 1e-13) -> core.Solution:
    """Huber fits of log L from each start (B, 4), with row weights ``w`` (B, n), in one solve of the core.

    Without annealing (``fit_C`` false) C is held at its start (0: not identified).
    """
    curv = core.GaussNewton(_log_model, np.column_stack([S1, S2]), np.log(y), delta)
    x0 = np.clip(starts, _LOWER, _UPPER)
    if not fit_C:
        x0[:, 3] = 0.0
    return core.minimize(curv, x0, w, max_iter=500, ftol=ftol, fixed=() if fit_C else (3,), bounds=(_LOWER, _UPPER))


def _best(sol: core.Solution) -> tuple[FloatArray, float, bool]:
    f = np.where(np.isfinite(sol.f), sol.f, np.inf)
    i = int(np.argmin(f))
    return sol.theta[i], float(f[i]), bool(sol.converged[i])


def _starts(S1: FloatArray, S2: FloatArray, y: FloatArray, delta: float, fit_C: bool, k: int = 4) -> FloatArray:
    """Starting points by variable projection: for each alpha on a grid, L0, A, C by least squares (clipped
    non-negative); the ``k`` best by their objective."""
    a = np.asarray(_ALPHA_GRID)
    X = np.power(S1[None, :], -a[:, None])  # (G, n)
    cols = [np.ones_like(X), X] + ([np.broadcast_to(-S2, X.shape)] if fit_C else [])
    M = np.stack(cols, axis=-1)  # (G, n, 2 or 3)
    scale = np.abs(M).max(axis=1, keepdims=True)
    scale[scale == 0] = 1.0
    Ms = M / scale
    MtM = np.einsum("gnk,gnl->gkl", Ms, Ms) + 1e-12 * np.eye(M.shape[-1])
    coef = np.linalg.solve(MtM, np.einsum("gnk,n->gk", Ms, y)[..., None])[..., 0] / scale[:, 0]
    coef = np.maximum(coef, 0.0)
    A = np.where(coef[:, 1] > 0, coef[:, 1], float(y.max()))
    theta = np.column_stack([coef[:, 0], np.log(A), a, coef[:, 2] if fit_C else np.zeros(a.size)])
    curv = core.GaussNewton(_log_model, np.column_stack([S1, S2]), np.log(y), delta)
    f = curv.objective(theta, np.ones(y.size))
    out: FloatArray = theta[np.argsort(f)[:k]]
    return out


@dataclass(frozen=True, eq=False)
class CurveLaw:
    """The schedule law of one model size: parameters, bootstrap intervals and what it was fitted to."""

    size: str
    N: float
    params: dict[str, float]  # L0, A, alpha, C (error space; S1 in peak-LR steps)
    ci: dict[str, tuple[float, float]] | None
    decay: float
    lr_ref: float  # the peak learning rate the areas are relative to
    objective: float
    ndata: int
    rmse_log: float
    runs: tuple[str, ...]
    notes: tuple[str, ...] = ()
    theta_draws: FloatArray | None = field(default=None, repr=False)  # (n_boot, 4) draws of the internal theta
    steps: tuple[float, float] = (1.0, 1.0)  # range of the steps fitted
    residuals: FloatArray = field(default_factory=lambda: np.zeros(0), repr=False)  # log(pred) - log(obs)
    converged: bool = True

    def __post_init__(self) -> None:
        for name in ("params", "ci"):
            object.__setattr__(self, name, frozen(getattr(self, name)))

    @property
    def theta(self) -> FloatArray:
        p = self.params
        return np.array([p["L0"], np.log(p["A"]), p["alpha"], p["C"]])

    @property
    def draws(self) -> FloatArray | None:
        """Bootstrap draws of ``L0, A, alpha, C`` (published: A, not log A), shape (n_boot, 4)."""
        t = self.theta_draws
        return None if t is None else np.column_stack([t[:, 0], np.exp(t[:, 1]), t[:, 2], t[:, 3]])

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = jsonable({"size": self.size, "N": self.N, "params": self.params, "ci": self.ci,
                                        "decay": self.decay, "lr_ref": self.lr_ref, "objective": self.objective,
                                        "ndata": self.ndata, "rmse_log": self.rmse_log, "runs": list(self.runs),
                                        "notes": list(self.notes)})
        return out


@dataclass(frozen=True, eq=False)
class ScheduleLawFit:
    """Loss-curve laws with annealing, one per model size; :meth:`predict` gives a run's loss under any schedule.

    The result vocabulary (:mod:`scalekit.laws.vocabulary`) spans the sizes: ``params``, ``ci``, ``stderr`` and the
    columns of ``draws`` are keyed ``name[size]`` (``alpha[1e+08]``), ``objective`` and ``ndata`` are summed over the
    sizes' laws, ``residuals`` are their log residuals (``residual_scale`` "log") one size after another, and
    ``success`` says every size's solver converged.

    Examples
    --------
    >>> import numpy as np, pandas as pd, scalekit
    >>> from scalekit.data.schedule import Schedule
    >>> from scalekit.laws.schedule_law import annealing_areas
    >>> rows = []
    >>> for T in (2000, 4000, 8000):
    ...     lr = Schedule("cosine").lr(np.arange(T + 1), T)
    ...     S1, S2 = annealing_areas(lr)
    ...     for s in range(100, T + 1, 100):
    ...         rows.append({"run": f"T{T}", "params": 1e8, "step": s, "tokens": s * 1e6, "lr": lr[s],
    ...                      "loss": 2.0 + 3.0 * S1[s] ** -0.4 - 4e-4 * S2[s]})
    >>> df = pd.DataFrame(rows)
    >>> df = pd.concat([df, df.assign(run=df["run"] + "b", params=2e8)])
    >>> law = scalekit.fit_schedule_law(scalekit.load_batch(df), n_boot=0)
    >>> round(law.laws["1e+08"].params["alpha"], 2)
    0.41
    >>> round(float(law.predict(Schedule("cosine"), [16000], size=1e8)[0]), 3)  # true value 1.690
    1.69
    """

    form: ClassVar[str] = "schedule_law"
    residual_scale: ClassVar[str] = "log"

    metric: str
    direction: str
    bound: float | None
    laws: dict[str, CurveLaw]
    run_size: dict[str, str]
    lr_curves: dict[str, FloatArray] = field(repr=False)
    method: dict[str, Any] = field(default_factory=dict)
    skipped: tuple[str, ...] = ()
    backtest: dict[str, Any] | None = None

    # --- the result vocabulary, over every size's law ------------------------------------------------
    @property
    def params(self) -> FrozenDict[str, float]:
        return FrozenDict({f"{k}[{s}]": v for s, law in self.laws.items() for k, v in law.params.items()})

    @property
    def ci(self) -> FrozenDict[str, tuple[float, float]] | None:
        if any(law.ci is None for law in self.laws.values()):
            return None
        return FrozenDict({f"{k}[{s}]": v for s, law in self.laws.items() for k, v in (law.ci or {}).items()})

    @property
    def draws(self) -> FloatArray | None:
        """(n_boot, 4 x sizes) draws in ``params`` order; a size with fewer usable resamples is padded with NaN."""
        per = [law.draws for law in self.laws.values()]
        if any(d is None for d in per):
            return None
        rows = max(len(d) for d in per if d is not None)
        return np.column_stack([np.vstack([d, np.full((rows - len(d), 4), np.nan)]) for d in per if d is not None])

    @property
    def stderr(self) -> FrozenDict[str, float] | None:
        d = self.draws
        if d is None or len(d) < 2:
            return None
        return FrozenDict(zip(self.params, (float(v) for v in np.nanstd(d, axis=0, ddof=1))))

    @property
    def objective(self) -> float:
        return float(sum(law.objective for law in self.laws.values()))

    @property
    def ndata(self) -> int:
        return int(sum(law.ndata for law in self.laws.values()))

    @property
    def residuals(self) -> FloatArray:
        return np.concatenate([law.residuals for law in self.laws.values()])

    @property
    def success(self) -> bool:
        return all(law.converged for law in self.laws.values())

    @property
    def message(self) -> str:
        bad = [s for s, law in self.laws.items() if not law.converged]
        notes = [f"{s}: {n}" for s, law in self.laws.items() for n in law.notes]
        head = "converged" if not bad else f"did not converge for size(s) {', '.join(bad)}"
        return "; ".join([head, *notes])

    def _law(self, size: float | str | None, run: str | None = None) -> CurveLaw:
        if size is None and run is not None:
            return self.laws[self.run_size[run]]
        if size is None:
            if len(self.laws) == 1:
                return next(iter(self.laws.values()))
            raise ConfigError(f"several model sizes have a law ({sorted(self.laws)}); say which with size=", key="size")
        key = size if isinstance(size, str) else f"{float(size):.6g}"
        if key not in self.laws:
            raise ConfigError(f"no schedule law for size {size!r}; fitted: {sorted(self.laws)}", key="size")
        return self.laws[key]

    def lr_curve(self, run_or_schedule: LRSpec, last: int, law: CurveLaw) -> FloatArray:
        """The learning rate at steps 0..``last`` for a fitted run's name, a :class:`Schedule`, or per-step rates."""
        if isinstance(run_or_schedule, str):
            lr = self.lr_curves[run_or_schedule]
        elif isinstance(run_or_schedule, Schedule):
            s = run_or_schedule
            # a relative schedule (peak_lr 1) runs at the fitted runs' peak rate
            peak = law.lr_ref if s.peak_lr == 1.0 else s.peak_lr
            lr = s.lr(np.arange(last + 1), s.total if s.total is not None else last) / s.peak_lr * peak
        else:
            lr = np.asarray(run_or_schedule, dtype=float)
        if lr.size < last + 1:  # beyond its recorded end a run keeps its last rate
            lr = np.r_[lr, np.full(last + 1 - lr.size, lr[-1] if lr.size else 0.0)]
        return lr

    @overload
    def predict(self, run_or_schedule: LRSpec, steps: npt.ArrayLike, *, size: float | str | None = None,
                interval: None = None, level: float = 0.95, seed: int = 0) -> FloatArray: ...
    @overload
    def predict(self, run_or_schedule: LRSpec, steps: npt.ArrayLike, *, size: float | str | None = None,
                interval: str, level: float = 0.95, seed: int = 0) -> Prediction: ...

    def predict(self, run_or_schedule: LRSpec, steps: npt.ArrayLike, *, size: float | str | None = None,
                interval: str | None = None, level: float = 0.95, seed: int = 0) -> FloatArray | Prediction:
        """The metric at ``steps`` of a run (a fitted run's name), a :class:`Schedule` or per-step learning rates.

        ``size`` picks the model size's law (a run name picks its own). ``interval`` None returns an array;
        "confidence" (the bootstrap of the size's law) or "prediction" (plus the scatter of a new curve: resampled
        log residuals) return a :class:`~scalekit.laws.result.Prediction` whose ``extrapolation`` has ``step``, how
        far each step lies beyond the steps the law was fitted on.
        """
        check_interval(interval)
        run = run_or_schedule if isinstance(run_or_schedule, str) else None
        if run is not None and run not in self.lr_curves:
            raise ConfigError(f"no run {run!r} in this fit; runs: {sorted(self.lr_curves)[:10]}", key="run")
        law = self._law(size, run)
        st = np.asarray(steps, dtype=float).ravel()
        idx = np.round(st).astype(int)
        if np.any(idx < 1):
            raise ConfigError("steps must be >= 1 (the law is undefined before the first step)", key="steps")
        lr = self.lr_curve(run_or_schedule, int(idx.max()), law) / law.lr_ref
        S1, S2 = annealing_areas(lr, law.decay)
        value = np.asarray(from_error(_predict(law.theta, S1[idx], S2[idx]), self.direction, self.bound), dtype=float)
        if interval is None:
            return value
        dist = {"step": beyond(st, *law.steps)}
        if law.theta_draws is None:
            return Prediction(value, None, None, level, interval, dist)
        log_err = np.log(np.stack([_predict(t, S1[idx], S2[idx]) for t in law.theta_draws]))
        if interval == "prediction" and law.residuals.size:
            infl = np.sqrt(law.ndata / max(law.ndata - 4, 1))  # as FitResult.predict: the fit shrinks its residuals
            log_err = log_err - infl * np.random.default_rng(seed).choice(law.residuals, size=log_err.shape)
        q = 100 * (1 - level) / 2
        with np.errstate(invalid="ignore"):
            lo_e, hi_e = np.nanpercentile(np.exp(log_err), [q, 100 - q], axis=0)
        lo = np.asarray(from_error(lo_e, self.direction, self.bound), dtype=float)
        hi = np.asarray(from_error(hi_e, self.direction, self.bound), dtype=float)
        return Prediction(value, np.minimum(lo, hi), np.maximum(lo, hi), level, interval, dist)

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = jsonable({"metric": self.metric, "formula": FORMULA, "method": self.method,
                                        "laws": [law.summary() for law in self.laws.values()],
                                        "skipped": list(self.skipped), "backtest": self.backtest})
        return out

    def _repr_html_(self) -> str:
        return display.html(self)


def _rows(batch: Batch, metric: str, runs: list[str], until: float | None) -> pd.DataFrame:
    f = batch.frame
    f = f[f["run"].isin(runs) & np.isfinite(f[metric]) & (f["step"] >= 1)]
    if until is not None:
        last = f.groupby("run")["step"].transform("max")
        f = f[f["step"] <= until * last]
    return f


def _fit_one(S1: FloatArray, S2: FloatArray, y: FloatArray, groups: npt.NDArray[np.str_], delta: float, n_boot: int,
             seed: int) -> tuple[FloatArray, float, FloatArray | None, bool, bool]:
    fit_C = bool(np.any(S2 > 1e-9))
    theta, f, converged = _best(_solve(S1, S2, y, delta, _starts(S1, S2, y, delta, fit_C), fit_C))
    boots: FloatArray | None = None
    if n_boot > 0:
        w = run_weights(groups, n_boot, np.random.default_rng(seed))
        used = w > 0
        # a resample with fewer than 5 distinct steps, or no annealing when the fit has some, identifies nothing
        enough = np.array([np.unique(S1[u]).size >= 5 for u in used])
        anneal = (used & (S2 > 1e-9)).any(axis=1)
        x0 = np.repeat(theta[None], n_boot, axis=0)
        x0[:, 3] = np.where(anneal, x0[:, 3], 0.0)  # C stays 0 where a resample has no annealing (no gradient)
        sol = _solve(S1, S2, y, delta, x0, fit_C, w, ftol=1e-10)
        ok = enough & np.isfinite(sol.f)
        boots = sol.theta[ok] if ok.any() else None
    return theta, f, boots, fit_C, converged


def _choose_decay(areas: Any, y: FloatArray, grp: npt.NDArray[np.str_], delta: float, seed: int) -> float:
    """lambda by leave-one-run-out: each run's last point predicted from the other runs, mean |log error| over runs.

    The in-sample objective cannot choose lambda (it prefers the fastest forgetting whatever comes
    next); predicting a run never seen does. With fewer than 3 runs, the paper's 0.999.
    """
    uniq = np.unique(grp)
    if uniq.size < 3:
        return DECAY
    scores: list[tuple[float, float]] = []
    for lam in _DECAY_GRID:
        S1, S2 = areas(lam)
        theta, _, _, fit_C, _ = _fit_one(S1, S2, y, grp, delta, 0, seed)
        # every left-out run is a problem of its own (row weights 0 on it), all solved at once
        out = grp[None, :] == uniq[:, None]
        keep = ~out
        anneal = (keep & (S2 > 1e-9)).any(axis=1)
        usable = (keep.sum(axis=1) >= 6) & (anneal | ~(out & (S2 > 1e-9)).any(axis=1))
        if not usable.any():
            continue
        x0 = np.repeat(theta[None], int(usable.sum()), axis=0)
        x0[:, 3] = np.where(anneal[usable], x0[:, 3], 0.0)
        sol = _solve(S1, S2, y, delta, x0, fit_C, keep[usable].astype(float))
        last = np.array([np.flatnonzero(o)[np.argmax(S1[o])] for o in out[usable]])
        with np.errstate(invalid="ignore", divide="ignore"):
            pred = _predict(sol.theta, S1[last][:, None], S2[last][:, None])[:, 0]
            errs = np.abs(np.log(np.maximum(pred, 1e-12)) - np.log(y[last]))
        scores.append((float(np.mean(errs)), lam))
    return min(scores)[1] if scores else DECAY


def fit_schedule_law(data: Batch | pd.DataFrame | str | Path, metric: str | None = None, *,
                     schedules: Mapping[str, Schedule | npt.ArrayLike] | None = None, runs: list[str] | None = None,
                     until: float | None = None, decay: float | str = "fit", options: Options | None = None,
                     **overrides: Any) -> ScheduleLawFit:
    """Fit L(s) = L0 + A S1^-alpha - C S2 per model size over whole curves (Tissue et al. 2024).

    Parameters
    ----------
    data : Batch, DataFrame or path
        Anything :func:`scalekit.load_batch` accepts: curves (a ``step`` column) with a learning-rate column or a
        declared ``schedule:``.
    metric : str, optional
        Default: the batch's first metric.
    schedules : mapping, optional
        Per run, a :class:`~scalekit.data.schedule.Schedule` or the learning rate at every step
        0..T; overrides what the batch says (e.g. runs whose rows are endpoints only).
    runs : list of str, optional
        Fit only these runs.
    until : float, optional
        Fit only each run's steps up to this fraction of its last step (a backtest).
    decay : float or "fit"
        lambda of the annealing momentum, per step. ``"fit"`` (the default) picks it per model size
        from 0.9 to 0.9995 by the fit's objective: the paper's 0.999 suits small-batch runs, while runs
        with few large steps forget a drop of the learning rate within tens of steps.
    options : Options, optional
        Run options (:mod:`scalekit.options`); the batch config's options fill what they leave unset.
    **overrides
        Any option by name: ``n_boot`` (bootstrap resamples over runs, 0: none), ``seed``, ``delta`` (Huber
        threshold on log residuals).

    Returns
    -------
    ScheduleLawFit

    Raises
    ------
    FitError
        When no run has a learning-rate curve, or no model size has enough points.
    """
    batch = as_batch(data)
    opts = fit_options(batch, options, overrides)
    n_boot, seed, delta = opts.n_boot, opts.seed, opts.delta
    spec = batch.metric(metric)
    if not batch.has_checkpoints:
        raise FitError("the schedule law is fitted over training curves; this batch has no step column", metric=spec.name)
    f = batch.frame
    chosen = [str(r) for r in (runs if runs is not None else f["run"].unique())]
    schedules = dict(schedules or {})
    curves: dict[str, FloatArray] = {}
    skipped: list[str] = []
    for r in chosen:
        g = f[f["run"] == r]
        if g.empty:
            raise FitError(f"no run {r!r} in the batch", metric=spec.name)
        last = int(g["step"].max())
        if r in schedules:
            s = schedules[r]
            lr = (s.lr(np.arange(last + 1), s.total if s.total is not None else last) if isinstance(s, Schedule)
                  else np.asarray(s, dtype=float))
        else:
            lr_opt = lr_per_step(f, r, batch.schedule) if (batch.lr_column or batch.schedule) else None
            if lr_opt is None:
                skipped.append(r)
                continue
            lr = lr_opt
        if lr.size < last + 1:
            raise FitError(f"run {r!r}: its learning-rate curve ends at step {lr.size - 1}, before its last row (step {last})",
                           metric=spec.name)
        curves[r] = lr
    if not curves:
        raise FitError("no run has a learning-rate curve: add an lr column, declare `schedule:`, or pass schedules=",
                       metric=spec.name)
    rows = _rows(batch, spec.name, list(curves), until)
    keys = rows["N"].map("{:.6g}".format)
    if "group" in rows:
        keys = keys + "/" + rows["group"].astype(str)
    laws: dict[str, CurveLaw] = {}
    run_size: dict[str, str] = {}
    for key, g in rows.groupby(keys, sort=False):
        size = str(key)
        rr = [str(x) for x in g["run"].unique()]
        lr_ref = max(float(np.max(curves[r])) for r in rr)
        if not lr_ref > 0:
            continue
        y = spec.to_error(g[spec.name].to_numpy(dtype=float))
        ok = y > 0
        g, y = g[ok], y[ok]
        if len(g) < 6:
            skipped.extend(rr)
            continue
        steps = np.round(g["step"].to_numpy()).astype(int)
        grp = g["run"].astype(str).to_numpy()

        def areas(lam: float, grp: npt.NDArray[np.str_] = grp, steps: npt.NDArray[np.int_] = steps,
                  rr: list[str] = rr, lr_ref: float = lr_ref) -> tuple[FloatArray, FloatArray]:
            S1 = np.empty(steps.size)
            S2 = np.empty(steps.size)
            for r in rr:
                m = grp == r
                a1, a2 = annealing_areas(curves[r] / lr_ref, lam)
                S1[m], S2[m] = a1[steps[m]], a2[steps[m]]
            return S1, S2

        if decay == "fit":
            lam = _choose_decay(areas, y, grp, delta, seed)
        else:
            lam = float(decay)
        S1, S2 = areas(lam)
        theta, fv, boots, fit_C, converged = _fit_one(S1, S2, y, grp, delta, n_boot, seed)
        resid = np.log(_predict(theta, S1, S2)) - np.log(y)
        names = ("L0", "A", "alpha", "C")
        nat = np.array([theta[0], np.exp(theta[1]), theta[2], theta[3]])
        ci = None
        if boots is not None and len(boots) >= 20:
            bn = np.column_stack([boots[:, 0], np.exp(boots[:, 1]), boots[:, 2], boots[:, 3]])
            lo, hi = np.percentile(bn, [2.5, 97.5], axis=0)
            ci = {k: (float(a), float(b)) for k, a, b in zip(names, lo, hi)}
        notes = () if fit_C else ("no annealing in the fitted curves: C is not identified and set to 0",)
        laws[size] = CurveLaw(size, float(g["N"].iloc[0]), {k: float(v) for k, v in zip(names, nat)}, ci, lam, lr_ref, fv,
                              len(g), float(np.sqrt(np.mean(resid ** 2))), tuple(rr), notes, boots,
                              (float(steps.min()), float(steps.max())), resid, converged)
        run_size.update({r: size for r in rr})
    if not laws:
        raise FitError("no model size has 6 or more usable points on its curves", metric=spec.name)
    method = {"formula": FORMULA, "decay": decay, "loss": "huber", "delta": delta, "space": "log", "n_boot": n_boot,
              "bootstrap_unit": "run", "seed": seed, "until": until, "lr_relative_to": "peak of the fitted runs",
              "reference": "Tissue, Wang and Wang 2024, arXiv:2408.11029"}
    return ScheduleLawFit(spec.name, spec.direction, spec.bound, laws, run_size, curves, method, tuple(skipped))
