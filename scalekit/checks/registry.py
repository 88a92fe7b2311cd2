"""The catalog of limitation checks, in the order they run, and :func:`run_checks`.

Run-level checks come first and record the runs they explain (not converged, overfitting), so
the batch-level checks after them leave those runs out and one cause is reported once.
"""

from __future__ import annotations

from ..analyses.bottom_line import BottomLine
from ..analyses.metric import MetricAnalysis
from ..analyses.sweeps import Sweep
from ..analyses.transfer import Transfer
from ..data.batch import Batch
from ..exceptions import ConfigError
from ..options import Thresholds
from .base import SEVERITIES, CheckFn, Context, Finding, noise_level
from .beyond_range import check_approach_disagreement, check_beyond_range
from .excluded import check_excluded
from .extrapolation import check_extrapolation, check_extreme_bias
from .identifiability import check_identifiability
from .outliers import check_outliers, check_wide_intervals
from .returns import check_diminishing_returns
from .runs import check_not_converged, check_overfitting
from .scaling import check_no_scaling
from .shape import check_broken_law, check_non_monotonic, check_residual_structure
from .sweeps import check_hparams
from .transfer import check_transfer

__all__ = ["CHECKS", "run_checks"]

CHECKS: tuple[tuple[str, CheckFn], ...] = (
    ("overfitting", check_overfitting),
    ("not_converged", check_not_converged),
    ("extrapolation", check_extrapolation),
    ("extreme_bias", check_extreme_bias),
    ("transfer", check_transfer),
    ("diminishing_returns", check_diminishing_returns),
    ("identifiability", check_identifiability),
    ("non_monotonic", check_non_monotonic),
    ("broken_law", check_broken_law),
    ("residual_structure", check_residual_structure),
    ("excluded_runs", check_excluded),
    ("hparams", check_hparams),
    ("no_scaling", check_no_scaling),
    ("beyond_range", check_beyond_range),
    ("approach_disagreement", check_approach_disagreement),
    ("wide_intervals", check_wide_intervals),
    ("outliers", check_outliers),
)


def run_checks(batch: Batch, metrics: dict[str, MetricAnalysis], thresholds: Thresholds | None = None, *,
               only: list[str] | None = None, transfers: dict[str, Transfer] | None = None,
               bottom_lines: dict[str, BottomLine] | None = None, sweeps: dict[str, Sweep] | None = None) -> list[Finding]:
    """Run the catalog (or ``only`` some codes) and return the findings, most severe first.

    ``transfers`` (target metric -> loss-to-loss map) lets the transfer check read the maps;
    ``bottom_lines`` (metric -> :class:`BottomLine`) lets the checks of predictions at the budgets
    asked for run (beyond the trained range, approaches disagreeing); ``sweeps`` (metric -> :class:`Sweep`) lets the
    sweep check state the numbers summary.json states (one bootstrap count).
    """
    codes = [c for c, _ in CHECKS]
    if only is not None and set(only) - set(codes):
        raise ConfigError(f"option 'only': got {sorted(set(only) - set(codes))}; allowed: {codes}", key="only")
    o = thresholds or Thresholds()
    sigma = {name: noise_level(batch, name, ma.fit) for name, ma in metrics.items()}
    ctx = Context(batch, metrics, sigma, transfers=dict(transfers or {}), bottom_lines=dict(bottom_lines or {}),
                  sweeps=dict(sweeps or {}))
    out: list[Finding] = []
    for code, fn in CHECKS:
        if only is None or code in only:
            out.extend(fn(ctx, o))
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    return sorted(out, key=lambda f: rank[f.severity])
