"""What a law fit returns: :class:`FitResult` (numbers only; display lives in the report stage)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace
from typing import Any, overload

import numpy as np
import numpy.typing as npt

from .. import display
from ..data.metric import ArrayOrFloat, from_error
from ..data.ranges import beyond
from ..exceptions import ExtrapolationWarning, FitError
from ..jsonsafe import jsonable
from .forms import SANE_RANGES, AnyForm, centre, shifted
from .vocabulary import check_interval, frozen

__all__ = ["FitResult", "Prediction", "identification_problems", "judged"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class Prediction:
    """Predicted values with an interval (``lo``, ``hi`` at ``level``).

    ``extrapolation`` maps each input variable (``N``, ``D``, ``C``, a map's ``source``, a curve's ``step``)
    to the factor by which each point lies beyond the range fitted (1 inside it).
    """

    value: FloatArray
    lo: FloatArray | None
    hi: FloatArray | None
    level: float
    kind: str  # "confidence" (the law) or "prediction" (a new run, with scatter)
    # variable -> factor beyond the range the law was fitted on (1 inside it), per point
    extrapolation: dict[str, FloatArray]

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = jsonable({"value": self.value, "lo": self.lo, "hi": self.hi, "level": self.level,
                                        "kind": self.kind, "extrapolation": self.extrapolation})
        return out

    def _repr_html_(self) -> str:
        return display.html(self)


@dataclass(frozen=True, eq=False)
class FitResult:
    """The outcome of a law fit.

    Attributes
    ----------
    params : mapping
        Published parameterisation, e.g. ``E, A, B, alpha, beta`` for the two-variable law (read-only).
        For a higher-is-better metric these describe the error ``bound - metric``.
    stderr, ci : mapping or None
        Bootstrap standard errors and 95% percentile intervals as (lo, hi) (None when ``n_boot=0``).
    covar : ndarray or None
        Bootstrap covariance of the parameters, in ``params`` order.
    objective : float
        Summed loss (Huber or squared) of the log residuals at the optimum.
    ndata, nfree : int
        Points fitted and free parameters.
    residuals : ndarray
        log(predicted) - log(observed) of the error quantity, per point (``residual_scale`` "log").
    draws : ndarray or None
        Bootstrap draws of the published parameters, (n_boot, nfree) in ``params`` order (a property).
    aic, bic : float
        Gaussian information criteria on the log residuals (for comparing forms on the same data).
    success : bool
        Whether the optimiser converged at the best start to a law the data identify: False also when a
        parameter sits at a bound (its term contributes nothing), an exponent leaves its form's sane range
        (:data:`scalekit.laws.forms.SANE_RANGES`), the Jacobian is rank-deficient or the bootstrap collapses
        (zero-width intervals); ``problems`` then says which.
    message : str
        How it converged, and why it is not a success.
    excluded : tuple of dict
        Points left out of this fit and why (diverged runs are on the Batch).
    method : dict
        Everything needed to reproduce the fit: form, loss, delta, starts, resamples, seed, points.
    """

    metric: str
    direction: str
    bound: float | None
    form: AnyForm
    params: dict[str, float]
    stderr: dict[str, float] | None
    ci: dict[str, tuple[float, float]] | None
    covar: FloatArray | None
    objective: float
    ndata: int
    nfree: int
    residuals: FloatArray
    aic: float
    bic: float
    success: bool
    message: str
    excluded: tuple[dict[str, Any], ...]
    method: dict[str, Any]
    x: FloatArray = field(repr=False)  # (n, V) natural scale
    y: FloatArray = field(repr=False)  # (n,) metric scale
    groups: npt.NDArray[np.str_] = field(repr=False)  # (n,) run label per point
    theta: FloatArray = field(repr=False)
    boot_theta: FloatArray | None = field(repr=False, default=None)
    problems: tuple[str, ...] = ()  # why the data do not identify this law (empty for an identified fit)

    def __post_init__(self) -> None:
        for name in ("params", "stderr", "ci"):  # read-only: a result is a record of what was fitted
            object.__setattr__(self, name, frozen(getattr(self, name)))

    # --- predictions -------------------------------------------------------------------
    @property
    def residual_scale(self) -> str:
        """``"log"`` (log predicted minus log observed) or ``"linear"`` (predicted minus observed): the scale the
        loss was taken on (linear for a metric with values <= 0)."""
        return str(self.method.get("residual_scale", "log"))

    def values(self, theta: FloatArray, logx: FloatArray) -> FloatArray:
        """The law's fitted quantity (not its log) for internal params ``theta`` (..., P) at ``logx`` (n, V)."""
        from .general import value

        return value(self.form, theta, logx)

    def to_metric(self, err: ArrayOrFloat) -> ArrayOrFloat:
        """Values of the fitted error quantity back on the metric's own scale."""
        return from_error(err, self.direction, self.bound)

    def extrapolation(self, *x: npt.ArrayLike) -> dict[str, FloatArray]:
        """How far the point(s) lie beyond the range fitted: variable -> factor (1 inside it).

        The two-variable law also gets ``C``, compute as N D against the fitted points' N D
        (the FLOPs factor cancels in the ratio).

        Examples
        --------
        >>> fit.extrapolation(1e9, 2e10)  # doctest: +SKIP
        {'N': array(10.), 'D': array(140.), 'C': array(...)}
        """
        arrs = np.broadcast_arrays(*[np.asarray(v, dtype=float) for v in x])
        if len(arrs) != len(self.form.variables):
            raise FitError(f"extrapolation takes {len(self.form.variables)} argument(s) {self.form.variables}",
                           form=self.form.name)
        out = {v: beyond(a, float(self.x[:, j].min()), float(self.x[:, j].max()))
               for j, (v, a) in enumerate(zip(self.form.variables, arrs))}
        if tuple(self.form.variables) == ("N", "D"):
            nd = self.x[:, 0] * self.x[:, 1]
            out["C"] = beyond(arrs[0] * arrs[1], float(nd.min()), float(nd.max()))
        return out

    @overload
    def predict(self, *x: npt.ArrayLike, interval: None = None, level: float = 0.95, seed: int = 0,
                warn: bool = True, threshold: float | None = None) -> FloatArray: ...
    @overload
    def predict(self, *x: npt.ArrayLike, interval: str, level: float = 0.95, seed: int = 0,
                warn: bool = True, threshold: float | None = None) -> Prediction: ...

    def predict(
        self, *x: npt.ArrayLike, interval: str | None = None, level: float = 0.95, seed: int = 0,
        warn: bool = True, threshold: float | None = None,
    ) -> FloatArray | Prediction:
        """The law at the given point(s), on the metric's own scale.

        Parameters
        ----------
        *x : array_like
            One argument per variable of the form (``N, D`` for the two-variable law).
        interval : {None, "confidence", "prediction"}
            None returns an array. "confidence" gives the bootstrap interval of the law itself;
            "prediction" adds the scatter of a new run (resampled log residuals, scaled by
            sqrt(n / (n - p)) for the degrees of freedom the fit used): the lack-of-fit noise. Both return a
            :class:`Prediction` whose ``extrapolation`` says how far each point lies beyond the
            range fitted (``{"N": x, "D": x, "C": x}``, 1 inside it).
        warn, threshold : bool, float
            Warn (:class:`scalekit.ExtrapolationWarning`) when a point lies more than ``threshold``
            times beyond the range fitted (default: ``Thresholds().extrapolation_factor``, 2).

        Returns
        -------
        ndarray or Prediction

        Examples
        --------
        >>> p = fit.predict(1e9, 2e10, interval="prediction")  # doctest: +SKIP
        >>> p.value, p.lo, p.hi, p.extrapolation["N"]  # doctest: +SKIP
        """
        check_interval(interval)
        arrs = np.broadcast_arrays(*[np.asarray(v, dtype=float) for v in x])
        if len(arrs) != len(self.form.variables):
            raise FitError(f"predict takes {len(self.form.variables)} argument(s) {self.form.variables}",
                           form=self.form.name)
        shape = arrs[0].shape
        dist = self.extrapolation(*arrs) if (warn or interval is not None) else None
        if warn and dist:
            self._warn_extrapolation(dist, threshold)
        with np.errstate(divide="ignore"):  # a variable whose zero is a value (sparsity) enters as exp(-inf) = 0
            logx = np.log(np.stack([a.ravel() for a in arrs], axis=1))
        linear = self.residual_scale == "linear"
        err = self.values(self.theta, logx)
        value: FloatArray = self.to_metric(err).reshape(shape)
        if interval is None:
            return value
        assert dist is not None  # computed whenever an interval is asked for
        if self.boot_theta is None:
            return Prediction(value, None, None, level, interval, dist)
        # draws on the scale of the residuals (log, or the values themselves for a linear-residual fit)
        draws = self.values(self.boot_theta, logx) if linear else self.form.log_predict(self.boot_theta, logx)  # (B, m)
        if interval == "prediction":
            # Lack of fit: a new run scatters like the residuals, which the fit shrinks by its p free
            # parameters; scaling them by sqrt(n / (n - p)) restores the scatter's variance.
            rng = np.random.default_rng(seed)
            infl = np.sqrt(self.ndata / max(self.ndata - self.nfree, 1))
            draws = draws - infl * rng.choice(self.residuals, size=draws.shape)
        q = 100 * (1 - level) / 2
        with np.errstate(over="ignore"):  # a wild resample of a flexible form may overflow: it sits beyond the tails
            lo_e, hi_e = np.percentile(draws if linear else np.exp(draws), [q, 100 - q], axis=0)
        lo, hi = self.to_metric(lo_e), self.to_metric(hi_e)
        lo, hi = np.minimum(lo, hi).reshape(shape), np.maximum(lo, hi).reshape(shape)
        return Prediction(value, lo, hi, level, interval, dist)

    def _warn_extrapolation(self, dist: dict[str, FloatArray], threshold: float | None) -> None:
        if threshold is None:
            from ..options import Thresholds

            threshold = Thresholds().extrapolation_factor
        worst = {k: float(np.nanmax(v)) for k, v in dist.items() if np.size(v) and np.isfinite(v).any()}
        far = {k: v for k, v in worst.items() if v > threshold}
        if far:
            warnings.warn(f"{self.metric}: predicting {', '.join(f'{v:.3g}x {k}' for k, v in far.items())} beyond the range "
                          f"fitted (more than {threshold:g}x): an extrapolation; the law is untested there",
                          ExtrapolationWarning, stacklevel=3)

    @property
    def draws(self) -> FloatArray | None:
        """Bootstrap draws of the published parameters, shape (n_boot, nfree), columns in ``params`` order."""
        return None if self.boot_theta is None else self.form.natural(self.boot_theta)

    # --- reporting ---------------------------------------------------------------------
    @property
    def fitted_quantity(self) -> str:
        return f"{self.bound:g} - {self.metric}" if self.direction == "max" else self.metric

    def summary(self) -> dict[str, Any]:
        """JSON-safe dict: the ``fits`` entry of summary.json."""
        out: dict[str, Any] = jsonable({
            "metric": self.metric,
            "direction": self.direction,
            "bound": self.bound,
            "form": self.form.name,
            "formula": self.form.formula,
            "fitted_quantity": self.fitted_quantity,
            "params": self.params,
            "stderr": self.stderr,
            "ci": {k: list(v) for k, v in self.ci.items()} if self.ci else None,
            "objective": self.objective,
            "ndata": self.ndata,
            "nfree": self.nfree,
            "aic": self.aic,
            "bic": self.bic,
            "rmse_log": float(np.sqrt(np.mean(self.residuals ** 2))) if self.residual_scale == "log" else None,
            "residual_scale": self.residual_scale,
            "success": self.success,
            "message": self.message,
            "excluded": list(self.excluded),
            "method": self.method,
        })
        return out

    def report(self) -> str:
        """Plain-text fit report, in the manner of lmfit's ``fit_report()``."""
        return display.text(self)

    def _repr_html_(self) -> str:
        return display.html(self)

    def __repr__(self) -> str:
        ps = ", ".join(f"{k}={v:.4g}" for k, v in self.params.items())
        return f"<FitResult {self.metric} {self.form.name}: {ps}; objective={self.objective:.6g}, ndata={self.ndata}>"




# --- honest success ----------------------------------------------------------------------------------------
# A parameter whose derivative (RMS over the points, in the centred data's units) is below this has no effect on
# the fitted values: it sits at a bound of the law (a coefficient at zero, a repetition scale with no repetition).
_NO_EFFECT = 1e-6
# Column-scaled Jacobians whose smallest singular value is below this fraction of the largest are rank-deficient.
_RANK_TOL = 1e-7


def _internal_names(form: AnyForm) -> list[str]:
    """The published name each internal parameter stands for."""
    return [form.param_names[form.published_index(i)] for i in range(form.n_params)]


def _centred_jacobian(form: AnyForm, theta: FloatArray, logx: FloatArray, logy: FloatArray,
                      linear: bool = False) -> FloatArray:
    """d log y / d theta (n, P) by central differences, in the units of the centred data (as the solver sees it)."""
    dx, dy = centre(form, logx, logy)
    t = shifted(form, theta, -dx, -dy)
    lx = logx - dx
    h = 1e-6 * np.maximum(1.0, np.abs(t))
    steps = np.eye(t.size) * h
    with np.errstate(all="ignore"):
        if linear:  # a linear-residual fit: derivatives of the value, relative to its typical size
            from .general import value

            size = float(np.median(np.abs(value(form, t, lx)))) or 1.0
            up, down = value(form, t + steps, lx) / size, value(form, t - steps, lx) / size
        else:
            up = form.log_predict(t + steps, lx)
            down = form.log_predict(t - steps, lx)
    out: FloatArray = ((up - down) / (2 * h[:, None])).T
    return out


def identification_problems(fit: FitResult) -> list[str]:
    """Why the data do not identify the fitted law: parameters at a bound, exponents beyond their sane range,
    a rank-deficient Jacobian, a collapsed bootstrap. Empty for an identified fit."""
    out: list[str] = []
    form, params = fit.form, fit.params
    for name, (lo, hi) in SANE_RANGES.get(form.name, {}).items():
        if not lo < params[name] < hi:
            out.append(f"{name} = {params[name]:.4g} is outside its sane range ({lo:g}, {hi:g})")
    with np.errstate(divide="ignore"):  # a variable whose zero is a value (sparsity) enters as exp(-inf) = 0
        logx = np.log(fit.x)
    logy = (form.log_predict(fit.theta, logx) - fit.residuals if fit.residual_scale == "log"
            else np.zeros(len(fit.y)))  # no log of a signed metric; a formula law (the only signed form) has no shift
    J = _centred_jacobian(form, fit.theta, logx, logy, fit.residual_scale == "linear")
    names = _internal_names(form)
    scale = np.sqrt(np.mean(J ** 2, axis=0))
    if not np.all(np.isfinite(J)):
        out.append("the law is not finite at every fitted point")
        return out
    dead = scale < _NO_EFFECT
    for i in np.flatnonzero(dead):
        out.append(f"{names[i]} = {params[names[i]]:.4g} sits at a bound: it has no effect on the fitted values")
    live = np.flatnonzero(~dead)
    if live.size > 1:
        _, sv, vt = np.linalg.svd(J[:, live] / scale[live], full_matrices=False)
        if sv[-1] < _RANK_TOL * sv[0]:
            tied = [names[live[j]] for j in np.flatnonzero(np.abs(vt[-1]) > 0.1)]
            out.append(f"the Jacobian is rank-deficient (condition {sv[0] / max(sv[-1], 1e-300):.2g}): "
                       f"{', '.join(tied)} trade off against each other")
    if fit.ci and float(np.sqrt(np.mean(fit.residuals ** 2))) > 1e-9:  # exact data: zero width is the truth
        flat = [k for k, (lo, hi) in fit.ci.items() if hi - lo <= 1e-9 * max(abs(params[k]), 1e-300)]
        if flat:
            out.append("the bootstrap collapsed: zero-width 95% interval for " +
                       ", ".join(f"{k} [{fit.ci[k][0]:.6g}, {fit.ci[k][1]:.6g}]" for k in flat))
    return out


def judged(fit: FitResult) -> FitResult:
    """``fit`` with ``success=False`` and its problems in ``message`` when the data do not identify the law."""
    problems = identification_problems(fit)
    if not problems:
        return fit
    return replace(fit, success=False, problems=tuple(problems),
                   message=f"{fit.message}; not a success: {'; '.join(problems)}")
