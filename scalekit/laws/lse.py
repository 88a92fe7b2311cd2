"""Law forms written as a log-sum-exp of power-law terms, the shape the exact-Hessian engine fits.

Each form is ``log y = LSE_k(c_k - s_k * log x_{v(k)})`` where a term without a variable is
a constant (the irreducible term). This one shape covers

* ``two_var``:     L(N, D) = E + A / N**alpha + B / D**beta   (Hoffmann et al. 2022, eq. 2)
* ``saturating``:  y(x)   = E + A * x**-alpha
* ``power``:       y(x)   = G * x**a                           (N_opt(C) = G C**a, ...)

and lets one vectorised engine fit them all. The internal parameter vector is
``[c_1..c_K, s_1..s_M]`` (log coefficients, then exponents); ``natural()`` maps it to the
published parameterisation (E, A, B, alpha, beta, ...). The registry of every form is
:mod:`scalekit.laws.forms`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .core import lse
from .general import log_predict_jac

__all__ = ["POWER", "SATURATING", "TWO_VAR", "LawForm", "midrange"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class _Term:
    coef: str  # internal name of the log coefficient (a, b, e, g)
    natural_coef: str  # published name of exp(coef) (A, B, E, G)
    exponent: str | None  # published exponent name (alpha, beta, a) or None
    variable: int | None  # index into the form's variables
    sign: float = 1.0  # natural exponent = sign * s  (power law: y = G x^a has s = -a)


@dataclass(frozen=True)
class LawForm:
    """A law as a sum of power-law terms (see module docstring).

    Attributes
    ----------
    name : str
        Short identifier used in summaries (``two_var``, ``saturating``, ``power``).
    variables : tuple of str
        Names of the independent variables, in the order ``predict`` takes them.
    formula : str
        Human-readable formula.
    exact_hessian : bool
        Whether the solver uses the exact Hessian (:class:`scalekit.laws.engine.Problem`) or the
        reweighted Gauss-Newton curvature (:class:`scalekit.laws.core.GaussNewton`); see :data:`POWER`.
    """

    name: str
    variables: tuple[str, ...]
    terms: tuple[_Term, ...]
    formula: str
    exact_hessian: bool = True

    @property
    def n_terms(self) -> int:
        return len(self.terms)

    @property
    def exp_terms(self) -> tuple[int, ...]:
        return tuple(k for k, t in enumerate(self.terms) if t.exponent is not None)

    @property
    def n_params(self) -> int:
        return self.n_terms + len(self.exp_terms)

    @property
    def param_names(self) -> tuple[str, ...]:
        """Published parameter names, in the order of ``natural()`` columns."""
        coefs = sorted((t.natural_coef for t in self.terms), key=_coef_order)
        exps = [self.terms[k].exponent for k in self.exp_terms]
        return tuple(coefs) + tuple(e for e in exps if e is not None)

    @property
    def internal_names(self) -> tuple[str, ...]:
        """Internal parameter names: the log coefficients, then the exponents."""
        return tuple(t.coef for t in self.terms) + tuple(f"s_{self.terms[k].exponent}" for k in self.exp_terms)

    def published_index(self, i: int) -> int:
        """Index in ``param_names`` of the published parameter internal parameter ``i`` stands for."""
        t = self.terms[i] if i < self.n_terms else self.terms[self.exp_terms[i - self.n_terms]]
        return self.param_names.index(t.natural_coef if i < self.n_terms else str(t.exponent))

    def evaluate(self, th: list[FloatArray], logx: FloatArray, jac: bool) -> tuple[FloatArray, list[FloatArray]]:
        """log y and (if ``jac``) its derivatives by each internal parameter, in the interface of
        :class:`scalekit.laws.general.GeneralForm` (so a :class:`scalekit.laws.library.Shared` fit can share it)."""
        K = self.n_terms
        us = []
        for k, t in enumerate(self.terms):
            if t.variable is None:
                us.append(th[k] + 0 * logx[:, 0])
            else:
                us.append(th[k] - th[K + self.exp_terms.index(k)] * logx[:, t.variable])
        v, p = lse(us, probs=jac)
        if not jac:
            return v, []
        return v, [*p, *(-p[k] * logx[:, self.terms[k].variable] for k in self.exp_terms)]

    def log_predict_jac(self, theta: FloatArray, logx: FloatArray) -> tuple[FloatArray, FloatArray]:
        """log y (B, n) and its Jacobian (B, n, P) for ``theta`` (B, P): the model the Gauss-Newton curvature fits."""
        return log_predict_jac(self, theta, logx)

    def centre(self, logx: FloatArray) -> FloatArray:
        """The shift (V,) that centres each variable's log: its mid-range."""
        return midrange(logx)

    def shifted(self, theta: FloatArray, dx: FloatArray, dy: float) -> FloatArray:
        """Internal vectors (..., P) fitting data (log x, log y) moved to those fitting (log x + dx, log y + dy).

        Each term ``c_k - s_k log x_v`` absorbs the metric's shift and ``s_k`` times its variable's in its
        coefficient; the exponents carry no unit.
        """
        t = np.asarray(theta, dtype=float)
        out = np.array(t, copy=True)
        for k, term in enumerate(self.terms):
            out[..., k] += dy
            if term.variable is not None:
                out[..., k] += t[..., self.n_terms + self.exp_terms.index(k)] * dx[term.variable]
        return out

    def design(self, logx: FloatArray) -> list[FloatArray]:
        """Per term, the (n, P) matrix V_k with u_k = V_k @ theta."""
        n = logx.shape[0]
        out: list[FloatArray] = []
        for k, t in enumerate(self.terms):
            v = np.zeros((n, self.n_params))
            v[:, k] = 1.0
            if t.variable is not None:
                j = self.n_terms + self.exp_terms.index(k)
                v[:, j] = -logx[:, t.variable]
            out.append(v)
        return out

    def natural(self, theta: FloatArray) -> FloatArray:
        """Internal vectors (..., P) to published parameters (..., P) in ``param_names`` order."""
        theta = np.asarray(theta, dtype=float)
        cols: dict[str, FloatArray] = {}
        for k, t in enumerate(self.terms):
            cols[t.natural_coef] = np.exp(theta[..., k])
            if t.exponent is not None:
                j = self.n_terms + self.exp_terms.index(k)
                cols[t.exponent] = t.sign * theta[..., j]
        return np.stack([cols[name] for name in self.param_names], axis=-1)

    def internal(self, params: dict[str, float]) -> FloatArray:
        """Published parameters (dict) to the internal vector."""
        theta = np.zeros(self.n_params)
        for k, t in enumerate(self.terms):
            theta[k] = np.log(params[t.natural_coef])
            if t.exponent is not None:
                theta[self.n_terms + self.exp_terms.index(k)] = params[t.exponent] / t.sign
        return theta

    def log_predict(self, theta: FloatArray, logx: FloatArray) -> FloatArray:
        """log y for internal params ``theta`` (..., P) at ``logx`` (n, V); returns (..., n)."""
        theta = np.asarray(theta, dtype=float)
        return lse([theta @ v.T for v in self.design(logx)], probs=False)[0]


def midrange(logx: FloatArray) -> FloatArray:
    """Mid-range of each column (or of a vector): the shift that centres a variable's log (see :meth:`LawForm.centre`)."""
    out: FloatArray = 0.5 * (logx.min(axis=0) + logx.max(axis=0))
    return out


def _coef_order(name: str) -> int:
    return {"E": 0, "A": 1, "B": 2, "G": 0}.get(name, 9)


TWO_VAR = LawForm(
    name="two_var",
    variables=("N", "D"),
    terms=(
        _Term("a", "A", "alpha", 0),
        _Term("b", "B", "beta", 1),
        _Term("e", "E", None, None),
    ),
    formula="L(N, D) = E + A / N^alpha + B / D^beta",
)

SATURATING = LawForm(
    name="saturating",
    variables=("x",),
    terms=(_Term("a", "A", "alpha", 0), _Term("e", "E", None, None)),
    formula="y(x) = E + A * x^-alpha",
)

# Linear in log space: where every residual lies beyond Huber's delta the exact Hessian of the loss is zero and a
# Newton step has nothing to go on (the fit stopped at its start, every resample with it: a zero-width interval).
# The reweighted Gauss-Newton curvature majorises the loss there, and is exact for squared error.
POWER = LawForm(
    name="power",
    variables=("x",),
    terms=(_Term("g", "G", "a", 0, sign=-1.0),),
    formula="y(x) = G * x^a",
    exact_hessian=False,
)
