"""The bottom line of each metric with its one caveat."""

from __future__ import annotations

from collections.abc import Mapping

from ..analyses.bottom_line import BottomLine, bottom_line
from ..analyses.metric import MetricAnalysis
from ..checks.base import SEVERITIES, Finding
from ..data.batch import Batch
from ..options import Options

__all__ = ["CAVEAT_ORDER", "bottom_lines", "main_caveat", "with_caveats"]

# Among findings of the same severity, the one that bears most on the numbers at the top comes first.
CAVEAT_ORDER = ("extrapolation", "approach_disagreement", "identifiability", "broken_law", "outliers", "not_converged",
                "overfitting", "transfer", "extreme_bias", "diminishing_returns", "non_monotonic", "residual_structure",
                "excluded_runs")


def bottom_lines(batch: Batch, metrics: Mapping[str, MetricAnalysis], opts: Options) -> dict[str, BottomLine]:
    """Every metric's bottom line at the budgets asked for (else the largest trained compute), without caveats yet."""
    return {name: bottom_line(batch, ma, opts.budgets, extrapolation_factor=opts.thresholds.extrapolation_factor,
                              holdout_fraction=opts.thresholds.holdout_fraction) for name, ma in metrics.items()}


def main_caveat(findings: tuple[Finding, ...], metric: str) -> Finding | None:
    """The finding about ``metric`` (or the whole batch) that matters most: most severe, then by :data:`CAVEAT_ORDER`."""
    rank = {c: i for i, c in enumerate(CAVEAT_ORDER)}
    mine = [f for f in findings if f.metric in (metric, None) and f.severity != "info"]
    if not mine:
        return None
    return min(mine, key=lambda f: (SEVERITIES.index(f.severity), rank.get(f.check, len(rank))))


def with_caveats(lines: dict[str, BottomLine], findings: tuple[Finding, ...]) -> dict[str, BottomLine]:
    out = {}
    for name, bl in lines.items():
        f = main_caveat(findings, name)
        if f is not None:
            out[name] = bl.with_caveat(f"{f.title}: {f.message}", f.check)
        else:
            out[name] = bl.with_caveat("No limitation check raised a warning for this metric.", None)
    return out
