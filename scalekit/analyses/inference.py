"""Inference-aware optimum: the (N, D) reaching a target at the least training plus inference compute.

The compute-optimal model (Hoffmann et al. 2022) minimises training FLOPs ``k N D`` for a target
value of the metric. A model that will serve ``I`` tokens over its lifetime also costs
``f N I`` inference FLOPs (``f = 2``: a forward pass costs about 2N FLOPs per token), so it
should be smaller and trained on more data (Sardana et al. 2024, "Beyond Chinchilla-Optimal:
Accounting for Inference in Language Model Scaling Laws", arXiv:2401.00448).

The maths, in the error space of the two-variable law (``err = bound - metric`` for
higher-is-better metrics): a target leaves the reducible error ``R = err - E`` to share between
the N-term ``x = A N^-alpha`` and the D-term ``y = B D^-beta = R - x``. Along that level set
(the profile curve) the total cost ``T(N) = k N D(N) + f I N`` is stationary where

    k D (alpha x / (beta y) - 1) = f I.

With ``u = y / R`` (the D-term's share of R) the left side grows monotonically from 0 at the
compute-optimal share ``u0 = alpha / (alpha + beta)`` to infinity as ``u -> 0``, so the optimum
is unique; it is found by bisection in ``log u``, vectorised over the law's bootstrap draws.
With ``I = 0`` the share is exactly ``u0``, the compute-optimal point of
:func:`scalekit.profiles.cheapest_for_target`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, overload

import numpy as np

from ..data.metric import to_error
from ..exceptions import ConfigError, FitError
from ..jsonsafe import jsonable
from ..laws.evaluate import frontier_error
from ..laws.result import FitResult
from .intervals import percentile_ci
from .profiles import profile_curve, target_value

if TYPE_CHECKING:
    from numpy.typing import ArrayLike, NDArray


    FloatArray = NDArray[np.float64]

__all__ = ["CostCurve", "CostPoint", "InferenceOptimum", "inference_optimal", "total_cost_curve"]

# log of the smallest D-term share the solver looks at: below it D would overflow a double anyway.
_LOG_U_MIN = math.log(1e-300)
_BISECTIONS = 200  # halves a bracket of width ~690 down to rounding error


# --- results -----------------------------------------------------------------------------
@dataclass(frozen=True)
class CostPoint:
    """One (N, D) choice and what it costs, with 95% intervals over the law's bootstrap draws.

    Attributes
    ----------
    N, D : float
        Parameters and training tokens (or samples).
    training_flops, inference_flops, total_flops : float
        ``k N D``, ``f N I`` and their sum.
    tokens_per_param : float
        ``D / N``.
    N_ci, D_ci, training_flops_ci, inference_flops_ci, total_flops_ci : list of float or None
        95% percentile intervals (None without a bootstrap).
    extrapolation : dict
        ``N``, ``D``, ``C`` (training compute): factor beyond the fitted range, 1 inside it.
    """

    N: float
    D: float
    training_flops: float
    inference_flops: float
    total_flops: float
    tokens_per_param: float
    N_ci: list[float] | None
    D_ci: list[float] | None
    training_flops_ci: list[float] | None
    inference_flops_ci: list[float] | None
    total_flops_ci: list[float] | None
    extrapolation: dict[str, float]

    def summary(self) -> dict[str, Any]:
        """JSON-safe dict of every field."""
        return dict(jsonable({
            "N": self.N, "D": self.D, "training_flops": self.training_flops, "inference_flops": self.inference_flops,
            "total_flops": self.total_flops, "tokens_per_param": self.tokens_per_param, "N_ci": self.N_ci,
            "D_ci": self.D_ci, "training_flops_ci": self.training_flops_ci, "inference_flops_ci": self.inference_flops_ci,
            "total_flops_ci": self.total_flops_ci, "extrapolation": self.extrapolation}))


@dataclass(frozen=True, eq=False)
class InferenceOptimum:
    """The inference-aware optimum for one target and one inference demand.

    Attributes
    ----------
    metric, direction : str
        The fitted metric and which way is better (``min`` or ``max``).
    target : float
        Target value of the metric, on its own scale.
    improvement : float or None
        The relative improvement over the best run the target came from, if given that way.
    budget : float or None
        The training budget whose compute-optimal model defines the target, if given that way.
    inference_tokens : float
        Expected lifetime inference tokens ``I``.
    inference_flops_per_token : float
        ``f``: inference costs ``f N`` FLOPs per token.
    k : float
        Training costs ``k N D`` FLOPs.
    optimum : CostPoint
        The (N, D) minimising total FLOPs for the target.
    compute_optimal : CostPoint
        The compute-optimal (zero-demand) choice for the same target, costed with the same demand.
    saving : float
        ``1 - optimum.total_flops / compute_optimal.total_flops``: the fraction of total compute saved.
    saving_ci : list of float or None
        Its 95% interval over the law's draws.
    N_ratio, D_ratio : float
        ``optimum.N / compute_optimal.N`` and ``optimum.D / compute_optimal.D``.
    draws, unreachable_draws : int
        Bootstrap draws used, and how many of them put the target beyond their floor E (those are
        left out of the intervals).
    """

    metric: str
    direction: str
    target: float
    improvement: float | None
    budget: float | None
    inference_tokens: float
    inference_flops_per_token: float
    k: float
    optimum: CostPoint
    compute_optimal: CostPoint
    saving: float
    saving_ci: list[float] | None
    N_ratio: float
    D_ratio: float
    draws: int
    unreachable_draws: int

    # The optimum's numbers, at the top level: what a caller asks for first.
    @property
    def N(self) -> float:
        return self.optimum.N

    @property
    def D(self) -> float:
        return self.optimum.D

    @property
    def training_flops(self) -> float:
        return self.optimum.training_flops

    @property
    def inference_flops(self) -> float:
        return self.optimum.inference_flops

    @property
    def total_flops(self) -> float:
        return self.optimum.total_flops

    def summary(self) -> dict[str, Any]:
        """JSON-safe dict (one row of the ``inference`` section of summary.json)."""
        return dict(jsonable({
            "metric": self.metric, "direction": self.direction, "target": self.target, "improvement": self.improvement,
            "budget": self.budget, "inference_tokens": self.inference_tokens,
            "inference_flops_per_token": self.inference_flops_per_token, "k": self.k, "saving": self.saving,
            "saving_ci": self.saving_ci, "N_ratio": self.N_ratio, "D_ratio": self.D_ratio, "draws": self.draws,
            "unreachable_draws": self.unreachable_draws, "optimum": self.optimum.summary(),
            "compute_optimal": self.compute_optimal.summary()}))

    def __repr__(self) -> str:
        return (f"<InferenceOptimum {self.metric}={self.target:.4g}, I={self.inference_tokens:.3g}: N={self.N:.4g}, "
                f"D={self.D:.4g}, total={self.total_flops:.4g} FLOPs, saving {self.saving:.1%} against "
                f"N={self.compute_optimal.N:.4g}>")


@dataclass(frozen=True, eq=False)
class CostCurve:
    """Total cost along the profile curve of a target, for several inference demands (for a figure).

    Attributes
    ----------
    metric : str
    target : float
        The target value of the metric; every (N, D) below reaches it on the fitted law.
    N, D : ndarray
        The profile curve: the D needed at each N.
    training_flops : ndarray
        ``k N D`` along the curve.
    inference_tokens : tuple of float
        The demands, one per row of ``total_flops``.
    total_flops : ndarray
        Shape (len(inference_tokens), len(N)): training plus ``f N I``.
    optima : tuple of InferenceOptimum
        The optimum for each demand (the minimum of each row, solved exactly).
    """

    metric: str
    target: float
    N: FloatArray
    D: FloatArray
    training_flops: FloatArray
    inference_tokens: tuple[float, ...]
    total_flops: FloatArray
    optima: tuple[InferenceOptimum, ...]

    def summary(self) -> dict[str, Any]:
        """JSON-safe dict of the curve and the optima."""
        return dict(jsonable({
            "metric": self.metric, "target": self.target, "N": self.N, "D": self.D,
            "training_flops": self.training_flops, "inference_tokens": list(self.inference_tokens),
            "total_flops": self.total_flops, "optima": [o.summary() for o in self.optima],
        }))


# --- the solver --------------------------------------------------------------------------
def _law(fit: FitResult, draws: bool) -> dict[str, FloatArray]:
    """Parameters E, A, B, alpha, beta as arrays: scalars, or one entry per bootstrap draw."""
    names = fit.form.param_names
    if draws:
        d = fit.draws
        if d is None:
            return {}
        return {k: np.asarray(d[:, i], dtype=float) for i, k in enumerate(names)}
    return {k: np.asarray(fit.params[k], dtype=float) for k in names}


def _solve(p: dict[str, FloatArray], R: FloatArray, per_param: float) -> tuple[FloatArray, FloatArray]:
    """N and D minimising ``N (D + per_param)`` on the level set ``A N^-alpha + B D^-beta = R``.

    ``per_param = f I / k``: inference FLOPs per parameter in units of training FLOPs per
    parameter-token. NaN where ``R <= 0`` (target beyond the floor) or the demand is absurd.
    """
    a, b, A, B = p["alpha"], p["beta"], p["A"], p["B"]
    R = np.asarray(R, dtype=float)
    with np.errstate(all="ignore"):
        if per_param == 0.0:
            # exactly the compute-optimal shares of profiles.cheapest_for_target (Hoffmann et al. eq. 4)
            x, y = R * b / (a + b), R * a / (a + b)
            ok = R > 0
        else:
            log_u = _bisect_share(a, b, B, R, per_param)
            y = R * np.exp(log_u)
            x = R - y
            ok = (R > 0) & np.isfinite(log_u)
        N = np.power(A / x, 1 / a)
        D = np.power(B / y, 1 / b)
    return np.where(ok, N, np.nan), np.where(ok, D, np.nan)


def _bisect_share(a: FloatArray, b: FloatArray, B: FloatArray, R: FloatArray, per_param: float) -> FloatArray:
    """log u solving ``log D(u) + log(alpha x/(beta y) - 1) = log per_param``, by bisection.

    In logs: ``(log B - log R - log u)/beta + log(alpha - (alpha+beta) u) - log(beta u)``, which
    decreases monotonically from +inf (u -> 0) to -inf (u -> u0): one root, always bracketed.
    """
    shape = np.broadcast(a, b, B, R).shape
    lo = np.full(shape, _LOG_U_MIN)
    hi = np.broadcast_to(np.log(a / (a + b)), shape).astype(float)
    target = math.log(per_param)

    def h(t: FloatArray) -> FloatArray:
        u = np.exp(t)
        return (np.log(B) - np.log(R) - t) / b + np.log(a - (a + b) * u) - np.log(b * u) - target

    with np.errstate(all="ignore"):
        bracketed = h(lo) > 0
        for _ in range(_BISECTIONS):
            mid = 0.5 * (lo + hi)
            above = h(mid) > 0
            lo = np.where(above, mid, lo)
            hi = np.where(above, hi, mid)
    return np.where(bracketed, 0.5 * (lo + hi), np.nan)


# --- validation --------------------------------------------------------------------------
def _check_law(fit: FitResult) -> None:
    if fit.form.name != "two_var":
        raise FitError(f"the inference-aware optimum needs the two-variable law L(N, D); this fit uses the form "
                       f"{fit.form.name!r}", metric=fit.metric, form=fit.form.name)


def _positive(name: str, value: float, *, allow_zero: bool = False, what: str = "") -> float:
    v = float(value)
    ok = math.isfinite(v) and (v >= 0 if allow_zero else v > 0)
    if not ok:
        allowed = "a finite number >= 0" if allow_zero else "a finite number > 0"
        raise ConfigError(f"{name} must be {allowed}{what}; got {value!r}", key=name)
    return v


def _demands(inference_tokens: float | Sequence[float] | FloatArray) -> tuple[list[float], bool]:
    """The inference demands as floats, and whether a single value was given."""
    arr = np.asarray(inference_tokens, dtype=object)
    single = arr.ndim == 0
    values = [arr.item()] if single else list(arr.ravel())
    if not values:
        raise ConfigError("inference_tokens is empty; give one value or a list of expected lifetime inference tokens",
                          key="inference_tokens")
    out = []
    for v in values:
        try:
            out.append(_positive("inference_tokens", v, allow_zero=True, what=" (expected lifetime inference tokens)"))
        except (TypeError, ValueError) as e:
            if isinstance(e, ConfigError):
                raise
            raise ConfigError(f"inference_tokens must be numbers (expected lifetime inference tokens); got {v!r}",
                              key="inference_tokens") from None
    return out, single


def _err_of(fit: FitResult, value: float) -> float:
    return float(to_error(value, fit.direction, fit.bound))


def _floor(fit: FitResult) -> float:
    return float(fit.to_metric(np.asarray(fit.params["E"])))


def _targets(fit: FitResult, target: float | None, improvement: float | None, budgets: Sequence[float] | None,
             k: float) -> list[tuple[float, float | None, float | None]]:
    """(target value, improvement, budget) for every requested target."""
    given = [n for n, v in (("target", target), ("improvement", improvement), ("budgets", budgets)) if v is not None]
    if len(given) != 1:
        raise ConfigError(f"give exactly one of target, improvement or budgets; got {given or 'none'}", key="target")
    if target is not None:
        return [(float(target), None, None)]
    if improvement is not None:
        imp = float(improvement)
        if not (math.isfinite(imp) and 0 <= imp < 1):
            raise ConfigError(f"improvement must be a fraction in [0, 1) (0.01 = 1% better than the best run); got "
                              f"{improvement!r}", key="improvement")
        best = float(np.min(fit.y) if fit.direction == "min" else np.max(fit.y))
        return [(target_value(best, imp, fit.direction), imp, None)]
    assert budgets is not None
    out: list[tuple[float, float | None, float | None]] = []
    p = _law(fit, draws=False)
    for C in np.atleast_1d(np.asarray(budgets, dtype=float)):
        c = _positive("budgets", float(C), what=" (training FLOPs)")
        out.append((float(fit.to_metric(frontier_error(p, c, k))), None, c))
    return out


# --- public API --------------------------------------------------------------------------
@overload
def inference_optimal(fit: FitResult, *, target: float | None = ..., improvement: float | None = ...,
                      inference_tokens: float, inference_flops_per_token: float = ..., k: float = ...,
                      budgets: None = ...) -> InferenceOptimum: ...


@overload
def inference_optimal(fit: FitResult, *, target: float | None = ..., improvement: float | None = ...,
                      inference_tokens: Sequence[float] | FloatArray, inference_flops_per_token: float = ...,
                      k: float = ..., budgets: Sequence[float] | None = ...) -> tuple[InferenceOptimum, ...]: ...


@overload
def inference_optimal(fit: FitResult, *, target: float | None = ..., improvement: float | None = ...,
                      inference_tokens: float | Sequence[float] | FloatArray, inference_flops_per_token: float = ...,
                      k: float = ..., budgets: Sequence[float]) -> tuple[InferenceOptimum, ...]: ...


def inference_optimal(
    fit: FitResult,
    *,
    target: float | None = None,
    improvement: float | None = None,
    inference_tokens: float | Sequence[float] | FloatArray,
    inference_flops_per_token: float = 2.0,
    k: float = 6.0,
    budgets: Sequence[float] | None = None,
) -> InferenceOptimum | tuple[InferenceOptimum, ...]:
    """The (N, D) reaching a target at the least training plus inference FLOPs (Sardana et al. 2024).

    Minimises ``k N D + inference_flops_per_token * N * inference_tokens`` subject to
    ``L(N, D) = target`` on the fitted two-variable law, and compares it with the compute-optimal
    choice for the same target (what :func:`scalekit.profiles.cheapest_for_target` returns),
    costed with the same inference demand.

    Parameters
    ----------
    fit : FitResult
        A two-variable law from :func:`scalekit.fit_law`. Higher-is-better metrics work on their
        own scale (the law is fitted to ``bound - metric``). Its bootstrap draws give the intervals.
    target : float, optional
        Target value of the metric, on the metric's own scale.
    improvement : float, optional
        Instead of ``target``: relative improvement over the best run fitted (0.01 = 1% better).
    budgets : sequence of float, optional
        Instead of ``target``: training budgets C. Each budget's compute-optimal model reaches
        some value of the metric; the result is the inference-aware (N, D) reaching that same value.
        The target is the point estimate's; the intervals solve each draw for that same target.
    inference_tokens : float or sequence of float
        Expected lifetime inference tokens (>= 0). A sequence gives one result per value.
    inference_flops_per_token : float
        ``f``: inference costs ``f N`` FLOPs per token (2 for a forward pass).
    k : float
        Training costs ``k N D`` FLOPs (6; :func:`scalekit.profiles.flops_factor` for a batch
        that counts FLOPs).

    Returns
    -------
    InferenceOptimum or tuple of InferenceOptimum
        One result when ``inference_tokens`` is a single number and no ``budgets`` are given;
        otherwise a tuple, targets (budgets) outer and demands inner, in the order given.

    Raises
    ------
    ConfigError
        Negative or non-finite demand, FLOP factors or budgets; not exactly one of target,
        improvement, budgets; a target beyond the law's floor E (unreachable).
    FitError
        The fit is not the two-variable law.

    Examples
    --------
    >>> import numpy as np, pandas as pd, scalekit
    >>> N, D = np.meshgrid(np.logspace(7, 9, 5), np.logspace(9, 11, 5))
    >>> L = 1.69 + 406.4 / N.ravel() ** 0.34 + 410.7 / D.ravel() ** 0.28
    >>> fit = scalekit.fit_law(pd.DataFrame({"params": N.ravel(), "tokens": D.ravel(), "loss": L}), n_boot=0)
    >>> r = inference_optimal(fit, target=2.2, inference_tokens=1e12)
    >>> r.N < r.compute_optimal.N and r.D > r.compute_optimal.D and 0 < r.saving < 1
    True
    """
    _check_law(fit)
    f = _positive("inference_flops_per_token", inference_flops_per_token, what=" (inference costs f N FLOPs per token)")
    kk = _positive("k", k, what=" (training costs k N D FLOPs)")
    demands, single = _demands(inference_tokens)
    results = tuple(_one(fit, t, imp, c, demand, f, kk)
                    for t, imp, c in _targets(fit, target, improvement, budgets, kk) for demand in demands)
    return results[0] if single and budgets is None else results


def _one(fit: FitResult, value: float, improvement: float | None, budget: float | None, demand: float, f: float,
         k: float) -> InferenceOptimum:
    """Solve one (target, demand) for the point estimate and every bootstrap draw."""
    err = _err_of(fit, value)
    p = _law(fit, draws=False)
    R = np.asarray(err - p["E"])
    if not R > 0:
        better = "above" if fit.direction == "min" else "below"
        raise ConfigError(f"target {fit.metric} = {value:.6g} is unreachable: the fitted law's floor E is "
                          f"{_floor(fit):.6g} on the metric's scale; choose a target {better} it", key="target")
    per_param = f * demand / k
    N, D = _solve(p, R, per_param)
    Nc, Dc = _solve(p, R, 0.0)
    pd_ = _law(fit, draws=True)
    ndraw = unreachable = 0
    Nd = Dd = Ncd = Dcd = None
    if pd_:
        Rd = err - pd_["E"]
        Nd, Dd = _solve(pd_, Rd, per_param)
        Ncd, Dcd = _solve(pd_, Rd, 0.0)
        ndraw, unreachable = int(Rd.size), int(np.sum(~(Rd > 0)))
    opt = _point(fit, float(N), float(D), Nd, Dd, f * demand, k)
    ref = _point(fit, float(Nc), float(Dc), Ncd, Dcd, f * demand, k)
    saving_ci = None
    if Nd is not None and Dd is not None and Ncd is not None and Dcd is not None:
        saving_ci = percentile_ci(1 - _total(Nd, Dd, f * demand, k) / _total(Ncd, Dcd, f * demand, k))
    return InferenceOptimum(
        metric=fit.metric, direction=fit.direction, target=float(value), improvement=improvement, budget=budget,
        inference_tokens=demand, inference_flops_per_token=f, k=k, optimum=opt, compute_optimal=ref,
        saving=1 - opt.total_flops / ref.total_flops, saving_ci=saving_ci, N_ratio=opt.N / ref.N, D_ratio=opt.D / ref.D,
        draws=ndraw, unreachable_draws=unreachable,
    )


def _total(N: FloatArray, D: FloatArray, inference_per_param: float, k: float) -> FloatArray:
    return np.asarray(k * N * D + inference_per_param * N)


def _point(fit: FitResult, N: float, D: float, Nd: FloatArray | None, Dd: FloatArray | None, inference_per_param: float,
           k: float) -> CostPoint:
    ci: dict[str, list[float] | None] = dict.fromkeys(("N", "D", "train", "inf", "total"))
    if Nd is not None and Dd is not None:
        ci = {"N": percentile_ci(Nd), "D": percentile_ci(Dd), "train": percentile_ci(k * Nd * Dd),
              "inf": percentile_ci(inference_per_param * Nd), "total": percentile_ci(_total(Nd, Dd, inference_per_param, k))}
    return CostPoint(
        N=N, D=D, training_flops=k * N * D, inference_flops=inference_per_param * N,
        total_flops=float(_total(np.asarray(N), np.asarray(D), inference_per_param, k)), tokens_per_param=D / N,
        N_ci=ci["N"], D_ci=ci["D"], training_flops_ci=ci["train"], inference_flops_ci=ci["inf"], total_flops_ci=ci["total"],
        extrapolation=_extrapolation(fit, N, D, k),
    )


def _extrapolation(fit: FitResult, N: float, D: float, k: float) -> dict[str, float]:
    """How far (N, D, k N D) lie beyond the fitted points' range: a factor, 1 inside it."""
    Nf, Df = fit.x[:, 0], fit.x[:, 1]
    out = {}
    for name, v, seen in (("N", N, Nf), ("D", D, Df), ("C", k * N * D, k * Nf * Df)):
        lo, hi = float(np.min(seen)), float(np.max(seen))
        out[name] = max(1.0, v / hi, lo / v) if np.isfinite(v) and v > 0 else float("nan")
    return out


def total_cost_curve(
    fit: FitResult,
    *,
    target: float,
    inference_tokens: Sequence[float] | FloatArray,
    N: ArrayLike | None = None,
    inference_flops_per_token: float = 2.0,
    k: float = 6.0,
    num: int = 200,
) -> CostCurve:
    """Total FLOPs against N along the profile curve of a target, for a few inference demands.

    Every point reaches ``target`` on the fitted law (D from :func:`scalekit.profiles.profile_curve`);
    the minimum of each row is that demand's :func:`inference_optimal`.

    Parameters
    ----------
    fit : FitResult
        A two-variable law.
    target : float
        Target value of the metric (own scale).
    inference_tokens : sequence of float
        The demands to draw, e.g. ``[0, 1e11, 1e12, 1e13]``.
    N : array_like, optional
        Model sizes. Default: ``num`` sizes, log-spaced from just above the smallest model that can
        reach the target (with unlimited data) to 10 times the compute-optimal N.
    inference_flops_per_token, k : float
        As in :func:`inference_optimal`.
    num : int
        Number of default sizes.

    Returns
    -------
    CostCurve

    Examples
    --------
    >>> import numpy as np, pandas as pd, scalekit
    >>> N, D = np.meshgrid(np.logspace(7, 9, 5), np.logspace(9, 11, 5))
    >>> L = 1.69 + 406.4 / N.ravel() ** 0.34 + 410.7 / D.ravel() ** 0.28
    >>> fit = scalekit.fit_law(pd.DataFrame({"params": N.ravel(), "tokens": D.ravel(), "loss": L}), n_boot=0)
    >>> c = total_cost_curve(fit, target=2.2, inference_tokens=[0, 1e12])
    >>> c.total_flops.shape, bool(np.nanmin(c.total_flops[1]) >= c.optima[1].total_flops * (1 - 1e-9))
    ((2, 200), True)
    """
    optima = inference_optimal(fit, target=target, inference_tokens=list(np.atleast_1d(np.asarray(inference_tokens))),
                               inference_flops_per_token=inference_flops_per_token, k=k)
    if N is None:
        if num < 2:
            raise ConfigError(f"num must be an integer >= 2 (sizes on the default N grid); got {num!r}", key="num")
        p = _law(fit, draws=False)
        R = _err_of(fit, target) - float(p["E"])
        n_min = float((p["A"] / R) ** (1 / p["alpha"]))  # N at which unlimited data just reaches the target
        grid = np.geomspace(n_min * 1.01, max(10 * optima[0].compute_optimal.N, n_min * 2), num)
    else:
        grid = np.asarray(N, dtype=float).ravel()
        if grid.size == 0 or not np.all(np.isfinite(grid) & (grid > 0)):
            raise ConfigError("N must be finite positive model sizes", key="N")
    Dg = profile_curve(fit, target, grid)
    train = k * grid * Dg
    total = np.stack([train + inference_flops_per_token * grid * o.inference_tokens for o in optima])
    return CostCurve(metric=fit.metric, target=float(target), N=grid, D=Dg, training_flops=train,
                     inference_tokens=tuple(o.inference_tokens for o in optima), total_flops=total, optima=optima)
