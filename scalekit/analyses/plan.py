"""What to train next: candidate runs ranked by how much they shrink the interval of the decision, per FLOP.

The decision is a number the next runs must pin down: the compute-optimal N at a budget (the default), the
metric at a point (N, D), or one of the law's parameters (an exponent). Its uncertainty is propagated from
the fitted law by the delta method: the law's information matrix J^T J / s^2 (J: derivatives of the log
prediction by the internal parameters at the fitted points, each run counted once however many checkpoints
it has; s: the residuals' scale), the decision's gradient by central differences. Away from the runs the
law's misfit dominates: a misspecified law fitted by least squares approximates best where its points lie,
so a second term grows with the mean distance (in log N and log D) of the fitted points from the decision's
point, at the rate the batch's own backtest shows (:func:`extrapolation_error_rate`); runs near that point
count for moving the fit's weight toward it. The same misfit makes a run far from the fitted points a noisier
measurement of the law's parameters (its noise variance is s^2 plus the misfit at its mean distance), so the
plan does not chase the corners a correct-law design would (under-trained giants, over-trained dwarfs) for more
than they can tell. A candidate run at (N, D) adds one row to J; the expected 95% interval after it follows
without refitting. A greedy batch for a total allowance picks, at each step, the candidate that shrinks the
interval most per FLOP given the picks so far. :func:`isoflop_plan` lays out IsoFLOP runs centred on the predicted optimum and warns when the
optimum's interval reaches past the middle sizes (off-centre IsoFLOP sampling biases Approach 2).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .. import display
from ..data.batch import Batch
from ..data.shapes import Shape, model_size, shapes_for
from ..exceptions import ConfigError, FitError
from ..laws.evaluate import frontier_nd
from ..laws.result import FitResult

__all__ = ["Decision", "IsoflopPlan", "Plan", "PlannedRun", "candidate_grid", "extrapolation_error_rate", "interval_width",
           "isoflop_plan", "plan",
           "plan_runs"]

FloatArray = npt.NDArray[np.float64]
Z95 = 1.959963984540054


@dataclass(frozen=True)
class Decision:
    """What the runs must pin down. ``kind``: ``optimum`` (N_opt at ``budget``), ``value`` (metric at ``N``, ``D``) or
    ``param`` (the law's parameter ``name``)."""

    kind: str = "optimum"
    budget: float | None = None
    N: float | None = None
    D: float | None = None
    name: str | None = None

    def label(self) -> str:
        if self.kind == "optimum":
            return f"compute-optimal N at C = {self.budget:.3g}"
        if self.kind == "value":
            return f"metric at N = {self.N:.3g}, D = {self.D:.3g}"
        return f"parameter {self.name}"


@dataclass(frozen=True)
class PlannedRun:
    N: float
    D: float
    flops: float
    lo: float  # the decision's expected 95% interval once this run (and the earlier picks) are in
    hi: float
    cumulative_flops: float


@dataclass(frozen=True)
class Plan:
    """The greedy batch: the decision, its interval now (delta method and, when the fit has one, bootstrap) and after."""

    decision: Decision
    estimate: float
    now: tuple[float, float]
    now_bootstrap: tuple[float, float] | None
    runs: tuple[PlannedRun, ...]
    allowance: float
    k: float

    def shapes(self, template: Shape | None = None, convention: str = "porian") -> list[Shape | None]:
        """A model shape near each planned N (see :func:`scalekit.data.shapes.shapes_for`); None where none is within 5%."""
        out: list[Shape | None] = []
        for r in self.runs:
            found = shapes_for(r.N, template=template, convention=convention, most=1)
            out.append(found[0] if found else None)
        return out

    def summary(self, template: Shape | None = None, convention: str = "porian") -> dict[str, Any]:
        """The plan as plain JSON fields (summary.json ``plan``, ``scalekit plan --json``)."""
        shapes = self.shapes(template, convention)
        d = self.decision
        return {
            "decision": {"kind": d.kind, "label": d.label(), "budget": d.budget, "N": d.N, "D": d.D, "name": d.name},
            "estimate": self.estimate, "interval_now": list(self.now),
            "interval_now_bootstrap": None if self.now_bootstrap is None else list(self.now_bootstrap),
            "allowance": self.allowance, "flops_per_ND": self.k, "width_ratio": self.width_ratio,
            "runs": [{"N": r.N, "D": r.D, "flops": r.flops, "interval_after": [r.lo, r.hi],
                      "cumulative_flops": r.cumulative_flops,
                      "shape": None if sh is None else {"layers": sh.layers, "d_model": sh.d_model, "heads": sh.heads,
                                                        "N": model_size(sh, convention), "convention": convention}}
                     for r, sh in zip(self.runs, shapes)],
        }

    def report(self) -> str:
        """The plan as a plain-text table."""
        return display.text(self)

    @property
    def width_ratio(self) -> float:
        """Interval width after the plan over the width now (log scale for positive decisions)."""
        if not self.runs:
            return 1.0
        last = self.runs[-1]
        return interval_width(last.lo, last.hi) / interval_width(*self.now)


def interval_width(lo: float, hi: float) -> float:
    """An interval's width: log(hi / lo) when both ends are positive, else hi - lo."""
    return float(np.log(hi / lo)) if lo > 0 and hi > 0 else float(hi - lo)


def _decision_fn(fit: FitResult, d: Decision, k: float) -> Callable[[FloatArray], FloatArray]:
    """Rows of internal parameters (B, P) -> the decision (B,)."""
    if d.kind == "optimum":
        if d.budget is None or len(fit.form.variables) != 2:
            raise ConfigError("decision optimum needs a budget and a law in N and D", key="decision")
        budget = float(d.budget)

        def f(th: FloatArray) -> FloatArray:
            return frontier_nd(dataclasses.replace(fit, boot_theta=th), budget, k, draws=True)[0]
        return f
    if d.kind == "value":
        if d.N is None or (len(fit.form.variables) == 2 and d.D is None):
            raise ConfigError("decision value needs N (and D for a law in N and D)", key="decision")
        point = [float(d.N), float(d.D)] if len(fit.form.variables) == 2 and d.D is not None else [float(d.N)]
        logx = np.log(np.array([point]))

        def g(th: FloatArray) -> FloatArray:
            out: FloatArray = np.asarray(fit.to_metric(np.exp(fit.form.log_predict(th, logx)[:, 0])), dtype=float)
            return out
        return g
    if d.kind == "param":
        names = list(fit.form.param_names)
        if d.name not in names:
            raise ConfigError(f"decision param: {d.name!r} is not a parameter of {fit.form.name} ({', '.join(names)})",
                              key="decision")
        i = names.index(d.name)

        def h(th: FloatArray) -> FloatArray:
            out: FloatArray = np.asarray(fit.form.natural(th), dtype=float)[:, i]
            return out
        return h
    raise ConfigError(f"decision: got {d.kind!r}; expected optimum, value or param", key="decision")


def _jacobian(fit: FitResult, logx: FloatArray) -> FloatArray:
    """d log prediction / d theta at ``logx`` (n, V), by central differences: (n, P)."""
    th = np.asarray(fit.theta, dtype=float)
    P = th.size
    h = 1e-5 * np.maximum(1.0, np.abs(th))
    rows = np.concatenate([th + np.diag(h), th - np.diag(h)])
    v = fit.form.log_predict(rows, logx)
    out: FloatArray = ((v[:P] - v[P:]) / (2 * h[:, None])).T
    return out


def _gradient(fn: Callable[[FloatArray], FloatArray], theta: FloatArray) -> tuple[float, FloatArray]:
    P = theta.size
    h = 1e-4 * np.maximum(1.0, np.abs(theta))
    rows = np.concatenate([theta[None], theta + np.diag(h), theta - np.diag(h)])
    v = fn(rows)
    if not np.all(np.isfinite(v)):
        raise FitError("the decision is not defined near the fitted law (no interior optimum at that budget?)")
    return float(v[0]), (v[1:P + 1] - v[P + 1:]) / (2 * h)


def _distances(logx: FloatArray, to: FloatArray) -> FloatArray:
    """Distances in log (N, D) from each row of ``logx`` (n, 2) to each row of ``to`` (m, 2): (n, m)."""
    out: FloatArray = np.sqrt(((logx[:, None, :] - to[None, :, :]) ** 2).sum(axis=2))
    return out


def extrapolation_error_rate(fit: FitResult, holdout: float = 0.3) -> float:
    """Relative error per unit of distance from the trained runs, measured on the batch itself: the law refitted
    without the runs of largest compute (``holdout`` of them), its median |log(predicted / observed)| on those runs
    divided by their mean distance (in log N and log D) from the points kept. 0 when the batch is too small to tell."""
    from ..laws.curve import fit_curve

    C = fit.x[:, 0] * fit.x[:, 1]
    groups = np.asarray(fit.groups).astype(str)
    run_c = {g: float(C[groups == g].max()) for g in np.unique(groups)}
    if len(run_c) < 8:
        return 0.0
    cut = float(np.quantile(list(run_c.values()), 1 - holdout))
    train = np.array([run_c[g] <= cut for g in groups])
    if train.sum() <= len(fit.theta) + 2 or (~train).sum() < 2:
        return 0.0
    try:
        sub = fit_curve(fit.x[train], fit.y[train], form=fit.form, direction=fit.direction, bound=fit.bound,
                        groups=groups[train], n_boot=0)
    except FitError:
        return 0.0
    held = ~train
    pred = np.asarray(sub.predict(*fit.x[held].T, warn=False), dtype=float)
    with np.errstate(all="ignore"):
        rel = np.abs(np.log(pred / fit.y[held]))
    logx = np.log(fit.x)
    dist = np.maximum(_distances(logx[held], logx[train]).mean(axis=1), 0.1)
    ok = np.isfinite(rel)
    return float(np.median(rel[ok] / dist[ok])) if ok.any() else 0.0


def _scatter(fit: FitResult) -> float:
    """The residuals' scale, corrected for the parameters fitted (RSS / (n - p)): the small ladders plans start from
    leave residuals that understate the noise."""
    r = np.asarray(fit.residuals, dtype=float)
    n, p = r.size, len(fit.theta)
    return max(float(np.sqrt(np.sum(r ** 2) / max(n - p, 1))), 1e-6)


def candidate_grid(fit: FitResult, *, sizes: Sequence[float] | None = None, multipliers: Sequence[float] | None = None,
                   max_factor: float = 10.0) -> FloatArray:
    """Candidate (N, D) pairs. With ``multipliers``: each size at D = multiplier x N. Otherwise from the runs' final
    points (early checkpoints are no length anyone trains to; a batch's data unit need not be tokens, so no
    multiplier is assumed): 12 data sizes from half the smallest final D to ``max_factor`` x the largest, kept where
    D / N lies within the runs' own D / N widened 2x either side. Sizes: 16 from the smallest trained N to
    ``max_factor`` x the largest."""
    N_fit = fit.x[:, 0]
    grid = np.geomspace(N_fit.min(), N_fit.max() * max_factor, 16) if sizes is None else np.asarray(sizes, dtype=float)
    if multipliers is not None:
        return np.array([(float(n), float(m * n)) for n in grid for m in multipliers])
    groups = np.asarray(fit.groups).astype(str)
    final = np.array([(fit.x[groups == g, 0].max(), fit.x[groups == g, 1].max()) for g in np.unique(groups)])
    ratio = final[:, 1] / final[:, 0]
    lo, hi = ratio.min() / 2, ratio.max() * 2
    datas = np.geomspace(final[:, 1].min() / 2, final[:, 1].max() * max_factor, 12)
    return np.array([(float(n), float(d)) for n in grid for d in datas if lo <= d / n <= hi])


def _where(fit: FitResult, d: Decision, est: float, k: float) -> FloatArray | None:
    """The decision's point in log (N, D) (1, 2): the optimum at the budget, or the point asked; None for a parameter."""
    if d.kind == "optimum" and d.budget is not None and est > 0:
        point = [est, d.budget / (k * est)]
    elif d.kind == "value" and d.N and d.D:
        point = [float(d.N), float(d.D)]
    else:
        return None
    out: FloatArray = np.log(np.array([point], dtype=float))
    return out


def plan_runs(fit: FitResult, decision: Decision, allowance: float, *, candidates: FloatArray | None = None, k: float = 6.0,
              max_runs: int = 20, until_width: float | None = None, min_gain: float = 0.0, min_cost: float = 0.0) -> Plan:
    """The greedy batch of candidate runs for ``allowance`` FLOPs (see the module docstring); with ``until_width``, it
    stops as soon as the expected interval is that narrow (log width for a positive decision); with ``min_gain``, a run
    that would narrow it by less than that fraction of its width is not worth training and never picked. With
    ``min_cost``, each run counts at least that many FLOPs in the score: with the runs capped at ``max_runs``, a slot
    is worth ``allowance / max_runs``, and ten cheap runs that narrow the interval by 1% each would waste the slots a
    larger run could use (per FLOP alone, the plan would spend a thousandth of the allowance)."""
    if not (np.isfinite(allowance) and allowance > 0):
        raise ConfigError(f"allowance: got {allowance!r}; expected a positive number of FLOPs", key="allowance")
    if len(fit.form.variables) != 2:
        raise ConfigError("a plan needs a law in N and D", key="decision")
    fn = _decision_fn(fit, decision, k)
    theta = np.asarray(fit.theta, dtype=float)
    est, grad = _gradient(fn, theta)
    logx = np.log(fit.x)
    J = _jacobian(fit, logx)
    runs = max(1, len(np.unique(fit.groups)))
    s2 = _scatter(fit) ** 2
    info = (J.T @ J) * (runs / len(J)) / s2  # each run counted once however many checkpoints it has
    positive = est > 0
    # Away from the trained runs the law's misfit, not its parameters, sets most of the error. A misspecified law fitted
    # by least squares is the best approximation where its points lie: its error at the decision's point (the optimum,
    # or the point asked) grows with the point's mean distance (in log N and log D) from the fitted points, at the rate
    # the batch's own backtest shows. A run near that point shrinks it in proportion to its share of the points.
    where = _where(fit, decision, est, k)
    tau = extrapolation_error_rate(fit) if where is not None else 0.0

    def interval(var: float, near: float) -> tuple[float, float]:
        sd = np.sqrt(max(var, 0.0))
        miss = tau * near
        if positive:
            s_log = float(np.hypot(sd / est, miss))
            return est * float(np.exp(-Z95 * s_log)), est * float(np.exp(Z95 * s_log))
        sd = float(np.hypot(sd, miss * abs(est)))
        return est - Z95 * sd, est + Z95 * sd

    n_pts = len(logx)
    dist_sum = float(_distances(where, logx).sum()) if where is not None else 0.0
    cov = np.linalg.pinv(info)
    now = interval(float(grad @ cov @ grad), dist_sum / n_pts)
    boot = None
    if fit.boot_theta is not None:
        vals = fn(np.asarray(fit.boot_theta, dtype=float))
        vals = vals[np.isfinite(vals)]
        if vals.size:
            boot = (float(np.quantile(vals, 0.025)), float(np.quantile(vals, 0.975)))
    cand = candidate_grid(fit) if candidates is None else np.asarray(candidates, dtype=float)
    cost = k * cand[:, 0] * cand[:, 1]
    Jc = _jacobian(fit, np.log(cand))
    to_where = _distances(np.log(cand), where)[:, 0] if where is not None else np.zeros(len(cand))
    # a run away from the fitted points measures the law plus its misfit there: noise for the parameters
    s2c = s2 + (tau * _distances(np.log(cand), logx).mean(axis=1)) ** 2
    picked: list[PlannedRun] = []
    spent = 0.0
    used = np.zeros(len(cand), dtype=bool)
    width = interval_width(*now)
    while len(picked) < max_runs and (until_width is None or width > until_width):
        # one run adds j j^T / s^2 to the information: the decision's variance after it by Sherman-Morrison, for
        # every candidate at once
        cg, cj = cov @ grad, Jc @ cov
        var_after = float(grad @ cg) - (Jc @ cg) ** 2 / (s2c + np.einsum("ij,ij->i", cj, Jc))
        best, best_score, best_iv = -1, 0.0, now
        for i in np.flatnonzero(~used & (cost <= allowance - spent)):
            iv = interval(float(var_after[i]), (dist_sum + float(to_where[i])) / (n_pts + 1))
            gain = width - interval_width(*iv)
            score = gain / max(cost[i], min_cost)
            if score > best_score and gain >= min_gain * width:
                best, best_score, best_iv = int(i), score, iv
        if best < 0:
            break
        used[best] = True
        info = info + np.outer(Jc[best], Jc[best]) / s2c[best]
        cov = np.linalg.pinv(info)
        spent += float(cost[best])
        dist_sum += float(to_where[best])
        n_pts += 1
        width = interval_width(*best_iv)
        picked.append(PlannedRun(N=float(cand[best, 0]), D=float(cand[best, 1]), flops=float(cost[best]), lo=best_iv[0],
                                 hi=best_iv[1], cumulative_flops=spent))
    return Plan(decision=decision, estimate=est, now=now, now_bootstrap=boot, runs=tuple(picked), allowance=float(allowance),
                k=float(k))


@dataclass(frozen=True)
class IsoflopPlan:
    budget: float
    N_opt: float
    N_opt_ci: tuple[float, float] | None
    sizes: tuple[float, ...]
    tokens: tuple[float, ...]
    warning: str


def isoflop_plan(fit: FitResult, budget: float, *, k: float = 6.0, n: int = 5, span: float = 4.0) -> IsoflopPlan:
    """``n`` sizes from N_opt / ``span`` to N_opt x ``span`` at one budget, centred on the law's predicted optimum."""
    N_opt = float(frontier_nd(fit, budget, k)[0][0])
    if not np.isfinite(N_opt):
        raise FitError(f"the law has no interior optimum at C = {budget:.3g}")
    ci = None
    if fit.boot_theta is not None:
        d = frontier_nd(fit, budget, k, draws=True)[0]
        d = d[np.isfinite(d)]
        ci = (float(np.quantile(d, 0.025)), float(np.quantile(d, 0.975))) if d.size else None
    sizes = tuple(float(x) for x in N_opt * np.geomspace(1 / span, span, n))
    warning = ""
    if ci is not None:
        inner = sizes[1], sizes[-2]
        if ci[0] < inner[0] or ci[1] > inner[1]:
            warning = (f"the optimum's 95% interval [{ci[0]:.3g}, {ci[1]:.3g}] reaches past the middle sizes "
                       f"[{inner[0]:.3g}, {inner[1]:.3g}]: the IsoFLOP minimum may sit off-centre; widen the span")
    return IsoflopPlan(budget=float(budget), N_opt=N_opt, N_opt_ci=ci, sizes=sizes,
                       tokens=tuple(budget / (k * s) for s in sizes), warning=warning)


def plan(data: Batch | Any | str | Path, *, allowance: float, decision: str = "optimum", budget: float | None = None,
         N: float | None = None, D: float | None = None, name: str | None = None, metric: str | None = None,
         **overrides: Any) -> Plan:
    """What to train next for a batch: fit its law (``fit_law`` with ``overrides``) and plan runs for ``allowance`` FLOPs.

    ``decision`` is ``optimum`` (N_opt at ``budget``, default 10x the largest trained compute), ``value`` (the metric
    at ``N``, ``D``) or ``param`` (the parameter ``name``, e.g. an exponent).
    """
    from ..data.load import load_batch
    from ..laws.fit import fit_law
    from .profiles import flops_factor

    batch = data if isinstance(data, Batch) else load_batch(data)
    fit = fit_law(batch, metric, **overrides)
    if decision == "optimum" and budget is None:
        budget = 10.0 * float(batch.frame["C"].max())
    return plan_runs(fit, Decision(decision, budget=budget, N=N, D=D, name=name), allowance, k=flops_factor(batch))
