"""Fitting one law form to points: :func:`fit_curve` for arrays, :func:`fit_windows` for a backtest's subsets.

The recipe is Hoffmann et al. (2022) Approach 3 as replicated by Besiroglu et al. (2024):
``log L = LSE(a - alpha log N, b - beta log D, e)``, Huber loss (delta 1e-3) on the log
residuals, summed; global optimum over many starts; uncertainty by bootstrap over runs.
:func:`scalekit.fit_law` (in :mod:`scalekit.laws.fit`) fits a batch, choosing the form by
backtest when asked.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..data.batch import Batch
from ..data.metric import from_error, to_error
from ..exceptions import FitError
from ..options import Options
from . import core, engine, general
from .core import Solution, run_counts, run_weights
from .forms import AnyForm, LawForm, centre, get_form, shifted
from .result import FitResult, judged
from .vocabulary import fit_options

__all__ = ["START_ROWS", "fit_batch", "fit_curve", "fit_windows", "law_columns", "residual_scale", "select_points"]


def fit_curve(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    form: str | AnyForm = "power",
    metric: str = "y",
    direction: str = "min",
    bound: float | None = None,
    groups: npt.ArrayLike | None = None,
    excluded: tuple[dict[str, Any], ...] = (),
    extra_method: dict[str, Any] | None = None,
    progress: Callable[[int, int], None] | None = None,
    boot_weights: npt.NDArray[np.float64] | None = None,
    residuals: str = "auto",
    options: Options | None = None,
    **overrides: Any,
) -> FitResult:
    """Fit a law to arrays. ``x`` is (n,) or (n, V); ``y`` on the metric's own scale.

    ``options`` and keyword ``overrides`` (the one options schema, :mod:`scalekit.options`) set ``n_boot``,
    ``seed``, ``loss``, ``delta``, ``starts`` and ``n_starts``; their defaults are the schema's.

    ``residuals`` is the scale the loss is taken on: ``"log"`` (log predicted minus log observed, the default
    for positive quantities), ``"linear"`` (predicted minus observed, divided by the median absolute value:
    for metrics that can be zero or negative), or ``"auto"``: linear when some fitted value is zero or
    negative, else log. The scale used is ``method["residual_scale"]`` and is said in ``message``.

    ``groups`` labels the unit of resampling (a run); by default each point is its own.
    ``boot_weights`` (n_boot, n), when given, are the row weights of each bootstrap resample
    (e.g. run counts shared with another fit, for a joint bootstrap) instead of resampling ``groups``.
    ``progress(done, total)`` is called as bootstrap resamples finish (they are solved in chunks
    of bounded memory, see :data:`scalekit.laws.core.CHUNK_CELLS`).

    Examples
    --------
    >>> import numpy as np
    >>> C = np.logspace(18, 22, 9); N = 0.1 * C ** 0.5
    >>> r = fit_curve(C, N, form="power", n_boot=0)
    >>> round(r.params["a"], 6), round(r.params["G"], 6)
    (0.5, 0.1)
    """
    f = get_form(form)
    opts = fit_options(None, options, overrides)
    n_boot, seed, loss, delta, starts, n_starts = opts.n_boot, opts.seed, opts.loss, opts.delta, opts.starts, opts.n_starts
    X = np.asarray(x, dtype=float)
    if X.ndim == 1:
        X = X[:, None]
    yv = np.asarray(y, dtype=float)
    if X.shape[1] != len(f.variables):
        raise FitError(f"form {f.name!r} takes {len(f.variables)} variable(s), got {X.shape[1]}", metric=metric)
    err = to_error(yv, direction, bound)
    scale = residual_scale(err, residuals)
    # variables whose zero is a value (a dense model's sparsity, a domain left out of a mixture) enter through
    # exp(log x) = 0: kept, every other variable must be positive
    zero_ok = np.array([v in getattr(f, "zero_ok", ()) for v in f.variables], dtype=bool)
    ok = (np.isfinite(err) & ((err > 0) if scale == "log" else True)
          & np.all(np.isfinite(X) & ((X > 0) | (zero_ok & (X == 0))), axis=1))
    labels = np.asarray([str(i) for i in range(len(yv))] if groups is None else groups).astype(str)
    exc = list(excluded)
    for i in np.flatnonzero(~ok):
        if not np.isfinite(yv[i]):
            why = "missing value"
        else:
            why = "at or beyond the bound" if direction == "max" else "non-positive value"
        exc.append({"run": str(labels[i]), "reason": f"{metric}: {why}"})
    X, err, yv, labels = X[ok], err[ok], yv[ok], labels[ok]
    if boot_weights is not None:
        boot_weights = np.asarray(boot_weights, dtype=float)[:, ok]
        n_boot = boot_weights.shape[0]
    n = len(err)
    if n < f.n_params + 1:
        raise FitError(f"{n} usable points cannot determine the {f.n_params} parameters of {f.formula}",
                       metric=metric, form=f.name)
    if np.ptp(err) <= 1e-12 * max(float(np.abs(err).max()), 1e-300):  # a flat line fits any exponent: intervals of zero width around nothing
        raise FitError(f"every one of the {n} values is the same ({yv[0]:.6g}): the metric does not change with scale, "
                       "so there is no law to fit", metric=metric, form=f.name)
    for j, v in enumerate(f.variables):
        if v not in ("U", "group") and np.unique(X[:, j]).size < 2:
            raise FitError(f"variable {v} takes a single value; it cannot be fitted", metric=metric, form=f.name)

    dl = np.inf if loss == "squared" else float(delta)
    with np.errstate(divide="ignore"):
        logX = np.log(X)
    solver = _Solver(f, logX, np.log(err) if scale == "log" else _safe_log(err), dl, starts, n_starts,
                     err if scale == "linear" else None)
    theta0 = solver.theta0
    sol = solver.minimize(theta0)
    order = np.argsort(sol.f)
    best = order[0]
    theta = sol.theta[best]
    fbest = float(sol.f[best])
    if not (np.all(np.isfinite(theta)) and np.isfinite(fbest) and np.all(np.isfinite(f.natural(theta)))):
        raise FitError(f"the optimiser found no finite optimum for {f.formula} on these {n} points "
                       f"(values span {err.min():.3g} to {err.max():.3g}); check the data for extreme values",
                       metric=metric, form=f.name)
    same = int(np.sum(sol.f <= fbest * (1 + 1e-9) + 1e-15))
    success = bool(sol.converged[best])
    message = (f"{'converged' if success else 'stopped at the iteration limit'} in at most {sol.iterations} iterations; "
               f"{same} of {len(theta0)} starts reached the best objective")
    if scale == "linear":
        message += (f"; fitted on linear residuals (predicted minus observed, over {solver.scale:.3g}): "
                    + ("the metric has values <= 0, which have no log" if (err <= 0).any() else "as asked"))

    boot_theta = stderr = ci = covar = None
    if n_boot > 0:
        rng = np.random.default_rng(seed)
        uniq, inv = np.unique(labels, return_inverse=True)

        def weights(k: int) -> npt.NDArray[np.float64]:
            # the next k resamples' counts per run, gathered per row: drawn in order, the same stream as all at once
            return run_counts(rng, len(uniq), k)[:, inv]

        # Resamples need 4-5 digits, not 13: a looser stop saves iterations.
        draw = weights if boot_weights is None else _sliced(boot_weights)
        bs = solver.minimize(np.repeat(theta[None], n_boot, axis=0), draw, ftol=1e-9, progress=progress)
        boot_theta = bs.theta
        nat = f.natural(boot_theta)
        sd = nat.std(axis=0, ddof=1)
        lo, hi = np.percentile(nat, [2.5, 97.5], axis=0)
        stderr = {k: float(v) for k, v in zip(f.param_names, sd)}
        ci = {k: (float(a), float(b)) for k, a, b in zip(f.param_names, lo, hi)}
        covar = np.cov(nat, rowvar=False)
        if not bs.converged.all():
            message += f"; {int((~bs.converged).sum())} of {n_boot} resamples hit the iteration limit"

    res = solver.residuals(theta)
    rss = float(np.sum(res ** 2))
    k = f.n_params
    ll_term = n * np.log(max(rss, 1e-300) / n)
    method = {
        "form": f.name, "formula": f.formula, "loss": loss, "delta": None if loss == "squared" else float(delta),
        "space": scale, "residual_scale": scale, "optimizer": solver.optimizer, "starts": len(theta0),
        "start_strategy": starts, "n_boot": int(n_boot), "bootstrap_unit": "run", "seed": int(seed),
    }
    method.update(extra_method or {})
    return judged(FitResult(
        metric=metric, direction=direction, bound=bound, form=f,
        params={kk: float(v) for kk, v in zip(f.param_names, f.natural(theta))},
        stderr=stderr, ci=ci, covar=covar, objective=fbest, ndata=n, nfree=k, residuals=res,
        aic=float(ll_term + 2 * k), bic=float(ll_term + k * np.log(n)), success=success, message=message,
        excluded=tuple(exc), method=method, x=X, y=yv, groups=labels, theta=theta, boot_theta=boot_theta,
    ))


# Above this many rows, starting points are chosen on an even subsample of this size (sorted by the
# variables): hundreds of candidate starts on every row cost more than the fit, and a start only has
# to land in the right basin; the optimiser then runs on every row.
START_ROWS = 4096


def fit_windows(
    x: npt.NDArray[np.float64],
    err: npt.NDArray[np.float64],
    masks: npt.NDArray[np.bool_],
    *,
    form: AnyForm,
    metric: str,
    direction: str,
    bound: float | None,
    groups: npt.NDArray[np.str_],
    n_boot: int,
    seed: int,
    loss: str,
    delta: float,
    starts: str = "projection",
    n_starts: int = 8,
    residuals: str = "auto",
) -> list[FitResult | None]:
    """One form fitted to several subsets of the same points at once (a backtest's windows).

    ``err`` is the fitted error quantity (positive), ``masks`` (K, n) the points of each
    subset. Every subset's starts and every subset's bootstrap resamples go to the engine as
    one batch of weighted problems, so K windows cost about one fit. Returns a
    :class:`FitResult` per subset (None where too few points remain), without parameter intervals.
    """
    f = get_form(form)
    dl = np.inf if loss == "squared" else float(delta)
    scale = residual_scale(err, residuals)
    logx = np.log(x)
    solver = _Solver(f, logx, np.log(err) if scale == "log" else _safe_log(err), dl, starts, n_starts,
                     err if scale == "linear" else None)
    # the best few starts on all points (they come sorted by their objective there) serve every window
    theta0 = solver.theta0[: max(n_starts // 2, 4)]
    K, S = masks.shape[0], theta0.shape[0]
    w = np.repeat(masks.astype(float), S, axis=0)
    sol = solver.minimize(np.tile(theta0, (K, 1)), w, ftol=1e-10)
    fs = np.where(np.isfinite(sol.f), sol.f, np.inf).reshape(K, S)
    best = sol.theta.reshape(K, S, -1)[np.arange(K), np.argmin(fs, axis=1)]
    boot: npt.NDArray[np.float64] | None = None
    if n_boot > 0:
        rng = np.random.default_rng(seed)
        ws = []
        for m in masks:
            wk = np.zeros((n_boot, m.size))
            wk[:, m] = run_weights(groups[m], n_boot, rng)
            ws.append(wk)
        bs = solver.minimize(np.repeat(best, n_boot, axis=0), np.concatenate(ws), ftol=1e-9, max_iter=50)
        boot = bs.theta.reshape(K, n_boot, -1)
    out: list[FitResult | None] = []
    y = from_error(err, direction, bound)
    for k, m in enumerate(masks):
        n = int(m.sum())
        theta = best[k]
        if n < f.n_params + 1 or not np.all(np.isfinite(theta)):
            out.append(None)
            continue
        res = solver.residuals(theta)[m]
        rss = float(np.sum(res ** 2))
        ll_term = n * np.log(max(rss, 1e-300) / n)
        p = f.n_params
        out.append(FitResult(
            metric=metric, direction=direction, bound=bound, form=f,
            params={kk: float(v) for kk, v in zip(f.param_names, f.natural(theta))}, stderr=None, ci=None, covar=None,
            objective=float(fs[k].min()), ndata=n, nfree=p, residuals=res, aic=float(ll_term + 2 * p),
            bic=float(ll_term + p * np.log(n)), success=True, message="window fit", excluded=(),
            method={"form": f.name, "loss": loss, "delta": delta, "n_boot": n_boot, "seed": seed, "residual_scale": scale},
            x=x[m], y=y[m], groups=groups[m], theta=theta, boot_theta=None if boot is None else boot[k]))
    return out


class _Solver:
    """One interface over the core solver's two curvatures: the exact Hessian (log-sum-exp forms) and
    Gauss-Newton (general forms, and log-sum-exp forms that ask for it: the power law).

    Both solve on centred data (each variable's log and the metric's log minus their mid-ranges), and
    parameters cross this interface in the data's own units (:func:`~scalekit.laws.forms.shifted`): the
    starts and every iterate are then the same in any units, so multiplying the metric, N, D or C by a
    constant moves only the parameters that carry that unit.
    """

    def __init__(self, form: AnyForm, logx: npt.NDArray[np.float64], logy: npt.NDArray[np.float64], delta: float,
                 starts: str, n_starts: int, y: npt.NDArray[np.float64] | None = None) -> None:
        self.form, self.logx, self.logy, self.delta = form, logx, logy, delta
        self.y = y  # the values themselves: a fit on linear residuals (None: on log residuals)
        self.dx, self.dy = centre(form, logx, logy)
        if y is not None:
            self.dy = 0.0  # linear residuals: the metric's unit is carried by the fixed scale below, not moved
            self.scale = float(np.median(np.abs(y))) or 1.0
        self.nlogx, self.nlogy = logx - self.dx, logy - self.dy
        self.prob: engine.Problem | None = None
        if y is not None:
            self.curv = core.GaussNewton(general.linear_model(form, self.scale), self.nlogx, y / self.scale, delta)
            signed = getattr(form, "signed_value", None) is not None  # a formula law: starts solved on the values
            cand = (np.asarray(form.starts(self.nlogx, self.nlogy, y), dtype=float)  # type: ignore[union-attr, call-arg]
                    if signed else engine.form_starts(form, self.nlogx, self.nlogy))
            f0 = self.curv.objective(cand, np.ones(y.size))
            theta0 = cand[np.argsort(f0)[: max(1, n_starts, 4 * form.n_params)]]
            self.optimizer = "Levenberg-Marquardt, Gauss-Newton (reweighted Huber), linear residuals"
        elif isinstance(form, LawForm) and form.exact_hessian:
            self.prob = prob = engine.Problem(form, self.nlogx, self.nlogy, delta)
            theta0 = _starting_points(prob, starts, n_starts, self.dx, self.dy)
            self.optimizer = "Levenberg-Marquardt, exact Hessian"
        else:
            cand = engine.form_starts(form, self.nlogx, self.nlogy)
            f0 = general.objective(form, cand, self.nlogx, self.nlogy, np.ones(logy.size), delta)
            # non-convex forms (breaks, sigmoids) need more starts than sums of power terms
            theta0 = cand[np.argsort(f0)[: max(1, n_starts, 4 * form.n_params)]]
            self.optimizer = "Levenberg-Marquardt, Gauss-Newton (reweighted Huber)"
        self.theta0 = self.to_data(np.asarray(theta0, dtype=np.float64))

    def to_data(self, theta: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Parameters on the centred data to parameters in the data's units."""
        return shifted(self.form, theta, self.dx, self.dy)

    def minimize(self, theta0: npt.NDArray[np.floating[Any]],
                 w: npt.NDArray[np.float64] | Callable[[int], npt.NDArray[np.float64]] | None = None,
                 ftol: float = 1e-13, max_iter: int | None = None,
                 progress: Callable[[int, int], None] | None = None) -> Solution:
        """Solve from each start (in the data's units); ``w`` is the row weights (B, n), or a function giving
        the next k rows of them."""
        t0 = shifted(self.form, np.asarray(theta0, dtype=np.float64), -self.dx, -self.dy)
        sol = self._minimize(t0, w, ftol, max_iter, progress)
        return dataclasses.replace(sol, theta=self.to_data(sol.theta))

    def _minimize(self, t0: npt.NDArray[np.float64],
                  w: npt.NDArray[np.float64] | Callable[[int], npt.NDArray[np.float64]] | None,
                  ftol: float, max_iter: int | None, progress: Callable[[int, int], None] | None) -> Solution:
        if self.prob is not None:
            if max_iter is None:  # chunked: bounded memory however many rows x resamples
                take = _sliced(w) if isinstance(w, np.ndarray) else w
                return engine.minimize_chunked(self.prob, t0, take, ftol=ftol, progress=progress)
            wa = w(t0.shape[0]) if callable(w) else w
            return engine.minimize(self.prob, t0, wa, ftol=ftol, max_iter=max_iter)
        form = self.form
        if self.y is not None:
            if w is not None:
                return core.minimize_chunked(self.curv, t0, _sliced(w) if isinstance(w, np.ndarray) else w, ftol=ftol,
                                             max_iter=max_iter or 100, width=form.n_params, progress=progress)
            rough_l = core.minimize(self.curv, t0, ftol=1e-7, max_iter=150)
            top_l = np.argsort(rough_l.f)[:2]
            fine_l = core.minimize(self.curv, rough_l.theta[top_l], ftol=ftol, max_iter=1000)
            rough_l.theta[top_l], rough_l.f[top_l], rough_l.converged[top_l] = fine_l.theta, fine_l.f, fine_l.converged
            return dataclasses.replace(rough_l, iterations=rough_l.iterations + fine_l.iterations)
        if w is not None:  # chunked as for the exact-Hessian forms: (problems, rows, parameters) Jacobians
            curv = general.gauss_newton(form, self.nlogx, self.nlogy, self.delta)
            return core.minimize_chunked(curv, t0, _sliced(w) if isinstance(w, np.ndarray) else w, ftol=ftol,
                                         max_iter=max_iter or 100, width=form.n_params, progress=progress)
        # Many starts: a loose pass on all, then the last digits for the best few only (the
        # reweighted Gauss-Newton converges linearly, so the tight pass is the expensive one).
        rough = general.minimize(form, self.nlogx, self.nlogy, self.delta, t0, ftol=1e-7, max_iter=150)
        top = np.argsort(rough.f)[:2]
        fine = general.minimize(form, self.nlogx, self.nlogy, self.delta, rough.theta[top], ftol=ftol, max_iter=1000)
        rough.theta[top], rough.f[top], rough.converged[top] = fine.theta, fine.f, fine.converged
        return dataclasses.replace(rough, iterations=rough.iterations + fine.iterations)

    def residuals(self, theta: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Log residuals, or (linear) predicted minus observed on the metric's own scale."""
        if self.y is not None:
            lin: npt.NDArray[np.float64] = general.value(self.form, theta, self.logx) - self.y
            return lin
        out: npt.NDArray[np.float64] = self.form.log_predict(theta, self.logx) - self.logy
        return out


def residual_scale(err: npt.NDArray[np.float64], residuals: str) -> str:
    """``"log"`` or ``"linear"``: the scale a fit's residuals are taken on (``auto``: linear when some finite value
    of the fitted quantity is zero or negative, since those have no log)."""
    if residuals not in ("auto", "log", "linear"):
        raise FitError(f"residuals must be 'auto', 'log' or 'linear', not {residuals!r}")
    if residuals != "auto":
        return residuals
    e = err[np.isfinite(err)]
    return "linear" if e.size and bool((e <= 0).any()) else "log"


def _safe_log(v: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """log |v| floored: a stand-in for the log of a signed quantity where only its scale is used (centring, starts)."""
    a = np.abs(v)
    floor = max(float(np.median(a[a > 0])) if (a > 0).any() else 1.0, 1e-300) * 1e-3
    out: npt.NDArray[np.float64] = np.log(np.maximum(a, floor))
    return out


def _sliced(w: npt.NDArray[np.float64]) -> Callable[[int], npt.NDArray[np.float64]]:
    """The rows of ``w`` handed out in order, k at a time (what :func:`engine.minimize_chunked` asks for)."""
    pos = 0

    def take(k: int) -> npt.NDArray[np.float64]:
        nonlocal pos
        pos += k
        return w[pos - k:pos]

    return take


def _starting_points(prob: engine.Problem, starts: str, n_starts: int, dx: npt.NDArray[np.float64],
                     dy: float) -> npt.NDArray[np.floating[Any]]:
    """Starts for a problem on centred data (centred by ``dx``, ``dy``)."""
    f = prob.form
    if f.n_terms == 1:  # pure power law: linear in log space, least squares is the start
        return engine.form_starts(f, prob.logx, prob.logy)
    if prob.n > START_ROWS:
        order = np.lexsort(prob.logx.T[::-1])
        pick = order[np.linspace(0, prob.n - 1, START_ROWS).round().astype(int)]
        prob = engine.Problem(f, prob.logx[pick], prob.logy[pick], prob.delta)
    pools = []
    if starts in ("projection", "both"):
        pools.append(engine.projection_starts(prob, engine.exponent_grid(len(f.exp_terms))))
    if starts in ("hoffmann", "both"):
        pools.append(shifted(f, engine.hoffmann_grid(f), -dx, -dy))  # the paper's grid, in the data's units
    if not pools:
        raise FitError(f"starts must be 'projection', 'hoffmann' or 'both', not {starts!r}")
    cand = np.concatenate(pools)
    f0 = engine.objective_chunked(prob, cand)
    f0 = np.where(np.isfinite(f0), f0, np.inf)
    return cand[np.argsort(f0)[: max(1, n_starts)]]

# The built-in forms with an additive floor, spelled as formulas: on linear residuals a floor E may be negative (a loss
# minus a unigram baseline), which the log-sum-exp forms (E = exp(e)) cannot express. Same parameter names, same law.
SIGNED = {"two_var": ("E + A * N^-alpha + B * D^-beta", ("N", "D")), "saturating": ("E + A * x^-alpha", ("x",))}


def signed_form(name: str) -> AnyForm:
    """The built-in form ``name`` as a formula law whose floor may be zero or negative (for linear residuals)."""
    from .formula import Law

    text, variables = SIGNED[name]
    law = Law(text, variables=variables, name=name)
    law.formula = get_form(name).formula  # the published formula, as the built-in form shows it
    return law


def law_columns(form: AnyForm, x: str) -> list[str]:
    """The batch columns a form's variables read: N and D (and U, E, ...), or ``x`` for a one-variable form in a generic
    variable (``saturating``, ``broken``: fitted in N, D or C); a formula law in one named variable reads that one."""
    if len(form.variables) == 1 and form.variables[0] == "x":
        return [x]
    return list(form.variables)


def _select_points(batch: Batch, points: str, metric: str) -> tuple[pd.DataFrame, str]:
    if not batch.has_checkpoints:
        return batch.frame, "final"
    fin = batch.finals()
    fin = fin[np.isfinite(fin[metric])]
    # Final points identify beta only if they spread D; otherwise the curves carry D.
    spread = fin["D"].max() / fin["D"].min()
    if points == "final" or (points == "auto" and fin["D"].nunique() >= 3 and spread >= 10 and len(fin) >= 8):
        return fin, "final"
    return batch.frame, "all"


select_points = _select_points


def fit_batch(batch: Batch, metric: str, form: AnyForm, opts: Options,
              progress: Callable[[int, int], None] | None = None) -> FitResult:
    """One form fitted to a batch's metric with resolved options (what :func:`scalekit.fit_law` does once
    the form is known)."""
    spec = batch.metric(metric)
    f = form
    frame, used = select_points(batch, opts.points, spec.name)
    err = spec.to_error(frame[spec.name].to_numpy(dtype=float))
    if residual_scale(err, opts.residuals) == "linear" and f.name in SIGNED and not hasattr(f, "signed_value"):
        f = signed_form(f.name)  # the same law with a floor that may be negative: a metric with values <= 0 needs one
    cols = law_columns(f, opts.x)
    if "U" in cols and "U" not in frame:
        raise FitError(f"form {f.name!r} needs a unique-data column (unique_tokens) giving the unique tokens of each run; "
                       f"this batch has columns {sorted(batch.columns)}", metric=spec.name, form=f.name)
    return fit_curve(
        frame[cols].to_numpy(), frame[spec.name].to_numpy(), form=f, metric=spec.name, direction=spec.direction,
        bound=spec.bound, groups=frame["run"].to_numpy(), n_boot=opts.n_boot, seed=opts.seed, loss=opts.loss,
        delta=opts.delta, starts=opts.starts, n_starts=opts.n_starts,
        excluded=tuple({"run": e.run, "reason": e.reason} for e in batch.excluded),
        extra_method={"points": used, "variables": cols, "compute": batch.compute, "data_unit": batch.data_unit},
        progress=progress, residuals=opts.residuals,
    )

