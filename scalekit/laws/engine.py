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

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..exceptions import FitError
from .blocks import blocked
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
        self.V = self.form.design(self.logx)
        n, p = self.logx.shape[0], self.form.n_params
        K = self.form.n_terms
        # Hessian blocks: sum_i c_i V_ik V_ij^T for symmetric pairs (k <= j), kept compact
        # as the nonzero columns only, since each V_k has at most two nonzero columns.
        self._pairs: list[tuple[int, int, IndexArray, FloatArray]] = []
        for k in range(K):
            for j in range(k, K):
                outer = np.einsum("np,nq->npq", self.V[k], self.V[j])
                if k != j:
                    outer = outer + np.einsum("np,nq->npq", self.V[j], self.V[k])
                flat = outer.reshape(n, p * p)
                nz = np.flatnonzero(np.any(flat != 0, axis=0))
                self._pairs.append((k, j, nz, np.ascontiguousarray(flat[:, nz])))
        self._gnz: list[tuple[IndexArray, FloatArray]] = []
        for k in range(K):
            nz = np.flatnonzero(np.any(self.V[k] != 0, axis=0))
            self._gnz.append((nz, np.ascontiguousarray(self.V[k][:, nz])))

    @property
    def n(self) -> int:
        return int(self.logy.shape[0])

    def residuals(self, theta: FloatArray) -> FloatArray:
        return self.form.log_predict(theta, self.logx) - self.logy

    def _softmax(self, theta: FloatArray) -> tuple[FloatArray, list[FloatArray]]:
        # Terms as a list of (B, n) arrays: numpy reductions over a short last axis are slow.
        us = [theta @ v.T for v in self.V]
        if len(us) == 1:
            return us[0], [np.ones_like(us[0])]
        m = us[0]
        for u in us[1:]:
            m = np.maximum(m, u)
        es = [np.exp(u - m) for u in us]
        s = es[0]
        for e in es[1:]:
            s = s + e
        inv = 1.0 / s
        return m + np.log(s), [e * inv for e in es]

    def _rho(self, r: FloatArray) -> FloatArray:
        d = self.delta
        if np.isinf(d):
            return 0.5 * r * r
        a = np.abs(r)
        return np.where(a <= d, 0.5 * r * r, d * (a - 0.5 * d))

    def objective(self, theta: FloatArray, w: FloatArray) -> FloatArray:
        """Summed (weighted) loss for each row of theta (B, P); w is (B, n) or (n,)."""
        wb = np.broadcast_to(w, (theta.shape[0], self.n))
        return blocked(lambda t, x: (self._objective(t, x),), theta, wb, self.n)[0]

    def _objective(self, theta: FloatArray, w: FloatArray) -> FloatArray:
        lse, _ = self._softmax(theta)
        f: FloatArray = np.einsum("bn,bn->b", np.broadcast_to(w, lse.shape), self._rho(lse - self.logy))
        return f

    def derivatives(self, theta: FloatArray, w: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Objective, gradient (B, P) and exact Hessian (B, P, P)."""
        f, g, H = blocked(self._derivatives, theta, np.broadcast_to(w, (theta.shape[0], self.n)), self.n)
        return f, g, H

    def _derivatives(self, theta: FloatArray, w: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        B, P = theta.shape
        lse, p = self._softmax(theta)
        r = lse - self.logy
        f = np.einsum("bn,bn->b", w, self._rho(r))
        if np.isinf(self.delta):
            psi, q = r, np.ones_like(r)
        else:
            psi = np.clip(r, -self.delta, self.delta)
            q = (np.abs(r) <= self.delta).astype(float)
        wpsi = w * psi
        g = np.zeros((B, P))
        H = np.zeros((B, P * P))
        cgg = w * (q - psi)
        wp = [wpsi * pk for pk in p]
        for k, (nz, vk) in enumerate(self._gnz):
            g[:, nz] += _matmul(wp[k], vk)
        for k, j, nz, blk in self._pairs:
            c = cgg * p[k] * p[j]
            if k == j:
                c = c + wp[k]
            H[:, nz] += _matmul(c, blk)
        return f, g, H.reshape(B, P, P)


def _matmul(a: FloatArray, b: FloatArray) -> FloatArray:
    """``a @ b`` for (B, n) @ (n, m); a single column as a matrix-vector product (numpy's (1, n) @ (n, 1)
    takes a slow path: 12 ms at 50,000 rows against 25 us)."""
    if b.shape[1] == 1:
        out: FloatArray = (a @ b[:, 0])[:, None]
        return out
    return a @ b


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
    f = prob.objective(theta, w)
    converged = np.zeros(B, dtype=bool)
    eye = np.eye(P)
    it = 0
    while it < max_iter:
        it += 1
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        th, wi = theta[idx], w[idx]
        fi, g, H = prob.derivatives(th, wi)
        diag = np.maximum(np.abs(np.diagonal(H, axis1=1, axis2=2)), 1e-12)
        A = H + (lam[idx, None] * diag)[:, :, None] * eye
        try:
            step = -np.linalg.solve(A, g[..., None])[..., 0]
        except np.linalg.LinAlgError:
            step = -np.einsum("bpq,bq->bp", np.linalg.pinv(A), g)
        trial = th + step
        ft = prob.objective(trial, wi)
        ok = np.isfinite(ft) & (ft < fi)
        gain = np.where(ok, fi - ft, 0.0)
        theta[idx[ok]] = trial[ok]
        f[idx[ok]] = ft[ok]
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
    :data:`CHUNK_CELLS` there is one chunk and the numbers are bit for bit those of one call).
    ``weights(k)``, when given, returns the row weights (k, rows) of the next k problems; it is
    called in order, chunk by chunk, so neither the (B, rows) weights nor anything they are drawn
    from (resample counts per run) is ever held whole.
    """
    B = theta0.shape[0]
    size = chunk_size(prob.n)
    starts = list(range(0, B, size))

    def solve(s: int, w: FloatArray | None) -> Solution:
        return minimize(prob, theta0[s:s + size], w, ftol=ftol)

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
