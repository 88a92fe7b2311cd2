"""The two-step prediction section: the fits, the predictions with intervals, and the plain-text report.

Tables come from ``BatchAnalysis.two_step`` (or a :class:`~scalekit.laws.two_step.TwoStepFit`);
every user string (column and run names) is escaped by :func:`~scalekit.report.html.table`.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

from ..laws.two_step import TwoStepFit
from ..pipeline.two_step import TwoStep
from .format import compute, data, factor, fmt, params
from .html import HTML, table

__all__ = ["two_step_fit_html", "two_step_html", "two_step_text"]


def _ci(ci: dict[str, tuple[float, float]] | None, k: str) -> str:
    return f"[{fmt(ci[k][0])}, {fmt(ci[k][1])}]" if ci and k in ci else "–"


def two_step_fit_html(r: TwoStepFit, predictions: str = "") -> str:
    """One fit: what was fitted, then ``predictions`` (a table, if given), then both steps' parameters."""
    s1 = r.step1
    rows: list[list[Any]] = [["step 1", k, v, _ci(s1.ci, k)] for k, v in s1.params.items()]
    rows += [["step 2", k, v, _ci(r.ci, k)] for k, v in r.params.items()]
    head = (f"<p><b>Two-step prediction</b> of <b>{escape(r.target)}</b> through <b>{escape(r.intermediate)}</b>: "
            f"step 1 <code>{escape(s1.form.formula)}</code> on {s1.ndata} points; step 2 "
            f"<code>{escape(r.map.formula)}</code> ({escape(r.map.reference)}) on {r.ndata} points, "
            f"RMSE {fmt(r.rmse)}; joint bootstrap over {r.nruns} runs ({r.method['n_boot']} resamples).</p>")
    return head + predictions + table(["step", "parameter", "estimate", "95% interval"], rows,
                                      caption=f"{r.intermediate} → {r.target}: fitted parameters")


def _where(p: Mapping[str, Any]) -> str:
    w = str(p.get("where", ""))
    if w == "declared":
        return "declared point"
    if w == "optimum":
        return f"compute-optimal at {compute(p.get('C'))}"
    return w


def two_step_html(two_step: Mapping[str, TwoStep], unit: str = "tokens") -> HTML:
    """The report's section: per declared pair (``BatchAnalysis.two_step``), the fit in words, the predictions
    (value, 95% prediction interval, how far beyond the fitted range) and both steps' parameters; D in ``unit``."""
    parts = []
    for key, ts in two_step.items():
        e = ts.summary()
        if e.get("error"):
            parts.append(f"<p>{escape(key)}: no two-step fit: {escape(str(e['error']))}</p>")
            continue
        assert ts.fit is not None  # no error: fitted
        rows: list[list[Any]] = []
        for p in e.get("predictions", []):
            ext = {k: v for k, v in (p.get("extrapolation") or {}).items() if isinstance(v, (int, float))}
            far = {k: v for k, v in ext.items() if v > 1}
            rows.append([_where(p), params(p["N"]), data(p["D"], unit), p["intermediate"], p["value"],
                         f"[{fmt(p['lo'])}, {fmt(p['hi'])}]" if p.get("lo") is not None else "–",
                         ", ".join(f"{factor(v)} {k}" for k, v in sorted(far.items(), key=lambda kv: -kv[1])) or "inside"])
        tab = table(["at", "N", "D", f"{ts.intermediate} predicted", f"{ts.target} predicted", "95% prediction interval",
                     "beyond the fitted range"], rows, caption=f"Two-step predictions of {ts.target}")
        parts.append(two_step_fit_html(ts.fit, predictions=tab))
    return HTML("".join(parts))


def two_step_text(r: TwoStepFit) -> str:
    """lmfit-style text."""
    lines = [f"[[Two-step fit: {r.intermediate} -> {r.target}]]",
             f"    step 1 = {r.step1.form.formula} ({r.method['step1_points']} points, {r.step1.ndata})",
             f"    step 2 = {r.map.formula} ({r.method['step2_points']} points, {r.ndata}, "
             f"anchor {r.method['anchor']}), RMSE {r.rmse:.4g}",
             f"    joint bootstrap = {r.method['n_boot']} resamples over {r.nruns} runs (seed {r.method['seed']})",
             "[[Step 1]]"]
    for k, v in r.step1.params.items():
        lines.append(f"    {k:>6} = {v:.6g}   95% CI {_ci(r.step1.ci, k)}")
    lines.append("[[Step 2]]")
    for k, v in r.params.items():
        lines.append(f"    {k:>6} = {v:.6g}   95% CI {_ci(r.ci, k)}")
    return "\n".join(lines)
