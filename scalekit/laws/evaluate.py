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

__all__ = ["Params", "form_error", "frontier_error", "law_error", "law_metric", "optimal_N", "param_arrays"]

FloatArray = npt.NDArray[np.float64]
Params = Mapping[str, float | FloatArray]  # name -> float or array of draws


def param_arrays(fit: FitResult, draws: bool = False) -> dict[str, FloatArray]:
    """The fit's parameters as arrays: the point estimate (0-d) or the bootstrap draws (n_boot,)."""
    names = fit.form.param_names
    if draws:
        d = fit.param_draws()
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
