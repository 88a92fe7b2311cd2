"""One call that runs every analysis of a batch, and the summary.json it produces.

``analyze(batch)`` fits the performance law per metric, derives the compute-optimal laws by
every approach the batch supports, targets and profiles, budget predictions, the capped
allocation, the relative-improvement grid, and the limitation checks. The report notebook
only calls this and displays the pieces.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from . import __version__
from ._html import ResultMixin
from ._json import jsonable
from .config import MetricSpec
from .exceptions import FitError
from .fit import FitResult, fit_law
from .grid import Grid, improvement_grid
from .optimal import Comparison, OptimalLaw, compare, envelope, isoflop, parametric, _data_scale
from .profiles import (Allocation, Cap, Target, capped_allocation, cheapest_for_target, flops_factor, optimal_allocation,
                       target_value)

if TYPE_CHECKING:
    from .batch import Batch
    from .checks import Finding

__all__ = ["MetricAnalysis", "BatchAnalysis", "analyze"]


@dataclass(frozen=True)
class MetricAnalysis(ResultMixin):
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

    @property
    def name(self) -> str:
        return self.spec.name

    def summary(self) -> dict[str, Any]:
        return jsonable({
            "metric": self.spec.summary(), "fit": self.fit.summary() if self.fit else None, "fit_error": self.fit_error,
            "best": self.best, "targets": [t.summary() for t in self.targets],
            "predictions": [a.summary() for a in self.allocations], "cap": self.cap.summary() if self.cap else None,
            "optimal": {k: v.summary() for k, v in self.optimal.items()},
            "comparison": self.comparison.summary() if self.comparison else None,
            "grid": self.grid.summary() if self.grid else None,
        })


@dataclass(frozen=True)
class BatchAnalysis:
    """All results for a batch; ``summary()`` is the summary.json contract."""

    batch: "Batch"
    metrics: dict[str, MetricAnalysis]
    findings: tuple["Finding", ...]
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def primary(self) -> MetricAnalysis:
        return next(iter(self.metrics.values()))

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "scalekit_version": __version__,
            "batch": self.batch.summary(),
            "fits": {}, "optimal": {}, "optimal_comparison": {}, "targets": {}, "predictions": {}, "cap": {},
            "grid": {}, "best": {}, "errors": {},
            "findings": [f.summary() for f in self.findings],
            "options": self.options,
        }
        for name, m in self.metrics.items():
            out["best"][name] = m.best
            if m.fit is None:
                out["errors"][name] = m.fit_error
            else:
                out["fits"][name] = m.fit.summary()
                out["targets"][name] = [t.summary() for t in m.targets]
                out["predictions"][name] = [a.summary() for a in m.allocations]
                if m.cap is not None:
                    out["cap"][name] = m.cap.summary()
            # only the approaches this batch supports; why the others do not apply goes with the comparison
            out["optimal"][name] = {k: v.summary() for k, v in m.optimal.items() if v.ok}
            if m.comparison is not None:
                out["optimal_comparison"][name] = m.comparison.summary()
            if m.grid is not None:
                out["grid"][name] = m.grid.summary()
        return jsonable(out)

    def report(self) -> str:
        """Text summary: the law per metric, the optimum by approach, and the findings."""
        lines = [f"[[Batch {self.batch.name}]] {self.batch.runs} runs, {self.batch.rows} rows, C counted as {self.batch.compute}"]
        for m in self.metrics.values():
            lines.append(m.fit.report() if m.fit is not None else f"[[Fit: {m.name}]] failed: {m.fit_error}")
            if m.comparison is not None:
                lines.append(f"    optimal: {m.comparison.sentence}")
        lines.append(f"[[Findings]] {len(self.findings)}")
        lines += [f"    [{f.severity}] {f.check} ({f.metric or 'batch'}): {f.message}" for f in self.findings]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        from .notebook import findings_summary, headline

        return headline(self).html + findings_summary(self).html

    def counts(self) -> dict[str, int]:
        from .checks import severity_counts

        return severity_counts(self.findings)


def _best_run(batch: "Batch", spec: MetricSpec, exclude: Any = ()) -> dict[str, Any]:
    """The final point with the best value of ``spec`` (runs in ``exclude`` left out)."""
    fin = batch.finals()
    fin = fin[np.isfinite(fin[spec.name]) & ~fin["run"].isin(list(exclude))]
    i = fin[spec.name].idxmin() if spec.direction == "min" else fin[spec.name].idxmax()
    r = fin.loc[i]
    return {"run": str(r["run"]), "value": float(r[spec.name]), "N": float(r["N"]), "D": float(r["D"]), "C": float(r["C"])}


def analyze(
    batch: "Batch",
    *,
    metrics: list[str] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    loss: str = "huber",
    delta: float = 1e-3,
    points: str = "auto",
    target: float | None = None,
    targets: tuple[float, ...] | None = None,
    budgets: tuple[float, ...] | None = None,
    max_params: float | None = None,
    n_boot_optimal: int = 200,
    checks: bool = True,
    check_options: dict[str, Any] | None = None,
) -> BatchAnalysis:
    """Run every analysis on ``batch`` (see module docstring). Config values fill unset arguments.

    Examples
    --------
    >>> import scalekit
    >>> from scalekit.examples import perception_frame
    >>> b = scalekit.load_batch(perception_frame().query("version == 'v1'"), ignore=["data_fraction"])
    >>> a = scalekit.analyze(b, n_boot=50)
    >>> sorted(a.summary()["fits"])
    ['map']
    """
    cfg = batch.config
    if check_options is None:
        check_options = dict(cfg.options.get("checks") or {})
    target = cfg.target if target is None else target
    targets = tuple(cfg.targets if targets is None else targets)
    if target not in targets:
        targets = tuple(sorted(set(targets) | {target}))
    budgets = tuple(cfg.budgets if budgets is None else budgets)
    max_params = cfg.max_params if max_params is None else max_params
    cmax = float(batch.frame["C"].max())
    if not budgets:
        budgets = (cmax, 10 * cmax)
    k = flops_factor(batch)
    label, scale = _data_scale(batch)
    names = metrics or list(batch.metrics)
    out: dict[str, MetricAnalysis] = {}
    for name in names:
        spec = batch.metric(name)
        best = _best_run(batch, spec)
        fit = err = None
        try:
            fit = fit_law(batch, spec.name, n_boot=n_boot, seed=seed, loss=loss, delta=delta, points=points)
        except FitError as exc:
            err = str(exc)
        tgt, tlist, allocs, cap = None, (), (), None
        opt: dict[str, OptimalLaw] = {"envelope": envelope(batch, spec.name, n_boot=n_boot_optimal, seed=seed),
                                      "isoflop": isoflop(batch, spec.name, n_boot=n_boot_optimal, seed=seed)}
        if fit is not None:
            tlist = tuple(cheapest_for_target(fit, target_value(best["value"], t, spec.direction), k=k, improvement=t,
                                              reference_compute=best["C"]) for t in targets)
            tgt = next(t for t in tlist if t.improvement == target)
            allocs = tuple(optimal_allocation(fit, C, k=k) for C in budgets)
            if max_params:
                cap = capped_allocation(fit, max_params, budgets, k=k, target=tgt.value)
            opt["parametric"] = parametric(fit, k=k, data_scale=scale, data_label=label)
        comp = compare(opt, C_ref=cmax)
        out[spec.name] = MetricAnalysis(spec, fit, err, best, tgt, tlist, allocs, cap, opt, comp,
                                        improvement_grid(batch, spec.name))
    options = {"n_boot": n_boot, "seed": seed, "loss": loss, "delta": delta, "points": points, "target": target,
               "targets": list(targets), "budgets": list(budgets), "max_params": max_params, "flops_per_ND": k,
               "n_boot_optimal": n_boot_optimal}
    analysis = BatchAnalysis(batch, out, (), options)
    if checks:
        from .checks import run_checks

        analysis = BatchAnalysis(batch, out, tuple(run_checks(analysis, **(check_options or {}))), options)
    return analysis
