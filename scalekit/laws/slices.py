"""A law in more variables than N and D, read along N and D with the others held at given values.

The answers in (N, D) (compute-optimal allocation, the cost of a target, the profile) are questions about a law in
N and D. A law that also reads the unique tokens U, the experts E or the vocabulary V answers them at fixed values of
those: :func:`sliced` gives the fit as a law in (N, D) (the same parameters, draws and residuals) whose other variables
are held at the values given, e.g. the best run's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import numpy as np
import numpy.typing as npt

from .general import Cols, FloatArray, GeneralForm
from .result import FitResult

__all__ = ["Sliced", "sliced"]


class Sliced(GeneralForm):
    """``base`` as a law in ``keep`` (e.g. N and D), its other variables held at ``fixed`` (role -> value)."""

    def __init__(self, base: GeneralForm, keep: tuple[str, ...], fixed: Mapping[str, float]) -> None:
        self.base = base
        self.fixed = dict(fixed)
        self.name = base.name
        self.variables = keep
        self.param_names = base.param_names
        self.internal_names = base.internal_names
        self.reference = base.reference
        at = ", ".join(f"{k} = {v:.4g}" for k, v in self.fixed.items())
        self.formula = f"{base.formula} at {at}" if at else base.formula

    def _full(self, logx: FloatArray) -> FloatArray:
        cols = [logx[:, self.variables.index(v)] if v in self.variables else np.full(logx.shape[0], np.log(self.fixed[v]))
                for v in self.base.variables]
        return np.column_stack(cols)

    def evaluate(self, th: Cols, logx: FloatArray, jac: bool) -> tuple[FloatArray, Cols]:
        return self.base.evaluate(th, self._full(logx), jac)

    def signed_value(self, theta: FloatArray, logx: FloatArray) -> FloatArray:
        from .general import value

        return value(self.base, theta, self._full(logx))

    def natural(self, theta: FloatArray) -> FloatArray:
        return self.base.natural(theta)

    def internal(self, params: dict[str, float]) -> FloatArray:
        return self.base.internal(params)

    def published_index(self, i: int) -> int:
        return self.base.published_index(i)


def sliced(fit: FitResult, at: Mapping[str, float], keep: tuple[str, ...] = ("N", "D")) -> FitResult:
    """``fit`` read as a law in ``keep``, its other variables held at ``at`` (values by role).

    The parameters, bootstrap draws and residuals are the fit's; ``x`` keeps the columns of ``keep`` (the range the
    extrapolation distances are measured against), and ``method["sliced_at"]`` records the values held.

    Examples
    --------
    >>> import numpy as np, pandas as pd, scalekit
    >>> N, E = [a.ravel() for a in np.meshgrid(np.geomspace(1e7, 1e9, 5), [1.0, 4.0, 16.0])]
    >>> df = pd.DataFrame({"params": N, "tokens": 1e10, "E": E, "loss": 1.7 + 30 * N ** -0.2 * E ** -0.1})
    >>> law = scalekit.Law("L0 + A * N^-alpha * E^-gamma", variables=["N", "E"])
    >>> fit = scalekit.fit_law(df, form=law, n_boot=0)  # doctest: +SKIP
    """
    form = fit.form
    if tuple(form.variables) == tuple(keep):
        return fit
    missing = [v for v in keep if v not in form.variables]
    if missing:
        raise ValueError(f"the {form.name} law has no variable {', '.join(missing)}")
    held = {v: float(at[v]) for v in form.variables if v not in keep}
    base: GeneralForm = form  # type: ignore[assignment]  # a law in several variables is a general form
    idx = [list(form.variables).index(v) for v in keep]
    x: npt.NDArray[np.float64] = fit.x[:, idx]
    return replace(fit, form=Sliced(base, tuple(keep), held), x=x, method={**fit.method, "sliced_at": held})
