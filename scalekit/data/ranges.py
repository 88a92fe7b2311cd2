"""How far a point lies beyond the range a law was trained on: the one definition of "extrapolation distance".

The distance along one variable is the factor by which a value lies outside the trained
interval [lo, hi]: ``value / hi`` above it, ``lo / value`` below it, and 1 inside it. A point's
distance is given per variable (N, D, C), so "10x N, 140x D" reads off directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["TrainedRange", "beyond"]

FloatArray = npt.NDArray[np.float64]


def beyond(value: npt.ArrayLike, lo: float, hi: float) -> FloatArray:
    """Factor by which ``value`` lies outside [lo, hi] (1 inside it).

    >>> float(beyond(50.0, 1.0, 10.0)), float(beyond(0.5, 1.0, 10.0)), float(beyond(5.0, 1.0, 10.0))
    (5.0, 2.0, 1.0)
    """
    v = np.asarray(value, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.maximum(np.maximum(v / hi, lo / v), 1.0)
    return np.asarray(np.where(np.isfinite(v) & (v > 0), out, np.nan), dtype=float)


@dataclass(frozen=True)
class TrainedRange:
    """The trained interval of each variable (``name -> (lo, hi)``, e.g. N, D and C)."""

    bounds: Mapping[str, tuple[float, float]]

    def distance(self, **values: float | None) -> dict[str, float | None]:
        """Per variable given, the factor beyond the trained range (1 inside it, None when the value is None).

        >>> TrainedRange({"N": (1e6, 1e8), "D": (1e9, 1e10)}).distance(N=1e9, D=5e9)
        {'N': 10.0, 'D': 1.0}
        """
        out: dict[str, float | None] = {}
        for k, v in values.items():
            if v is None or k not in self.bounds:
                out[k] = None
            else:
                lo, hi = self.bounds[k]
                f = float(beyond(v, lo, hi))
                out[k] = None if not np.isfinite(f) else f
        return out

    @staticmethod
    def worst(distance: Mapping[str, float | None]) -> float:
        """The largest factor of a distance (1 when none is known)."""
        known = [v for v in distance.values() if v is not None]
        return max(known) if known else 1.0
