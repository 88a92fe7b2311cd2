"""Targets, profile curves, budget predictions and capped allocations from a fitted L(N, D).

The additive law has closed forms (below); any other form in (N, D) (chosen by backtest, e.g.
Kaplan's interacting law) is answered numerically by :mod:`scalekit.laws.evaluate` (optimum on a
log-N grid per budget, the cheapest budget where the frontier crosses the target).

All closed forms work in the error space of the law, err = E + A N^-alpha + B D^-beta
(err = bound - metric for higher-is-better metrics), and are vectorised over bootstrap draws
so every number comes with an interval.

Minimising C = k N D on the level set A N^-alpha + B D^-beta = R gives, by a Lagrange
multiplier, alpha A N^-alpha = beta B D^-beta: the N-term takes the share beta/(alpha+beta)
of R. The same condition gives the compute-optimal allocation (Hoffmann et al. 2022, eq. 4).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import display
from ..data.batch import Batch
from ..data.metric import to_error
from ..exceptions import FitError
from ..jsonsafe import jsonable
from ..laws.evaluate import cheapest_nd, floor_at_N, frontier_nd, law_error, optimal_N, param_arrays, profile_nd
from ..laws.result import FitResult
from .intervals import percentile_ci

__all__ = [
    "Allocation",
    "Cap",
    "Target",
    "capped_allocation",
    "cheapest_for_target",
    "flops_factor",
    "optimal_N",
    "optimal_allocation",
    "percentile_ci",
    "profile_curve",
    "target_value",
]

FloatArray = npt.NDArray[np.float64]


def flops_factor(batch: Batch) -> float:
    """k in C = k N D: 6 unless the batch counts FLOPs itself (then the median of C / ND); 6 for a batch without a data
    size, whose compute is not counted (nothing reads it there)."""
    if batch.compute == "6ND" or not batch.has_data_size:
        return 6.0
    f = batch.frame
    return float(np.median(f["C"] / (f["N"] * f["D"])))


def target_value(best: float, improvement: float, direction: str) -> float:
    """The metric value ``improvement`` (relative to its size) better than ``best``; a metric may be negative (a loss
    minus a baseline), so better is always a step of ``improvement * |best|`` in the metric's direction.

    >>> target_value(2.0, 0.01, "min"), target_value(-0.5, 0.1, "min")
    (1.98, -0.55)
    """
    step = improvement * abs(best)
    return best - step if direction == "min" else best + step


@dataclass(frozen=True)
class Target:
    """The cheapest run predicted to reach a target value of the metric."""

    improvement: float
    value: float
    reachable: bool
    N: float | None
    D: float | None
    C: float | None
    N_ci: list[float] | None
    D_ci: list[float] | None
    C_ci: list[float] | None
    compute_multiple: float | None  # C / compute of the best run so far
    note: str
    extrapolation: dict[str, float | None] | None = None  # N, D, C: factor beyond the batch's trained range

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = jsonable({
            "improvement": self.improvement, "value": self.value, "reachable": self.reachable, "N": self.N, "D": self.D,
            "C": self.C, "N_ci": self.N_ci, "D_ci": self.D_ci, "C_ci": self.C_ci,
            "compute_multiple": self.compute_multiple, "note": self.note, "extrapolation": self.extrapolation})
        return out

    def _repr_html_(self) -> str:
        return display.html(self)


def _cheapest(p: dict[str, FloatArray], R: FloatArray) -> tuple[FloatArray, FloatArray]:
    a, b = p["alpha"], p["beta"]
    with np.errstate(divide="ignore", invalid="ignore"):
        x = R * b / (a + b)
        y = R * a / (a + b)
        N = np.power(p["A"] / x, 1 / a)
        D = np.power(p["B"] / y, 1 / b)
    bad = ~(R > 0)
    return np.where(bad, np.nan, N), np.where(bad, np.nan, D)


def cheapest_for_target(fit: FitResult, value: float, *, k: float = 6.0, improvement: float = 0.0,
                        reference_compute: float | None = None) -> Target:
    """Cheapest (N, D) predicted to reach ``value``; unreachable if beyond the law's floor E."""
    if fit.form.variables != ("N", "D"):
        raise FitError("profiles need a law in N and D", metric=fit.metric, form=fit.form.name)
    e = to_error(value, fit.direction, fit.bound)
    if fit.form.name != "two_var":
        return _cheapest_numeric(fit, value, float(e), k, improvement, reference_compute)
    p = param_arrays(fit)
    R = e - p["E"]
    N, D = (float(v) for v in _cheapest(p, np.asarray(R)))
    reachable = bool(np.isfinite(N) and R > 0)
    Nci = Dci = Cci = None
    if fit.boot_theta is not None:
        pd_ = param_arrays(fit, draws=True)
        Nd, Dd = _cheapest(pd_, e - pd_["E"])
        Nci, Dci, Cci = percentile_ci(Nd), percentile_ci(Dd), percentile_ci(k * Nd * Dd)
    if not reachable:
        note = f"not reachable: the law's floor E is {fit.to_metric(np.asarray(p['E'])):.4g}"
        return Target(improvement, value, False, None, None, None, None, None, None, None, note)
    C = k * N * D
    mult = C / reference_compute if reference_compute else None
    return Target(improvement, value, True, N, D, C, Nci, Dci, Cci, mult, "")


def _cheapest_numeric(fit: FitResult, value: float, e: float, k: float, improvement: float,
                      reference_compute: float | None) -> Target:
    C, N = (float(v[0]) for v in cheapest_nd(fit, e, k))
    if not np.isfinite(C):
        note = "not reachable: the law reaches it at no budget up to 10^6 times the largest trained compute"
        return Target(improvement, value, False, None, None, None, None, None, None, None, note)
    Nci = Dci = Cci = None
    if fit.boot_theta is not None:
        Cd, Nd = cheapest_nd(fit, e, k, draws=True)
        Nci, Dci, Cci = percentile_ci(Nd), percentile_ci(Cd / (k * Nd)), percentile_ci(Cd)
    mult = C / reference_compute if reference_compute else None
    return Target(improvement, value, True, N, C / (k * N), C, Nci, Dci, Cci, mult, "")


def profile_curve(fit: FitResult, value: float, N: FloatArray) -> FloatArray:
    """D needed at each N to reach ``value`` (NaN where no D suffices)."""
    if fit.form.name != "two_var":
        return profile_nd(fit, float(to_error(value, fit.direction, fit.bound)), N)
    p = param_arrays(fit)
    R = to_error(value, fit.direction, fit.bound) - p["E"] - p["A"] * np.power(N, -p["alpha"])
    with np.errstate(divide="ignore", invalid="ignore"):
        D = np.power(p["B"] / R, 1 / p["beta"])
    return np.where(R > 0, D, np.nan)


@dataclass(frozen=True)
class Allocation:
    """Compute-optimal N and D at a budget C, and the predicted metric, with intervals."""

    C: float
    N: float
    D: float
    value: float
    N_ci: list[float] | None
    D_ci: list[float] | None
    value_ci: list[float] | None
    capped: bool = False
    extrapolation: dict[str, float | None] | None = None  # N, D, C: factor beyond the batch's trained range

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = jsonable({
            "C": self.C, "N": self.N, "D": self.D, "value": self.value, "N_ci": self.N_ci, "D_ci": self.D_ci,
            "value_ci": self.value_ci, "capped": self.capped, "extrapolation": self.extrapolation})
        return out

    def _repr_html_(self) -> str:
        return display.html(self)


def _value(fit: FitResult, p: dict[str, FloatArray], N: npt.ArrayLike, D: npt.ArrayLike) -> FloatArray:
    return fit.to_metric(law_error(p, N, D))


def optimal_allocation(fit: FitResult, C: float, *, k: float = 6.0, max_params: float | None = None) -> Allocation:
    """Approach-3 optimum at budget C (N capped at ``max_params`` if given)."""
    if fit.form.name != "two_var":
        return _allocation_numeric(fit, C, k, max_params)
    p = param_arrays(fit)
    N = float(optimal_N(p, C, k))
    capped = False
    if max_params is not None and max_params < N:
        capped, N = True, float(max_params)
    D = C / (k * N)
    val = float(_value(fit, p, N, D))
    Nci = Dci = vci = None
    if fit.boot_theta is not None:
        pd_ = param_arrays(fit, draws=True)
        Nd = optimal_N(pd_, C, k)
        if max_params is not None:
            Nd = np.minimum(Nd, max_params)
        Dd = C / (k * Nd)
        Nci, Dci, vci = percentile_ci(Nd), percentile_ci(Dd), percentile_ci(_value(fit, pd_, Nd, Dd))
    return Allocation(float(C), N, float(D), val, Nci, Dci, vci, bool(capped))


def _allocation_numeric(fit: FitResult, C: float, k: float, max_params: float | None) -> Allocation:
    def at(draws: bool) -> tuple[FloatArray, FloatArray]:
        N, e = frontier_nd(fit, C, k, draws=draws)
        if max_params is not None:
            theta = fit.boot_theta if draws else fit.theta[None, :]
            assert theta is not None
            e_cap = np.exp(fit.form.log_predict(theta, np.log([[max_params, C / (k * max_params)]])))[:, 0]
            e = np.where(max_params < N, e_cap, e)
            N = np.minimum(N, max_params)
        return N, np.asarray(fit.to_metric(e), dtype=float)

    Ns, vs = at(False)
    N, val = float(Ns[0]), float(vs[0])
    Nci = Dci = vci = None
    if fit.boot_theta is not None:
        Nd, vd = at(True)
        Nci, Dci, vci = percentile_ci(Nd), percentile_ci(C / (k * Nd)), percentile_ci(vd)
    return Allocation(float(C), N, float(C / (k * N)), val, Nci, Dci, vci, bool(max_params is not None and max_params <= N))


@dataclass(frozen=True)
class Cap:
    """What a cap on model size allows: the floor reachable with unlimited data, and the data a target needs."""

    max_params: float
    floor: float
    floor_ci: list[float] | None
    target_value: float | None
    D_for_target: float | None
    C_for_target: float | None
    allocations: tuple[Allocation, ...]
    extrapolation: dict[str, float | None] | None = None  # of (max_params, D_for_target, C_for_target)

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = jsonable({
            "max_params": self.max_params, "floor": self.floor, "floor_ci": self.floor_ci,
            "target_value": self.target_value, "D_for_target": self.D_for_target, "C_for_target": self.C_for_target,
            "allocations": [a.summary() for a in self.allocations], "extrapolation": self.extrapolation})
        return out

    def _repr_html_(self) -> str:
        return display.html(self)


def capped_allocation(fit: FitResult, max_params: float, budgets: tuple[float, ...] = (), *, k: float = 6.0,
                      target: float | None = None) -> Cap:
    if fit.form.name != "two_var":
        floor = float(fit.to_metric(floor_at_N(fit, max_params))[0])
        fci = percentile_ci(fit.to_metric(floor_at_N(fit, max_params, draws=True))) if fit.boot_theta is not None else None
    else:
        p = param_arrays(fit)
        floor = float(fit.to_metric(law_error(p, max_params, np.inf)))  # unlimited data
        fci = None
        if fit.boot_theta is not None:
            pd_ = param_arrays(fit, draws=True)
            fci = percentile_ci(fit.to_metric(law_error(pd_, max_params, np.inf)))
    Dt = Ct = None
    if target is not None:
        d = profile_curve(fit, target, np.array([max_params]))[0]
        if np.isfinite(d):
            Dt, Ct = float(d), float(k * max_params * d)
    allocs = tuple(optimal_allocation(fit, C, k=k, max_params=max_params) for C in budgets)
    return Cap(float(max_params), floor, fci, target, Dt, Ct, allocs)
