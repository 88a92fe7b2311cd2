"""Evaluating many problems in cache-sized blocks (shared by both engines)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

__all__ = ["BLOCK_CELLS", "blocked", "per_block", "serial_matmul"]

FloatArray = npt.NDArray[np.float64]

# Every per-point quantity is evaluated on blocks of at most this many (problem, row) cells: a
# (B, n) temporary then stays in the CPU cache instead of being a fresh multi-megabyte allocation
# per operation (page faults and memory traffic made 1000 resamples x 480 rows about 10x slower
# per cell than 60 x 480). Problems are independent, so blocking changes no result beyond the
# last bits of BLAS sums (whose order depends on the block's shape).
BLOCK_CELLS = 32_768


def per_block(n_rows: int) -> int:
    """How many problems of ``n_rows`` rows one block holds."""
    return max(1, BLOCK_CELLS // max(1, n_rows))


def blocked(fn: Callable[[FloatArray, FloatArray], tuple[FloatArray, ...]], theta: FloatArray, w: FloatArray,
            n_rows: int) -> tuple[FloatArray, ...]:
    """``fn(theta, w)`` on blocks of rows of ``theta`` (B, P) and ``w`` (B, n), the outputs concatenated."""
    size = per_block(n_rows)
    if theta.shape[0] <= size:
        return fn(theta, w)
    parts = [fn(theta[s:s + size], w[s:s + size]) for s in range(0, theta.shape[0], size)]
    return tuple(np.concatenate(x) for x in zip(*parts))


# OpenBLAS runs a matrix product on all cores above m*n*k = 262,144 (SMP_THRESHOLD_MIN x GEMM_MULTITHREAD_THRESHOLD).
# The engines run chunks on threads of their own, and waking BLAS threads for each product of a few milliseconds,
# on cores that are busy, made the derivatives 7x slower (300 resamples x 8192 rows: 0.6 s against 0.08 s
# single-threaded); products are cut along the summed axis into pieces below that size instead.
SERIAL_MNK = 262_144


def serial_matmul(a: FloatArray, b: FloatArray) -> FloatArray:
    """``a @ b`` for (..., m, n) @ (..., n, k), summed over pieces of n small enough for BLAS to run on the calling thread."""
    m, n = a.shape[-2:]
    step = max(1, SERIAL_MNK // max(1, m * b.shape[-1]))
    out: FloatArray = a[..., :step] @ b[..., :step, :]
    for s in range(step, n, step):
        out += a[..., s:s + step] @ b[..., s:s + step, :]
    return out
