"""Everything computed for one metric of a batch: the law, the optimum by each approach, targets, grid."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, TypeVar

from .. import display
from ..data.batch import Batch
from ..data.metric import MetricSpec
from ..data.ranges import TrainedRange
from ..exceptions import FitError
from ..laws.fit import fit_law
from ..laws.result import FitResult
from ..laws.select import Selection
from ..laws.slices import sliced
from ..options import Options
from .extrapolation import trained_range
from .grid import Grid, improvement_grid
from .inference import CostCurve, InferenceOptimum, inference_optimal, total_cost_curve
from .lawchoice import choose_law
from .optimal import Comparison, OptimalLaw, compare, data_scale, envelope, isoflop, parametric
from .profiles import (
    Allocation,
    Cap,
    Target,
    capped_allocation,
    cheapest_for_target,
    flops_factor,
    optimal_allocation,
    target_value,
)
from .schedules import envelope_rows

__all__ = ["MetricAnalysis", "analyze_metric", "budgets_for"]


@dataclass(frozen=True, eq=False)
class MetricAnalysis:
    """Everything computed for one metric."""

    spec: MetricSpec
    fit: FitResult | None
    fit_error: str | None
    best: dict[str, Any]
    target: Target | None
    targets: tuple[Target, ...]
    allocations: tuple[Allocation, ...]
    cap: Cap | None
    optimal: dict[str, OptimalLaw]
    comparison: Comparison | None
    grid: Grid | None
    inference: tuple[InferenceOptimum, ...] = ()  # at the headline target, then at each budget; demands inner
    cost_curve: CostCurve | None = None
    inference_note: str | None = None
    law: FitResult | None = None  # the form chosen by backtest (form="auto") or pinned; `fit` is the additive law
    selection: Selection | None = None  # the backtest table behind the choice (form="auto")
    skipped: str | None = None  # why the analyses in N and D (allocation, profiles, grid) were left out, when they were
    # the chosen law read along N and D at the best run's other variables (U, E, V, ...), when it has more than N and D
    nd_slice: FitResult | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def nd_law(self) -> FitResult | None:
        """The law the answers in (N, D) come from: the chosen or pinned form when it is a law in N and D, else the
        additive law (fitted beside a one-variable form)."""
        if self.nd_slice is not None:
            return self.nd_slice
        return self.law if self.law is not None and self.law.form.variables == ("N", "D") else self.fit

    def _repr_html_(self) -> str:
        return display.html(self)


def budgets_for(batch: Batch, opts: Options) -> tuple[float, ...]:
    """The budgets asked for, or the largest run's compute and 10x it."""
    if opts.budgets:
        return opts.budgets
    cmax = float(batch.frame["C"].max())
    return (cmax, 10 * cmax)


_Located = TypeVar("_Located", Target, Allocation)


def _located(entry: _Located, rng: TrainedRange) -> _Located:
    """A target or an allocation with its distance beyond the batch's trained N, D and C (summary.json carries it)."""
    return replace(entry, extrapolation=rng.distance(N=entry.N, D=entry.D, C=entry.C))


def _located_cap(cap: Cap, rng: TrainedRange) -> Cap:
    return replace(cap, allocations=tuple(_located(a, rng) for a in cap.allocations),
                   extrapolation=rng.distance(N=cap.max_params, D=cap.D_for_target, C=cap.C_for_target))


def analyze_metric(batch: Batch, name: str, opts: Options) -> MetricAnalysis:
    """Fit the law of one metric and derive everything the report shows from it."""
    spec = batch.metric(name)
    best = batch.best_run(spec.name)
    if not batch.has_data_size:  # a law in other variables (N and experts E): nothing in (N, D) to answer
        try:
            law, selection = choose_law(batch, spec.name, opts)
            err = None if law is not None else "no law in the batch's declared variables could be fitted"
        except FitError as exc:
            law, selection, err = None, None, str(exc)
        why = (f"the batch has no data size D, so the compute-optimal allocation, the profiles and targets, the budgets "
               f"and the relative-improvement grid (all questions in N and D) are left out; the law is in "
               f"{', '.join(law.form.variables) if law is not None else 'its declared variables'}")
        return MetricAnalysis(spec, None, err, best, None, (), (), None, {}, None, None, law=law, selection=selection,
                              skipped=why)
    k = flops_factor(batch)
    label, scale = data_scale(batch)
    targets = opts.all_targets
    fit = law = selection = err = None
    try:
        law, selection = choose_law(batch, spec.name, opts)
    except FitError as exc:  # the pinned form: the additive law below still serves the checks, and the error is said
        err = str(exc)
    try:
        # The additive law whatever form is chosen or pinned: the checks about the runs (convergence, overfitting,
        # returns) read its terms, so they cannot depend on the form pinned; the report shows it as a comparison.
        fit = law if law is not None and law.form.name == "two_var" else fit_law(batch, spec.name, options=opts,
                                                                                   form="two_var")
    except FitError as exc:
        err = err or str(exc)
    tgt: Target | None = None
    tlist: tuple[Target, ...] = ()
    allocs: tuple[Allocation, ...] = ()
    cap: Cap | None = None
    optimal: dict[str, OptimalLaw] = {"envelope": envelope(batch, spec.name, n_boot=opts.n_boot_optimal, seed=opts.seed,
                                                           **envelope_rows(batch)),
                                      "isoflop": isoflop(batch, spec.name, n_boot=opts.n_boot_optimal, seed=opts.seed)}
    # targets, budgets and Approach 3 from the law the backtest chose, when it is a law in (N, D) (MetricAnalysis.nd_law);
    # a law in N, D and more (U, E, ...) is read along N and D at the best run's values of the others
    nd_slice = slice_at_best(batch, law, best) if law is not None else None
    pl = nd_slice or (law if law is not None and law.form.variables == ("N", "D") else fit)
    if pl is not None and pl.form.variables == ("N", "D"):
        rng = trained_range(batch)
        tlist = tuple(_located(cheapest_for_target(pl, target_value(best["value"], t, spec.direction), k=k, improvement=t,
                                                   reference_compute=best["C"]), rng) for t in targets)
        tgt = next(t for t in tlist if t.improvement == opts.target)
        allocs = tuple(_located(optimal_allocation(pl, C, k=k), rng) for C in budgets_for(batch, opts))
        if opts.max_params:
            cap = _located_cap(capped_allocation(pl, opts.max_params, budgets_for(batch, opts), k=k, target=tgt.value), rng)
        optimal["parametric"] = parametric(pl, k=k, data_scale=scale, data_label=label)
    comp = compare(optimal, C_ref=float(batch.frame["C"].max()))
    inference: tuple[InferenceOptimum, ...] = ()
    curve, note = None, None
    if opts.inference_tokens and pl is not None and pl.form.name != "two_var":
        note = (f"the inference-aware optimum (Sardana et al. 2024) is solved for the additive law E + A/N^α + B/D^β; "
                f"the {pl.form.name} law this report uses gives none, so it is left out")
    elif opts.inference_tokens and fit is not None and tgt is not None:
        if not tgt.reachable:
            note = f"the target {tgt.value:.4g} is beyond the law's floor: no model reaches it"
        else:
            demands = list(opts.inference_tokens)
            f = opts.inference_flops_per_token
            inference = (inference_optimal(fit, target=tgt.value, inference_tokens=demands, inference_flops_per_token=f, k=k)
                         + inference_optimal(fit, budgets=list(budgets_for(batch, opts)), inference_tokens=demands,
                                             inference_flops_per_token=f, k=k))
            curve = total_cost_curve(fit, target=tgt.value, inference_tokens=sorted({0.0, *demands}),
                                     inference_flops_per_token=f, k=k)
    return MetricAnalysis(spec, fit, err, best, tgt, tlist, allocs, cap, optimal, comp, improvement_grid(batch, spec.name),
                          inference, curve, note, law if law is not None else fit, selection, nd_slice=nd_slice)


def slice_at_best(batch: Batch, law: FitResult, best: dict[str, Any]) -> FitResult | None:
    """The law read along N and D with its other variables at the best run's values (None for a law in N and D only,
    or one without both)."""
    v = tuple(law.form.variables)
    if v == ("N", "D") or not {"N", "D"} <= set(v):
        return None
    fin = batch.finals()
    row = fin[fin["run"].astype(str) == str(best["run"])].iloc[-1]
    return sliced(law, {k: float(row[k]) for k in v if k not in ("N", "D")})
