"""Whether a law fitted on one metric or eval set transfers to another."""

from __future__ import annotations

from typing import Any

from ..options import Thresholds
from .base import Context, Finding, fitted

__all__ = ["check_transfer"]


def check_transfer(ctx: Context, o: Thresholds) -> list[Finding]:
    """Metrics (or eval sets) whose exponents or optimal sizes disagree beyond their intervals."""
    fits = [(ma, ma.fit.params, ma.fit.ci) for ma in fitted(ctx) if ma.fit is not None and ma.fit.ci]
    if len(fits) < 2:
        return []
    pairs: list[dict[str, Any]] = []
    for i in range(len(fits)):
        for j in range(i + 1, len(fits)):
            (a, a_params, a_ci), (c, c_params, c_ci) = fits[i], fits[j]
            for k in ("alpha", "beta"):
                (l1, h1), (l2, h2) = a_ci[k], c_ci[k]
                v1, v2 = a_params[k], c_params[k]
                if max(l1, l2) > min(h1, h2) and abs(v1 - v2) / max(abs(v1), abs(v2)) > o.transfer_min_diff:
                    pairs.append({"metrics": [a.name, c.name], "param": k, "values": [v1, v2], "ci": [[l1, h1], [l2, h2]]})
            pa, pc = a.optimal.get("parametric"), c.optimal.get("parametric")
            if pa is not None and pc is not None and pa.ok and pc.ok:
                C = float(ctx.batch.frame["C"].max())
                ratio = float(pa.N_opt(C) / pc.N_opt(C))
                if (pa.a_ci and pc.a_ci and max(pa.a_ci[0], pc.a_ci[0]) > min(pa.a_ci[1], pc.a_ci[1])
                        and (ratio > o.transfer_nopt_ratio or ratio < 1 / o.transfer_nopt_ratio)):
                    pairs.append({"metrics": [a.name, c.name], "param": "N_opt",
                                  "values": [float(pa.N_opt(C)), float(pc.N_opt(C))], "ci": [pa.a_ci, pc.a_ci], "C": C})
    if not pairs:
        return []
    return [Finding(
        "transfer", "warning", None, "The law does not transfer across metrics or eval sets",
        "; ".join(f"{p['param']}: {p['metrics'][0]} {p['values'][0]:.3g} vs {p['metrics'][1]} {p['values'][1]:.3g}"
                  for p in pairs[:6])
        + " (95% intervals do not overlap).",
        "A law fitted on one eval set or metric is often used to choose sizes for another; here the exponents or optimal "
        "sizes differ.",
        "Choose sizes with the law of the metric that matters for the decision, or report each metric's law.",
        {"disagreements": pairs})]
