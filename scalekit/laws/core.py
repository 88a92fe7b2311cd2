"""The fitting core: one batched robust least-squares solver, and the pieces every fit shares.

:func:`minimize` runs Levenberg-Marquardt on B problems at once (starting points, bootstrap
resamples expressed as row weights, left-out runs, ...): every per-point quantity is a (B, n)
array and every reduction a batched product, so thousands of problems cost a few dozen BLAS calls
per iteration instead of thousands of scipy calls. It takes bounds and fixed parameters; the loss
is Huber's (``delta = inf``: squared error) on residuals of any scale (log or linear).

The curvature is pluggable (a :class:`Curvature` gives the objective, gradient and curvature
matrix at a batch of points):

* the exact Hessian, for sums of power terms (:class:`scalekit.laws.engine.Problem`): L-BFGS-B
  with default tolerances stops early on the Huber objective (its gradient is of order delta
  outside the quadratic zone), while exact second derivatives make the last digits cheap;
* :class:`GaussNewton`, for any model with a Jacobian: ``J^T diag(w psi(r)/r) J``, the
  iteratively reweighted Gauss-Newton matrix, which majorises the Huber loss, so it is positive
  semi-definite everywhere (the exact Hessian of the Huber loss vanishes in its linear zone).

A step is kept only if it lowers that problem's objective, so every objective is monotone
non-increasing; damping grows on rejection and shrinks on success. :func:`minimize_chunked`
bounds memory by solving the problems in chunks.

Also here, once: the Huber loss (:func:`huber`), the log-sum-exp with its softmax (:func:`lse`)
and the bootstrap over runs (:func:`run_counts`, :func:`run_weights`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from .blocks import blocked, per_block

__all__ = ["CHUNK_CELLS", "Curvature", "GaussNewton", "Solution", "chunk_size", "huber", "lse", "minimize",
           "minimize_chunked", "run_counts", "run_weights"]

FloatArray = npt.NDArray[np.float64]
IndexArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]

_LAMBDA0 = 1e-3
_LAMBDA_MAX = 1e12


# --- shared pieces ---------------------------------------------------------------------------
def huber(r: FloatArray, delta: float) -> tuple[FloatArray, FloatArray]:
    """``psi = rho'(r)`` (the residual clipped to [-delta, delta]) and Huber's ``rho = psi (r - psi/2)``.

    ``rho`` is 0.5 r^2 inside ``delta`` and ``delta (|r| - delta/2)`` outside; ``delta = inf``
    gives squared error, and then ``psi`` *is* ``r`` (the same array: callers test ``psi is r``).
    """
    psi = r if np.isinf(delta) else np.clip(r, -delta, delta)
    rho = 0.5 * psi
    np.subtract(r, rho, out=rho)
    rho *= psi
    return psi, rho


def lse(us: list[FloatArray], probs: bool = True, fast: bool = False) -> tuple[FloatArray, list[FloatArray]]:
    """log-sum-exp of the terms ``us`` (arrays of one shape) and, with ``probs``, their softmax weights
    (the derivative of the LSE by each term).

    The terms are overwritten (no temporaries: this is the inner loop of the exact-Hessian engine).
    ``fast`` multiplies by the reciprocal of the sum instead of dividing by it (one division per
    point rather than per term and point, one rounding more): the exact-Hessian engine's choice.
    """
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
    out = np.log(s)
    out += m
    if probs and fast:
        np.reciprocal(s, out=s)
        for e in us:
            e *= s
    elif probs:
        for e in us:
            e /= s
    return out, us


def run_counts(rng: np.random.Generator, n_runs: int, size: int) -> FloatArray:
    """Bootstrap over runs (a cluster bootstrap): how often each of ``n_runs`` runs is drawn, (size, n_runs).

    Drawn in order, so ``size`` resamples at once or in pieces give the same stream.
    """
    counts: FloatArray = rng.multinomial(n_runs, np.full(n_runs, 1.0 / n_runs), size=size).astype(float)
    return counts


def run_weights(groups: npt.ArrayLike, size: int, rng: np.random.Generator) -> FloatArray:
    """Row weights (size, n) of ``size`` resamples of whole runs: each row weighs as often as its run
    (``groups``, one label per row) was drawn."""
    _, inv = np.unique(np.asarray(groups), return_inverse=True)
    return run_counts(rng, int(inv.max()) + 1 if inv.size else 0, size)[:, inv]


# --- the solver ------------------------------------------------------------------------------
class Curvature(Protocol):
    """What the solver needs of a problem: rows, derivatives at a batch of points, and a subset of rows."""

    @property
    def n(self) -> int: ...

    @property
    def finite(self) -> bool:
        """True when the derivatives are finite wherever the objective is (the solver then never checks them)."""
        ...

    def derivatives(self, theta: FloatArray, w: FloatArray,
                    free: IndexArray | None = None) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Objective (B,), gradient (B, F) and curvature (B, F, F) over the ``free`` parameters (all if None)
        at ``theta`` (B, P) with row weights ``w`` (B, n)."""
        ...

    def take(self, rows: IndexArray) -> Curvature:
        """The same problem on some of its rows."""
        ...


@dataclass(frozen=True)
class Solution:
    theta: FloatArray  # (B, P)
    f: FloatArray  # (B,)
    converged: BoolArray  # (B,)
    iterations: int


def minimize(curv: Curvature, theta0: npt.ArrayLike, w: FloatArray | None = None, *, max_iter: int = 300,
             ftol: float = 1e-13, fixed: Sequence[int] = (),
             bounds: tuple[npt.ArrayLike, npt.ArrayLike] | None = None) -> Solution:
    """Levenberg-Marquardt on B problems at once, from the starts ``theta0`` (B, P), row weights ``w`` (B, n) or (n,).

    ``fixed`` lists parameters held at their starting values. ``bounds`` (lower, upper), each
    broadcastable to (B, P), box the parameters (the starts must lie inside): a parameter at a
    bound that the gradient pushes outward is held for that step (projected Newton), and every
    trial point is clipped into the box. A problem stops when a kept step gains less than ``ftol``
    relative (converged), when the damping exceeds 1e12 (converged: no step lowers it), when
    every free parameter is held at a bound (a KKT point), or at ``max_iter`` (not converged).
    """
    theta = np.array(theta0, dtype=float, copy=True)
    B, P = theta.shape
    n = curv.n
    if w is None:
        w = np.ones((B, n))
    elif w.ndim == 1:
        w = np.broadcast_to(w, (B, n))
    free = np.setdiff1d(np.arange(P), np.asarray(fixed, dtype=int))
    sel = None if free.size == P else free
    lam = np.full(B, _LAMBDA0)
    active = np.ones(B, dtype=bool)
    converged = np.zeros(B, dtype=bool)
    eye = np.eye(free.size)
    lo = hi = None
    if bounds is not None:
        lo = np.broadcast_to(np.asarray(bounds[0], dtype=float), (B, P))[:, free]
        hi = np.broadcast_to(np.asarray(bounds[1], dtype=float), (B, P))[:, free]
    # Derivatives are evaluated at each trial point with its objective: an accepted step (most of them near
    # the optimum) then already has what the next iteration needs, so no point is evaluated twice.
    f, G, Hs = curv.derivatives(theta, w, sel)
    f = np.where(np.isfinite(f), f, np.inf)
    active &= np.isfinite(f)  # accepted steps are finite: f stays finite where active
    it = 0
    while it < max_iter:
        it += 1
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        th, wi, g, H = theta[idx], w[idx], G[idx], Hs[idx]
        # No step from a point without derivatives: it stops there. Checked on the whole batch first, since
        # per-problem checks cost more than the step itself for a few starts.
        bad = None
        if not curv.finite and not (np.isfinite(g).all() and np.isfinite(H).all()):
            bad = ~np.all(np.isfinite(g), axis=1) | ~np.all(np.isfinite(H), axis=(1, 2))
            g = np.where(bad[:, None], 0.0, g)
            H = np.where(bad[:, None, None], eye, H)
        held = None
        if lo is not None and hi is not None:
            tf = th[:, free]
            held = ((tf <= lo[idx]) & (g > 0)) | ((tf >= hi[idx]) & (g < 0))
            g = np.where(held, 0.0, g)
            H = np.where(held[:, :, None] | held[:, None, :], 0.0, H) + held[:, :, None] * eye
        diag = np.maximum(np.abs(np.diagonal(H, axis1=1, axis2=2)), 1e-12)
        A = H + (lam[idx, None] * diag)[:, :, None] * eye
        try:
            step = -np.linalg.solve(A, g[..., None])[..., 0]
        except np.linalg.LinAlgError:
            step = -np.einsum("bpq,bq->bp", np.linalg.pinv(A), g)
        if sel is None:
            trial = th + step
        else:
            trial = th.copy()
            trial[:, free] += step
        if lo is not None and hi is not None:
            trial[:, free] = np.clip(trial[:, free], lo[idx], hi[idx])
        ft, gt, Ht = curv.derivatives(trial, wi, sel)
        fi = f[idx]
        ok = np.isfinite(ft) & (ft < fi)
        if bad is not None:
            ok &= ~bad
        gain = np.where(ok, fi - ft, 0.0)
        acc = idx[ok]
        theta[acc], f[acc], G[acc], Hs[acc] = trial[ok], ft[ok], gt[ok], Ht[ok]
        lam[idx] = np.where(ok, np.maximum(lam[idx] / 3.0, 1e-15), lam[idx] * 4.0)
        small = ok & (gain <= ftol * np.maximum(fi, 1e-300))
        done = small | (~ok & (lam[idx] > _LAMBDA_MAX))
        if held is not None:  # every free parameter held at a bound: a KKT point
            done |= np.all(held, axis=1)
        if bad is None:
            converged[idx[done]] = True
        else:
            converged[idx[done & ~bad]] = True
            done |= bad
        active[idx[done]] = False
    return Solution(theta=theta, f=f, converged=converged, iterations=it)


# --- Gauss-Newton curvature ------------------------------------------------------------------
Model = Callable[[FloatArray, FloatArray], tuple[FloatArray, FloatArray]]  # (theta (B, P), x) -> (B, n), (B, n, P)


@dataclass(frozen=True)
class GaussNewton:
    """Huber loss of the residuals ``model(theta, x) - y`` with the reweighted Gauss-Newton curvature.

    ``model(theta, x)`` returns the prediction (B, n) and its Jacobian (B, n, P) for ``theta``
    (B, P) at the rows ``x`` (n, ...); the residual's scale is the model's (a log prediction
    against ``log y`` gives log residuals, a prediction against ``y`` linear ones).
    """

    model: Model
    x: FloatArray
    y: FloatArray
    delta: float

    @property
    def n(self) -> int:
        return int(self.y.shape[0])

    @property
    def finite(self) -> bool:
        return False  # a model's Jacobian can overflow where its value does not

    def take(self, rows: IndexArray) -> GaussNewton:
        return dataclasses.replace(self, x=self.x[rows], y=self.y[rows])

    def derivatives(self, theta: FloatArray, w: FloatArray,
                    free: IndexArray | None = None) -> tuple[FloatArray, FloatArray, FloatArray]:
        # (B, n, P) Jacobians: blocks sized on n x P cells
        f, g, H = blocked(lambda t, x: self._derivatives(t, x, free), theta, w, self.n * theta.shape[1])
        return f, g, H

    def _derivatives(self, th: FloatArray, wi: FloatArray,
                     free: IndexArray | None) -> tuple[FloatArray, FloatArray, FloatArray]:
        delta = self.delta
        with np.errstate(all="ignore"):
            v, J = self.model(th, self.x)
            r = v - self.y
            psi, rho = huber(r, delta)
            fv = np.einsum("bn,bn->b", wi, rho)
            c = np.ones_like(r) if psi is r else np.where(np.abs(r) <= delta, 1.0, delta / np.maximum(np.abs(r), 1e-300))
            # always gathered, even all of it: the copy's layout is the one the products below were tuned on
            J = J[..., np.arange(J.shape[-1]) if free is None else free]
            # batched matrix products: ten times faster than the equivalent einsum, whose
            # three-operand form runs a plain C loop
            g = np.matmul((wi * psi)[:, None, :], J)[:, 0]
            H = np.matmul(((wi * c)[..., None] * J).transpose(0, 2, 1), J)
        return np.where(np.isfinite(fv), fv, np.inf), g, H

    def objective(self, theta: FloatArray, w: FloatArray) -> FloatArray:
        """Summed weighted loss for each row of ``theta`` (B, P); non-finite values as inf."""
        theta = np.asarray(theta, dtype=float)
        wb = np.broadcast_to(w, (theta.shape[0], self.n))
        return blocked(lambda t, x: (self._objective(t, x),), theta, wb, self.n)[0]

    def _objective(self, theta: FloatArray, w: FloatArray) -> FloatArray:
        with np.errstate(all="ignore"):
            r = self.model(theta, self.x)[0] - self.y
            f: FloatArray = np.einsum("bn,bn->b", np.broadcast_to(w, r.shape), huber(r, self.delta)[1])
        return np.where(np.isfinite(f), f, np.inf)


# --- chunks ----------------------------------------------------------------------------------
# Problems solved together are cut into chunks of at most this many (problem, row) cells: the
# solver's working arrays are (problems, rows), so memory stays near 20 x 8 bytes x this number
# (about 150 MB per chunk; chunks run on as many threads as cores) whatever the rows x resamples,
# and the cost stays linear in both.
CHUNK_CELLS = 1_000_000


def chunk_size(n_rows: int, width: int = 1) -> int:
    """How many problems (of ``n_rows`` x ``width`` cells each) one chunk holds."""
    return max(1, CHUNK_CELLS // max(1, n_rows * width))


def minimize_chunked(curv: Curvature, theta0: FloatArray, weights: Callable[[int], FloatArray] | None = None, *,
                     ftol: float = 1e-13, max_iter: int = 300, width: int = 1,
                     progress: Callable[[int, int], None] | None = None) -> Solution:
    """:func:`minimize` on B problems in chunks of bounded memory (``width``: cells per row and problem of
    the curvature's working arrays, the number of parameters for a Jacobian).

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
    size = chunk_size(curv.n, width)

    def solve(s: int, w: FloatArray | None) -> Solution:
        if w is None or per_block(curv.n * width) > 1:
            return minimize(curv, theta0[s:s + size], w, ftol=ftol, max_iter=max_iter)
        # Each problem is a block of its own at this many rows, so nothing is lost solving them one by one, each
        # on its rows of nonzero weight only (a bootstrap resample leaves out about 1/e of the runs).
        sols = []
        for i, wi in enumerate(w):
            rows = np.flatnonzero(wi)
            sols.append(minimize(curv.take(rows), theta0[s + i:s + i + 1], wi[rows][None], ftol=ftol, max_iter=max_iter))
        return joined(sols)

    def next_weights(s: int) -> FloatArray | None:
        return None if weights is None else weights(min(s + size, B) - s)

    starts = list(range(0, B, size))
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
    return joined(parts)


def joined(parts: Sequence[Solution]) -> Solution:
    """Solutions of consecutive problems as one."""
    return Solution(theta=np.concatenate([p.theta for p in parts]), f=np.concatenate([p.f for p in parts]),
                    converged=np.concatenate([p.converged for p in parts]), iterations=max(p.iterations for p in parts))
