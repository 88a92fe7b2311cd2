"""Law forms that are not a log-sum-exp of power terms.

A :class:`GeneralForm` gives the log of its prediction and the analytic derivatives of that log
with respect to its internal parameters. :func:`minimize` fits it with the one solver,
:func:`scalekit.laws.core.minimize`, on the summed Huber loss of the log residuals with the
reweighted Gauss-Newton curvature (:class:`scalekit.laws.core.GaussNewton`), many problems at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

from . import core
from .core import GaussNewton

__all__ = ["GeneralForm", "Model", "Solution", "linear_model", "log_predict_jac", "minimize", "objective", "value",
           "value_jac"]

FloatArray = npt.NDArray[np.float64]
Cols = list[FloatArray]  # one entry per internal parameter, each broadcastable against (B, n)


class GeneralForm:
    """A law given by ``log y = f(theta, log x)`` with analytic derivatives.

    Subclasses set ``name``, ``variables``, ``param_names`` (published names, in the order of
    :meth:`natural`), ``internal_names`` and ``formula``, and implement :meth:`evaluate`,
    :meth:`natural`, :meth:`internal` and :meth:`starts`.
    """

    name: str = ""
    variables: tuple[str, ...] = ()
    param_names: tuple[str, ...] = ()
    internal_names: tuple[str, ...] = ()
    formula: str = ""
    reference: str = ""

    @property
    def n_params(self) -> int:
        return len(self.internal_names)

    # --- to implement --------------------------------------------------------------------
    def evaluate(self, th: Cols, logx: FloatArray, jac: bool) -> tuple[FloatArray, Cols]:
        """log y and (if ``jac``) d log y / d theta_i for each internal parameter.

        ``th[i]`` broadcasts against (n,): (..., 1) for one vector per problem, (..., n) for
        one vector per point (group-specific parameters).
        """
        raise NotImplementedError

    def natural(self, theta: FloatArray) -> FloatArray:
        """Internal vectors (..., P) to published parameters (..., P) in ``param_names`` order."""
        raise NotImplementedError

    def internal(self, params: dict[str, float]) -> FloatArray:
        """Published parameters to the internal vector."""
        raise NotImplementedError

    def starts(self, logx: FloatArray, logy: FloatArray) -> FloatArray:
        """Candidate starting vectors (G, P) for data ``logx`` (n, V), ``logy`` (n,)."""
        raise NotImplementedError

    def published_index(self, i: int) -> int:
        """Index in ``param_names`` of the published parameter internal parameter ``i`` stands for."""
        return i

    # --- shared --------------------------------------------------------------------------
    def log_predict(self, theta: npt.ArrayLike, logx: FloatArray) -> FloatArray:
        """log y for internal params ``theta`` (..., P) at ``logx`` (n, V); returns (..., n)."""
        t = np.asarray(theta, dtype=float)
        v, _ = self.evaluate([t[..., i, None] for i in range(t.shape[-1])], logx, False)
        out: FloatArray = np.broadcast_to(v, (*t.shape[:-1], logx.shape[0]))
        return out

    def log_predict_jac(self, theta: FloatArray, logx: FloatArray) -> tuple[FloatArray, FloatArray]:
        """log y (B, n) and its Jacobian (B, n, P) for ``theta`` (B, P)."""
        return log_predict_jac(self, theta, logx)

    def __repr__(self) -> str:
        return f"<law form {self.name}: {self.formula}>"


class _Evaluates(Protocol):
    def evaluate(self, th: Cols, logx: FloatArray, jac: bool) -> tuple[FloatArray, Cols]: ...


class Model(Protocol):
    """What a Gauss-Newton fit needs of a form: a :class:`GeneralForm`, or a log-sum-exp form
    (:class:`scalekit.laws.lse.LawForm`) fitted with this curvature."""

    def log_predict_jac(self, theta: FloatArray, logx: FloatArray) -> tuple[FloatArray, FloatArray]: ...


def log_predict_jac(form: _Evaluates, theta: FloatArray, logx: FloatArray) -> tuple[FloatArray, FloatArray]:
    """log y (B, n) and its Jacobian (B, n, P) for ``theta`` (B, P), from the form's :meth:`GeneralForm.evaluate`."""
    v, J = form.evaluate([theta[:, i, None] for i in range(theta.shape[1])], logx, True)
    shape = (theta.shape[0], logx.shape[0])
    v = np.broadcast_to(v, shape)
    return v, np.stack([np.broadcast_to(j, shape) for j in J], axis=-1)


def gauss_newton(form: Model, logx: FloatArray, logy: FloatArray, delta: float) -> GaussNewton:
    """The Huber loss of the form's log residuals with the reweighted Gauss-Newton curvature."""
    return GaussNewton(form.log_predict_jac, logx, logy, delta)


def objective(form: Model, theta: FloatArray, logx: FloatArray, logy: FloatArray, w: FloatArray,
              delta: float) -> FloatArray:
    """Summed weighted Huber loss of the log residuals for each row of ``theta`` (B, P); NaN-safe (inf)."""
    return gauss_newton(form, logx, logy, delta).objective(theta, w)


Solution = core.Solution


def minimize(form: Model, logx: FloatArray, logy: FloatArray, delta: float, theta0: npt.ArrayLike,
             w: FloatArray | None = None, *, max_iter: int = 500, ftol: float = 1e-13,
             fixed: Sequence[int] = (), bounds: tuple[npt.ArrayLike, npt.ArrayLike] | None = None) -> Solution:
    """:func:`scalekit.laws.core.minimize` on the Huber loss of the form's log residuals, Gauss-Newton curvature."""
    return core.minimize(gauss_newton(form, logx, logy, delta), theta0, w, max_iter=max_iter,
                         ftol=ftol, fixed=fixed, bounds=bounds)


# --- linear residuals ----------------------------------------------------------------------------
# A metric that can be zero or negative (a loss minus a unigram baseline) has no log: it is fitted on its own
# scale, the residuals ``prediction - y`` divided by a fixed scale of the data (so the Huber threshold keeps its
# meaning of a relative error), with the same core and the same Gauss-Newton curvature. A form whose value can
# change sign (a formula law: ``scalekit.Law``) gives its value directly; any other form is exp of its log.

def value(form: object, theta: npt.ArrayLike, logx: FloatArray) -> FloatArray:
    """The form's value (not its log) for internal params ``theta`` (..., P) at ``logx`` (n, V)."""
    signed = getattr(form, "signed_value", None)
    if signed is not None:
        out: FloatArray = signed(np.asarray(theta, dtype=float), logx)
        return out
    ev: FloatArray = np.exp(form.log_predict(theta, logx))  # type: ignore[attr-defined]
    return ev


def value_jac(form: Model, theta: FloatArray, logx: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The form's value (B, n) and its Jacobian (B, n, P) for ``theta`` (B, P)."""
    signed = getattr(form, "signed_value_jac", None)
    if signed is not None:
        v, J = signed(theta, logx)
        return v, J
    lv, J = form.log_predict_jac(theta, logx)
    with np.errstate(over="ignore", invalid="ignore"):
        ev = np.exp(lv)
        return ev, ev[..., None] * J


def linear_model(form: Model, scale: float) -> core.Model:
    """The Gauss-Newton model of linear residuals divided by ``scale``: (value / scale, Jacobian / scale)."""

    def model(theta: FloatArray, logx: FloatArray) -> tuple[FloatArray, FloatArray]:
        v, J = value_jac(form, theta, logx)
        return v / scale, J / scale

    return model
