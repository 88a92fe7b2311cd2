"""Predictions beyond the trained range, and approaches that disagree at the budgets asked for.

Both read the bottom line (:mod:`scalekit.analyses.bottom_line`): the optimum at each budget
asked for and the cheapest point of each target, with their distance beyond the trained range.
"""

from __future__ import annotations

from typing import Any

from ..analyses.extrapolation import is_extrapolation
from ..data.ranges import TrainedRange
from ..options import Thresholds
from .base import Context, Finding

__all__ = ["check_approach_disagreement", "check_beyond_range"]


def _far(dist: dict[str, float | None]) -> str:
    return ", ".join(f"{v:.3g}x {k}" for k, v in dist.items() if v is not None and v > 1)


def check_beyond_range(ctx: Context, o: Thresholds) -> list[Finding]:
    """A target whose cheapest point needs a model or data size beyond the trained range; an optimum far beyond it."""
    out: list[Finding] = []
    for name, bl in ctx.bottom_lines.items():
        ev: dict[str, Any] = {"trained_range": bl.trained, "threshold": o.extrapolation_factor, "targets": [], "optima": []}
        parts: list[str] = []
        worst = 1.0
        for c in bl.costs:
            if not c.reachable:
                continue
            nd = {k: c.extrapolation.get(k) for k in ("N", "D")}
            if c.withheld:
                parts.append(f"the cheapest point {c.improvement:.0%} better is withheld ({c.withheld})")
                ev["targets"].append({"improvement": c.improvement, "withheld": c.withheld, "extrapolation": c.extrapolation})
                worst = max(worst, TrainedRange.worst(c.extrapolation))
            elif TrainedRange.worst(nd) > 1.02:  # beyond the largest trained by more than rounding
                parts.append(f"{c.improvement:.0%} better needs N={c.N:.3g}, D={c.D:.3g} ({_far(nd)} beyond the largest trained)")
                ev["targets"].append({"improvement": c.improvement, "N": c.N, "D": c.D, "extrapolation": c.extrapolation})
                worst = max(worst, TrainedRange.worst(c.extrapolation))
        for op in bl.optima:
            if op.withheld:
                parts.append(f"the optimum at C={op.C:.3g} is withheld ({op.withheld})")
                ev["optima"].append({"C": op.C, "withheld": op.withheld, "extrapolation": op.extrapolation})
                worst = max(worst, TrainedRange.worst(op.extrapolation))
            elif is_extrapolation(op.extrapolation, o.extrapolation_factor):
                parts.append(f"the optimum at C={op.C:.3g} has N={op.N:.3g}, D={op.D:.3g} ({_far(op.extrapolation)} beyond)")
                ev["optima"].append({"C": op.C, "N": op.N, "D": op.D, "extrapolation": op.extrapolation})
                worst = max(worst, TrainedRange.worst(op.extrapolation))
        if not parts:
            continue
        if bl.backtest is not None:
            ev["backtest"] = bl.backtest.summary()
        out.append(Finding(
            "extrapolation", "warning" if worst > o.extrapolation_factor else "info", name,
            "Predictions beyond the trained range",
            "; ".join(parts) + ".",
            "A law fitted on the runs trained says nothing certain about sizes it never saw; the further out, the less "
            "its numbers can be trusted.",
            "Train a run near the recommended size before committing to it, or quote the prediction as an extrapolation "
            "with the backtest error measured at a comparable distance.",
            ev))
    return out


def check_approach_disagreement(ctx: Context, o: Thresholds) -> list[Finding]:
    """The approaches give compute-optimal model sizes more than ``approach_ratio`` apart at a budget asked for."""
    out: list[Finding] = []
    for name, bl in ctx.bottom_lines.items():
        bad = [op for op in bl.optima if len(op.compared) >= 2 and op.spread > o.approach_ratio]
        if not bad:
            continue
        msg = "; ".join(f"at C={op.C:.3g}, N_opt is " + ", ".join(f"{op.by_approach[k]:.3g} by {k}" for k in op.compared)
                        + f" ({op.spread:.2g}x apart)" for op in bad)
        out.append(Finding(
            "approach_disagreement", "warning", name, "The approaches disagree at the budgets asked for",
            msg + f". The bottom line uses {bl.approach}.",
            "Agreement at the largest budget trained says little about the budget a decision is made at; where the "
            "approaches part, the recommended model size is only as certain as their spread.",
            "Quote the range across approaches, add runs at or near the budget, or prefer the IsoFLOP minima when the "
            "batch has shared budgets.",
            {"budgets": [{"C": op.C, "N_opt": op.by_approach, "spread": op.spread} for op in bad],
             "chosen": bl.approach, "threshold": o.approach_ratio}))
    return out
