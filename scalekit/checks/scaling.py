"""No scaling: a metric that does not get better as compute grows (flat, or worse with scale)."""

from __future__ import annotations

import numpy as np

from ..options import Thresholds
from .base import Context, Finding, error_of

__all__ = ["check_no_scaling"]


def check_no_scaling(ctx: Context, o: Thresholds) -> list[Finding]:
    """The trend of the metric's error against compute over the runs' final points improves by no more than noise.

    A law fitted to such a metric is not wrong in its residuals (E absorbs everything, A = B = 0), so no
    other check sees it; but every exponent, optimum and cost it reports is meaningless. Critical.
    """
    b = ctx.batch
    fin = b.finals()
    out: list[Finding] = []
    for name, spec in b.metrics.items():
        if name not in ctx.sigma:
            continue
        e = error_of(spec, fin[name])
        ok = np.isfinite(e) & (e > 0)
        C = fin["C"].to_numpy()[ok]
        if ok.sum() < 3 or np.unique(C).size < 2:
            continue
        x, y = np.log(C), np.log(e[ok])
        slope = float(np.polyfit(x, y, 1)[0])
        span = float(x.max() - x.min())
        gain = float(1.0 - np.exp(slope * span))  # relative fall of the error across the compute trained, along the trend
        floor = max(o.noise_k * ctx.sigma[name], o.min_effect)
        if gain > floor:
            continue
        better = "lower" if spec.direction == "min" else "higher"
        how = ("gets worse" if gain < -floor else "does not change beyond noise")
        out.append(Finding(
            "no_scaling", "critical", name, "The metric does not improve with scale",
            f"Across the {np.exp(span):.3g}x range of compute trained, {name} {how}: along the trend over the runs' final "
            f"points its error changes by {-gain:+.2%} (noise {ctx.sigma[name]:.2%}); {better} is better for it.",
            "A scaling law assumes more parameters and data help. When they do not, the fit puts everything in the "
            "irreducible term and its exponents, optima and costs describe nothing.",
            "Check the metric's direction (declare `direction:` in the config) and the data: a metric that grows with N "
            "is either declared the wrong way round or not a scaling quantity.",
            {"slope_log_error_per_log_C": slope, "relative_change": -gain, "compute_range": float(np.exp(span)),
             "points": int(ok.sum()), "noise": ctx.sigma[name], "direction": spec.direction}))
    return out
