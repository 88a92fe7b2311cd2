"""The exact-Hessian curvature of log-sum-exp laws, and their starting points.

:class:`Problem` gives the summed Huber loss of a log-sum-exp law's log residuals with its
*exact* Hessian, for many problems at once (starting points, or bootstrap resamples expressed as
row weights): every per-point quantity is a (B, n) array and every reduction over points is a
matrix product with a fixed (n, P*P) design, so 4000 resamples cost a few dozen BLAS calls per
iteration. The solver is :func:`scalekit.laws.core.minimize` (:func:`minimize` here is it with
this curvature); why exact second derivatives: see :mod:`scalekit.laws.core`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ..exceptions import FitError
from . import core
from .blocks import blocked, serial_matmul
from .core import huber, lse
from .lse import LawForm

FloatArray = npt.NDArray[np.float64]
IndexArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]


@dataclass
class Problem:
    """A law, the data in log space, and the loss."""

    form: LawForm
    logx: FloatArray  # (n, V)
    logy: FloatArray  # (n,)
    delta: float  # Huber threshold; np.inf gives squared error (0.5 r^2)

    def __post_init__(self) -> None:
        # Each term is u_k = sum of theta_p * column over its (parameter, column) pairs, the columns being the
        # distinct nonzero columns of the design (two_var: ones, -log N, -log D). Every gradient and Hessian entry
        # is a sum over rows of a coefficient array times a product of two such columns, so all of them come out
        # of one matrix product, (coefficient arrays) @ (column products), mapped to g and H by a fixed matrix:
        # a few passes over the rows instead of one BLAS call per Hessian block.
        V = self.form.design(self.logx)
        P, K = self.form.n_params, self.form.n_terms
        cols: list[FloatArray] = [np.ones(self.n)]  # column 0: the ones of the coefficients
        self._terms: list[list[tuple[int, int]]] = []  # per term: (parameter index, column index)
        for k in range(K):
            term: list[tuple[int, int]] = []
            for nz in np.flatnonzero(np.any(V[k] != 0, axis=0)):
                col = V[k][:, nz]
                c = next((i for i, d in enumerate(cols) if np.array_equal(d, col)), len(cols))
                if c == len(cols):
                    cols.append(np.ascontiguousarray(col))
                term.append((int(nz), c))
            self._terms.append(term)
        self._cols = cols
        prods = [(a, b) for a in range(len(cols)) for b in range(a, len(cols))]
        where: dict[tuple[int, int], int] = {}
        for i, (a, b) in enumerate(prods):
            where[a, b] = where[b, a] = i
        self._basis = np.ascontiguousarray(np.stack([cols[a] * cols[b] for a, b in prods], axis=1))  # (n, products)
        self._pairs = [(k, j) for k in range(K) for j in range(k, K)]
        # Coefficient arrays, in order: w psi p_k (the gradient, and the part of the Hessian's k = j blocks that
        # is not a product of two terms), then w (q - psi) p_k p_j for k <= j (the log-sum-exp's curvature).
        M = np.zeros((K + len(self._pairs), len(prods), P + P * P))
        for k, term in enumerate(self._terms):
            for p, c in term:
                M[k, where[0, c], p] += 1.0
                for q, d in term:
                    M[k, where[c, d], P + p * P + q] += 1.0
        for t, (k, j) in enumerate(self._pairs):
            for p, c in self._terms[k]:
                for q, d in self._terms[j]:
                    M[K + t, where[c, d], P + p * P + q] += 1.0
                    if k != j:
                        M[K + t, where[c, d], P + q * P + p] += 1.0
        self._map = M.reshape(-1, P + P * P)

    @property
    def n(self) -> int:
        return int(self.logy.shape[0])

    @property
    def finite(self) -> bool:
        return True  # softmax weights and power-term columns: finite wherever the log-sum-exp is

    def residuals(self, theta: FloatArray) -> FloatArray:
        return self.form.log_predict(theta, self.logx) - self.logy

    def take(self, rows: IndexArray) -> Problem:
        """The same problem on some of its rows, the design's columns gathered rather than rebuilt."""
        sub = copy.copy(self)
        sub.logx, sub.logy = self.logx[rows], self.logy[rows]
        sub._cols = [c[rows] for c in self._cols]
        sub._basis = self._basis[rows]
        return sub

    def _terms_u(self, theta: FloatArray) -> list[FloatArray]:
        """u_k (B, n) per term: the coefficient plus the exponent times its column, elementwise (no BLAS call)."""
        us = []
        for term in self._terms:
            # the exponent's product first, then the coefficient added: the same sum, one pass fewer than from zeros
            (p0, c0), *rest = sorted(term, key=lambda pc: pc[1] == 0)
            t0 = theta[:, p0, None]
            u = t0 * self._cols[c0] if c0 else np.repeat(t0, self.n, axis=1)
            for p, c in rest:
                u += theta[:, p, None] * self._cols[c] if c else theta[:, p, None]
            us.append(u)
        return us

    def _softmax(self, theta: FloatArray, probs: bool = True) -> tuple[FloatArray, list[FloatArray]]:
        # Terms as a list of (B, n) arrays: numpy reductions over a short last axis are slow.
        return lse(self._terms_u(theta), probs, fast=True)

    def objective(self, theta: FloatArray, w: FloatArray) -> FloatArray:
        """Summed (weighted) loss for each row of theta (B, P); w is (B, n) or (n,)."""
        wb = np.broadcast_to(w, (theta.shape[0], self.n))
        return blocked(lambda t, x: (self._objective(t, x),), theta, wb, self.n)[0]

    def _objective(self, theta: FloatArray, w: FloatArray) -> FloatArray:
        v, _ = self._softmax(theta, probs=False)
        f: FloatArray = np.einsum("bn,bn->b", np.broadcast_to(w, v.shape), huber(v - self.logy, self.delta)[1])
        return f

    def derivatives(self, theta: FloatArray, w: FloatArray,
                    free: IndexArray | None = None) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Objective, gradient (B, F) and exact Hessian (B, F, F) over the ``free`` parameters (all if None):
        the exact-Hessian curvature of :func:`scalekit.laws.core.minimize`."""
        f, g, H = blocked(self._derivatives, theta, np.broadcast_to(w, (theta.shape[0], self.n)), self.n)
        if free is not None:
            g, H = g[:, free], H[:, free[:, None], free]
        return f, g, H

    def _derivatives(self, theta: FloatArray, w: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        B, P = theta.shape
        v, p = self._softmax(theta)
        r = v - self.logy
        psi, rho = huber(r, self.delta)
        f = np.einsum("bn,bn->b", w, rho)
        # q - psi, q = rho''(r): 1 inside the quadratic zone (where clipping left r as it was), 0 outside
        curv = (psi == r).astype(float) if psi is not r else np.ones_like(r)
        curv -= psi
        wpsi = np.multiply(w, psi, out=psi)
        curv *= w
        # coefficient arrays (see __post_init__): w psi p_k, then w (q - psi) p_k p_j for k <= j
        K = len(p)
        A = np.empty((B, K + len(self._pairs), self.n))
        for k in range(K):
            np.multiply(wpsi, p[k], out=A[:, k])
        cp = [curv * pk for pk in p]
        for t, (k, j) in enumerate(self._pairs):
            np.multiply(cp[k], p[j], out=A[:, K + t])
        R = serial_matmul(A.reshape(-1, self.n), self._basis).reshape(B, -1)
        out = serial_matmul(R, self._map)
        return f, np.ascontiguousarray(out[:, :P]), out[:, P:].reshape(B, P, P)


Solution = core.Solution


def minimize(prob: Problem, theta0: npt.ArrayLike, w: FloatArray | None = None, *, max_iter: int = 300,
             ftol: float = 1e-13) -> Solution:
    """:func:`scalekit.laws.core.minimize` with the exact Hessian of ``prob``."""
    return core.minimize(prob, theta0, w, max_iter=max_iter, ftol=ftol)


def minimize_chunked(prob: Problem, theta0: FloatArray, weights: Callable[[int], FloatArray] | None = None, *,
                     ftol: float = 1e-13, progress: Callable[[int, int], None] | None = None) -> Solution:
    """:func:`scalekit.laws.core.minimize_chunked` with the exact Hessian of ``prob``."""
    return core.minimize_chunked(prob, theta0, weights, ftol=ftol, progress=progress)


def objective_chunked(prob: Problem, theta: FloatArray) -> FloatArray:
    """:meth:`Problem.objective` (unit weights) for many parameter vectors, in chunks of bounded memory."""
    size = core.chunk_size(prob.n)
    w = np.ones(prob.n)
    return np.concatenate([prob.objective(theta[s:s + size], w) for s in range(0, theta.shape[0], size)])


def projection_starts(prob: Problem, grid: FloatArray, weights: FloatArray | None = None) -> FloatArray:
    """Starting points by variable projection.

    For fixed exponents the law is linear in its coefficients, so for each row of ``grid``
    (G, M exponents) solve a least-squares problem in relative error (close to log error) for
    the coefficients, clip them positive, and return internal vectors (G, P).
    """
    size = core.chunk_size(prob.n, prob.form.n_terms)
    if grid.shape[0] > size:  # the design below is (G, rows, terms): chunk it over the grid
        return np.concatenate([projection_starts(prob, grid[s:s + size], weights) for s in range(0, grid.shape[0], size)])
    form = prob.form
    x = prob.logx
    y = np.exp(prob.logy)
    K = form.n_terms
    G = grid.shape[0]
    cols = []
    for k, t in enumerate(form.terms):
        if t.variable is None:
            cols.append(np.ones((G, x.shape[0])))
        else:
            s = grid[:, form.exp_terms.index(k)]
            cols.append(np.exp(-s[:, None] * x[None, :, t.variable]))
    X = np.stack(cols, axis=-1) / y[None, :, None]  # rows scaled: relative residuals
    if weights is not None:
        X = X * np.sqrt(weights)[None, :, None]
        rhs = np.sqrt(weights)
    else:
        rhs = np.ones(x.shape[0])
    XtX = np.einsum("gnk,gnl->gkl", X, X) + 1e-12 * np.eye(K)
    Xty = np.einsum("gnk,n->gk", X, rhs)
    try:
        c = np.linalg.solve(XtX, Xty[..., None])[..., 0]
    except np.linalg.LinAlgError:
        c = np.einsum("gkl,gl->gk", np.linalg.pinv(XtX), Xty)
    floor = 1e-6 * float(np.median(y))
    c = np.maximum(c, floor)
    theta = np.concatenate([np.log(c), grid], axis=1)
    return theta


def exponent_grid(n_exp: int, lo: float = 0.05, hi: float = 1.6, size: int = 16) -> FloatArray:
    vals = np.linspace(lo, hi, size)
    mesh = np.meshgrid(*([vals] * n_exp), indexing="ij")
    return np.stack([m.ravel() for m in mesh], axis=1)


def hoffmann_grid(form: LawForm) -> FloatArray:
    """The 4500-point initialisation grid of Hoffmann et al. (2022), for the two-variable law."""
    if form.name != "two_var":
        raise FitError("the Hoffmann grid is defined for the two-variable law only", form=form.name)
    alpha = np.arange(0.0, 2.01, 0.5)
    beta = np.arange(0.0, 2.01, 0.5)
    e = np.arange(-1.0, 1.01, 0.5)
    a = np.arange(0.0, 25.01, 5.0)
    b = np.arange(0.0, 25.01, 5.0)
    mesh = np.meshgrid(a, b, e, alpha, beta, indexing="ij")
    return np.stack([m.ravel() for m in mesh], axis=1)  # internal order: a, b, e, alpha, beta


def form_starts(form: Any, logx: FloatArray, logy: FloatArray) -> FloatArray:
    """Starting vectors for any form: variable projection on the exponent grid for a log-sum-exp form (least squares
    for a pure power law, linear in log space), the form's own :meth:`starts` otherwise."""
    if not isinstance(form, LawForm):
        out: FloatArray = np.asarray(form.starts(logx, logy), dtype=np.float64)
        return out
    if form.n_terms == 1:
        A = np.column_stack([np.ones(logy.size), -logx[:, form.terms[0].variable]])
        return np.asarray(np.linalg.lstsq(A, logy, rcond=None)[0][None, :], dtype=np.float64)
    prob = Problem(form, logx[:, :len(form.variables)], logy, 1e-3)
    return projection_starts(prob, exponent_grid(len(form.exp_terms)))
