"""The bottom line of a metric: what the top of a report says, computed once.

Per metric: the fitted law (exponents and floor with intervals); the compute-optimal N and D at
each budget asked for (else the largest trained compute) from the approach the data supports
best, with every other approach's N at the same budget and their spread; what 1%, 2%, 5% better
costs; each with its distance beyond the trained range. The one caveat that matters most is
chosen from the findings by :mod:`scalekit.pipeline` (findings come after analyses).

Which approach the data supports best: IsoFLOP minima (Approach 2) when at least three budgets
have an interior minimum, since they measure the optimum directly (Hoffmann et al. 2022 report
it as their main estimate); otherwise the closed form from the fitted law (Approach 3), which
uses every run; the envelope (Approach 1) last, as it is biased toward the extreme models.
The spread across approaches leaves out the envelope of a batch without checkpoints: over final
points only it is the best run per compute of the grid's design, not an envelope of curves.

An optimum or a cost outside any sane range (less than one token or parameter, N or D or tokens per
parameter :data:`WITHHOLD_FACTOR` beyond what was trained) is withheld with the reason: a law with a
near-zero term puts the whole budget into one variable ("N = 2.6e20 on D = 0.38 tokens"), which is
no answer however it is labelled.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .. import display
from ..data.batch import Batch
from ..data.ranges import TrainedRange, beyond
from ..jsonsafe import jsonable
from ..laws.result import FitResult
from .extrapolation import Backtest, backtest, trained_range
from .metric import MetricAnalysis
from .optimal import OptimalLaw
from .profiles import flops_factor
from .variables import along_variables, shows_variables

__all__ = ["PREFERENCE", "WITHHOLD_FACTOR", "BottomLine", "Cost", "Optimum", "approaches_at", "bottom_line", "chosen_approach",
           "withheld"]

PREFERENCE = ("isoflop", "parametric", "envelope")
# Four orders of magnitude beyond the trained N, D or tokens per parameter: past any extrapolation a scaling
# law has been checked at (published laws are tested one to two orders out), so the number is withheld.
WITHHOLD_FACTOR = 1e4
_WHY = {"isoflop": "IsoFLOP minima measured at shared budgets (Approach 2)",
        "parametric": "the closed form of the fitted law, from every run (Approach 3)",
        "envelope": "the envelope of the best runs per compute (Approach 1; biased toward extreme models)"}


def _why(approach: str | None, fit: FitResult | None) -> str:
    if approach == "parametric" and fit is not None and fit.form.name != "two_var":
        return f"the fitted {fit.form.name} law, its optimum found numerically, from every run (Approach 3)"
    return _WHY.get(approach or "", "no approach applies to this batch")


@dataclass(frozen=True)
class Optimum:
    """Compute-optimal N and D at one budget from the chosen approach, and every approach's N there."""

    C: float
    approach: str
    N: float
    D: float  # C / (k N), in the batch's data unit
    N_ci: list[float] | None
    D_ci: list[float] | None
    value: float | None  # the metric the fitted law predicts there
    value_ci: list[float] | None
    by_approach: dict[str, float]  # approach -> N_opt at C
    spread: float  # largest / smallest N_opt across the approaches compared (1 with one approach)
    compared: tuple[str, ...]  # the approaches the spread is over
    extrapolation: dict[str, float | None]
    withheld: str | None = None  # why N and D are no answer (see the module docstring); None when they are one

    def summary(self) -> dict[str, Any]:
        return _withheld_summary({
            "C": self.C, "approach": self.approach, "N": self.N, "D": self.D, "N_ci": self.N_ci, "D_ci": self.D_ci,
            "value": self.value, "value_ci": self.value_ci, "by_approach": self.by_approach, "spread": self.spread,
            "compared": self.compared, "extrapolation": self.extrapolation, "withheld": self.withheld},
            ("N", "D", "N_ci", "D_ci", "value", "value_ci"))


def _withheld_summary(fields: dict[str, Any], numbers: tuple[str, ...]) -> dict[str, Any]:
    """The fields as JSON, the withheld numbers as null: a dashboard reading N must not read a withheld one."""
    out: dict[str, Any] = jsonable(fields)
    if fields.get("withheld"):
        out.update(dict.fromkeys(numbers))
    return out


@dataclass(frozen=True)
class Cost:
    """What an improvement costs: the cheapest (N, D) predicted to reach it."""

    improvement: float
    value: float
    reachable: bool
    N: float | None
    D: float | None
    C: float | None
    compute_multiple: float | None
    note: str
    extrapolation: dict[str, float | None]
    withheld: str | None = None

    def summary(self) -> dict[str, Any]:
        return _withheld_summary({
            "improvement": self.improvement, "value": self.value, "reachable": self.reachable, "N": self.N, "D": self.D,
            "C": self.C, "compute_multiple": self.compute_multiple, "note": self.note, "extrapolation": self.extrapolation,
            "withheld": self.withheld}, ("N", "D", "C", "compute_multiple"))


@dataclass(frozen=True)
class BottomLine:
    """What the top of the report says about one metric (see the module docstring)."""

    metric: str
    direction: str
    bound: float | None
    data_unit: str
    params: dict[str, float]
    ci: dict[str, list[float]]
    approach: str | None
    approach_reason: str
    optima: tuple[Optimum, ...]
    costs: tuple[Cost, ...]
    best: dict[str, Any]
    trained: dict[str, list[float]]  # N, D, C: [lo, hi]
    backtest: Backtest | None
    extrapolation_factor: float
    caveat: str = ""
    caveat_check: str | None = None
    fit_error: str | None = None
    notes: tuple[str, ...] = field(default=())
    form: str | None = None  # the law's form (the one chosen by backtest, or pinned)
    formula: str | None = None
    variables: tuple[str, ...] = ()  # the chosen law's variables (N, D, U, E, ...)
    held_at: dict[str, float] = field(default_factory=dict)  # its other variables' values where N and D answers are read
    skipped: str | None = None  # why there are no answers in N and D (a batch without a data size)
    along: tuple[dict[str, Any], ...] = ()  # predictions beyond the trained range along each of the law's variables

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = jsonable({
            "metric": self.metric, "direction": self.direction, "bound": self.bound, "data_unit": self.data_unit,
            "law": {"form": self.form, "formula": self.formula, "params": self.params, "ci": self.ci,
                    "variables": list(self.variables), "held_at": self.held_at},
            **({"skipped": self.skipped} if self.skipped else {}),
            **({"along_variables": list(self.along)} if self.along else {}),
            "approach": self.approach, "approach_reason": self.approach_reason,
            "optimum": [o.summary() for o in self.optima], "costs": [c.summary() for c in self.costs], "best": self.best,
            "trained_range": self.trained, "backtest": self.backtest.summary() if self.backtest else None,
            "extrapolation_factor": self.extrapolation_factor, "caveat": self.caveat, "caveat_check": self.caveat_check,
            "fit_error": self.fit_error, "notes": list(self.notes)})
        return out

    def with_caveat(self, caveat: str, check: str | None) -> BottomLine:
        return replace(self, caveat=caveat, caveat_check=check)

    def _repr_html_(self) -> str:
        return display.html(self)


def withheld(N: float | None, D: float | None, rng: TrainedRange, per_param: tuple[float, float], unit: str) -> str | None:
    """Why an (N, D) answer is outside any sane range, or None when it is an answer (however far an extrapolation).

    >>> r = TrainedRange({"N": (1e7, 1e9), "D": (1e9, 1e11)})
    >>> for why in withheld(2.6e20, 0.38, r, (1.0, 1e4), "tokens").split("; "): print(why)
    D = 0.38 tokens is less than one token
    N is 2.6e+11x beyond the trained range
    1.5e-21 tokens per parameter is 6.8e+20x below the trained 1-1e+04
    >>> withheld(3e9, 6e10, r, (1.0, 1e4), "tokens") is None
    True
    """
    if N is None or D is None:
        return None
    if not (np.isfinite(N) and np.isfinite(D)) or N <= 0 or D <= 0:
        return f"the law gives no finite positive N and D here (N = {N:.2g}, D = {D:.2g})"
    why = [f"{k} = {v:.2g} {many} is less than one {many.removesuffix('s')}"
           for k, v, many in (("N", N, "parameters"), ("D", D, unit)) if v < 1.0]
    why += [f"{k} is {v:.2g}x beyond the trained range" for k, v in rng.distance(N=N, D=D).items()
            if v is not None and v > WITHHOLD_FACTOR and not any(w.startswith(f"{k} = ") for w in why)]
    lo, hi = per_param
    ratio = D / N
    f = float(beyond(ratio, lo, hi))
    if f > WITHHOLD_FACTOR:
        why.append(f"{ratio:.2g} {unit} per parameter is {f:.2g}x {'below' if ratio < lo else 'above'} the trained {lo:.2g}-{hi:.2g}")
    return "; ".join(why) or None


def chosen_approach(optimal: dict[str, OptimalLaw]) -> str | None:
    """The approach the data supports best (see the module docstring), or None if none applies."""
    return next((k for k in PREFERENCE if k in optimal and optimal[k].ok), None)


def approaches_at(ma: MetricAnalysis, C: float) -> dict[str, float]:
    """N_opt at budget C by every approach that applies to the metric."""
    return {k: float(v.N_opt(C)) for k, v in ma.optimal.items() if v.ok}


def bottom_line(batch: Batch, ma: MetricAnalysis, budgets: Sequence[float], *, extrapolation_factor: float = 2.0,
                holdout_fraction: float = 0.15) -> BottomLine:
    """The bottom line of ``ma`` at ``budgets`` (empty: the largest trained compute)."""
    rng = trained_range(batch)
    if not batch.has_data_size:  # a law in N and other variables: its parameters, no answers in N and D
        law = ma.law
        return BottomLine(
            ma.spec.name, ma.spec.direction, ma.spec.bound, batch.data_unit, dict(law.params) if law else {},
            {kk: list(v) for kk, v in (law.ci or {}).items()} if law else {}, None, "no compute is counted without a data size",
            (), (), dict(ma.best), {kk: list(v) for kk, v in rng.bounds.items()}, None, extrapolation_factor,
            fit_error=ma.fit_error, form=law.form.name if law else None, formula=law.form.formula if law else None,
            variables=tuple(law.form.variables) if law else (), skipped=ma.skipped,
            along=along_variables(law, batch) if law is not None else ())
    k = flops_factor(batch)
    per = batch.frame["D"] / batch.frame["N"]
    per_param = (float(per.min()), float(per.max()))
    unit = batch.data_unit.split(" (")[0]
    Cs = tuple(budgets) or (float(batch.frame["C"].max()),)
    spec = ma.spec
    fit = ma.nd_law  # the law the report is about: the form chosen by backtest when it is a law in (N, D)
    allocs = {a.C: a for a in ma.allocations}
    approach = chosen_approach(ma.optimal)
    optima = []
    if approach is not None:
        for C in Cs:
            by = approaches_at(ma, C)
            N = by[approach]
            D = C / (k * N)
            a = allocs.get(C) if approach == "parametric" else None
            value = value_ci = None
            if fit is not None and fit.form.variables == ("N", "D"):
                value = float(fit.predict(N, D, warn=False))
                if a is not None:
                    value, value_ci = a.value, a.value_ci
            cmp = {kk: v for kk, v in by.items() if kk != "envelope" or batch.has_checkpoints} or by
            optima.append(Optimum(float(C), approach, N, D, a.N_ci if a else None, a.D_ci if a else None, value, value_ci,
                                  by, max(cmp.values()) / min(cmp.values()), tuple(cmp), rng.distance(N=N, D=D, C=C),
                                  withheld(N, D, rng, per_param, unit)))
    costs = tuple(Cost(t.improvement, t.value, t.reachable, t.N, t.D, t.C, t.compute_multiple, t.note,
                       rng.distance(N=t.N, D=t.D, C=t.C), withheld(t.N, t.D, rng, per_param, unit) if t.reachable else None)
                  for t in ma.targets)
    # the chosen law in all its variables when it reads more than N and D (U, E, P, ...); else the law of the answers
    law = ma.law if ma.law is not None and (ma.nd_slice is not None or shows_variables(ma.law, batch)) else fit
    bt = backtest(law, batch, fraction=holdout_fraction) if law is not None else None
    return BottomLine(
        spec.name, spec.direction, spec.bound, batch.data_unit,
        dict(law.params) if law else {}, {kk: list(v) for kk, v in (law.ci or {}).items()} if law else {},
        approach, _why(approach, fit), tuple(optima), costs, dict(ma.best),
        {kk: list(v) for kk, v in rng.bounds.items()}, bt, extrapolation_factor, fit_error=ma.fit_error,
        form=law.form.name if law else None, formula=law.form.formula if law else None,
        variables=tuple(law.form.variables) if law else (), held_at=dict(fit.method.get("sliced_at") or {}) if fit else {},
        along=along_variables(law, batch) if law is not None and shows_variables(law, batch) else ())
