"""Vectorised robust fitting of log-sum-exp laws.

Many problems (starting points, or bootstrap resamples expressed as row weights) are solved at
once: every per-point quantity is a (B, n) array and every reduction over points is a matrix
product with a fixed (n, P*P) design, so 4000 resamples cost a few dozen BLAS calls per
iteration instead of 4000 scipy calls.

The optimiser is Levenberg-Marquardt on the *exact* Hessian of the summed Huber loss.
L-BFGS-B with default tolerances stops early on this objective: its gradient is of order
delta (1e-3) everywhere outside the quadratic zone, so a relative-gradient stopping rule is
met long before the optimum. Exact second derivatives make the last digits cheap.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..exceptions import FitError
from .blocks import blocked, per_block, serial_matmul
from .lse import LawForm

FloatArray = npt.NDArray[np.float64]
IndexArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]

_LAMBDA0 = 1e-3
_LAMBDA_MAX = 1e12


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
        us = self._terms_u(theta)
        if len(us) == 1:
            return us[0], [np.ones_like(us[0])]
        m = np.maximum(us[0], us[1])
        for u in us[2:]:
            np.maximum(m, u, out=m)
        for u in us:
            u -= m
            np.exp(u, out=u)
        s = us[0] + us[1]
        for e in us[2:]:
            s += e
        lse = np.log(s)
        lse += m
        if probs:
            np.reciprocal(s, out=s)
            for e in us:
                e *= s
        return lse, us

    def _huber(self, r: FloatArray) -> tuple[FloatArray, FloatArray]:
        """psi = rho'(r), the residual clipped to [-delta, delta], and rho = psi (r - psi/2): the Huber loss on both
        sides of delta and 0.5 r^2 inside (or everywhere, for squared error)."""
        psi = r if np.isinf(self.delta) else np.clip(r, -self.delta, self.delta)
        rho = 0.5 * psi
        np.subtract(r, rho, out=rho)
        rho *= psi
        return psi, rho

    def objective(self, theta: FloatArray, w: FloatArray) -> FloatArray:
        """Summed (weighted) loss for each row of theta (B, P); w is (B, n) or (n,)."""
        wb = np.broadcast_to(w, (theta.shape[0], self.n))
        return blocked(lambda t, x: (self._objective(t, x),), theta, wb, self.n)[0]

    def _objective(self, theta: FloatArray, w: FloatArray) -> FloatArray:
        lse, _ = self._softmax(theta, probs=False)
        f: FloatArray = np.einsum("bn,bn->b", np.broadcast_to(w, lse.shape), self._huber(lse - self.logy)[1])
        return f

    def derivatives(self, theta: FloatArray, w: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Objective, gradient (B, P) and exact Hessian (B, P, P)."""
        f, g, H = blocked(self._derivatives, theta, np.broadcast_to(w, (theta.shape[0], self.n)), self.n)
        return f, g, H

    def _derivatives(self, theta: FloatArray, w: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        B, P = theta.shape
        lse, p = self._softmax(theta)
        r = lse - self.logy
        psi, rho = self._huber(r)
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


@dataclass
class Solution:
    theta: FloatArray  # (B, P)
    f: FloatArray  # (B,)
    converged: BoolArray  # (B,) bool
    iterations: int


def minimize(
    prob: Problem,
    theta0: npt.ArrayLike,
    w: FloatArray | None = None,
    *,
    max_iter: int = 300,
    ftol: float = 1e-13,
) -> Solution:
    """Levenberg-Marquardt with exact Hessians on B problems at once.

    A step is kept only if it lowers that problem's objective, so every problem's objective
    is monotone non-increasing; damping grows on rejection, shrinks on success.
    """
    theta = np.array(theta0, dtype=float, copy=True)
    B, P = theta.shape
    if w is None:
        w = np.ones((B, prob.n))
    elif w.ndim == 1:
        w = np.broadcast_to(w, (B, prob.n))
    lam = np.full(B, _LAMBDA0)
    active = np.ones(B, dtype=bool)
    # Derivatives are evaluated at each trial point with its objective: an accepted step (most of them near
    # the optimum) then already has what the next iteration needs, so no point is evaluated twice.
    f, g, H = prob.derivatives(theta, w)
    converged = np.zeros(B, dtype=bool)
    eye = np.eye(P)
    it = 0
    while it < max_iter:
        it += 1
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        th, wi, fi, Hi = theta[idx], w[idx], f[idx], H[idx]
        diag = np.maximum(np.abs(np.diagonal(Hi, axis1=1, axis2=2)), 1e-12)
        A = Hi + (lam[idx, None] * diag)[:, :, None] * eye
        try:
            step = -np.linalg.solve(A, g[idx][..., None])[..., 0]
        except np.linalg.LinAlgError:
            step = -np.einsum("bpq,bq->bp", np.linalg.pinv(A), g[idx])
        trial = th + step
        ft, gt, Ht = prob.derivatives(trial, wi)
        ok = np.isfinite(ft) & (ft < fi)
        gain = np.where(ok, fi - ft, 0.0)
        acc = idx[ok]
        theta[acc], f[acc], g[acc], H[acc] = trial[ok], ft[ok], gt[ok], Ht[ok]
        lam[idx] = np.where(ok, np.maximum(lam[idx] / 3.0, 1e-15), lam[idx] * 4.0)
        small = ok & (gain <= ftol * np.maximum(fi, 1e-300))
        stalled = ~ok & (lam[idx] > _LAMBDA_MAX)
        done = small | stalled
        converged[idx[done]] = True
        active[idx[done]] = False
    return Solution(theta=theta, f=f, converged=converged, iterations=it)


# Problems solved together are cut into chunks of at most this many (problem, row) cells: the
# solver's working arrays are (problems, rows), so memory stays near 20 x 8 bytes x this number
# (about 150 MB per chunk; chunks run on as many threads as cores) whatever the rows x resamples,
# and the cost stays linear in both.
CHUNK_CELLS = 1_000_000


def chunk_size(n_rows: int, width: int = 1) -> int:
    """How many problems (of ``n_rows`` x ``width`` cells each) one chunk holds."""
    return max(1, CHUNK_CELLS // max(1, n_rows * width))


def minimize_chunked(
    prob: Problem,
    theta0: FloatArray,
    weights: Callable[[int], FloatArray] | None = None,
    *,
    ftol: float = 1e-13,
    progress: Callable[[int, int], None] | None = None,
) -> Solution:
    """:func:`minimize` on B problems in chunks of bounded memory.

    The problems are independent (each has its own damping and stopping rule), so a chunked
    solve gives the same numbers as one call, up to rounding in BLAS sums (below
    :data:`CHUNK_CELLS` there is one chunk and, while a block (:data:`.blocks.BLOCK_CELLS`) holds several
    problems, the numbers are bit for bit those of one call; beyond, each weighted problem is solved
    alone on its rows of nonzero weight, the same objective summed over fewer terms).
    ``weights(k)``, when given, returns the row weights (k, rows) of the next k problems; it is
    called in order, chunk by chunk, so neither the (B, rows) weights nor anything they are drawn
    from (resample counts per run) is ever held whole.
    """
    B = theta0.shape[0]
    size = chunk_size(prob.n)
    starts = list(range(0, B, size))

    def solve(s: int, w: FloatArray | None) -> Solution:
        if w is None or per_block(prob.n) > 1:
            return minimize(prob, theta0[s:s + size], w, ftol=ftol)
        # Each problem is a block of its own at this many rows, so nothing is lost solving them one by one, each
        # on its rows of nonzero weight only (a bootstrap resample leaves out about 1/e of the runs).
        sols = []
        for i, wi in enumerate(w):
            rows = np.flatnonzero(wi)
            sols.append(minimize(prob.take(rows), theta0[s + i:s + i + 1], wi[rows][None], ftol=ftol))
        return _joined(sols)

    def next_weights(s: int) -> FloatArray | None:
        return None if weights is None else weights(min(s + size, B) - s)

    if len(starts) == 1:
        sol = solve(0, next_weights(0))
        if progress is not None:
            progress(B, B)
        return sol
    # numpy releases the GIL in its array loops: chunks on threads use the cores without copying the data.
    # At most `workers` chunks are in flight, so memory stays that many chunks whatever B is.
    import os
    from concurrent.futures import Future, ThreadPoolExecutor

    workers = max(1, min(len(starts), os.cpu_count() or 1, 4))
    parts: list[Solution] = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending: list[tuple[int, Future[Solution]]] = []
        for s in starts:
            pending.append((s, pool.submit(solve, s, next_weights(s))))
            while len(pending) >= workers or (s == starts[-1] and pending):
                s0, fut = pending.pop(0)
                parts.append(fut.result())
                if progress is not None:
                    progress(min(s0 + size, B), B)
    return _joined(parts)


def _joined(parts: list[Solution]) -> Solution:
    return Solution(theta=np.concatenate([p.theta for p in parts]), f=np.concatenate([p.f for p in parts]),
                    converged=np.concatenate([p.converged for p in parts]), iterations=max(p.iterations for p in parts))


def objective_chunked(prob: Problem, theta: FloatArray) -> FloatArray:
    """:meth:`Problem.objective` (unit weights) for many parameter vectors, in chunks of bounded memory."""
    size = chunk_size(prob.n)
    w = np.ones(prob.n)
    return np.concatenate([prob.objective(theta[s:s + size], w) for s in range(0, theta.shape[0], size)])


def projection_starts(prob: Problem, grid: FloatArray, weights: FloatArray | None = None) -> FloatArray:
    """Starting points by variable projection.

    For fixed exponents the law is linear in its coefficients, so for each row of ``grid``
    (G, M exponents) solve a least-squares problem in relative error (close to log error) for
    the coefficients, clip them positive, and return internal vectors (G, P).
    """
    size = chunk_size(prob.n, prob.form.n_terms)
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
