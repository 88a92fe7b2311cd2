"""Batches (or model versions) side by side: exponents with intervals, whether the law holds in
each, and whether the gains from scale are comparable."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import display
from ..data.metric import from_error
from ..exceptions import ConfigError
from ..jsonsafe import jsonable
from ..laws.evaluate import form_error, frontier_error
from ..laws.forms import get_form
from .summary import Summary

__all__ = ["MetricComparison", "compare_summaries", "comparison_rows"]


def comparison_rows(summaries: list[Summary]) -> list[dict[str, Any]]:
    """One row per (batch, metric) with the headline numbers of its summary.json."""
    rows = []
    for s in summaries:
        counts = s.severity_counts()
        for metric, fit in s.fits.items():
            chosen = (s.raw.get("fits") or {}).get(metric) or {}
            rows.append({
                "batch": s.name, "slug": s.slug, "metric": metric, "runs": s.runs,
                "direction": fit.direction, "bound": fit.bound, "form": fit.form,
                **{k: fit.params.get(k) for k in ("alpha", "beta", "E", "A", "B")},
                **{f"{k}_ci": list(ci) if (ci := fit.ci.get(k)) else None for k in ("alpha", "beta", "E")},
                "a": fit.a, "a_ci": list(fit.a_ci) if fit.a_ci else None, "rmse_log": fit.rmse_log,
                "best": fit.best, "C_max": s.C_max, "k": s.flops_per_ND,
                "critical": sum(1 for f in s.findings if f["severity"] == "critical" and f.get("metric") in (metric, None)),
                "findings": counts, "law_params": dict(chosen.get("params") or {}),
            })
    return rows


_LOG_N = np.arange(-30.0, 30.0, 0.01)  # log N around sqrt(C / k): a factor 1e13 either way


def _frontier(form: str, params: dict[str, Any], C: float, k: float) -> float | None:
    """The error of the law ``form`` at the compute-optimal (N, D) for budget C; None when it is no law in N and D,
    a parameter is missing, or the optimum lies beyond the grid."""
    try:
        f = get_form(form)
    except ConfigError:
        return None
    if tuple(f.variables) != ("N", "D") or any(not isinstance(params.get(n), (int, float)) for n in f.param_names):
        return None
    if f.name == "two_var":
        e = float(frontier_error(params, C, k))
    else:
        logN = 0.5 * np.log(C / k) + _LOG_N
        with np.errstate(all="ignore"):
            v = form_error(f, params, np.exp(logN), C / (k * np.exp(logN)))
        v = np.where(np.isfinite(v), v, np.inf)
        i = int(np.argmin(v))
        e = float(v[i]) if 0 < i < v.size - 1 else math.nan
    return e if math.isfinite(e) and e > 0 else None


def _gain_10x(r: dict[str, Any], C: float) -> float | None:
    """Relative improvement of the row's chosen law along its frontier from C to 10 C (None: it has no frontier)."""
    e0, e1 = _frontier(r["form"], r["law_params"], C, r["k"]), _frontier(r["form"], r["law_params"], 10 * C, r["k"])
    if e0 is None or e1 is None:
        return None
    v0, v1 = float(from_error(e0, r["direction"], r["bound"])), float(from_error(e1, r["direction"], r["bound"]))
    return (v1 - v0) / v0 if r["direction"] == "max" else (v0 - v1) / v0


def _overlap(a: list[float] | None, b: list[float] | None) -> bool | None:
    if not a or not b:
        return None
    return bool(max(a[0], b[0]) <= min(a[1], b[1]))


@dataclass(frozen=True)
class MetricComparison:
    metric: str
    rows: list[dict[str, Any]]
    exponents_agree: bool | None
    law_holds: dict[str, bool]
    gain_10x: dict[str, float]  # relative improvement of the frontier per 10x compute, at each batch's largest run
    gains_comparable: bool | None
    sentence: str

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = jsonable(self.__dict__)
        return out

    def _repr_html_(self) -> str:
        return display.html(self)


def compare_summaries(summaries: list[Summary], *, gain_tolerance: float = 0.5) -> list[MetricComparison]:
    """For every metric fitted in two or more batches: do exponents agree, does the law hold, are gains comparable?

    ``gain_tolerance``: gains per 10x compute are comparable when they differ by less than this fraction.
    """
    rows = comparison_rows(summaries)
    out = []
    for metric in sorted({r["metric"] for r in rows}):
        rs = [r for r in rows if r["metric"] == metric]
        if len(rs) < 2:
            continue
        agree = []
        for i in range(len(rs)):
            for j in range(i + 1, len(rs)):
                for k in ("alpha", "beta"):
                    agree.append(_overlap(rs[i][f"{k}_ci"], rs[j][f"{k}_ci"]))
        known = [x for x in agree if x is not None]
        exp_agree = all(known) if known else None
        holds = {r["batch"]: bool((r["rmse_log"] or 1) < 0.05 and r["critical"] == 0) for r in rs}
        gains = {}
        skipped = []
        C = min(r["C_max"] for r in rs)  # a budget every batch reached
        for r in rs:  # each batch's chosen law; one that is no law in N and D has no frontier to compare
            g0 = _gain_10x(r, C)
            if g0 is None:
                skipped.append(f"{r['batch']} ({r['form']})")
            else:
                gains[r["batch"]] = g0
        g = np.array(list(gains.values()))
        comparable = bool(np.all(g > 0) and (g.max() - g.min()) <= gain_tolerance * g.max()) if g.size > 1 else None
        verdict = ("agree within their 95% intervals" if exp_agree else
                   "differ beyond their 95% intervals" if exp_agree is False else "have no intervals to compare")
        parts = [f"Exponents {verdict}"]
        bad = [b for b, ok in holds.items() if not ok]
        parts.append("the law holds in every batch" if not bad else f"the law is doubtful in {', '.join(bad)}")
        if gains:
            parts.append(f"gains per 10x compute at C={C:.3g} are " + ", ".join(f"{b} {v:+.2%}" for b, v in gains.items())
                         + ("" if comparable is None else " (comparable)" if comparable else " (not comparable)"))
        if skipped:
            parts.append(f"no gain per 10x compute for {', '.join(skipped)}: the chosen law is not a law in N and D")
        out.append(MetricComparison(metric, rs, exp_agree, holds, gains, comparable, "; ".join(parts) + "."))
    return out
