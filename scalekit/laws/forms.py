"""Law forms: the registry of every form scalekit fits.

The log-sum-exp forms (``two_var``, ``saturating``, ``power``; :mod:`scalekit.laws.lse`) go to
the exact-Hessian engine; the forms of :mod:`scalekit.laws.library` (interacting,
data-constrained, broken, bounded) to the general one.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ..exceptions import ConfigError
from .general import GeneralForm
from .library import Broken, DataConstrained, Exponential, Kaplan, LibraryForm, Power, Sigmoid, TiedAdditive
from .lse import SATURATING, TWO_VAR, LawForm

__all__ = ["FORMS", "POWER", "ROLES", "SANE_RANGES", "SATURATING", "TWO_VAR", "AnyForm", "LawForm", "centre", "forms",
           "get_form", "shifted"]

AnyForm = LawForm | GeneralForm
FloatArray = npt.NDArray[np.float64]

# A linear model in log space: fitted with the reweighted Gauss-Newton curvature (see :class:`Power`).
POWER = Power()

# The registry. Log-sum-exp forms go to the exact-Hessian engine, the others to the general one.
FORMS: dict[str, AnyForm] = {f.name: f for f in (
    TWO_VAR, SATURATING, POWER, TiedAdditive(), Kaplan(), DataConstrained(), Broken(), Sigmoid(), Sigmoid(linear=True), Exponential())}

# What each form is for, in one line (the report and ``scalekit.forms()`` show it).
ROLES: dict[str, str] = {
    "two_var": "additive law in N and D (Hoffmann et al. 2022)",
    "saturating": "one variable with an irreducible term",
    "power": "pure power law (optimal-allocation laws N_opt(C) = G C^a)",
    "two_var_tied": "additive law with one exponent for N and D (Gadre et al. 2024); step 1 of a two-step fit on few runs",
    "kaplan": "interacting law in N and D: gains from N grow with D (Kaplan et al. 2020)",
    "data_constrained": "repeated data: effective data and parameters (Muennighoff et al. 2023); needs unique_tokens",
    "broken": "smoothly broken power law in one variable (Caballero et al. 2023)",
    "sigmoid": "bounded metric saturating in log compute (accuracy, mAP)",
    "sigmoid_linear": "two-step prediction, step 2: error as a sigmoid of a loss (Bhagia et al. 2024)",
    "exponential": "two-step prediction, step 2: Err = eps - k exp(-gamma L) (Gadre et al. 2024)",
}


def get_form(name: str | AnyForm) -> AnyForm:
    """A form of the registry by name (or the form itself)."""
    if isinstance(name, (LawForm, GeneralForm)):
        return name
    aliases = {"chinchilla": "two_var", "hoffmann": "two_var", "power_law": "power", "bnsl": "broken",
               "muennighoff": "data_constrained"}
    key = aliases.get(name, name)
    if key not in FORMS:
        raise ConfigError(f"unknown law form {name!r}; expected one of {sorted(FORMS)} or 'auto'", key="form")
    return FORMS[key]


def forms() -> dict[str, str]:
    """The registry: form name -> formula.

    >>> forms()["two_var"]
    'L(N, D) = E + A / N^alpha + B / D^beta'
    >>> forms()["kaplan"]
    'L(N, D) = [(N_c/N)^(alpha_N/alpha_D) + D_c/D]^alpha_D'
    """
    return {name: f.formula for name, f in FORMS.items()}


# Where each form's published parameters may sit for its fit to count as a success: an optimum beyond
# these is a parameter escaping to where the data no longer determine it (a term switched off by a
# runaway exponent, a repetition scale far beyond any repetition seen), not a law. Exponents of decay
# are positive and below 5 (published laws: 0.05 to 1.5); R* between 0.01 and 1e4 repetitions.
_DECAY = (0.0, 5.0)
SANE_RANGES: dict[str, dict[str, tuple[float, float]]] = {
    "two_var": {"alpha": _DECAY, "beta": _DECAY},
    "saturating": {"alpha": _DECAY},
    "power": {"a": (-5.0, 5.0)},
    "two_var_tied": {"eta": _DECAY},
    "kaplan": {"alpha_N": _DECAY, "alpha_D": _DECAY},
    "data_constrained": {"alpha": _DECAY, "beta": _DECAY, "R_D_star": (1e-2, 1e4), "R_N_star": (1e-2, 1e4)},
    "broken": {"alpha": (-5.0, 5.0), "c1": (-5.0, 5.0)},
    "sigmoid": {},
    "sigmoid_linear": {},
    "exponential": {},
}


# --- units ---------------------------------------------------------------------------------------------
# A fit on log residuals is the same problem in any units: multiplying a variable by exp(dx) or the metric
# by exp(dy) moves the optimum by a known change of the parameters that carry those units, and nothing
# else. The solver works on centred data (starts and iterates), and parameters are moved back with `shifted`,
# so the search itself is the same in any units.

def centre(form: AnyForm, logx: FloatArray, logy: FloatArray) -> tuple[FloatArray, float]:
    """The shifts (dx per variable, dy) that centre the data of a fit: mid-ranges of the logs."""
    dy = 0.5 * float(logy.min() + logy.max())
    if isinstance(form, LibraryForm):
        return form.centre(logx), dy
    if isinstance(form, LawForm):
        return 0.5 * (logx.min(axis=0) + logx.max(axis=0)), dy
    return np.zeros(logx.shape[1]), 0.0  # a user's form: no declared units, nothing moved


def shifted(form: AnyForm, theta: FloatArray, dx: FloatArray, dy: float) -> FloatArray:
    """Internal vectors (..., P) fitting data (log x, log y) moved to those fitting (log x + dx, log y + dy).

    >>> t = shifted(TWO_VAR, TWO_VAR.internal({"E": 1.0, "A": 2.0, "B": 3.0, "alpha": 0.5, "beta": 0.25}),
    ...             np.log([100.0, 16.0]), float(np.log(10.0)))
    >>> [round(float(v), 6) for v in TWO_VAR.natural(t)]
    [10.0, 200.0, 60.0, 0.5, 0.25]
    """
    t = np.asarray(theta, dtype=float)
    if isinstance(form, LibraryForm):
        return form.shifted(t, np.asarray(dx, dtype=float), dy)
    if isinstance(form, LawForm):
        # each term c_k - s_k log x_v: its coefficient absorbs the metric's shift and s_k times its variable's
        out = np.array(t, copy=True)
        for k, term in enumerate(form.terms):
            out[..., k] += dy
            if term.variable is not None:
                out[..., k] += t[..., form.n_terms + form.exp_terms.index(k)] * dx[term.variable]
        return out
    if np.any(np.asarray(dx) != 0) or dy != 0:
        raise ValueError(f"form {form.name!r} does not declare how its parameters carry units")
    return t
