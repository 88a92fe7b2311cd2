"""Law forms: the registry of every form :func:`scalekit.fit_law` fits (one home per form).

All are fitted by the one solver, :func:`scalekit.laws.core.minimize`: the log-sum-exp forms
(``two_var``, ``saturating``; :mod:`scalekit.laws.lse`) with the exact Hessian, the
forms of :mod:`scalekit.laws.library` (interacting, data-constrained, broken, bounded) and the
pure power law (``power``, a log-sum-exp form of one term: see :data:`~scalekit.laws.lse.POWER`) with
the reweighted Gauss-Newton curvature. Every form says how its parameters carry the data's units
(:func:`shifted`), so fits are the same in any units. Maps that are not laws in the batch's variables live with their fits
(two-step maps: :data:`scalekit.laws.two_step.STEP2_MAPS`; the loss-to-loss map; the schedule law).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ..exceptions import ConfigError
from .general import GeneralForm
from .library import Broken, DataConstrained, Kaplan, LibraryForm, Sigmoid, TiedAdditive
from .literature import LITERATURE
from .lse import POWER, SATURATING, TWO_VAR, LawForm, midrange

__all__ = ["FORMS", "POWER", "ROLES", "SANE_RANGES", "SATURATING", "TWO_VAR", "AnyForm", "LawForm", "centre", "forms",
           "get_form", "shifted"]

AnyForm = LawForm | GeneralForm
FloatArray = npt.NDArray[np.float64]

# The registry: every form here is a choice of the ``form`` option.
_ALL: tuple[AnyForm, ...] = (TWO_VAR, SATURATING, POWER, TiedAdditive(), Kaplan(), DataConstrained(), Broken(), Sigmoid(),
                             *LITERATURE)
FORMS: dict[str, AnyForm] = {f.name: f for f in _ALL}

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
    **{f.name: f"{f.role} ({f.reference})" for f in LITERATURE},
}


def get_form(name: str | AnyForm) -> AnyForm:
    """A form of the registry by name (or the form itself)."""
    if isinstance(name, (LawForm, GeneralForm)):
        return name
    aliases = {"chinchilla": "two_var", "hoffmann": "two_var", "power_law": "power", "bnsl": "broken",
               "muennighoff": "data_constrained", "clark": "routed_moe", "ludziejewski": "moe_granularity",
               "krajewski": "moe_granularity", "abnar": "moe_sparsity", "tao": "vocabulary", "steplaw": "lr_batch_surface",
               "ye": "data_mixing", "lin": "finetune_rectified", "parscale": "parallel", "kumar": "precision",
               "frantar": "sparsity", "busbridge": "distillation"}
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
    # the literature's laws in other variables: exponents of decay as above; signed exponents and scales within
    # a few orders of magnitude of any published fit
    "routed_moe": {"a": (-2.0, 0.0), "b": (-2.0, 0.5), "c": (-1.0, 1.0), "E_start": (1.0, 1e3), "E_max": (1.0, 1e6)},
    "moe_granularity": {"alpha": _DECAY, "beta": _DECAY, "gamma": _DECAY},
    "moe_sparsity": {"alpha": _DECAY, "beta": _DECAY, "gamma": _DECAY, "lambda": (-5.0, 5.0), "delta": (-5.0, 5.0)},
    "vocabulary": {"alpha1": _DECAY, "alpha2": _DECAY, "beta": _DECAY},
    "lr_batch_surface": {"alpha": _DECAY, "beta": _DECAY, "a_lr": (-3.0, 3.0), "b_lr": (-3.0, 3.0), "b_B": (-3.0, 3.0),
                         "k_lr": (0.0, np.inf), "k_B": (0.0, np.inf)},
    "data_mixing": {"t1": (-20.0, 20.0), "t2": (-20.0, 20.0)},
    "finetune_rectified": {"beta": _DECAY},
    "parallel": {"alpha": _DECAY, "k": (0.0, 1e3)},
    "precision": {"alpha": _DECAY, "beta": _DECAY, "gamma": (1e-2, 1e3)},
    "sparsity": {"b_S": (0.0, 10.0), "b_N": _DECAY, "b_D": _DECAY},
    "distillation": {"alpha_p": _DECAY, "beta_p": _DECAY, "gamma_p": _DECAY, "c0": (-10.0, 10.0), "c1": (-10.0, 10.0),
                     "f1": (1e-2, 1e2), "d1": (1e-3, 1e3)},
}


# --- units ---------------------------------------------------------------------------------------------
# A fit on log residuals is the same problem in any units: multiplying a variable by exp(dx) or the metric
# by exp(dy) moves the optimum by a known change of the parameters that carry those units, and nothing
# else. The solver works on centred data (starts and iterates), and parameters are moved back with `shifted`,
# so the search itself is the same in any units.

def centre(form: AnyForm, logx: FloatArray, logy: FloatArray) -> tuple[FloatArray, float]:
    """The shifts (dx per variable, dy) that centre the data of a fit: mid-ranges of the logs."""
    dy = float(midrange(logy))
    if isinstance(form, (LibraryForm, LawForm)):
        # a law whose metric enters beside a variable in the metric's units (distillation: L_S = L_T + ...) keeps its scale
        return form.centre(logx), dy if getattr(form, "metric_scale", True) else 0.0
    return np.zeros(logx.shape[1]), 0.0  # a user's form: no declared units, nothing moved


def shifted(form: AnyForm, theta: FloatArray, dx: FloatArray, dy: float) -> FloatArray:
    """Internal vectors (..., P) fitting data (log x, log y) moved to those fitting (log x + dx, log y + dy).

    >>> t = shifted(TWO_VAR, TWO_VAR.internal({"E": 1.0, "A": 2.0, "B": 3.0, "alpha": 0.5, "beta": 0.25}),
    ...             np.log([100.0, 16.0]), float(np.log(10.0)))
    >>> [round(float(v), 6) for v in TWO_VAR.natural(t)]
    [10.0, 200.0, 60.0, 0.5, 0.25]
    """
    t = np.asarray(theta, dtype=float)
    if isinstance(form, (LibraryForm, LawForm)):
        return form.shifted(t, np.asarray(dx, dtype=float), dy)
    if np.any(np.asarray(dx) != 0) or dy != 0:
        raise ValueError(f"form {form.name!r} does not declare how its parameters carry units")
    return t
