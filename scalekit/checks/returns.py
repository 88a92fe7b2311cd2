"""Diminishing returns: gains that are marginal against their cost."""

from __future__ import annotations

from ..analyses.profiles import flops_factor
from ..laws.evaluate import frontier_error
from ..options import Thresholds
from .base import Context, Finding, fitted

__all__ = ["check_diminishing_returns"]


def check_diminishing_returns(ctx: Context, o: Thresholds) -> list[Finding]:
    """Gains per 2x and 10x compute at the frontier, and a target that costs many times the best run."""
    out: list[Finding] = []
    k = flops_factor(ctx.batch)
    for ma in fitted(ctx):
        assert ma.fit is not None  # fitted() yields only metrics with a law
        if ma.target is None:
            continue
        C0 = ma.best["C"]
        e = [float(frontier_error(ma.fit.params, C0 * m, k)) for m in (1, 2, 10)]
        v = [float(ma.spec.from_error(float(x))) for x in e]
        g2, g10 = abs(v[1] - v[0]) / abs(v[0]), abs(v[2] - v[0]) / abs(v[0])
        mult = ma.target.compute_multiple
        if ma.target.reachable and mult is not None and mult <= o.marginal_compute_multiple:
            continue
        msg = (f"At the frontier (C={C0:.3g}) the law predicts {g2:.2%} better per 2x compute and {g10:.2%} per 10x; "
               + (f"{ma.target.improvement:.0%} better than the best run costs {mult:.3g}x its compute."
                  if ma.target.reachable and mult else
                  f"{ma.target.improvement:.0%} better than the best run is beyond the law's floor ({ma.target.note})."))
        out.append(Finding(
            "diminishing_returns", "warning", ma.name, "Gains are marginal against their cost", msg,
            "Near the irreducible term each improvement multiplies the cost; the law makes that explicit before the compute "
            "is spent.",
            "Check whether the target is worth the compute, or look for gains elsewhere (data quality, architecture).",
            {"gain_per_2x": g2, "gain_per_10x": g10, "compute_multiple_for_target": mult, "target": ma.target.summary()}))
    return out
