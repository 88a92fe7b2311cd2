"""Runs left out of every analysis (diverged)."""

from __future__ import annotations

from ..options import Thresholds
from .base import Context, Finding

__all__ = ["check_excluded"]


def check_excluded(ctx: Context, o: Thresholds) -> list[Finding]:
    """Runs excluded from every analysis as diverged."""
    b = ctx.batch
    if not b.excluded:
        return []
    runs = [e.run for e in b.excluded]
    sev = "warning" if len(runs) > o.excluded_warning * (b.runs + len(runs)) else "info"
    return [Finding(
        "excluded_runs", sev, None, "Runs excluded from every analysis",
        f"{len(runs)} run(s) were left out: " + "; ".join(f"{e.run}: {e.reason}" for e in b.excluded[:5])
        + (" ..." if len(runs) > 5 else ""),
        "Diverged runs often cluster at large sizes or high learning rates; leaving them out silently biases the law "
        "toward what trained well.",
        "Check the listed runs' training logs; rerun them or keep them out knowingly.",
        {"runs": runs, "reasons": [e.reason for e in b.excluded]},
    )]
