"""Batches (or model versions) side by side: exponents with intervals, whether the law holds in
each, and whether the gains from scale are comparable."""

from __future__ import annotations

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

__all__ = ["MetricComparison", "compare_summaries", "comparison_rows", "example_summaries"]


def example_summaries(n_boot: int = 200) -> list[Summary]:
    """The summaries of the embedded perception example, one per version with its ``versions`` section: what the
    comparison notebook shows when it is given no summary.json."""
    from ..data.load import load_batch
    from ..examples import example_source
    from .analyze import analyze

    frame, cfg = example_source("perception")
    batch = load_batch(frame, **cfg)
    return [Summary.from_dict(analyze(batch.select_version(v), n_boot=n_boot, versions=batch).summary())
            for v in batch.versions]


def comparison_rows(summaries: list[Summary]) -> list[dict[str, Any]]:
    """One row per (batch, metric) with the headline numbers of its summary.json."""
    rows = []
    for s in summaries:
        counts = s.severity_counts()
        for metric, fit in s.fits.items():
            rows.append({
                "batch": s.name, "slug": s.slug, "metric": metric, "runs": s.runs,
                "direction": fit.direction, "bound": fit.bound, "form": fit.form,
                **{k: fit.params.get(k) for k in ("alpha", "beta", "E", "A", "B")}, "params": dict(fit.params),
                "ci": {k: list(v) if v else None for k, v in fit.ci.items()},
                **{f"{k}_ci": list(ci) if (ci := fit.ci.get(k)) else None for k in ("alpha", "beta", "E")},
                "a": fit.a, "a_ci": list(fit.a_ci) if fit.a_ci else None, "rmse_log": fit.rmse_log,
                "best": fit.best, "C_max": s.C_max, "k": s.flops_per_ND,
                "critical": sum(1 for f in s.findings if f["severity"] == "critical" and f.get("metric") in (metric, None)),
                "findings": counts,
            })
    return rows


# The frontier of any law in (N, D): its value minimised over log N on a grid at fixed C = k N D (the additive law
# in closed form). Wide enough for any sane optimum; a minimum on the grid's edge is no optimum.
_LOG_N = np.linspace(-30.0, 30.0, 2401)


def _frontier(row: dict[str, Any], C: float) -> float | None:
    """The error of a row's law at the compute-optimal (N, D) for budget C, or None when it has no optimum there."""
    form, params, k = row["form"], row["params"], float(row["k"])
    if not params or any(v is None for v in params.values()):
        return None
    if form == "two_var":
        return float(frontier_error(params, C, k))
    try:
        f = get_form(form)
    except ConfigError:  # a form this scalekit does not know (a summary from another version)
        return None
    if tuple(f.variables) != ("N", "D"):
        return None
    N = np.exp(0.5 * np.log(C / k) + _LOG_N)
    with np.errstate(all="ignore"):
        e = np.asarray(form_error(f, params, N, C / (k * N)), dtype=float)
    e = np.where(np.isfinite(e), e, np.inf)
    i = int(np.argmin(e))
    return float(e[i]) if 0 < i < e.size - 1 else None


def _exponents(params: dict[str, Any]) -> list[str]:
    """The exponents among a law's parameters, by the registry's names (alpha, beta, alpha_N, eta, ...)."""
    return [k for k in params if k.split("_")[0] in ("alpha", "beta", "eta")]


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
        out: dict[str, Any] = jsonable({
            "metric": self.metric, "rows": self.rows, "exponents_agree": self.exponents_agree, "law_holds": self.law_holds,
            "gain_10x": self.gain_10x, "gains_comparable": self.gains_comparable, "sentence": self.sentence})
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
                if rs[i]["form"] == rs[j]["form"]:  # exponents of one law; another form's mean something else
                    agree += [_overlap(rs[i]["ci"].get(k), rs[j]["ci"].get(k)) for k in _exponents(rs[i]["params"])]
        known = [x for x in agree if x is not None]
        exp_agree = all(known) if known else None
        holds = {r["batch"]: bool((r["rmse_log"] or 1) < 0.05 and r["critical"] == 0) for r in rs}
        gains = {}
        C = min(r["C_max"] for r in rs)  # a budget every batch reached
        skipped = []
        for r in rs:
            e0, e1 = _frontier(r, C), _frontier(r, 10 * C)
            if e0 is None or e1 is None:
                skipped.append(f"{r['batch']} ({r['form']})")
                continue
            v0, v1 = from_error(e0, r["direction"], r["bound"]), from_error(e1, r["direction"], r["bound"])
            gains[r["batch"]] = float((v1 - v0) / v0) if r["direction"] == "max" else float((v0 - v1) / v0)
        g = np.array(list(gains.values()))
        comparable = bool(np.all(g > 0) and (g.max() - g.min()) <= gain_tolerance * g.max()) if g.size else None
        same = len({r["form"] for r in rs}) < len(rs)
        verdict = ("agree within their 95% intervals" if exp_agree else
                   "differ beyond their 95% intervals" if exp_agree is False else
                   "have no intervals to compare" if same else "are not compared: the batches' laws differ in form")
        parts = [f"Exponents {verdict}"]
        bad = [b for b, ok in holds.items() if not ok]
        parts.append("the law holds in every batch" if not bad else f"the law is doubtful in {', '.join(bad)}")
        if gains:
            parts.append(f"gains per 10x compute at C={C:.3g} are " + ", ".join(f"{b} {v:+.2%}" for b, v in gains.items())
                         + (" (comparable)" if comparable and len(gains) > 1 else " (not comparable)"))
        if skipped:
            parts.append("no compute-optimal frontier from the law of " + ", ".join(skipped) + " (not a law in N and D, "
                         "or its optimum lies outside 10^±13 of sqrt(C/6)), so its gain is not compared")
        out.append(MetricComparison(metric, rs, exp_agree, holds, gains, comparable, "; ".join(parts) + "."))
    return out
