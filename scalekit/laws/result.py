"""What a law fit returns: :class:`FitResult` (numbers only; display lives in the report stage)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, overload

import numpy as np
import numpy.typing as npt

from .. import display
from ..data.metric import ArrayOrFloat, from_error
from ..exceptions import FitError
from ..jsonsafe import jsonable
from .forms import AnyForm

__all__ = ["FitResult", "Prediction"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Prediction:
    """Predicted values with an interval (``lo``, ``hi`` at ``level``)."""

    value: FloatArray
    lo: FloatArray | None
    hi: FloatArray | None
    level: float
    kind: str  # "confidence" (the law) or "prediction" (a new run, with scatter)

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = jsonable({"value": self.value, "lo": self.lo, "hi": self.hi, "level": self.level,
                                        "kind": self.kind})
        return out

    def _repr_html_(self) -> str:
        return display.html(self)


@dataclass(frozen=True)
class FitResult:
    """The outcome of a law fit.

    Attributes
    ----------
    params : dict
        Published parameterisation, e.g. ``E, A, B, alpha, beta`` for the two-variable law.
        For a higher-is-better metric these describe the error ``bound - metric``.
    stderr, ci : dict or None
        Bootstrap standard errors and 95% percentile intervals (None when ``n_boot=0``).
    covar : ndarray or None
        Bootstrap covariance of the parameters, in ``params`` order.
    objective : float
        Summed loss (Huber or squared) of the log residuals at the optimum.
    ndata, nfree : int
        Points fitted and free parameters.
    residuals : ndarray
        log(predicted) - log(observed) of the error quantity, per point.
    aic, bic : float
        Gaussian information criteria on the log residuals (for comparing forms on the same data).
    success : bool
        Whether the optimiser converged at the best start.
    message : str
        How it converged.
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

    # --- predictions -------------------------------------------------------------------
    def to_metric(self, err: ArrayOrFloat) -> ArrayOrFloat:
        """Values of the fitted error quantity back on the metric's own scale."""
        return from_error(err, self.direction, self.bound)

    @overload
    def predict(self, *x: npt.ArrayLike, interval: None = None, level: float = 0.95, seed: int = 0) -> FloatArray: ...
    @overload
    def predict(self, *x: npt.ArrayLike, interval: str, level: float = 0.95, seed: int = 0) -> Prediction: ...

    def predict(
        self, *x: npt.ArrayLike, interval: str | None = None, level: float = 0.95, seed: int = 0
    ) -> FloatArray | Prediction:
        """The law at the given point(s), on the metric's own scale.

        Parameters
        ----------
        *x : array_like
            One argument per variable of the form (``N, D`` for the two-variable law).
        interval : {None, "confidence", "prediction"}
            None returns an array. "confidence" gives the bootstrap interval of the law itself;
            "prediction" adds the scatter of a new run (resampled log residuals, scaled by
            sqrt(n / (n - p)) for the degrees of freedom the fit used): the lack-of-fit noise.

        Returns
        -------
        ndarray or Prediction
        """
        arrs = np.broadcast_arrays(*[np.asarray(v, dtype=float) for v in x])
        if len(arrs) != len(self.form.variables):
            raise FitError(f"predict takes {len(self.form.variables)} argument(s) {self.form.variables}",
                           form=self.form.name)
        shape = arrs[0].shape
        logx = np.log(np.stack([a.ravel() for a in arrs], axis=1))
        err = np.exp(self.form.log_predict(self.theta, logx))
        value: FloatArray = self.to_metric(err).reshape(shape)
        if interval is None:
            return value
        if self.boot_theta is None:
            return Prediction(value, None, None, level, interval)
        draws = self.form.log_predict(self.boot_theta, logx)  # (B, m)
        if interval == "prediction":
            # Lack of fit: a new run scatters like the residuals, which the fit shrinks by its p free
            # parameters; scaling them by sqrt(n / (n - p)) restores the scatter's variance.
            rng = np.random.default_rng(seed)
            infl = np.sqrt(self.ndata / max(self.ndata - self.nfree, 1))
            draws = draws - infl * rng.choice(self.residuals, size=draws.shape)
        elif interval != "confidence":
            raise FitError(f"interval must be None, 'confidence' or 'prediction', not {interval!r}")
        q = 100 * (1 - level) / 2
        with np.errstate(over="ignore"):  # a wild resample of a flexible form may overflow: it sits beyond the tails
            lo_e, hi_e = np.percentile(np.exp(draws), [q, 100 - q], axis=0)
        lo, hi = self.to_metric(lo_e), self.to_metric(hi_e)
        lo, hi = np.minimum(lo, hi).reshape(shape), np.maximum(lo, hi).reshape(shape)
        return Prediction(value, lo, hi, level, interval)

    def param_draws(self) -> FloatArray | None:
        """Bootstrap draws of the published parameters, shape (n_boot, nfree)."""
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
            "rmse_log": float(np.sqrt(np.mean(self.residuals ** 2))),
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


