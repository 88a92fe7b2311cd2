"""Percentile intervals from bootstrap draws."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

__all__ = ["percentile_ci"]


def percentile_ci(x: npt.ArrayLike | Sequence[float | None], min_draws: int = 20) -> list[float] | None:
    """95% percentile interval of bootstrap draws (None and non-finite draws ignored; None if too few)."""
    v = np.asarray([d for d in np.ravel(np.asarray(x, dtype=object)) if d is not None], dtype=float)
    v = v[np.isfinite(v)]
    if v.size < min_draws:
        return None
    return [float(q) for q in np.percentile(v, [2.5, 97.5])]
