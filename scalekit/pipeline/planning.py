"""What to train next, per metric, as part of :func:`scalekit.analyze`: the plan for the bottom line's decision.

The decision is the compute-optimal N at the largest budget asked for (the bottom line's last optimum), from the
metric's law in (N, D); the allowance is ``plan_allowance`` times the batch's total training compute (each run's
largest C, summed). The plan proposes at most :data:`MAX_RUNS` runs, none narrowing the interval by less than
:data:`MIN_GAIN` of its width; each run is scored per FLOP but charged at least its slot's share of the allowance,
so the plan spends the allowance rather than listing the cheapest runs. A metric whose law has no interior optimum
there, or no law in (N, D) alone (a law in more variables read at fixed others), or a
law fitted on linear residuals (a metric at or below zero), gets no plan.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..analyses.metric import MetricAnalysis, budgets_for
from ..analyses.plan import Decision, Plan, plan_runs
from ..analyses.profiles import flops_factor
from ..data.batch import Batch
from ..exceptions import ScalekitError
from ..laws.slices import Sliced
from ..options import Options

__all__ = ["MAX_RUNS", "MIN_GAIN", "plan_allowance", "plans"]

# A run that narrows the interval by less than 1% is not worth proposing; a report lists at most ten.
MIN_GAIN = 0.01
MAX_RUNS = 10


def plan_allowance(batch: Batch, opts: Options) -> float:
    """FLOPs the plan may spend: ``plan_allowance`` x the batch's total training compute."""
    total = float(batch.frame.groupby("run")["C"].max().sum())
    return opts.plan_allowance * total


def plans(batch: Batch, metrics: Mapping[str, MetricAnalysis], opts: Options) -> dict[str, Plan]:
    """Per metric with a law in (N, D), the greedy plan for the compute-optimal N at the largest budget asked for."""
    allowance = plan_allowance(batch, opts)
    if allowance <= 0:
        return {}
    budget = max(budgets_for(batch, opts))
    k = flops_factor(batch)
    out: dict[str, Plan] = {}
    for name, ma in metrics.items():
        law = ma.nd_law
        # a law in more variables, read in (N, D) at the best run's others, cannot be refitted on candidate runs
        # that would have to choose those others too: no plan for it yet
        if law is None or law.form.variables != ("N", "D") or isinstance(law.form, Sliced):
            continue
        if law.residual_scale != "log":  # the plan's Fisher information is built on log residuals
            continue
        try:
            out[name] = plan_runs(law, Decision("optimum", budget=budget), allowance, k=k, min_gain=MIN_GAIN, max_runs=MAX_RUNS,
                                  min_cost=allowance / MAX_RUNS)
        except ScalekitError:  # no interior optimum at that budget: the bottom line says why
            continue
    return out
