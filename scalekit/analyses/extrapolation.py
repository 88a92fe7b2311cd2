"""How far each prediction lies beyond the trained range, and how well the law did at such a distance.

Every prediction, target and cheapest point a report shows carries its distance beyond the
batch's trained range, per variable (``{"N": x, "D": x, "C": x}``, 1 inside it; see
:mod:`scalekit.data.ranges`). Past ``Thresholds.extrapolation_factor`` it is labelled an
extrapolation. :func:`backtest` measures what such distances cost on the batch itself: the law
refitted without its largest-compute runs, predicting them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import display
from ..data.batch import Batch, in_runs
from ..data.ranges import TrainedRange, beyond
from ..exceptions import FitError
from ..jsonsafe import jsonable
from ..laws.fit import fit_curve
from ..laws.result import FitResult

__all__ = ["Backtest", "backtest", "is_extrapolation", "trained_range"]


def trained_range(batch: Batch) -> TrainedRange:
    """N, D (every row, checkpoints included) and C as trained in the batch."""
    return TrainedRange(batch.ranges())


def is_extrapolation(distance: Mapping[str, float | None], factor: float) -> bool:
    """Whether any variable lies more than ``factor`` times beyond the trained range."""
    return TrainedRange.worst(distance) > factor


@dataclass(frozen=True)
class Backtest:
    """The law refitted without the largest-compute runs, predicting them: its error at a known distance."""

    held_out: tuple[str, ...]
    distance_C: float  # how far the held-out runs reach beyond the refit's compute range (largest factor)
    mean_abs_error: float  # mean |predicted - observed| / observed over the held-out runs
    max_abs_error: float

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = jsonable({"held_out": self.held_out, "distance_C": self.distance_C,
                                        "mean_abs_error": self.mean_abs_error, "max_abs_error": self.max_abs_error})
        return out

    def _repr_html_(self) -> str:
        return display.html(self)


def backtest(fit: FitResult, batch: Batch, *, fraction: float = 0.15) -> Backtest | None:
    """Refit ``fit``'s law without the largest-compute ``fraction`` of runs (point fit) and predict their final values.

    None when too few runs would remain (the refit needs 3 model sizes and more points than parameters).
    """
    cols = list(fit.form.variables)
    if cols[:2] != ["N", "D"] or not all(c in batch.frame for c in cols):
        return None  # a law in N and D (and more: U, E, ... read from the batch's columns)
    fin = batch.finals()
    fin = fin[np.isfinite(fin[fit.metric])]
    k = max(2, round(fraction * len(fin)))
    if len(fin) - k < 6:
        return None
    held = fin.sort_values("C").iloc[-k:]
    keep = ~in_runs(fit.groups, held["run"])
    if keep.sum() < fit.nfree + 3 or np.unique(fit.x[keep, 0]).size < 3 or np.unique(fit.x[keep, 1]).size < 2:
        return None
    try:
        refit = fit_curve(fit.x[keep], fit.y[keep], form=fit.form, metric=fit.metric, direction=fit.direction,
                          bound=fit.bound, groups=fit.groups[keep], n_boot=0, seed=0, loss=fit.method["loss"],
                          delta=fit.method["delta"] or 1e-3, residuals=fit.residual_scale)
    except FitError:
        return None
    obs = held[fit.metric].to_numpy()
    pred = refit.predict(*[held[c].to_numpy() for c in cols], warn=False)
    rel = np.abs(pred - obs) / np.abs(obs)
    N, D = held["N"].to_numpy(), held["D"].to_numpy()
    nd = fit.x[keep, 0] * fit.x[keep, 1]
    dist = beyond(N * D, float(nd.min()), float(nd.max()))
    return Backtest(tuple(map(str, held["run"])), float(np.nanmax(dist)), float(np.mean(rel)), float(np.max(rel)))
