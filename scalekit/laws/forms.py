"""Law forms: the registry of every form :func:`scalekit.fit_law` fits (one home per form).

All are fitted by the one solver, :func:`scalekit.laws.core.minimize`: the log-sum-exp forms
(``two_var``, ``saturating``, ``power``; :mod:`scalekit.laws.lse`) with the exact Hessian, the
forms of :mod:`scalekit.laws.library` (interacting, data-constrained, broken, bounded) with the
Gauss-Newton curvature. Maps that are not laws in the batch's variables live with their fits
(two-step maps: :data:`scalekit.laws.two_step.STEP2_MAPS`; the loss-to-loss map; the schedule law).
"""

from __future__ import annotations

from ..exceptions import ConfigError
from .general import GeneralForm
from .library import Broken, DataConstrained, Kaplan, Sigmoid, TiedAdditive
from .lse import POWER, SATURATING, TWO_VAR, LawForm

__all__ = ["FORMS", "POWER", "ROLES", "SATURATING", "TWO_VAR", "AnyForm", "LawForm", "forms", "get_form"]

AnyForm = LawForm | GeneralForm

# The registry: every form here is a choice of the ``form`` option.
FORMS: dict[str, AnyForm] = {f.name: f for f in (
    TWO_VAR, SATURATING, POWER, TiedAdditive(), Kaplan(), DataConstrained(), Broken(), Sigmoid())}

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
