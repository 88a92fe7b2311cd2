"""Fitting scaling laws: :func:`fit_law` for batches, :func:`fit_curve` for plain arrays.

The recipe is Hoffmann et al. (2022) Approach 3 as replicated by Besiroglu et al. (2024):
``log L = LSE(a - alpha log N, b - beta log D, e)``, Huber loss (delta 1e-3) on the log
residuals, summed; global optimum over many starts; uncertainty by bootstrap over runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _engine
from ._html import ResultMixin, fmt, table
from ._json import jsonable
from .exceptions import FitError
from .laws import LawForm, get_form

if TYPE_CHECKING:
    import pandas as pd

    from .batch import Batch

__all__ = ["FitResult", "Prediction", "fit_law", "fit_curve"]


@dataclass(frozen=True)
class Prediction(ResultMixin):
    """Predicted values with an interval (``lo``, ``hi`` at ``level``)."""

    value: np.ndarray
    lo: np.ndarray | None
    hi: np.ndarray | None
    level: float
    kind: str  # "confidence" (the law) or "prediction" (a new run, with scatter)

    def summary(self) -> dict[str, Any]:
        return jsonable({"value": self.value, "lo": self.lo, "hi": self.hi, "level": self.level, "kind": self.kind})


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
    form: LawForm
    params: dict[str, float]
    stderr: dict[str, float] | None
    ci: dict[str, tuple[float, float]] | None
    covar: np.ndarray | None
    objective: float
    ndata: int
    nfree: int
    residuals: np.ndarray
    aic: float
    bic: float
    success: bool
    message: str
    excluded: tuple[dict[str, Any], ...]
    method: dict[str, Any]
    x: np.ndarray = field(repr=False)  # (n, V) natural scale
    y: np.ndarray = field(repr=False)  # (n,) metric scale
    groups: np.ndarray = field(repr=False)  # (n,) run label per point
    theta: np.ndarray = field(repr=False)
    boot_theta: np.ndarray | None = field(repr=False, default=None)

    # --- predictions -------------------------------------------------------------------
    def _to_metric(self, err: np.ndarray) -> np.ndarray:
        return (self.bound - err) if self.direction == "max" else err

    def predict(self, *x: Any, interval: str | None = None, level: float = 0.95, seed: int = 0):
        """The law at the given point(s), on the metric's own scale.

        Parameters
        ----------
        *x : array_like
            One argument per variable of the form (``N, D`` for the two-variable law).
        interval : {None, "confidence", "prediction"}
            None returns an array. "confidence" gives the bootstrap interval of the law itself;
            "prediction" adds the scatter of a new run (resampled log residuals).

        Returns
        -------
        ndarray or Prediction
        """
        arrs = np.broadcast_arrays(*[np.asarray(v, dtype=float) for v in x])
        if len(arrs) != len(self.form.variables):
            raise FitError(f"predict takes {len(self.form.variables)} argument(s) {self.form.variables}", form=self.form.name)
        shape = arrs[0].shape
        logx = np.log(np.stack([a.ravel() for a in arrs], axis=1))
        err = np.exp(self.form.log_predict(self.theta, logx))
        value = self._to_metric(err).reshape(shape)
        if interval is None:
            return value
        if self.boot_theta is None:
            return Prediction(value, None, None, level, interval)
        draws = self.form.log_predict(self.boot_theta, logx)  # (B, m)
        if interval == "prediction":
            rng = np.random.default_rng(seed)
            draws = draws - rng.choice(self.residuals, size=draws.shape)
        elif interval != "confidence":
            raise FitError(f"interval must be None, 'confidence' or 'prediction', not {interval!r}")
        q = 100 * (1 - level) / 2
        lo_e, hi_e = np.percentile(np.exp(draws), [q, 100 - q], axis=0)
        lo, hi = self._to_metric(lo_e), self._to_metric(hi_e)
        lo, hi = np.minimum(lo, hi).reshape(shape), np.maximum(lo, hi).reshape(shape)
        return Prediction(value, lo, hi, level, interval)

    def param_draws(self) -> np.ndarray | None:
        """Bootstrap draws of the published parameters, shape (n_boot, nfree)."""
        return None if self.boot_theta is None else self.form.natural(self.boot_theta)

    # --- reporting ---------------------------------------------------------------------
    @property
    def fitted_quantity(self) -> str:
        return f"{self.bound:g} - {self.metric}" if self.direction == "max" else self.metric

    def summary(self) -> dict[str, Any]:
        """JSON-safe dict: the ``fits`` entry of summary.json."""
        return jsonable({
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

    def report(self) -> str:
        """Plain-text fit report, in the manner of lmfit's ``fit_report()``."""
        m = self.method
        lines = [
            f"[[Fit: {self.metric}]]  {self.form.formula}",
            f"    fitted quantity = {self.fitted_quantity} ({'higher' if self.direction == 'max' else 'lower'} is better)",
            f"    loss = {m['loss']}" + (f" (delta {m['delta']:g})" if m["loss"] == "huber" else "") + " on log residuals, summed",
            f"    data points = {self.ndata}, free parameters = {self.nfree}, starts = {m['starts']}, bootstrap = {m['n_boot']} (seed {m['seed']})",
            f"    objective = {self.objective:.10g}, AIC = {self.aic:.4f}, BIC = {self.bic:.4f}, success = {self.success}",
            f"    {self.message}",
            "[[Parameters]]",
        ]
        for k, v in self.params.items():
            s = f"    {k:>6} = {v:.6g}"
            if self.stderr:
                s += f" +/- {self.stderr[k]:.3g}"
            if self.ci:
                lo, hi = self.ci[k]
                s += f"   95% CI [{lo:.6g}, {hi:.6g}]"
            lines.append(s)
        if self.excluded:
            lines.append("[[Excluded points]]")
            lines += [f"    {e['run']}: {e['reason']}" for e in self.excluded]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = []
        for k, v in self.params.items():
            lo, hi = self.ci[k] if self.ci else (None, None)
            rows.append([k, v, self.stderr[k] if self.stderr else None, lo, hi])
        head = (f"<p><b>{escape(self.metric)}</b>: <code>{escape(self.form.formula)}</code>, fitted to "
                f"{escape(self.fitted_quantity)}; {self.ndata} points, objective {fmt(self.objective, 6)}, "
                f"{'converged' if self.success else 'NOT converged'}.</p>")
        return head + table(["parameter", "estimate", "std. error", "95% lo", "95% hi"], rows)

    def __repr__(self) -> str:
        ps = ", ".join(f"{k}={v:.4g}" for k, v in self.params.items())
        return f"<FitResult {self.metric} {self.form.name}: {ps}; objective={self.objective:.6g}, ndata={self.ndata}>"


# ---------------------------------------------------------------------------------------
def fit_curve(
    x: Any,
    y: Any,
    *,
    form: str | LawForm = "power",
    metric: str = "y",
    direction: str = "min",
    bound: float | None = None,
    groups: Any = None,
    n_boot: int = 1000,
    seed: int = 0,
    loss: str = "huber",
    delta: float = 1e-3,
    starts: str = "projection",
    n_starts: int = 8,
    excluded: tuple[dict[str, Any], ...] = (),
    extra_method: dict[str, Any] | None = None,
) -> FitResult:
    """Fit a law to arrays. ``x`` is (n,) or (n, V); ``y`` on the metric's own scale.

    ``groups`` labels the unit of resampling (a run); by default each point is its own.

    Examples
    --------
    >>> import numpy as np
    >>> C = np.logspace(18, 22, 9); N = 0.1 * C ** 0.5
    >>> r = fit_curve(C, N, form="power", n_boot=0)
    >>> round(r.params["a"], 6), round(r.params["G"], 6)
    (0.5, 0.1)
    """
    f = get_form(form)
    X = np.asarray(x, dtype=float)
    if X.ndim == 1:
        X = X[:, None]
    yv = np.asarray(y, dtype=float)
    if X.shape[1] != len(f.variables):
        raise FitError(f"form {f.name!r} takes {len(f.variables)} variable(s), got {X.shape[1]}", metric=metric)
    if loss not in ("huber", "squared"):
        raise FitError(f"loss must be 'huber' or 'squared', not {loss!r}", metric=metric)
    if n_boot < 0:
        raise FitError("n_boot must be >= 0", metric=metric)
    err = (bound - yv) if direction == "max" else yv
    ok = np.isfinite(err) & (err > 0) & np.all(np.isfinite(X) & (X > 0), axis=1)
    groups = np.asarray([str(i) for i in range(len(yv))] if groups is None else groups).astype(str)
    exc = list(excluded)
    for i in np.flatnonzero(~ok):
        why = "missing value" if not np.isfinite(yv[i]) else ("at or beyond the bound" if direction == "max" else "non-positive value")
        exc.append({"run": str(groups[i]), "reason": f"{metric}: {why}"})
    X, err, yv, groups = X[ok], err[ok], yv[ok], groups[ok]
    n = len(err)
    if n < f.n_params + 1:
        raise FitError(f"{n} usable points cannot determine the {f.n_params} parameters of {f.formula}", metric=metric, form=f.name)
    for j, v in enumerate(f.variables):
        if np.unique(X[:, j]).size < 2:
            raise FitError(f"variable {v} takes a single value; it cannot be fitted", metric=metric, form=f.name)

    prob = _engine.Problem(f, np.log(X), np.log(err), np.inf if loss == "squared" else float(delta))
    theta0 = _starting_points(prob, starts, n_starts)
    sol = _engine.minimize(prob, theta0)
    order = np.argsort(sol.f)
    best = order[0]
    theta = sol.theta[best]
    fbest = float(sol.f[best])
    same = int(np.sum(sol.f <= fbest * (1 + 1e-9) + 1e-15))
    success = bool(sol.converged[best])
    message = (f"{'converged' if success else 'stopped at the iteration limit'} in at most {sol.iterations} iterations; "
               f"{same} of {len(theta0)} starts reached the best objective")

    boot_theta = stderr = ci = covar = None
    if n_boot > 0:
        rng = np.random.default_rng(seed)
        uniq, inv = np.unique(groups, return_inverse=True)
        counts = rng.multinomial(len(uniq), np.full(len(uniq), 1.0 / len(uniq)), size=n_boot).astype(float)
        w = counts[:, inv]
        # Resamples need 4-5 digits, not 13: a looser stop saves iterations.
        bs = _engine.minimize(prob, np.repeat(theta[None], n_boot, axis=0), w, ftol=1e-9)
        boot_theta = bs.theta
        nat = f.natural(boot_theta)
        sd = nat.std(axis=0, ddof=1)
        lo, hi = np.percentile(nat, [2.5, 97.5], axis=0)
        stderr = {k: float(v) for k, v in zip(f.param_names, sd)}
        ci = {k: (float(a), float(b)) for k, a, b in zip(f.param_names, lo, hi)}
        covar = np.cov(nat, rowvar=False)
        if not bs.converged.all():
            message += f"; {int((~bs.converged).sum())} of {n_boot} resamples hit the iteration limit"

    res = prob.residuals(theta)
    rss = float(np.sum(res ** 2))
    k = f.n_params
    ll_term = n * np.log(max(rss, 1e-300) / n)
    method = {
        "form": f.name, "formula": f.formula, "loss": loss, "delta": None if loss == "squared" else float(delta),
        "space": "log", "optimizer": "Levenberg-Marquardt, exact Hessian", "starts": int(len(theta0)),
        "start_strategy": starts, "n_boot": int(n_boot), "bootstrap_unit": "run", "seed": int(seed),
    }
    method.update(extra_method or {})
    return FitResult(
        metric=metric, direction=direction, bound=bound, form=f,
        params={kk: float(v) for kk, v in zip(f.param_names, f.natural(theta))},
        stderr=stderr, ci=ci, covar=covar, objective=fbest, ndata=n, nfree=k, residuals=res,
        aic=float(ll_term + 2 * k), bic=float(ll_term + k * np.log(n)), success=success, message=message,
        excluded=tuple(exc), method=method, x=X, y=yv, groups=groups, theta=theta, boot_theta=boot_theta,
    )


def _starting_points(prob: _engine.Problem, starts: str, n_starts: int) -> np.ndarray:
    f = prob.form
    if f.n_terms == 1:  # pure power law: linear in log space, least squares is the start
        A = np.column_stack([np.ones(prob.n), -prob.logx[:, f.terms[0].variable]])
        return np.linalg.lstsq(A, prob.logy, rcond=None)[0][None, :]
    pools = []
    if starts in ("projection", "both"):
        pools.append(_engine.projection_starts(prob, _engine.exponent_grid(len(f.exp_terms))))
    if starts in ("hoffmann", "both"):
        pools.append(_engine.hoffmann_grid(f))
    if not pools:
        raise FitError(f"starts must be 'projection', 'hoffmann' or 'both', not {starts!r}")
    cand = np.concatenate(pools)
    f0 = prob.objective(cand, np.ones(prob.n))
    f0 = np.where(np.isfinite(f0), f0, np.inf)
    return cand[np.argsort(f0)[: max(1, n_starts)]]


def fit_law(
    data: "Batch | pd.DataFrame | str",
    metric: str | None = None,
    *,
    form: str | LawForm = "two_var",
    x: str = "N",
    n_boot: int = 1000,
    seed: int = 0,
    loss: str = "huber",
    delta: float = 1e-3,
    points: str = "auto",
    starts: str = "projection",
    n_starts: int = 8,
) -> FitResult:
    """Fit a scaling law to a batch.

    Parameters
    ----------
    data : Batch, DataFrame or path
        Anything :func:`scalekit.load_batch` accepts (loaded with default config).
    metric : str, optional
        Metric name (default: the batch's first metric).
    form : {"two_var", "saturating", "power"}
        ``two_var`` fits L(N, D) = E + A/N^alpha + B/D^beta; the one-variable forms use ``x``.
    x : {"N", "D", "C"}
        The variable of a one-variable form.
    n_boot : int
        Bootstrap resamples over runs (0 skips the bootstrap).
    seed : int
        Seed of the bootstrap (results are reproducible).
    loss : {"huber", "squared"}
        Huber (``delta``) or squared error, on log residuals.
    points : {"auto", "final", "all"}
        Which rows: the last checkpoint of each run, or every checkpoint. ``auto`` takes final
        points when they take 3 or more values of D spanning at least 10x, else all checkpoints.
    starts, n_starts
        Starting-point strategy ("projection": variable projection over an exponent grid;
        "hoffmann": the 4500-point grid of Hoffmann et al.; "both") and how many of the best
        starts are optimised.

    Returns
    -------
    FitResult

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> N, D = np.meshgrid(np.logspace(7, 9, 5), np.logspace(9, 11, 5))
    >>> L = 1.7 + 400 / N.ravel() ** 0.34 + 410 / D.ravel() ** 0.28
    >>> df = pd.DataFrame({"params": N.ravel(), "tokens": D.ravel(), "loss": L})
    >>> r = fit_law(df, n_boot=0)
    >>> round(r.params["alpha"], 3), round(r.params["beta"], 3)
    (0.34, 0.28)
    """
    from .batch import Batch, load_batch

    batch = data if isinstance(data, Batch) else load_batch(data)
    spec = batch.metric(metric)
    f = get_form(form)
    frame, used = _select_points(batch, points, spec.name)
    if f.name == "two_var":
        cols = ["N", "D"]
    else:
        if x not in ("N", "D", "C"):
            raise FitError(f"x must be 'N', 'D' or 'C', not {x!r}", metric=spec.name, form=f.name)
        cols = [x]
    return fit_curve(
        frame[cols].to_numpy(), frame[spec.name].to_numpy(), form=f, metric=spec.name, direction=spec.direction,
        bound=spec.bound, groups=frame["run"].to_numpy(), n_boot=n_boot, seed=seed, loss=loss, delta=delta,
        starts=starts, n_starts=n_starts,
        excluded=tuple({"run": e.run, "reason": e.reason} for e in batch.excluded),
        extra_method={"points": used, "variables": cols, "compute": batch.compute, "data_unit": batch.data_unit},
    )


def _select_points(batch: "Batch", points: str, metric: str) -> "tuple[pd.DataFrame, str]":
    if points not in ("auto", "final", "all"):
        raise FitError(f"points must be 'auto', 'final' or 'all', not {points!r}", metric=metric)
    if not batch.has_checkpoints:
        return batch.frame, "final"
    fin = batch.finals()
    fin = fin[np.isfinite(fin[metric])]
    # Final points identify beta only if they spread D; otherwise the curves carry D.
    spread = fin["D"].max() / fin["D"].min()
    if points == "final" or (points == "auto" and fin["D"].nunique() >= 3 and spread >= 10 and len(fin) >= 8):
        return fin, "final"
    return batch.frame, "all"
