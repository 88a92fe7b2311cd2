"""The one home for evaluating the two-variable law L(N, D) = E + A/N^alpha + B/D^beta.

Every function takes the published parameters as a mapping of floats or of arrays (bootstrap
draws), so one call gives a point value or its whole distribution. Values are in the law's error
space; :meth:`FitResult.to_metric` brings them back to the metric's scale.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from .forms import AnyForm, get_form
from .result import FitResult

__all__ = ["Params", "cheapest_nd", "floor_at_N", "form_error", "frontier_error", "frontier_nd", "law_error", "law_metric", "optimal_N",
           "param_arrays", "profile_nd"]

FloatArray = npt.NDArray[np.float64]
Params = Mapping[str, float | FloatArray]  # name -> float or array of draws


def param_arrays(fit: FitResult, draws: bool = False) -> dict[str, FloatArray]:
    """The fit's parameters as arrays: the point estimate (0-d) or the bootstrap draws (n_boot,)."""
    names = fit.form.param_names
    if draws:
        d = fit.draws
        if d is None:
            raise ValueError("the fit has no bootstrap draws (n_boot=0)")
        return {k: d[:, i] for i, k in enumerate(names)}
    return {k: np.asarray(fit.params[k], dtype=float) for k in names}


def law_error(p: Params, N: npt.ArrayLike, D: npt.ArrayLike) -> FloatArray:
    """E + A N^-alpha + B D^-beta, broadcasting parameters against points.

    >>> float(law_error({"E": 1.0, "A": 1.0, "B": 1.0, "alpha": 1.0, "beta": 1.0}, 2.0, 4.0))
    1.75
    """
    N = np.asarray(N, dtype=float)
    D = np.asarray(D, dtype=float)
    with np.errstate(over="ignore", divide="ignore"):
        return np.asarray(p["E"] + p["A"] / np.power(N, p["alpha"]) + p["B"] / np.power(D, p["beta"]), dtype=float)


def law_metric(fit: FitResult, N: npt.ArrayLike, D: npt.ArrayLike, *, draws: bool = False) -> FloatArray:
    """The fitted law at (N, D) on the metric's own scale (over the bootstrap draws if ``draws``)."""
    p = param_arrays(fit, draws)
    if draws:
        p = {k: v[:, None] for k, v in p.items()}
    return np.asarray(fit.to_metric(law_error(p, np.ravel(N), np.ravel(D))), dtype=float)


def optimal_N(p: Params, C: npt.ArrayLike, k: float = 6.0) -> FloatArray:
    """Compute-optimal N at budget C for the law with C = k N D (Hoffmann et al. 2022, eq. 4)."""
    a, b = np.asarray(p["alpha"]), np.asarray(p["beta"])
    G = np.power(a * p["A"] / (b * p["B"]), 1 / (a + b))
    return np.asarray(G * np.power(np.asarray(C, dtype=float) / k, b / (a + b)), dtype=float)


def frontier_error(p: Params, C: npt.ArrayLike, k: float = 6.0) -> FloatArray:
    """The law's value (error space) at the compute-optimal allocation for budget C."""
    N = optimal_N(p, C, k)
    D = np.asarray(C, dtype=float) / (k * N)
    return law_error(p, N, D)


def form_error(form: str | AnyForm, params: Mapping[str, float], *x: npt.ArrayLike) -> FloatArray:
    """Any registered form at the point(s) ``x`` (one array per variable), in the law's error space.

    >>> round(float(form_error("kaplan", {"N_c": 1e6, "D_c": 1e4, "alpha_N": 0.25, "alpha_D": 0.3}, 1e8, 1e6)), 4)
    0.3545
    """
    f = get_form(form)
    arrs = np.broadcast_arrays(*[np.asarray(v, dtype=float) for v in x])
    logx = np.log(np.stack([a.ravel() for a in arrs], axis=1))
    out: FloatArray = np.exp(f.log_predict(f.internal(dict(params)), logx)).reshape(arrs[0].shape)
    return out


# --- any law in (N, D), numerically ---------------------------------------------------------------
# The closed forms above hold for the additive law only. For another form in (N, D) chosen by
# backtest (Kaplan's interacting law, ...) the same questions are answered on a grid in log N,
# refined by a parabola through the grid minimum; a minimum on the grid's edge has no optimum.

# The estimate's grid covers N from sqrt(C/k) e^-30 to sqrt(C/k) e^30 at each budget; the
# bootstrap draws' grid (the costly part: draws x points) is centred on the estimate's optimum and
# spans e^+-12 (a factor 1.6e5 either way) at the same spacing; a draw beyond it has no optimum (NaN).
_STEP = 0.25
_GRID = np.arange(-30.0, 30.0 + _STEP / 2, _STEP)
_DRAW_GRID = np.arange(-12.0, 12.0 + _STEP / 2, _STEP)


def _thetas(fit: FitResult, draws: bool) -> FloatArray:
    if draws:
        if fit.boot_theta is None:
            raise ValueError("the fit has no bootstrap draws (n_boot=0)")
        return np.asarray(fit.boot_theta, dtype=float)
    return np.asarray(fit.theta, dtype=float)[None, :]


def _log_err(fit: FitResult, theta: FloatArray, logN: FloatArray, logD: FloatArray) -> FloatArray:
    out: FloatArray = np.asarray(fit.form.log_predict(theta, np.column_stack([logN, logD])), dtype=float)
    return out


def frontier_nd(fit: FitResult, C: float, k: float = 6.0, *, draws: bool = False) -> tuple[FloatArray, FloatArray]:
    """Compute-optimal N at budget C and the law's error there, for any form in (N, D).

    Returns (N_opt, error) per parameter set: shape (1,) for the estimate, (n_boot,) for the draws;
    NaN where the optimum lies beyond the grid (no interior optimum).
    """
    theta = _thetas(fit, draws)
    lck = float(np.log(C / k))
    if draws:
        centre = frontier_nd(fit, C, k)[0][0]
        if not np.isfinite(centre):
            return np.full(theta.shape[0], np.nan), np.full(theta.shape[0], np.nan)
        grid = float(np.log(centre)) + _DRAW_GRID
    else:
        grid = 0.5 * lck + _GRID
    logN = grid
    v = _log_err(fit, theta, logN, lck - logN)  # (B, G)
    v = np.where(np.isfinite(v), v, np.inf)
    i = np.argmin(v, axis=1)
    inner = (i > 0) & (i < grid.size - 1)
    j = np.clip(i, 1, grid.size - 2)
    rows = np.arange(v.shape[0])
    y0, y1, y2 = v[rows, j - 1], v[rows, j], v[rows, j + 1]
    h = _STEP
    with np.errstate(invalid="ignore", divide="ignore"):
        den = y0 - 2 * y1 + y2
        shift = np.where(den > 0, 0.5 * h * (y0 - y2) / den, 0.0)
    shift = np.clip(np.nan_to_num(shift), -h, h)
    lN = logN[j] + shift
    with np.errstate(invalid="ignore", divide="ignore"):  # the parabola's minimum value
        vmin = np.where(den > 0, y1 - (y0 - y2) ** 2 / (8 * np.where(den > 0, den, 1.0)), y1)
    if theta.shape[0] == 1:  # the estimate: the law's own value at the refined N
        vmin = _log_err(fit, theta, lN, lck - lN)[0]
    return np.where(inner, np.exp(lN), np.nan), np.where(inner, np.exp(vmin), np.nan)


def cheapest_nd(fit: FitResult, e: float, k: float = 6.0, *, draws: bool = False,
                span: tuple[float, float] = (1e-2, 1e6)) -> tuple[FloatArray, FloatArray]:
    """The least compute C whose optimal allocation reaches error ``e``, and its N, for any form in (N, D).

    The frontier (error at the optimal N) is read on a log grid of budgets from ``span[0]`` times the
    smallest trained compute to ``span[1]`` times the largest, and interpolated where it crosses ``e``;
    the estimate is then refined by bisection. NaN where no budget in that span reaches ``e``.
    Returns (C, N) per parameter set.
    """
    C_tr = k * fit.x[:, 0] * fit.x[:, 1]
    lc = np.linspace(np.log(C_tr.min() * span[0]), np.log(C_tr.max() * span[1]), 61)
    fr = [frontier_nd(fit, float(np.exp(c)), k, draws=draws) for c in lc]
    lerr = np.log(np.column_stack([f[1] for f in fr]))  # (B, G)
    lN = np.log(np.column_stack([f[0] for f in fr]))
    le = float(np.log(e))
    below = np.nan_to_num(lerr, nan=np.inf) <= le
    hit: npt.NDArray[np.bool_] = np.asarray(below.any(axis=1))
    i = np.where(hit, np.argmax(below, axis=1), 0)
    i0 = np.maximum(i - 1, 0)
    rows = np.arange(lerr.shape[0])
    y0, y1 = lerr[rows, i0], lerr[rows, i]
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where((i > 0) & (y0 != y1), (y0 - le) / (y0 - y1), 0.0)
    logC = lc[i0] + t * (lc[i] - lc[i0])
    logN = lN[rows, i0] + t * (lN[rows, i] - lN[rows, i0])
    if not draws and hit[0] and i[0] > 0:  # refine the estimate: the frontier is monotone in C
        lo, hi = lc[i0[0]], lc[i[0]]
        for _ in range(40):
            mid = 0.5 * (lo + hi)
            if frontier_nd(fit, float(np.exp(mid)), k)[1][0] <= e:
                hi = mid
            else:
                lo = mid
        logC = np.array([hi])
        logN = np.log(frontier_nd(fit, float(np.exp(hi)), k)[0])
    return np.where(hit, np.exp(logC), np.nan), np.where(hit, np.exp(logN), np.nan)


def profile_nd(fit: FitResult, e: float, N: npt.ArrayLike) -> FloatArray:
    """D needed at each N to reach error ``e`` on any form in (N, D) (NaN where no D suffices)."""
    lN = np.log(np.ravel(np.asarray(N, dtype=float)))
    theta = _thetas(fit, False)
    le = float(np.log(e))
    lo, hi = np.zeros_like(lN), np.full_like(lN, 150.0)
    ok = _log_err(fit, theta, lN, hi)[0] <= le
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        below = _log_err(fit, theta, lN, mid)[0] <= le
        hi, lo = np.where(below, mid, hi), np.where(below, lo, mid)
    return np.where(ok, np.exp(hi), np.nan)


def floor_at_N(fit: FitResult, N: float, *, draws: bool = False) -> FloatArray:
    """The error a model of size N reaches with unlimited data (D = e^150), for any form in (N, D)."""
    theta = _thetas(fit, draws)
    out: FloatArray = np.exp(_log_err(fit, theta, np.array([np.log(N)]), np.array([150.0]))[:, 0])
    return out
